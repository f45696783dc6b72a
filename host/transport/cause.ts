// The precise cause of a failed post in the words pam_mapi.so's per-server log line uses (native/cause.c,
// native/tls.c and native/http_client.c), so `pam-mapi check` and the module's log read the same, word for word
// (test/agreement.test.ts compares them for every transport error kind; docs/security.md lists them).
import os from "node:os";

export const TIMED_OUT = "timed out";
export const PLAIN_HTTP = "this port speaks plain HTTP";
export const DOES_NOT_RESOLVE = "the host name does not resolve";
export const TOO_LARGE = "the reply is larger than the module accepts";
export const CLOSED_EARLY = "the server closed the connection before the reply was complete";
export const MALFORMED = "the reply is not acceptable HTTP/1.1";
export const CLOSED_IN_HANDSHAKE = "TLS: the server closed the connection during the handshake";

/** Node's TLS error codes and the reason OpenSSL's X509_verify_cert_error_string gives the module for the same
 * certificate. The module's verification stops at the first error; Node's goes on and reports the last one. */
const TLS_REASONS: Record<string, string> = {
  // A leaf whose issuer is in no store: the module stops at "unable to get local issuer certificate"; Node goes
  // on to the signature check, which has no issuer either (internal_verify on a one-certificate chain).
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to get local issuer certificate",
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
  UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
  CERT_SIGNATURE_FAILURE: "certificate signature failure",
  CERT_REVOKED: "certificate revoked",
  CERT_UNTRUSTED: "certificate not trusted",
  CERT_REJECTED: "certificate rejected",
  INVALID_CA: "invalid CA certificate",
  PATH_LENGTH_EXCEEDED: "path length constraint exceeded",
  INVALID_PURPOSE: "unsupported certificate purpose",
};

/** The errno names native/cause.c knows, in its words (test/agreement.test.ts holds the two tables side by side).
 * EAGAIN is Node's only from a connect to a unix socket whose listen queue is full: native/http_client.c's words
 * for that case. */
const ERRNO_WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused (ECONNREFUSED)",
  ENOENT: "no such socket (ENOENT)",
  EACCES: "permission denied (EACCES)",
  EPERM: "operation not permitted (EPERM)",
  ETIMEDOUT: TIMED_OUT,
  EAGAIN: "the server's listen queue is full (EAGAIN)",
  EHOSTUNREACH: "no route to host (EHOSTUNREACH)",
  ENETUNREACH: "network unreachable (ENETUNREACH)",
  ECONNRESET: "connection reset by the server (ECONNRESET)",
  EPIPE: "connection closed by the server (EPIPE)",
  ECONNABORTED: "connection aborted (ECONNABORTED)",
  ENOTSOCK: "not a socket (ENOTSOCK)",
  ENOTDIR: "not a directory in the socket path (ENOTDIR)",
  EADDRNOTAVAIL: "address not available (EADDRNOTAVAIL)",
  EAFNOSUPPORT: "address family not supported (EAFNOSUPPORT)",
  ENOMEM: "out of memory (ENOMEM)",
  EMFILE: "too many open files (EMFILE)",
  ENFILE: "too many open files in the system (ENFILE)",
};

/** For test/agreement.test.ts: the table above, to compare with native/cause.c's. */
export const errnoWords: Readonly<Record<string, string>> = ERRNO_WORDS;

/** A TLS handshake met a server that answered in plain HTTP: as the module, by the first bytes the server sent
 * ("HTTP/"); without them (a connection not made by first-bytes.ts's agent), by OpenSSL's reason for any
 * plain-text answer. */
function isPlainHttpPort(e: NodeJS.ErrnoException, firstBytes: Buffer | undefined): boolean {
  if (firstBytes) return firstBytes.length >= 5 && firstBytes.subarray(0, 5).toString("latin1") === "HTTP/";
  return e.code === "ERR_SSL_WRONG_VERSION_NUMBER" || /wrong version number/i.test(e.message);
}

/** OpenSSL's reason string (ERR_reason_error_string), from Node's error: its `reason`, or the
 * "…:error:0A00042E:SSL routines:FUNCTION:REASON:FILE:LINE:" text of an EPROTO. */
function opensslReason(e: NodeJS.ErrnoException & { reason?: unknown; library?: unknown }): string | undefined {
  if (typeof e.reason === "string" && typeof e.library === "string") return e.reason;
  return /:error:[0-9A-F]+:[^:]*:[^:]*:([^:]+):/.exec(e.message)?.[1];
}

/** The cause of a failed TLS handshake: "TLS: REASON" (OpenSSL's verify or error reason), PLAIN_HTTP, or the
 * connection's own cause. `isIpLiteral`: socket= names an IP address, which is checked as an address, as the
 * module does (X509_VERIFY_PARAM_set1_ip_asc). `firstBytes`: what the server sent first, if known. */
export function tlsCause(e: NodeJS.ErrnoException, isIpLiteral = false, firstBytes?: Buffer): string {
  if (isPlainHttpPort(e, firstBytes)) return PLAIN_HTTP;
  const code = e.code ?? "";
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") return isIpLiteral ? "TLS: IP address mismatch" : "TLS: hostname mismatch";
  const verify = TLS_REASONS[code];
  if (verify !== undefined) return `TLS: ${verify}`;
  if (isClosedInHandshake(e)) return CLOSED_IN_HANDSHAKE;
  const reason = opensslReason(e);
  if (reason !== undefined) return `TLS: ${reason}`;
  if (ERRNO_WORDS[code]) return errnoCause(e);
  return `TLS: ${e.message}`;
}

/** Node's words for an end of stream before the TLS session was set up (the module: an EOF in SSL_connect). */
export function isClosedInHandshake(e: NodeJS.ErrnoException): boolean {
  return /before secure TLS connection was established/.test(e.message);
}

/** The cause of a connection-level failure (not TLS, not HTTP framing). */
export function errnoCause(e: NodeJS.ErrnoException): string {
  const code = e.code ?? "";
  if (code.startsWith("EAI_") || code === "ENOTFOUND") return DOES_NOT_RESOLVE;
  // Node's http client: the connection ended before the reply head ("socket hang up") or within the body
  // ("aborted"), with code ECONNRESET though no RST came.
  if (e.message === "socket hang up" || e.message === "aborted") return CLOSED_EARLY;
  if (ERRNO_WORDS[code]) return ERRNO_WORDS[code];
  // an errno outside the table: its number, as native/cause.c says it
  const errno = (os.constants.errno as Record<string, number>)[code];
  if (errno !== undefined) return `system error ${errno}`;
  return code ? `${e.message} (${code})` : e.message;
}

export function httpStatusCause(status: number): string {
  return `HTTP status ${status}`;
}
