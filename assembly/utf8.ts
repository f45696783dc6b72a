// Strict UTF-8 (RFC 3629): no overlongs, no surrogates, nothing above U+10FFFF. AssemblyScript's own decoder
// silently truncates invalid input, which made different passwords produce identical requests.
import { Bytes } from "./bytes";

/** Length in bytes of the valid UTF-8 sequence starting at `i`, or 0 if it is invalid or truncated. */
export function utf8SequenceLength(b: Bytes, i: i32): i32 {
  const c0 = <u32>b.at(i);
  if (c0 < 0x80) return 1;
  let n: i32;
  let min: u32;
  let cp: u32;
  if ((c0 & 0xe0) == 0xc0) { n = 2; min = 0x80; cp = c0 & 0x1f; }
  else if ((c0 & 0xf0) == 0xe0) { n = 3; min = 0x800; cp = c0 & 0x0f; }
  else if ((c0 & 0xf8) == 0xf0) { n = 4; min = 0x10000; cp = c0 & 0x07; }
  else return 0;
  if (i + n > b.len) return 0;
  for (let k = 1; k < n; k++) {
    const c = <u32>b.at(i + k);
    if ((c & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

/** The code point of the valid sequence at `i` (call only after `utf8SequenceLength` returned n > 0). */
export function utf8CodePoint(b: Bytes, i: i32, n: i32): u32 {
  const c0 = <u32>b.at(i);
  if (n == 1) return c0;
  let cp: u32 = n == 2 ? c0 & 0x1f : n == 3 ? c0 & 0x0f : c0 & 0x07;
  for (let k = 1; k < n; k++) cp = (cp << 6) | (<u32>b.at(i + k) & 0x3f);
  return cp;
}

export function isStrictUtf8(b: Bytes): bool {
  let i = 0;
  while (i < b.len) {
    const n = utf8SequenceLength(b, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

/** C0 controls, DEL and C1 controls. */
export function isControl(cp: u32): bool {
  return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}
