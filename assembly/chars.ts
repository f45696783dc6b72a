// Character classes and text helpers for the configuration reader: ASCII tests, lower-casing, and a text
// builder that stays linear. (The stub runtime never frees: building a string by `out += c` costs the sum of
// every intermediate copy, so a 4 KiB value once used up the guest's 16 MiB.)
import { isControl } from "./utf8";

@inline export function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

@inline export function isAsciiLetter(c: i32): bool {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

export function hexValue(c: i32): i32 {
  if (isDigit(c)) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

/** Collects UTF-16 code units and makes one string at the end: linear in time and memory. */
export class TextBuilder {
  private units: Array<i32> = new Array<i32>();
  add(c: i32): void {
    this.units.push(c);
  }
  addText(s: string): void {
    for (let i = 0; i < s.length; i++) this.units.push(s.charCodeAt(i));
  }
  toString(): string {
    return String.fromCharCodes(this.units);
  }
}

export function asciiLower(s: string): string {
  const out = new TextBuilder();
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out.add(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return out.toString();
}

/** The first control character, lone surrogate or line separator in `s` as a code point, or -1. */
export function firstForbiddenChar(s: string): i32 {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) { i++; continue; }
    }
    if ((c >= 0xd800 && c <= 0xdfff) || isControl(<u32>c) || c == 0x2028 || c == 0x2029) return c;
  }
  return -1;
}
