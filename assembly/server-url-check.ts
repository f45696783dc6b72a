// The one check of a server URL in socket=, at least as strict as both hosts' own (host/server-url.ts,
// native/server_url.c), so a URL that passes means the same thing to both.
import { hexValue, isAsciiLetter, isDigit } from "./chars";
import { shown } from "./config-messages";

/** sun_path is 108 bytes including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES: i32 = 107;
const MAX_URL_BYTES: i32 = 2048;

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
