// Every value that comes out of the guest passes through here before the host acts on it (RLBox calls such
// values "tainted"). jco has already lifted them from guest memory (bounds-checked, UTF-8 decoded); what is
// left to check is that they are what the contract allows and sane to print or act on.

export type Level = "error" | "warning" | "notice" | "info" | "debug";
export type Code =
  | "success" | "auth-err" | "perm-denied" | "authinfo-unavail" | "ignore" | "service-err" | "authtok-err" | "try-again";
export interface Options {
  tryFirstPass: boolean;
  useFirstPass: boolean;
  ignoreUnavailable: boolean;
  quiet: boolean;
  debug: boolean;
  useAuthtok: boolean;
}
export interface Settings {
  servers: string[];
  timeoutMs: number;
  cafile: string;
  capath: string;
  options: Options;
  /** service=: Kopano features of which the user needs at least one; empty = no feature check */
  features: string[];
}
export interface Verdict { code: Code; reason: string; user: string }

export const CODES: readonly Code[] = [
  "success", "auth-err", "perm-denied", "authinfo-unavail", "ignore", "service-err", "authtok-err", "try-again",
];
export const LEVELS: readonly Level[] = ["error", "warning", "notice", "info", "debug"];
const MAX_REASON = 1024;
const MAX_LOG_LINE = 4096;
const MAX_USER_BYTES = 256;
const MAX_PATH_BYTES = 4096;
const MAX_TIMEOUT_MS = 3_600_000;
const FEATURES = ["imap", "pop3", "mobile", "outlook", "webapp"];

export class GuestValueError extends Error {
  constructor(what: string) { super(`the guest returned an invalid ${what}`); }
}

/** Control characters (C0, DEL, C1) and the replacement character (invalid UTF-8) become "?". */
export function printable(text: string, max: number): string {
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, "?");
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

function isString(v: unknown, maxBytes: number): v is string {
  return typeof v === "string" && Buffer.byteLength(v, "utf8") <= maxBytes;
}

export function checkVerdict(raw: unknown): Verdict {
  if (typeof raw !== "object" || raw === null) throw new GuestValueError("verdict");
  const { code, reason, user } = raw as Record<string, unknown>;
  if (typeof code !== "string" || !CODES.includes(code as Code)) throw new GuestValueError("verdict code");
  if (typeof reason !== "string") throw new GuestValueError("verdict reason");
  if (!isString(user, MAX_USER_BYTES) || /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(user)) {
    throw new GuestValueError("verdict user");
  }
  if (code === "success" && user === "") throw new GuestValueError("verdict: success without a user name");
  return { code: code as Code, reason: printable(reason, MAX_REASON), user };
}

export function checkSettings(raw: unknown): Settings {
  if (typeof raw !== "object" || raw === null) throw new GuestValueError("settings record");
  const r = raw as Record<string, unknown>;
  if (!Array.isArray(r.servers) || r.servers.length === 0 || r.servers.length > 16) {
    throw new GuestValueError("server list");
  }
  const servers = r.servers.map((s) => {
    if (!isString(s, 2048)) throw new GuestValueError("server URL");
    return s;
  });
  const timeoutMs = r.timeoutMs;
  if (typeof timeoutMs !== "number" || !Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
    throw new GuestValueError("timeout");
  }
  const paths = [r.cafile, r.capath].map((p, i) => {
    if (!isString(p, MAX_PATH_BYTES) || /[\u0000-\u001f\u007f-\u009f\ufffd]/.test(p)) {
      throw new GuestValueError(i === 0 ? "cafile" : "capath");
    }
    if (p !== "" && !p.startsWith("/")) throw new GuestValueError(`${i === 0 ? "cafile" : "capath"} (not absolute)`);
    return p;
  });
  if (!Array.isArray(r.features) || r.features.length > FEATURES.length) throw new GuestValueError("feature list");
  const features = r.features.map((f) => {
    if (typeof f !== "string" || !FEATURES.includes(f)) throw new GuestValueError("feature name");
    return f;
  });
  const o = (typeof r.options === "object" && r.options !== null ? r.options : {}) as Record<string, unknown>;
  const flag = (v: unknown) => v === true;
  return {
    servers,
    timeoutMs,
    cafile: paths[0],
    capath: paths[1],
    features,
    options: {
      tryFirstPass: flag(o.tryFirstPass),
      useFirstPass: flag(o.useFirstPass),
      ignoreUnavailable: flag(o.ignoreUnavailable),
      quiet: flag(o.quiet),
      debug: flag(o.debug),
      useAuthtok: flag(o.useAuthtok),
    },
  };
}

/** The err payload of `configure`: a configuration error message. */
export function checkConfigError(raw: unknown): string {
  if (typeof raw !== "string") throw new GuestValueError("configuration error message");
  return printable(raw, MAX_REASON);
}

export function checkLogLine(level: unknown, message: unknown): { level: Level; message: string } {
  if (typeof level !== "string" || !LEVELS.includes(level as Level)) throw new GuestValueError("log level");
  if (typeof message !== "string") throw new GuestValueError("log message");
  return { level: level as Level, message: printable(message, MAX_LOG_LINE) };
}
