// The precise cause of a failed post in the words pam_mapi.so's per-server log line uses (native/transport.c),
// so `pam-mapi check` and the module's log read the same: "connection refused (ECONNREFUSED)", "no such socket
// (ENOENT)", "permission denied (EACCES)", "timed out", "TLS: <OpenSSL's verify reason>", "HTTP status <n>",
// "this port speaks plain HTTP".

/** Node's TLS error codes and the reason OpenSSL's X509_verify_cert_error_string gives for the same failure. */
const TLS_REASONS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "self-signed certificate",
  SELF_SIGNED_CERT_IN_CHAIN: "self-signed certificate in certificate chain",
  ERR_TLS_CERT_ALTNAME_INVALID: "hostname mismatch",
  CERT_HAS_EXPIRED: "certificate has expired",
  CERT_NOT_YET_VALID: "certificate is not yet valid",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unable to get local issuer certificate",
  UNABLE_TO_GET_ISSUER_CERT: "unable to get issuer certificate",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "unable to verify the first certificate",
  CERT_SIGNATURE_FAILURE: "certificate signature failure",
  CERT_REVOKED: "certificate revoked",
  CERT_UNTRUSTED: "certificate not trusted",
  CERT_REJECTED: "certificate rejected",
  INVALID_CA: "invalid CA certificate",
  PATH_LENGTH_EXCEEDED: "path length constraint exceeded",
  INVALID_PURPOSE: "unsupported certificate purpose",
};

/** What the errno codes of a connect mean, in the module's words. */
const ERRNO_WORDS: Record<string, string> = {
  ECONNREFUSED: "connection refused (ECONNREFUSED)",
  ENOENT: "no such socket (ENOENT)",
  EACCES: "permission denied (EACCES)",
  ENOTSOCK: "not a socket (ENOTSOCK)",
  ENOTDIR: "not a directory in the socket path (ENOTDIR)",
  EHOSTUNREACH: "host unreachable (EHOSTUNREACH)",
  ENETUNREACH: "network unreachable (ENETUNREACH)",
  EADDRNOTAVAIL: "address not available (EADDRNOTAVAIL)",
  ECONNRESET: "connection reset (ECONNRESET)",
  EPIPE: "connection closed (EPIPE)",
  ECONNABORTED: "connection aborted (ECONNABORTED)",
  ETIMEDOUT: "timed out",
};

export const PLAIN_HTTP = "this port speaks plain HTTP";

/** A TLS handshake met a server that answered in plain text (OpenSSL: "wrong version number"). */
function isPlainHttpPort(e: NodeJS.ErrnoException): boolean {
  return e.code === "ERR_SSL_WRONG_VERSION_NUMBER" || e.code === "ERR_SSL_HTTP_REQUEST" ||
    /wrong version number|packet length too long|http request/i.test(e.message);
}

/** The cause of a TLS failure: "TLS: REASON", or PLAIN_HTTP. */
export function tlsCause(e: NodeJS.ErrnoException): string {
  if (isPlainHttpPort(e)) return PLAIN_HTTP;
  const reason = TLS_REASONS[e.code ?? ""];
  if (reason === undefined) return `TLS: ${e.message}`;
  // Node's own message adds the names it compared (altnames); keep it where it says more than the reason.
  return e.message === reason ? `TLS: ${reason}` : `TLS: ${reason} (${e.message})`;
}

/** The cause of a connection-level failure (not TLS, not HTTP). */
export function errnoCause(e: NodeJS.ErrnoException, host?: string): string {
  const code = e.code ?? "";
  if (ERRNO_WORDS[code]) return ERRNO_WORDS[code];
  if (code.startsWith("EAI_") || code === "ENOTFOUND") return `cannot resolve ${host ?? "the host name"} (${code})`;
  return code ? `${e.message} (${code})` : e.message;
}

export function httpStatusCause(status: number): string {
  return `HTTP status ${status}`;
}

export const TIMED_OUT = "timed out";
