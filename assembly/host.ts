// The two functions the host provides (wit/pam-mapi.wit): `post` and `log`, with the guest-side checks of what
// the host wrote back.
import { Bytes } from "./bytes";
import { inBounds } from "./abi";

@external("$root", "post")
declare function hostPost(server: u32, bodyPtr: usize, bodyLen: usize, ret: usize): void;
@external("$root", "log")
declare function hostLog(level: u32, msgPtr: usize, msgLen: usize): void;

export const enum Level { Error = 0, Warning = 1, Notice = 2, Info = 3, Debug = 4 }

const TRANSPORT_ERRORS: StaticArray<string> = [
  "no such server", "connection refused", "host name did not resolve", "timed out", "TLS failure",
  "unexpected HTTP status", "reply too large", "connection closed early", "malformed HTTP reply", "host error",
];

export class PostResult {
  ok: bool = false;
  status: u32 = 0;
  body: Bytes = Bytes.empty();
  error: string = "";
}

const POST_RET = memory.data(16, 4);

export function post(server: i32, body: Bytes): PostResult {
  store<u64>(POST_RET, 0);
  store<u64>(POST_RET, 0, 8);
  hostPost(<u32>server, body.ptr, <usize>body.len, POST_RET);
  const r = new PostResult();
  const tag = load<u8>(POST_RET);
  if (tag == 0) {
    const ptr = <usize>load<u32>(POST_RET, 8);
    const len = <usize>load<u32>(POST_RET, 12);
    if (!inBounds(ptr, len) || len > 0x7fffffff) {
      r.error = "host returned a reply outside guest memory";
      return r;
    }
    r.ok = true;
    r.status = <u32>load<u16>(POST_RET, 4);
    r.body = new Bytes(ptr, <i32>len);
  } else {
    const e = <i32>load<u8>(POST_RET, 4);
    r.error = tag == 1 && e < TRANSPORT_ERRORS.length ? TRANSPORT_ERRORS[e] : "host returned an invalid result";
  }
  return r;
}

export function log(level: Level, message: string): void {
  const buf = String.UTF8.encode(message);
  hostLog(<u32>level, changetype<usize>(buf), <usize>buf.byteLength);
}
