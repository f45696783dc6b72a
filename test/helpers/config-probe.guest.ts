// AssemblyScript test entry (not part of the guest): runs parseSettings and returns every field as JSON, features
// included (the WIT settings record leaves them out). Compiled by test/helpers/config-probe.ts; args arrive NUL-joined.
import { parseSettings } from "../../assembly/config";
import { Bytes } from "../../assembly/bytes";

export function alloc(n: usize): usize { return heap.alloc(n); }
let resultLength: i32 = 0;
export function outLen(): i32 { return resultLength; }

function quoted(s: string): string {
  let o = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c == 0x5c || c < 0x20) { let h = c.toString(16); while (h.length < 4) h = "0" + h; o += "\\u" + h; }
    else o += String.fromCharCode(c);
  }
  return o + "\"";
}
function list(a: Array<string>): string {
  const p = new Array<string>();
  for (let i = 0; i < a.length; i++) p.push(quoted(a[i]));
  return "[" + p.join(",") + "]";
}

export function run(sp: usize, sl: i32, ap: usize, al: i32, fp: usize, fl: i32): usize {
  const service = String.UTF8.decodeUnsafe(sp, sl, false);
  const joined = String.UTF8.decodeUnsafe(ap, al, false);
  const args = joined.length == 0 ? new Array<string>() : joined.split("\0");
  const r = parseSettings(service, args, new Bytes(fp, fl));
  let out: string;
  if (r.settings == null) out = errorJson(r.error);
  else {
    const s = r.settings!;
    out = "{\"ok\":true,\"servers\":" + list(s.servers) + ",\"features\":" + list(s.features) + ",\"timeoutMs\":" + s.timeoutMs.toString() +
      ",\"cafile\":" + quoted(s.cafile) + ",\"capath\":" + quoted(s.capath) + ",\"tryFirstPass\":" + (s.tryFirstPass ? "true" : "false") +
      ",\"useFirstPass\":" + (s.useFirstPass ? "true" : "false") + ",\"ignoreUnavailable\":" + (s.ignoreUnavailable ? "true" : "false") +
      ",\"quiet\":" + (s.quiet ? "true" : "false") + ",\"debug\":" + (s.debug ? "true" : "false") + "}";
  }
  const buf = String.UTF8.encode(out);
  resultLength = buf.byteLength;
  return changetype<usize>(buf);
}
function errorJson(e: string): string { return "{\"ok\":false,\"error\":" + quoted(e) + "}"; }
