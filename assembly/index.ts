// The guest's exports (wit/pam-mapi.wit, lowered by hand as docs/abi.md describes). This file only moves values
// across the boundary; the logic lives in flow.ts and config.ts.
import "./trap";
import { alloc, readByteList, readBytes, readText, storeString, storeStringList } from "./abi";
import { settingsFor } from "./config";
import { ChangeRequest, chauthtok as runChange, Phase } from "./chauthtok";
import { authenticate as runFlow, Request } from "./flow";
import { isStrictUtf8 } from "./utf8";
import { Code, Verdict } from "./verdict";

export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  // The stub runtime's heap is a bump allocator: memory lives until the instance is freed.
  if (oldPtr == 0) return alloc(newSize);
  return heap.realloc(oldPtr, newSize);
}

/** Module arguments as strings; null if any is out of bounds or not UTF-8. */
function readArgs(ptr: usize, count: usize): Array<string> | null {
  const raw = readByteList(ptr, count);
  if (raw == null) return null;
  const out = new Array<string>();
  for (let i = 0; i < raw!.length; i++) {
    const b = raw![i];
    if (!isStrictUtf8(b)) return null;
    out.push(b.toText());
  }
  return out;
}

const CONFIGURE_RET = memory.data(44, 4);

export function configure(
  servicePtr: usize, serviceLen: usize, argsPtr: usize, argsLen: usize, configPtr: usize, configLen: usize,
): usize {
  const service = readText(servicePtr, serviceLen);
  const args = readArgs(argsPtr, argsLen);
  const config = readBytes(configPtr, configLen);
  let error = "";
  if (service == null || args == null || config == null) {
    error = "the host passed an invalid service name, module argument or configuration buffer";
  } else {
    const parsed = settingsFor(service!, args!, config!);
    if (parsed.settings != null) {
      const s = parsed.settings!;
      store<u8>(CONFIGURE_RET, 0);
      storeStringList(CONFIGURE_RET + 4, s.servers);
      store<u32>(CONFIGURE_RET, s.timeoutMs, 12);
      storeString(CONFIGURE_RET + 16, s.cafile);
      storeString(CONFIGURE_RET + 24, s.capath);
      let flags: u8 = 0;
      if (s.tryFirstPass) flags |= 1;
      if (s.useFirstPass) flags |= 2;
      if (s.ignoreUnavailable) flags |= 4;
      if (s.quiet) flags |= 8;
      if (s.debug) flags |= 16;
      if (s.useAuthtok) flags |= 32;
      store<u8>(CONFIGURE_RET, flags, 32);
      storeStringList(CONFIGURE_RET + 36, s.features);
      return CONFIGURE_RET;
    }
    error = parsed.error;
  }
  store<u8>(CONFIGURE_RET, 1);
  storeString(CONFIGURE_RET + 4, error);
  return CONFIGURE_RET;
}

const VERDICT_RET = memory.data(20, 4);

function writeVerdict(v: Verdict): usize {
  store<u8>(VERDICT_RET, <u8>v.code);
  storeString(VERDICT_RET + 4, v.reason);
  storeString(VERDICT_RET + 12, v.user);
  return VERDICT_RET;
}

export function authenticate(
  servicePtr: usize, serviceLen: usize, userPtr: usize, userLen: usize, passwordPtr: usize, passwordLen: usize,
  argsPtr: usize, argsLen: usize, configPtr: usize, configLen: usize, rhostPtr: usize, rhostLen: usize,
): usize {
  const service = readText(servicePtr, serviceLen);
  const user = readBytes(userPtr, userLen);
  const password = readBytes(passwordPtr, passwordLen);
  const args = readArgs(argsPtr, argsLen);
  const config = readBytes(configPtr, configLen);
  const rhost = readText(rhostPtr, rhostLen);
  if (service == null || user == null || password == null || args == null || config == null || rhost == null) {
    return writeVerdict(new Verdict(Code.ServiceErr, "the host passed invalid input"));
  }
  const verdict = runFlow(new Request(service!, user!, password!, args!, config!, rhost!));
  // The password's bytes live in this instance's memory; the host wipes all of it before freeing.
  return writeVerdict(verdict);
}

export function chauthtok(
  servicePtr: usize, serviceLen: usize, phase: u32, userPtr: usize, userLen: usize, oldPtr: usize, oldLen: usize,
  newPtr: usize, newLen: usize, argsPtr: usize, argsLen: usize, configPtr: usize, configLen: usize,
  rhostPtr: usize, rhostLen: usize,
): usize {
  const service = readText(servicePtr, serviceLen);
  const user = readBytes(userPtr, userLen);
  const oldPassword = readBytes(oldPtr, oldLen);
  const newPassword = readBytes(newPtr, newLen);
  const args = readArgs(argsPtr, argsLen);
  const config = readBytes(configPtr, configLen);
  const rhost = readText(rhostPtr, rhostLen);
  if (phase > <u32>Phase.Update || service == null || user == null || oldPassword == null || newPassword == null ||
      args == null || config == null || rhost == null) {
    return writeVerdict(new Verdict(Code.ServiceErr, "the host passed invalid input"));
  }
  return writeVerdict(runChange(new ChangeRequest(
    service, <Phase>phase, user, oldPassword, newPassword, args, config, rhost)));
}
