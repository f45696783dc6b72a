// Parses and validates the server URLs that `configure` returned. The guest names servers only by index into
// the list this produces, so these rules decide every destination the host will ever connect to. The C loader
// (native/) applies the same rules:
//   file:///absolute/path        a unix socket; the path must fit sun_path (107 bytes + NUL)
//   http://host[:port][/path]    host: DNS name, IPv4 address or [IPv6 address]; port 1-65535 (default 80)
//   https://host[:port][/path]   default port 443
// Nothing else: no userinfo ("@"), no query ("?"), no fragment ("#"), no percent-escapes, no spaces or control
// characters, no . or .. path segments, at most 2048 bytes. The scheme is case-insensitive and normalised to lower case.

import { isIPv6 } from "node:net";

export type ServerUrl =
  | { kind: "unix"; url: string; socketPath: string }
  | { kind: "http" | "https"; url: string; host: string; port: number; path: string };

export const MAX_URL_BYTES = 2048;
/** sizeof(struct sockaddr_un.sun_path) on Linux is 108, including the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;
// Path characters: RFC 3986 pchar minus "%" (no escapes, so what is checked is what is used) and "@".
const PATH = /^(\/[A-Za-z0-9._~!$&'()*+,;=:\/-]*)?$/;
const DNS_NAME = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6_CHARS = /^[0-9A-Fa-f:.]{2,45}$/;
// inet_aton, and so getaddrinfo in the C module, reads 0x7f.0.0.1, 127.1 or 2130706433 as 127.0.0.1 (one to four
// decimal, octal or 0x-hex parts). As in the WHATWG URL host parser, a host whose last label is a number is an
// address or nothing: it must be a dotted quad. native/server_url.c applies the same rule.
const NUMBER_LABEL = /^(\d+|0x[0-9a-f]*)$/i;
const endsInNumber = (host: string) => NUMBER_LABEL.test(host.replace(/\.$/, "").split(".").pop() ?? "");

export class ServerUrlError extends Error {
  constructor(readonly url: string, readonly why: string) {
    super(`invalid server URL ${JSON.stringify(url)}: ${why}`);
  }
}

export function parseServerUrl(url: string): ServerUrl {
  const fail = (why: string): never => { throw new ServerUrlError(url, why); };
  if (typeof url !== "string" || url.length === 0) fail("empty");
  if (Buffer.byteLength(url, "utf8") > MAX_URL_BYTES) fail(`longer than ${MAX_URL_BYTES} bytes`);
  if (/[\u0000-\u0020\u007f-\u009f]/.test(url)) fail("contains a space or a control character");
  if (url.includes("?")) fail("a query (?...) is not allowed");
  if (url.includes("#")) fail("a fragment (#...) is not allowed");
  if (url.includes("%")) fail("percent-escapes are not allowed");
  const scheme = SCHEME.exec(url);
  if (!scheme) fail("expected file:///path, http://host[:port]/ or https://host[:port]/");
  const name = scheme![1].toLowerCase();
  const rest = url.slice(scheme![0].length);

  if (name === "file") {
    // file:///path: an empty authority, then an absolute path (Kopano: strchr(endpoint + 7, '/')).
    if (!rest.startsWith("/")) fail("a unix socket URL is file:///absolute/path (no host part)");
    if (rest.includes("@")) fail("userinfo (@) is not allowed");
    if (rest.endsWith("/")) fail("the socket path names a directory");
    if (/(^|\/)\.\.?(\/|$)/.test(rest)) fail("the socket path must not contain . or .. segments");
    if (Buffer.byteLength(rest, "utf8") > MAX_SOCKET_PATH_BYTES) {
      fail(`the socket path is longer than ${MAX_SOCKET_PATH_BYTES} bytes (sun_path)`);
    }
    return { kind: "unix", url: `file://${rest}`, socketPath: rest };
  }
  if (name !== "http" && name !== "https") fail(`unsupported scheme "${name}" (file, http or https)`);

  const slash = rest.indexOf("/");
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "/" : rest.slice(slash);
  if (authority.includes("@")) fail("userinfo (user@ or user:password@) is not allowed");
  if (!PATH.test(path)) fail("the path contains characters outside RFC 3986 (or @)");
  if (/(^|\/)\.\.?(\/|$)/.test(path)) fail("the path must not contain . or .. segments");

  let host: string;
  let portText: string | undefined;
  if (authority.startsWith("[")) {
    const close = authority.indexOf("]");
    if (close < 0) fail("unterminated [IPv6] address");
    host = authority.slice(1, close);
    const after = authority.slice(close + 1);
    if (after !== "" && !after.startsWith(":")) fail("junk after the [IPv6] address");
    portText = after === "" ? undefined : after.slice(1);
    if (!IPV6_CHARS.test(host) || !isIPv6(host)) fail("not a valid IPv6 address");
  } else {
    const colon = authority.lastIndexOf(":");
    host = colon < 0 ? authority : authority.slice(0, colon);
    portText = colon < 0 ? undefined : authority.slice(colon + 1);
    if (host === "") fail("no host name");
    if (endsInNumber(host) ? !IPV4.test(host) : !DNS_NAME.test(host)) {
      fail(`"${host}" is not a host name or IP address (a name that ends in a number must be a dotted quad)`);
    }
  }
  let port = name === "https" ? 443 : 80;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) fail("the port must be a number");
    port = Number(portText);
    if (port < 1 || port > 65535) fail("the port must be between 1 and 65535");
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const portPart = portText === undefined ? "" : `:${port}`;
  return { kind: name as "http" | "https", url: `${name}://${hostPart}${portPart}${path}`, host: host.toLowerCase(), port, path };
}


/** All servers or the first error: the list is all-or-nothing, as in the C loader. */
export function parseServerList(urls: readonly string[]): ServerUrl[] {
  if (urls.length === 0) throw new ServerUrlError("", "the server list is empty");
  if (urls.length > 16) throw new ServerUrlError(urls[16], "more than 16 servers");
  return urls.map(parseServerUrl);
}
