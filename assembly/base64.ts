// Standard base64 (RFC 4648, with padding), for the `{2}:` password form.
import { Bytes, ByteWriter } from "./bytes";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Append base64(bytes XOR mask) to `out`. */
export function appendBase64Xor(out: ByteWriter, src: Bytes, mask: u8): void {
  let i = 0;
  while (i + 3 <= src.len) {
    const v = (<u32>(src.at(i) ^ mask) << 16) | (<u32>(src.at(i + 1) ^ mask) << 8) | <u32>(src.at(i + 2) ^ mask);
    out.byte(<u8>ALPHABET.charCodeAt((v >> 18) & 63));
    out.byte(<u8>ALPHABET.charCodeAt((v >> 12) & 63));
    out.byte(<u8>ALPHABET.charCodeAt((v >> 6) & 63));
    out.byte(<u8>ALPHABET.charCodeAt(v & 63));
    i += 3;
  }
  const rest = src.len - i;
  if (rest == 1) {
    const v = <u32>(src.at(i) ^ mask) << 16;
    out.byte(<u8>ALPHABET.charCodeAt((v >> 18) & 63));
    out.byte(<u8>ALPHABET.charCodeAt((v >> 12) & 63));
    out.byte(0x3d);
    out.byte(0x3d);
  } else if (rest == 2) {
    const v = (<u32>(src.at(i) ^ mask) << 16) | (<u32>(src.at(i + 1) ^ mask) << 8);
    out.byte(<u8>ALPHABET.charCodeAt((v >> 18) & 63));
    out.byte(<u8>ALPHABET.charCodeAt((v >> 12) & 63));
    out.byte(<u8>ALPHABET.charCodeAt((v >> 6) & 63));
    out.byte(0x3d);
  }
}
