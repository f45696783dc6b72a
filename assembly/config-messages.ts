// How the configuration reader words what it refuses: user text made printable, code points named, the line
// prefix the hosts turn into PATH:LINE, and "did you mean" for a near miss. Every message says what is wrong and
// what would be right.
import { isControl } from "./utf8";

export function fileLine(line: i32): string {
  return "configuration file line " + line.toString() + ": ";
}

export function codePointName(cp: u32): string {
  const digits = "0123456789ABCDEF";
  let hex = "";
  for (let v = cp; v != 0 || hex.length < 4; v >>= 4) hex = digits.charAt(<i32>(v & 15)) + hex;
  return "U+" + hex;
}

/** User text for an error message: controls escaped, long text cut, so the log line stays one clean line. */
export function shown(s: string): string {
  const LIMIT = 80;
  let out = "";
  const n = s.length < LIMIT ? s.length : LIMIT;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += String.fromCharCodes([c, d]);
        i++;
        continue;
      }
    }
    if ((c >= 0xd800 && c <= 0xdfff) || isControl(<u32>c) || c == 0x2028 || c == 0x2029) out += "\\u" + codePointName(<u32>c).substring(2);
    else out += String.fromCharCode(c);
  }
  if (s.length > LIMIT) out += "...";
  return out;
}

/** Levenshtein distance, capped: anything above `limit` is limit + 1. Names here are short. */
export function editDistance(a: string, b: string, limit: i32): i32 {
  if (a.length > 64 || b.length > 64) return limit + 1;
  let previous = new Array<i32>(b.length + 1);
  let current = new Array<i32>(b.length + 1);
  for (let j = 0; j <= b.length; j++) previous[j] = j;
  for (let i = 1; i <= a.length; i++) {
    current[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a.charCodeAt(i - 1) == b.charCodeAt(j - 1) ? 0 : 1;
      current[j] = min(min(previous[j] + 1, current[j - 1] + 1), previous[j - 1] + cost);
    }
    const t = previous;
    previous = current;
    current = t;
  }
  return min(previous[b.length], limit + 1);
}

/** " (did you mean 'x'?)" for the closest of `names` within edit distance 2, else "". */
export function didYouMean(name: string, names: Array<string>): string {
  let best = "";
  let bestDistance = 3;
  for (let i = 0; i < names.length; i++) {
    const d = editDistance(name, names[i], 2);
    if (d < bestDistance) {
      best = names[i];
      bestDistance = d;
    }
  }
  return best.length > 0 ? " (did you mean '" + best + "'?)" : "";
}
