// A deliberately simple stand-in guest for testing the C loader (native/) on its own: it speaks the same ABI
// as assembly/ (docs/abi.md) but its "policy" is trivial, and `test=NAME` (module argument or config line)
// makes it misbehave on purpose: traps, out-of-bounds pointers, bad enum values, runaway memory or stack.
// Never installed; build.sh turns it into build/test/pam_mapi_testguest.so.
@external("$root", "post")
declare function post(server: u32, bodyPtr: usize, bodyLen: usize, ret: usize): void;
@external("$root", "log")
declare function log(level: u32, ptr: usize, len: usize): void;

// test=post-realloc-oob: the block for post()'s reply lies outside memory. test=lower-realloc-oob and
// lower-realloc-misaligned (set by configure, which runs on the same instance just before authenticate): the
// blocks the host asks for to pass authenticate's arguments lie outside memory, or are misaligned.
let reallocOutOfBounds = false;
let reallocMisaligned = false;

export function cabi_realloc(oldPtr: usize, oldSize: usize, align: usize, newSize: usize): usize {
  if (reallocOutOfBounds) return 0xfffffff0;
  if (reallocMisaligned && align > 1) return heap.alloc(newSize + 4) + 1;
  if (oldPtr == 0) return heap.alloc(newSize);
  return heap.realloc(oldPtr, newSize);
}

const RET = memory.data(64, 16);
const POST_RET = memory.data(16, 16);
const BAD_UTF8 = memory.data<u8>([0xc3, 0x28]); // a lead byte followed by a non-continuation byte

function say(level: u32, s: string): void {
  const b = String.UTF8.encode(s);
  log(level, changetype<usize>(b), b.byteLength);
}

function bytesOf(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

class Options {
  servers: string[] = ["file:///var/run/kopano/server.sock"];
  timeoutMs: u32 = 10000;
  cafile: string = "";
  capath: string = "";
  flags: u8 = 0;
  test: string = "";
  error: string = "";
}

function apply(o: Options, line: string): void {
  line = line.trim();
  if (line.length == 0 || line.startsWith("#") || line.startsWith("[")) return;
  const eq = line.indexOf("=");
  const key = eq < 0 ? line : line.substring(0, eq).trim();
  const value = eq < 0 ? "" : line.substring(eq + 1).trim();
  if (key == "socket") o.servers = value.split(",");
  else if (key == "timeout") o.timeoutMs = <u32>(I32.parseInt(value) * 1000);
  else if (key == "timeout_ms") o.timeoutMs = <u32>I32.parseInt(value);
  else if (key == "cafile") o.cafile = value;
  else if (key == "capath") o.capath = value;
  else if (key == "config") return;
  else if (key == "test") o.test = value;
  else if (key == "try_first_pass") o.flags |= 1;
  else if (key == "use_first_pass") o.flags |= 2;
  else if (key == "ignore_unavailable") o.flags |= 4;
  else if (key == "quiet") o.flags |= 8;
  else if (key == "debug") o.flags |= 16;
  else if (o.error.length == 0) o.error = "unknown key \"" + key + "\"";
}

function parse(argsPtr: usize, argsLen: usize, cfgPtr: usize, cfgLen: usize): Options {
  const o = new Options();
  const lines = String.UTF8.decodeUnsafe(cfgPtr, cfgLen).split("\n");
  for (let i = 0; i < lines.length; i++) apply(o, lines[i]);
  for (let i: usize = 0; i < argsLen; i++) {
    apply(o, String.UTF8.decodeUnsafe(load<u32>(argsPtr + 8 * i), load<u32>(argsPtr + 8 * i + 4)));
  }
  return o;
}

function storeString(at: usize, s: string): void {
  const b = bytesOf(s);
  store<u32>(at, changetype<usize>(b));
  store<u32>(at + 4, b.byteLength);
}

export function configure(sPtr: usize, sLen: usize, aPtr: usize, aLen: usize, cPtr: usize, cLen: usize): usize {
  const o = parse(aPtr, aLen, cPtr, cLen);
  if (o.test == "trap-configure") unreachable();
  if (o.test == "configure-bad-ret") return 0xfffffffc;
  if (o.test == "lower-realloc-oob") reallocOutOfBounds = true;
  if (o.test == "lower-realloc-misaligned") reallocMisaligned = true;
  if (o.test == "configure-misaligned-ret") return RET + 2;
  if (o.test == "configure-bad-tag") {
    store<u8>(RET, 2);
    return RET;
  }
  if (o.error.length > 0) {
    store<u8>(RET, 1);
    storeString(RET + 4, o.error);
    return RET;
  }
  store<u8>(RET, 0);
  const list = heap.alloc(8 * o.servers.length);
  for (let i = 0; i < o.servers.length; i++) storeString(list + 8 * i, o.servers[i]);
  store<u32>(RET + 4, o.test == "configure-oob" ? 0xfffffff0 : o.test == "configure-misaligned-list" ? <u32>list + 2 : <u32>list);
  store<u32>(RET + 8, o.test == "configure-no-servers" ? 0 : o.servers.length);
  store<u32>(RET + 12, o.timeoutMs);
  storeString(RET + 16, o.cafile);
  storeString(RET + 24, o.capath);
  store<u8>(RET + 32, o.test == "configure-flags" ? 0x80 : o.flags);
  if (o.test == "configure-features-bad") {
    const features = heap.alloc(8);
    storeString(features, "smtp");
    store<u32>(RET + 36, <u32>features);
    store<u32>(RET + 40, 1);
  } else if (o.test == "configure-features-many") {
    // six known names (one twice): one more than the five features there are
    const names = ["imap", "pop3", "mobile", "outlook", "webapp", "imap"];
    const features = heap.alloc(8 * names.length);
    for (let i = 0; i < names.length; i++) storeString(features + 8 * i, names[i]);
    store<u32>(RET + 36, <u32>features);
    store<u32>(RET + 40, names.length);
  } else if (o.test == "configure-features-misaligned") {
    // a well-formed list entry, but at an address the ABI's 4-byte alignment does not allow
    const features = heap.alloc(16);
    storeString(features + 2, "imap");
    store<u32>(RET + 36, <u32>features + 2);
    store<u32>(RET + 40, 1);
  } else {
    store<u32>(RET + 36, o.test == "configure-features-oob" ? 0xfffffff0 : 0);
    store<u32>(RET + 40, o.test == "configure-features-oob" ? 1 : 0);
  }
  return RET;
}

function verdict(code: u8, reason: string, user: string): usize {
  store<u8>(RET, code);
  storeString(RET + 4, reason);
  storeString(RET + 12, user);
  return RET;
}

function recurse(n: u32): u32 {
  return n == 0xffffffff ? 0 : recurse(n + 1) + 1;
}

export function authenticate(sPtr: usize, sLen: usize, uPtr: usize, uLen: usize, pPtr: usize, pLen: usize,
                             aPtr: usize, aLen: usize, cPtr: usize, cLen: usize, rPtr: usize, rLen: usize): usize {
  const o = parse(aPtr, aLen, cPtr, cLen);
  const user = String.UTF8.decodeUnsafe(uPtr, uLen);
  const password = String.UTF8.decodeUnsafe(pPtr, pLen);
  const t = o.test;
  if (t == "trap") unreachable();
  if (t == "stack") return recurse(0);
  if (t == "grow") {
    for (;;) heap.alloc(1 << 20);
  }
  if (t == "bad-code") return verdict(8, "", ""); // V_COUNT: the first code out of range
  if (t == "bad-reason") {
    verdict(1, "", "");
    store<u32>(RET + 4, 0xffffff00);
    store<u32>(RET + 8, 0x1000);
    return RET;
  }
  if (t == "bad-ret") return 0xfffffffc;
  if (t == "bad-log-level") log(7, 0, 0);
  if (t == "log-oob") log(2, 0xfffffff0, 100);
  if (t == "post-oob") post(0, 0xffffff00, 0x1000, POST_RET);
  if (t == "post-ret-oob") post(0, 0, 0, 0xfffffff0);
  if (t == "post-ret-misaligned") post(0, 0, 0, POST_RET + 1);
  if (t == "post-realloc-oob") reallocOutOfBounds = true;
  if (t == "long-user") return verdict(0, "forced", "a".repeat(1025));
  if (t == "control-user") return verdict(0, "forced", "ali\nce");
  if (t == "bad-utf8-user") {
    verdict(0, "forced", "");
    store<u32>(RET + 12, <u32>BAD_UTF8);
    store<u32>(RET + 16, 2);
    return RET;
  }
  if (t == "control-log") say(3, "line\nwith\x1b[31mcontrol\x07characters");
  if (t == "success-now") return verdict(0, "forced", user);
  // memory.grow while the password is in memory (the host's old block must be wiped before it is kept or freed)
  if (t == "grow-after-password") heap.alloc(1 << 20);
  if (password.length == 0) return verdict(1, "empty password", "");

  const body = bytesOf("<logon><user>" + user + "</user><password>" + password + "</password></logon>");
  for (let i = 0; i < o.servers.length; i++) {
    post(t == "no-such-server" ? 99 : i, changetype<usize>(body), body.byteLength, POST_RET);
    if (load<u8>(POST_RET) != 0) {
      say(1, "server " + i.toString() + ": transport error " + load<u8>(POST_RET + 4).toString());
      continue;
    }
    const status = load<u16>(POST_RET + 4);
    const reply = String.UTF8.decodeUnsafe(load<u32>(POST_RET + 8), load<u32>(POST_RET + 12));
    say(3, "server " + i.toString() + ": HTTP " + status.toString() + ", " + load<u32>(POST_RET + 12).toString() + " bytes");
    if (t == "trap-after-post") unreachable();
    if (reply.includes("<er>0</er>")) {
      const logoff = bytesOf("<logoff/>");
      post(i, changetype<usize>(logoff), logoff.byteLength, POST_RET);
      if (t == "perm-denied") return verdict(2, "feature not enabled", user);
      return verdict(0, "logon ok", user);
    }
    if (reply.includes("<er>")) {
      if ((o.flags & 8) == 0) say(2, "logon failed for " + user);
      return verdict(1, "logon failed", "");
    }
  }
  say(0, "no server answered");
  return verdict((o.flags & 4) != 0 ? 4 : 3, "no server answered", "");
}

// chauthtok exists so the loader links; this guest takes no part in password changes (PAM_IGNORE).
export function chauthtok(sPtr: usize, sLen: usize, phase: u32, uPtr: usize, uLen: usize, oPtr: usize, oLen: usize,
                          nPtr: usize, nLen: usize, aPtr: usize, aLen: usize, cPtr: usize, cLen: usize,
                          rPtr: usize, rLen: usize): usize {
  return verdict(4, "the test guest does not change passwords", "");
}

// abort() without an env import: a trap, as in assembly/trap.ts.
export function trap(message: string | null, fileName: string | null, line: u32, column: u32): void {
  unreachable();
}
