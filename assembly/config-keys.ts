// The keys: their names, which values each takes, and the layer that records what one place (the top level,
// one [section], the module arguments) sets and where. Every wrong value is refused with what would be right.
import { firstForbiddenChar, isDigit, asciiLower } from "./chars";
import { codePointName, didYouMean, shown } from "./config-messages";
import { checkServerUrl } from "./server-url-check";
import { Settings } from "./settings";

export const MAX_SERVERS: i32 = 8;
const MAX_PATH_BYTES: i32 = 4095;
export const FEATURES: Array<string> = ["imap", "pop3", "mobile", "outlook", "webapp"];

// Key indices; a layer keeps the booleans as bits at their index.
export const K_SOCKET = 0;
export const K_SERVICE = 1;
export const K_TIMEOUT = 2;
export const K_CAFILE = 3;
export const K_CAPATH = 4;
export const K_TRY_FIRST_PASS = 5;
export const K_USE_FIRST_PASS = 6;
export const K_IGNORE_UNAVAILABLE = 7;
export const K_QUIET = 8;
export const K_DEBUG = 9;
export const K_CONFIG = 10;
export const K_USE_AUTHTOK = 11; // a boolean, appended after config so the older indices stay
export const KEY_NAMES: Array<string> = [
  "socket", "service", "timeout", "cafile", "capath",
  "try_first_pass", "use_first_pass", "ignore_unavailable", "quiet", "debug", "config", "use_authtok",
];
export const FILE_KEYS = "socket, service, timeout, cafile, capath, try_first_pass, use_first_pass, ignore_unavailable, quiet, debug, use_authtok";
export const ARGUMENT_KEYS = FILE_KEYS + ", config";

export function keyIndex(name: string): i32 {
  for (let i = 0; i < KEY_NAMES.length; i++) if (KEY_NAMES[i] == name) return i;
  return -1;
}

/** The keys one place (top level, one section, the arguments) sets, with where each was set. */
export class Layer {
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
    if (this.has(k)) return "duplicate key '" + name + "' (first set " + whereWord + " " + this.where[k].toString() + "; keep one of them)";
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
      if (ms < 0) return "timeout: '" + shown(value) + "' is not a number of seconds from 0.1 to 300 with at most 3 decimals (e.g. timeout=10)";
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

/** "unknown key 'X' (did you mean 'Y'?; known: ...)" */
export function unknownKey(name: string, known: string): string {
  const near = didYouMean(name, KEY_NAMES);
  return "unknown key '" + shown(name) + "'" + (near.length > 0 ? near.substring(0, near.length - 1) + "; " : " (") +
    "known: " + known + ")";
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
  if (v.charCodeAt(0) != 0x2f) return "is not an absolute path (one starting with /)";
  if (v.includes("\uFFFD")) return "holds U+FFFD (a character lost in an encoding conversion)";
  if (String.UTF8.byteLength(v) > MAX_PATH_BYTES) return "is longer than " + MAX_PATH_BYTES.toString() + " bytes";
  return "";
}
