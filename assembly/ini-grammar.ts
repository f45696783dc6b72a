// The INI grammar of the configuration file: lines to sections and key/value pairs, recorded in layers
// (config-keys.ts), every refusal naming its line.
//
// The file grammar follows the `ini` npm package (v6, `decode`), the reference the tests compare against: lines
// split at CR/LF, `;`/`#` comment lines, `[section]` at column 1, `key = value` split at the first `=`, bare `key`
// (= true), keys and values trimmed with JavaScript's `trim()` whitespace, values in "double quotes" decoded as
// JSON strings, values in 'single quotes' taken verbatim, and for unquoted values ini's `unsafe()` walk: the first
// `;` or `#` not escaped by `\` starts a comment, `\;` `\#` `\\` unescape, any other `\x` stays as it is.
//
// Where ini accepts more than we want, we refuse with an error instead (ini's behaviour in parentheses):
//  - lines ini silently skips: `=value` with no key, and `[` lines that are not exactly `[name]` plus trailing
//    whitespace (ini reads `[imap] ; x`, `[imap]x` and indented `  [imap]` as a key named "[imap]...");
//  - array keys `key[]` (ini collects them into an array);
//  - section names containing `.` (ini nests `[a.b]` under `a`), empty section names, section names that are
//    key names (after top-level `debug`, ini puts `[debug]`'s keys onto the value true, i.e. drops them), and
//    `__proto__` as a section or key name (ini drops it silently);
//  - duplicate keys within one section, the top level or the module arguments (ini: the last one wins).
//    Repeated `[name]` headers merge as in ini, and names that differ only in ASCII case are the same section
//    (ini keeps them apart), so a key set under both `[imap]` and `[IMAP]` is a duplicate;
//  - quoted keys, and `;`/`#` inside the key of a `key=value` line (ini strips `socket ; old = x` to `socket`);
//    a bare key may carry an inline comment (`debug ; note`) exactly as in ini;
//  - a value that starts with a quote but is not one quoted string (ini keeps the quotes literally, e.g.
//    `"a" ; note` -> `"a"`), a lone `"` or `'`, and a double-quoted value that is not valid JSON (ini keeps it
//    with its quotes);
//  - single-quoted values whose content begins (after spaces) with `"`, `[` or `{` (ini JSON-decodes the content
//    of single quotes too); other single-quoted content is verbatim, so `' 10'` stays " 10" (ini: the number 10)
//    and is then refused as a timeout;
//  - invalid UTF-8, control characters other than TAB and the line ending (including a lone CR, which ini
//    treats as a line break), U+2028/U+2029 (which break ini's line regex), and files over 64 KiB;
//  - `config=` in the file (it names the file; only a module argument may).
// Values are never JSON-typed as in ini (`timeout='10'` is the text "10"); the result is the same for every
// value we accept.
//
// Module arguments are `key` or `key=value` taken verbatim: no trimming, quotes or comments (libpam has already
import { Bytes } from "./bytes";
import { asciiLower, firstForbiddenChar, hexValue, TextBuilder } from "./chars";
import { codePointName, fileLine, shown } from "./config-messages";
import { FILE_KEYS, K_CONFIG, KEY_NAMES, keyIndex, Layer, unknownKey } from "./config-keys";
import { isControl, utf8CodePoint, utf8SequenceLength } from "./utf8";

export const MAX_FILE_BYTES: i32 = 64 * 1024;

export function parseFile(file: Bytes, top: Layer, sections: Map<string, Layer>): string {
  if (file.len > MAX_FILE_BYTES) {
    return "configuration file: " + file.len.toString() + " bytes, at most " + MAX_FILE_BYTES.toString() + " are allowed";
  }
  const encodingError = checkFileCharacters(file);
  if (encodingError.length > 0) return encodingError;
  const lines = file.toText().split("\n");
  let current = top;
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (line.endsWith("\r")) line = line.substring(0, line.length - 1);
    const lineNo = i + 1;
    let why: string;
    if (line.startsWith("[")) {
      const section = new Decoded();
      readSectionName(line, section);
      why = section.error;
      if (why.length == 0) {
        const lower = asciiLower(section.value);
        if (!sections.has(lower)) sections.set(lower, new Layer());
        current = sections.get(lower);
      }
    } else {
      why = parseKeyLine(line, current, lineNo);
    }
    if (why.length > 0) return "configuration file line " + lineNo.toString() + ": " + why;
  }
  return "";
}

/** Invalid UTF-8, control characters and line separators, reported with their line. */
function checkFileCharacters(file: Bytes): string {
  let line = 1;
  let i = 0;
  while (i < file.len) {
    const b = file.at(i);
    if (b == 0x0a) { line++; i++; continue; }
    if (b == 0x0d) {
      if (i + 1 < file.len && file.at(i + 1) == 0x0a) { i++; continue; }
      return fileLine(line) + "carriage return not followed by a line feed (line endings are LF or CRLF)";
    }
    const n = utf8SequenceLength(file, i);
    if (n == 0) return fileLine(line) + "invalid UTF-8";
    const cp = utf8CodePoint(file, i, n);
    if (cp != 0x09 && (isControl(cp) || cp == 0x2028 || cp == 0x2029)) {
      return fileLine(line) + "control character " + codePointName(cp) + " (only TAB is allowed)";
    }
    i += n;
  }
  return "";
}

/** The name in a `[name]` line as ini's unsafe() reads it, or the error that refuses the line. */
function readSectionName(line: string, out: Decoded): void {
  const close = line.indexOf("]");
  if (close < 0 || !isBlank(line.substring(close + 1))) {
    out.error = "malformed section header '" + shown(line) + "' (expected [NAME] alone on the line)";
    return;
  }
  decodeIniValue(line.substring(1, close), out);
  const name = out.value;
  if (out.error.length > 0) out.error = "section name: " + out.error;
  else if (name.length == 0) out.error = "empty section name (write [NAME], NAME being a PAM service)";
  else if (name.includes(".")) out.error = "section name '" + shown(name) + "' contains '.' (nested sections are not supported)";
  else if (name == "__proto__") out.error = "section name '__proto__' is not allowed";
  else if (keyIndex(asciiLower(name)) >= 0) out.error = "section name '" + shown(name) + "' is a key name (ini would mix the two up); name a section after its PAM service";
  else if (firstForbiddenChar(name) >= 0) out.error = "control character in section name";
}

function parseKeyLine(line: string, layer: Layer, lineNo: i32): string {
  const start = skipWhitespace(line, 0);
  if (start == line.length) return "";
  const first = line.charCodeAt(start);
  if (first == 0x3b || first == 0x23) return ""; // ; or # comment
  if (first == 0x5b) return "section header '" + shown(trimIni(line)) + "' must start at the beginning of the line";
  const eq = line.indexOf("=");
  if (eq == 0 || (eq > 0 && skipWhitespace(line, 0) >= eq)) {
    return "missing key before '=' (expected a comment, [SECTION], KEY or KEY=VALUE)";
  }
  const keyText = trimIni(eq < 0 ? line : line.substring(0, eq));
  const k0 = keyText.charCodeAt(0);
  if (k0 == 0x22 || k0 == 0x27) return "quoted key " + keyText + " (keys are plain names)";
  let name = keyText;
  if (eq < 0) {
    // A bare key may carry an inline comment, as ini reads it.
    const decoded = new Decoded();
    decodeIniValue(keyText, decoded);
    name = decoded.value;
  } else if (keyText.includes(";") || keyText.includes("#")) {
    return "'" + shown(keyText) + "': comment character in a key (a comment goes after the value or on its own line)";
  }
  if (name.length > 2 && name.endsWith("[]")) return "array key '" + shown(name) + "' is not supported (write the key once, without [])";
  if (name == "__proto__") return "key '__proto__' is not allowed";
  const k = keyIndex(name);
  if (k == K_CONFIG) return "'config' is only valid as a module argument (name the file with config=PATH on the pam_mapi.so line in /etc/pam.d)";
  if (k < 0) return unknownKey(name, FILE_KEYS);
  let value = "";
  if (eq >= 0) {
    const decoded = new Decoded();
    decodeIniValue(line.substring(eq + 1), decoded);
    if (decoded.error.length > 0) return KEY_NAMES[k] + ": " + decoded.error;
    value = decoded.value;
  }
  return layer.assign(k, eq < 0, value, lineNo, "on line");
}

class Decoded {
  value: string = "";
  error: string = "";
}

/** ini's unsafe(): trim, then a quoted string or an unquoted value up to its inline comment. */
function decodeIniValue(raw: string, out: Decoded): void {
  const v = trimIni(raw);
  if (v.length == 0) return;
  const q = v.charCodeAt(0);
  if (q != 0x22 && q != 0x27) {
    out.value = stripInlineComment(v);
    return;
  }
  if (v.length < 2 || v.charCodeAt(v.length - 1) != q) {
    out.error = "unbalanced quote in " + shown(v) + " (quote the whole value, and put a comment on its own line)";
    return;
  }
  const inner = v.substring(1, v.length - 1);
  if (q == 0x27) {
    const j = skipJsonSpace(inner);
    if (j < inner.length) {
      const c = inner.charCodeAt(j);
      if (c == 0x22 || c == 0x5b || c == 0x7b) {
        out.error = "single-quoted value " + shown(v) + " looks like JSON (ini would decode it); use double quotes";
        return;
      }
    }
    out.value = inner;
    return;
  }
  const decoded = decodeJsonStringBody(inner);
  if (decoded == null) {
    out.error = "double-quoted value " + shown(v) + " is not a valid JSON string";
    return;
  }
  out.value = decoded;
}

/** ini's walk over an unquoted value: the first unescaped ; or # ends it; \; \# \\ unescape. */
function stripInlineComment(v: string): string {
  const out = new TextBuilder();
  let escaped = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (escaped) {
      if (c != 0x5c && c != 0x3b && c != 0x23) out.add(0x5c);
      out.add(c);
      escaped = false;
    } else if (c == 0x3b || c == 0x23) { // ; #
      break;
    } else if (c == 0x5c) { // backslash
      escaped = true;
    } else {
      out.add(c);
    }
  }
  if (escaped) out.add(0x5c);
  return trimIni(out.toString());
}

/** The content of a JSON string literal (between its quotes), or null where JSON.parse would throw. */
function decodeJsonStringBody(s: string): string | null {
  const out = new TextBuilder();
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c < 0x20) return null;
    if (c != 0x5c) { out.add(c); i++; continue; }
    if (i + 1 >= s.length) return null;
    const e = s.charCodeAt(i + 1);
    i += 2;
    if (e == 0x22 || e == 0x5c || e == 0x2f) out.add(e);
    else if (e == 0x62) out.add(0x08);
    else if (e == 0x66) out.add(0x0c);
    else if (e == 0x6e) out.add(0x0a);
    else if (e == 0x72) out.add(0x0d);
    else if (e == 0x74) out.add(0x09);
    else if (e == 0x75) {
      if (i + 4 > s.length) return null;
      let u = 0;
      for (let k = 0; k < 4; k++) {
        const h = hexValue(s.charCodeAt(i + k));
        if (h < 0) return null;
        u = (u << 4) | h;
      }
      out.add(u);
      i += 4;
    } else return null;
  }
  return out.toString();
}

// ---- whitespace ----

/** What JavaScript's trim() and \s remove, minus the line breaks and controls the file check refuses. */
function isIniWhitespace(c: i32): bool {
  return c == 0x20 || c == 0x09 || c == 0xa0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200a) || c == 0x202f ||
    c == 0x205f || c == 0x3000 || c == 0xfeff;
}

function skipWhitespace(s: string, i: i32): i32 {
  while (i < s.length && isIniWhitespace(s.charCodeAt(i))) i++;
  return i;
}

function skipJsonSpace(s: string): i32 {
  let i = 0;
  while (i < s.length && (s.charCodeAt(i) == 0x20 || s.charCodeAt(i) == 0x09)) i++;
  return i;
}

function trimIni(s: string): string {
  const start = skipWhitespace(s, 0);
  let end = s.length;
  while (end > start && isIniWhitespace(s.charCodeAt(end - 1))) end--;
  return s.substring(start, end);
}

function isBlank(s: string): bool {
  return skipWhitespace(s, 0) == s.length;
}
