// Effective settings for one PAM service: module arguments over the INI file's [SERVICE] section over its
// top-level keys over the defaults. Every wrong key or value is an error naming its place; nothing is ignored.
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
// split the line; brackets are its quoting).
import { Bytes } from "./bytes";
import { isControl, utf8CodePoint, utf8SequenceLength } from "./utf8";

export const DEFAULT_SERVER = "file:///var/run/kopano/server.sock";
export const MAX_FILE_BYTES: i32 = 64 * 1024;
export const MAX_ARGUMENTS: i32 = 64;
export const MAX_SERVERS: i32 = 8;
/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES: i32 = 107;
const MAX_PATH_BYTES: i32 = 4095;
const MAX_URL_BYTES: i32 = 2048;
const FEATURES: Array<string> = ["imap", "pop3", "mobile", "outlook", "webapp"];

export class Settings {
  servers: Array<string> = [DEFAULT_SERVER];
  /** Kopano features of which the user needs at least one; empty = no feature check. */
  features: Array<string> = [];
  timeoutMs: u32 = 10000;
  cafile: string = "";
  capath: string = "";
  tryFirstPass: bool = false;
  useFirstPass: bool = false;
  ignoreUnavailable: bool = false;
  quiet: bool = false;
  debug: bool = false;
  /** chauthtok: take the new password from an earlier module (pam_pwquality) instead of prompting. */
  useAuthtok: bool = false;
}

export class ConfigResult {
  settings: Settings | null = null;
  error: string = "";
}

// Key indices; a layer keeps the booleans as bits at their index.
const K_SOCKET = 0;
const K_SERVICE = 1;
const K_TIMEOUT = 2;
const K_CAFILE = 3;
const K_CAPATH = 4;
const K_TRY_FIRST_PASS = 5;
const K_USE_FIRST_PASS = 6;
const K_IGNORE_UNAVAILABLE = 7;
const K_QUIET = 8;
const K_DEBUG = 9;
const K_CONFIG = 10;
const K_USE_AUTHTOK = 11; // a boolean, appended after config so the older indices stay
const KEY_NAMES: Array<string> = [
  "socket", "service", "timeout", "cafile", "capath",
  "try_first_pass", "use_first_pass", "ignore_unavailable", "quiet", "debug", "config", "use_authtok",
];
const FILE_KEYS = "socket, service, timeout, cafile, capath, try_first_pass, use_first_pass, ignore_unavailable, quiet, debug, use_authtok";
const ARGUMENT_KEYS = FILE_KEYS + ", config";

function keyIndex(name: string): i32 {
  for (let i = 0; i < KEY_NAMES.length; i++) if (KEY_NAMES[i] == name) return i;
  return -1;
}

/** The keys one place (top level, one section, the arguments) sets, with where each was set. */
class Layer {
  set: u32 = 0;
  where: StaticArray<i32> = new StaticArray<i32>(12);
  servers: Array<string> = [];
  features: Array<string> = [];
  timeoutMs: u32 = 0;
  cafile: string = "";
  capath: string = "";
  booleans: u32 = 0;

  has(k: i32): bool {
    return (this.set & (<u32>1 << k)) != 0;
  }

  apply(to: Settings): void {
    if (this.has(K_SOCKET)) to.servers = this.servers;
    if (this.has(K_SERVICE)) to.features = this.features;
    if (this.has(K_TIMEOUT)) to.timeoutMs = this.timeoutMs;
    if (this.has(K_CAFILE)) to.cafile = this.cafile;
    if (this.has(K_CAPATH)) to.capath = this.capath;
    if (this.has(K_TRY_FIRST_PASS)) to.tryFirstPass = this.flag(K_TRY_FIRST_PASS);
    if (this.has(K_USE_FIRST_PASS)) to.useFirstPass = this.flag(K_USE_FIRST_PASS);
    if (this.has(K_IGNORE_UNAVAILABLE)) to.ignoreUnavailable = this.flag(K_IGNORE_UNAVAILABLE);
    if (this.has(K_QUIET)) to.quiet = this.flag(K_QUIET);
    if (this.has(K_DEBUG)) to.debug = this.flag(K_DEBUG);
    if (this.has(K_USE_AUTHTOK)) to.useAuthtok = this.flag(K_USE_AUTHTOK);
  }

  private flag(k: i32): bool {
    return (this.booleans & (<u32>1 << k)) != 0;
  }

  /** Validate and record one key. Returns "" or what is wrong with it. `bare` = no `=value` at all. */
  assign(k: i32, bare: bool, value: string, where: i32, whereWord: string): string {
    const name = KEY_NAMES[k];
    if (this.has(k)) return "duplicate key '" + name + "' (first set " + whereWord + " " + this.where[k].toString() + ")";
    this.set |= <u32>1 << k;
    this.where[k] = where;
    if ((k >= K_TRY_FIRST_PASS && k <= K_DEBUG) || k == K_USE_AUTHTOK) {
      const b = bare ? 1 : parseBoolean(value);
      if (b < 0) return name + ": '" + shown(value) + "' is not a boolean (allowed: yes, no, true, false, on, off, 1, 0, or the bare key)";
      if (b == 1) this.booleans |= <u32>1 << k;
      return "";
    }
    if (bare) return "'" + name + "' needs a value (" + name + "=" + valueShape(k) + ")";
    const bad = firstForbiddenChar(value);
    if (bad >= 0) return name + ": control character " + codePointName(<u32>bad) + " in the value";
    if (k == K_SOCKET) return this.assignServers(value);
    if (k == K_SERVICE) return this.assignFeatures(value);
    if (k == K_TIMEOUT) {
      const ms = parseTimeoutMs(value);
      if (ms < 0) return "timeout: '" + shown(value) + "' is not a number of seconds from 0.1 to 300 with at most 3 decimals";
      this.timeoutMs = <u32>ms;
      return "";
    }
    if (k == K_CAFILE || k == K_CAPATH) {
      const why = checkAbsolutePath(value, true);
      if (why.length > 0) return name + ": '" + shown(value) + "' " + why;
      if (k == K_CAFILE) this.cafile = value;
      else this.capath = value;
      return "";
    }
    // K_CONFIG: the host reads the file; here it only has to be a plausible absolute path.
    const why = checkAbsolutePath(value, false);
    return why.length > 0 ? "config: '" + shown(value) + "' " + why : "";
  }

  private assignServers(value: string): string {
    // "a, b" reads as naturally as "a,b": blanks around the separators are not part of a URL.
    const urls = splitList(value, ",");
    if (urls.length > MAX_SERVERS) return "socket: " + urls.length.toString() + " URLs, at most " + MAX_SERVERS.toString() + " are allowed";
    for (let i = 0; i < urls.length; i++) {
      const why = checkServerUrl(urls[i]);
      if (why.length > 0) {
        return "socket: '" + shown(urls[i]) + "' " + why +
          " (allowed: file:///absolute/path, http://host[:port][/path], https://host[:port][/path], separated by ',')";
      }
    }
    this.servers = urls;
    return "";
  }

  private assignFeatures(value: string): string {
    const out = new Array<string>();
    // An empty value is allowed on purpose: it turns off a feature check set at a lower level.
    if (value.length > 0) {
      const parts = splitList(value, "|");
      for (let i = 0; i < parts.length; i++) {
        const f = parts[i];
        if (!FEATURES.includes(f)) {
          return "service: unknown feature '" + shown(f) + "' (allowed: imap, pop3, mobile, outlook, webapp, separated by '|')";
        }
        if (!out.includes(f)) out.push(f);
      }
    }
    this.features = out;
    return "";
  }
}

/** `value` split at `separator`, each item without the spaces and tabs around it. */
function splitList(value: string, separator: string): Array<string> {
  const items = value.split(separator);
  for (let i = 0; i < items.length; i++) items[i] = trimBlanks(items[i]);
  return items;
}

function trimBlanks(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && (s.charCodeAt(a) == 0x20 || s.charCodeAt(a) == 0x09)) a++;
  while (b > a && (s.charCodeAt(b - 1) == 0x20 || s.charCodeAt(b - 1) == 0x09)) b--;
  return s.substring(a, b);
}

function valueShape(k: i32): string {
  if (k == K_SOCKET) return "URL[,URL...]";
  if (k == K_SERVICE) return "FEATURE[|FEATURE...]";
  if (k == K_TIMEOUT) return "SECONDS";
  if (k == K_CAPATH) return "DIR";
  return "PATH";
}

// One instance serves one PAM call (native/guest.h): `configure`, then `authenticate` or `chauthtok` with the same
// service, arguments and file. The second parse of the same inputs is the first one's result (results are never
// modified after parsing). The file's bytes are copied, so the comparison never depends on memory the host wrote.
let memoService = "";
let memoArgs: Array<string> | null = null;
let memoFile: Bytes = Bytes.empty();
let memoResult: ConfigResult | null = null;

function sameArgs(a: Array<string>, b: Array<string>): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}

/** parseSettings, remembering the last inputs and result of this instance. */
export function settingsFor(service: string, args: Array<string>, file: Bytes): ConfigResult {
  const last = memoResult;
  if (last != null && memoService == service && sameArgs(memoArgs!, args) && memoFile.len == file.len &&
      memory.compare(memoFile.ptr, file.ptr, <usize>file.len) == 0) {
    return last;
  }
  const result = parseSettings(service, args, file);
  const copy = heap.alloc(<usize>max(file.len, 1));
  memory.copy(copy, file.ptr, <usize>file.len);
  memoService = service;
  memoArgs = args.slice(0);
  memoFile = new Bytes(copy, file.len);
  memoResult = result;
  return result;
}

export function parseSettings(service: string, args: Array<string>, file: Bytes): ConfigResult {
  const result = new ConfigResult();
  const top = new Layer();
  const sections = new Map<string, Layer>();
  const fileError = parseFile(file, top, sections);
  if (fileError.length > 0) {
    result.error = fileError;
    return result;
  }
  const argLayer = new Layer();
  const argError = parseArguments(args, argLayer);
  if (argError.length > 0) {
    result.error = argError;
    return result;
  }
  const settings = new Settings();
  top.apply(settings);
  const wanted = asciiLower(service);
  if (sections.has(wanted)) sections.get(wanted).apply(settings);
  argLayer.apply(settings);
  result.settings = settings;
  return result;
}

// ---- module arguments ----

function parseArguments(args: Array<string>, layer: Layer): string {
  if (args.length > MAX_ARGUMENTS) {
    return "module arguments: " + args.length.toString() + " given, at most " + MAX_ARGUMENTS.toString() + " are allowed";
  }
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const why = checkArgument(arg, layer, i + 1);
    if (why.length > 0) return "module argument " + (i + 1).toString() + " '" + shown(arg) + "': " + why;
  }
  return "";
}

function checkArgument(arg: string, layer: Layer, position: i32): string {
  const bad = firstForbiddenChar(arg);
  if (bad >= 0) return "control character " + codePointName(<u32>bad);
  const eq = arg.indexOf("=");
  const name = eq < 0 ? arg : arg.substring(0, eq);
  if (name.length == 0) return "missing key before '='";
  const k = keyIndex(name);
  if (k < 0) return "unknown key '" + shown(name) + "' (known: " + ARGUMENT_KEYS + ")";
  return layer.assign(k, eq < 0, eq < 0 ? "" : arg.substring(eq + 1), position, "in argument");
}

// ---- the INI file ----

function parseFile(file: Bytes, top: Layer, sections: Map<string, Layer>): string {
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

function fileLine(line: i32): string {
  return "configuration file line " + line.toString() + ": ";
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
  else if (name.length == 0) out.error = "empty section name";
  else if (name.includes(".")) out.error = "section name '" + shown(name) + "' contains '.' (nested sections are not supported)";
  else if (name == "__proto__") out.error = "section name '__proto__' is not allowed";
  else if (keyIndex(asciiLower(name)) >= 0) out.error = "section name '" + shown(name) + "' is a key name (ini would mix the two up)";
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
  if (name.length > 2 && name.endsWith("[]")) return "array key '" + shown(name) + "' is not supported";
  if (name == "__proto__") return "key '__proto__' is not allowed";
  const k = keyIndex(name);
  if (k == K_CONFIG) return "'config' is only valid as a module argument";
  if (k < 0) return "unknown key '" + shown(name) + "' (known: " + FILE_KEYS + ")";
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
  let out = "";
  let escaped = false;
  for (let i = 0; i < v.length; i++) {
    const c = v.charAt(i);
    if (escaped) {
      out += c == "\\" || c == ";" || c == "#" ? c : "\\" + c;
      escaped = false;
    } else if (c == ";" || c == "#") {
      break;
    } else if (c == "\\") {
      escaped = true;
    } else {
      out += c;
    }
  }
  if (escaped) out += "\\";
  return trimIni(out);
}

/** The content of a JSON string literal (between its quotes), or null where JSON.parse would throw. */
function decodeJsonStringBody(s: string): string | null {
  let out = "";
  let i = 0;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c == 0x22 || c < 0x20) return null;
    if (c != 0x5c) { out += String.fromCharCode(c); i++; continue; }
    if (i + 1 >= s.length) return null;
    const e = s.charCodeAt(i + 1);
    i += 2;
    if (e == 0x22) out += "\"";
    else if (e == 0x5c) out += "\\";
    else if (e == 0x2f) out += "/";
    else if (e == 0x62) out += "\b";
    else if (e == 0x66) out += "\f";
    else if (e == 0x6e) out += "\n";
    else if (e == 0x72) out += "\r";
    else if (e == 0x74) out += "\t";
    else if (e == 0x75) {
      if (i + 4 > s.length) return null;
      let u = 0;
      for (let k = 0; k < 4; k++) {
        const h = hexValue(s.charCodeAt(i + k));
        if (h < 0) return null;
        u = (u << 4) | h;
      }
      out += String.fromCharCode(u);
      i += 4;
    } else return null;
  }
  return out;
}

// ---- values ----

/** 1 true, 0 false, -1 not a boolean. */
function parseBoolean(v: string): i32 {
  const s = asciiLower(v);
  if (s == "yes" || s == "true" || s == "on" || s == "1") return 1;
  if (s == "no" || s == "false" || s == "off" || s == "0") return 0;
  return -1;
}

/** Milliseconds for DIGITS[.D{1,3}] seconds within 0.1..300, or -1. */
function parseTimeoutMs(v: string): i64 {
  let i = 0;
  let whole: i64 = 0;
  while (i < v.length && isDigit(v.charCodeAt(i))) {
    whole = whole * 10 + <i64>(v.charCodeAt(i) - 0x30);
    if (whole > 300) return -1;
    i++;
  }
  if (i == 0) return -1;
  let frac: i64 = 0;
  if (i < v.length) {
    if (v.charCodeAt(i) != 0x2e) return -1;
    i++;
    const fracStart = i;
    while (i < v.length && isDigit(v.charCodeAt(i))) {
      frac = frac * 10 + <i64>(v.charCodeAt(i) - 0x30);
      i++;
    }
    const digits = i - fracStart;
    if (digits == 0 || digits > 3 || i != v.length) return -1;
    for (let d = digits; d < 3; d++) frac *= 10;
  }
  const ms = whole * 1000 + frac;
  return ms >= 100 && ms <= 300000 ? ms : -1;
}

/** "" if `v` is an absolute path without control characters, else why not. */
function checkAbsolutePath(v: string, emptyAllowed: bool): string {
  if (v.length == 0) return emptyAllowed ? "" : "is empty (an absolute path is required)";
  if (v.charCodeAt(0) != 0x2f) return "is not an absolute path";
  if (v.includes("\uFFFD")) return "holds U+FFFD (a character lost in an encoding conversion)";
  if (String.UTF8.byteLength(v) > MAX_PATH_BYTES) return "is longer than " + MAX_PATH_BYTES.toString() + " bytes";
  return "";
}

/**
 * "" if `u` is one allowed server URL, else why not. At least as strict as both hosts' own checks (host/server-url.ts,
 * native/server_url.c via libcurl), so a URL that passes here means the same thing to both: lower-case scheme, no
 * percent-escapes (the C loader would decode them in socket paths, Node would not), paths of RFC 3986 characters
 * without '@' or '%', no '.' or '..' segments (libcurl would remove them), at most 2048 bytes.
 */
export function checkServerUrl(u: string): string {
  if (u.length == 0) return "is empty";
  if (String.UTF8.byteLength(u) > MAX_URL_BYTES) return "is longer than " + MAX_URL_BYTES.toString() + " bytes";
  if (u.includes("?") || u.includes("#")) return "has a query or fragment";
  if (u.includes("%")) return "has a percent-escape (not allowed)";
  if (u.startsWith("file://")) return checkSocketPath(u.substring(7));
  let rest: string;
  if (u.startsWith("http://")) rest = u.substring(7);
  else if (u.startsWith("https://")) rest = u.substring(8);
  else return "has no supported scheme";
  let slash = rest.indexOf("/");
  if (slash < 0) slash = rest.length;
  const authority = rest.substring(0, slash);
  if (authority.includes("@")) return "has user information (user@host is not allowed)";
  let hostEnd: i32;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0 || !isIPv6(authority.substring(1, close))) return "has an invalid [IPv6] address";
    hostEnd = close + 1;
  } else {
    const colon = authority.indexOf(":");
    hostEnd = colon < 0 ? authority.length : colon;
    const host = authority.substring(0, hostEnd);
    if (host.length == 0) return "has no host";
    if (!isHostName(host)) return "has an invalid host '" + shown(host) + "' (a DNS name, IPv4 address or [IPv6] address)";
  }
  if (hostEnd < authority.length) {
    if (authority.charCodeAt(hostEnd) != 0x3a) return "has text after the host";
    const port = authority.substring(hostEnd + 1);
    if (!isPort(port)) return "has an invalid port '" + shown(port) + "' (1-65535)";
  }
  return checkPath(rest.substring(slash));
}

function checkSocketPath(path: string): string {
  if (!path.startsWith("/")) return "is not file:///absolute/path (a file URL has no host)";
  if (path.endsWith("/")) return "names a directory, not a socket";
  if (String.UTF8.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    return "has a socket path over " + MAX_SOCKET_PATH_BYTES.toString() + " bytes";
  }
  return checkPath(path);
}

function checkPath(path: string): string {
  for (let i = 0; i < path.length; i++) {
    if (!isPathChar(path.charCodeAt(i))) return "has a character in its path outside A-Z a-z 0-9 / - . _ ~ ! $ & ' ( ) * + ; = :";
  }
  const segments = path.split("/");
  for (let i = 0; i < segments.length; i++) {
    if (segments[i] == "." || segments[i] == "..") return "has a '" + segments[i] + "' path segment";
  }
  return "";
}

function isPort(p: string): bool {
  if (p.length == 0 || p.length > 5) return false;
  let n = 0;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (!isDigit(c)) return false;
    n = n * 10 + (c - 0x30);
  }
  return n >= 1 && n <= 65535;
}

/** A DNS name (LDH labels) or a dotted-quad IPv4 address; a name whose last label is numeric must be IPv4. */
function isHostName(h: string): bool {
  if (h.length > 253) return false;
  const labels = h.split(".");
  const last = labels[labels.length - 1];
  let numeric = last.length > 0;
  for (let i = 0; i < last.length; i++) if (!isDigit(last.charCodeAt(i))) numeric = false;
  if (numeric) return isIPv4(h);
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (l.length == 0 || l.length > 63) return false;
    if (l.charCodeAt(0) == 0x2d || l.charCodeAt(l.length - 1) == 0x2d) return false;
    for (let j = 0; j < l.length; j++) {
      const c = l.charCodeAt(j);
      if (!isDigit(c) && !isAsciiLetter(c) && c != 0x2d) return false;
    }
  }
  return true;
}

function isIPv4(h: string): bool {
  const parts = h.split(".");
  if (parts.length != 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (p.length == 0 || p.length > 3 || (p.length > 1 && p.charCodeAt(0) == 0x30)) return false;
    let n = 0;
    for (let j = 0; j < p.length; j++) {
      const c = p.charCodeAt(j);
      if (!isDigit(c)) return false;
      n = n * 10 + (c - 0x30);
    }
    if (n > 255) return false;
  }
  return true;
}

/** RFC 4291 text form: up to 8 groups of 1-4 hex digits, one `::`, an IPv4 tail; no zone identifier. */
function isIPv6(a: string): bool {
  const dbl = a.indexOf("::");
  if (dbl >= 0 && a.indexOf("::", dbl + 1) >= 0) return false;
  let groups = 0;
  const halves = dbl >= 0 ? [a.substring(0, dbl), a.substring(dbl + 2)] : [a];
  for (let h = 0; h < halves.length; h++) {
    const half = halves[h];
    if (half.length == 0) continue;
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const isLast = h == halves.length - 1 && i == parts.length - 1;
      if (isLast && p.includes(".")) {
        if (!isIPv4(p)) return false;
        groups += 2;
        continue;
      }
      if (p.length == 0 || p.length > 4) return false;
      for (let j = 0; j < p.length; j++) if (hexValue(p.charCodeAt(j)) < 0) return false;
      groups++;
    }
  }
  return dbl >= 0 ? groups <= 7 : groups == 8;
}

/** RFC 3986 pchar or '/', without '%' (no escapes) and '@' (both hosts refuse them); ',' separates URLs. */
function isPathChar(c: i32): bool {
  if (isDigit(c) || isAsciiLetter(c)) return true;
  return c == 0x2f || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x7e || c == 0x21 || c == 0x24 || c == 0x26 ||
    c == 0x27 || c == 0x28 || c == 0x29 || c == 0x2a || c == 0x2b || c == 0x3b || c == 0x3d || c == 0x3a;
}

// ---- characters ----

@inline function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

@inline function isAsciiLetter(c: i32): bool {
  return (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
}

function hexValue(c: i32): i32 {
  if (isDigit(c)) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return -1;
}

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

function asciiLower(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += String.fromCharCode(c >= 0x41 && c <= 0x5a ? c | 0x20 : c);
  }
  return out;
}

/** The first control character, lone surrogate or line separator in `s` as a code point, or -1. */
function firstForbiddenChar(s: string): i32 {
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

function codePointName(cp: u32): string {
  const digits = "0123456789ABCDEF";
  let hex = "";
  for (let v = cp; v != 0 || hex.length < 4; v >>= 4) hex = digits.charAt(<i32>(v & 15)) + hex;
  return "U+" + hex;
}

/** User text for an error message: controls escaped, long text cut, so the log line stays one clean line. */
function shown(s: string): string {
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
