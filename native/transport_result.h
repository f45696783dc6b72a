/* The types both halves of the transport share: transport.c (per-call server list, logging) uses the HTTP
 * client (http_client.c) and the TLS layer (tls.c); they, in turn, only need these, so the dependency runs one
 * way. */
#ifndef PAM_MAPI_TRANSPORT_RESULT_H
#define PAM_MAPI_TRANSPORT_RESULT_H

#include <stddef.h>

/* The WIT transport-error enum, in its ABI order; TRANSPORT_OK means a reply was delivered. */
enum transport_result {
  TRANSPORT_OK = -1,
  TE_NO_SUCH_SERVER = 0,
  TE_REFUSED,
  TE_RESOLVE,
  TE_TIMEOUT,
  TE_TLS,
  TE_HTTP_STATUS,
  TE_TOO_LARGE,
  TE_CLOSED,
  TE_MALFORMED,
  TE_INTERNAL,
};

#define TRANSPORT_REPLY_CAP (1024u * 1024u)

/* The short cause of a failed post, for the per-server log line ("connection refused (ECONNREFUSED)",
 * "TLS: certificate has expired", "HTTP status 404", ...; docs/security.md lists them). */
#define TRANSPORT_CAUSE_CAP 192u

static inline const char *transport_result_name(enum transport_result r) {
  static const char *const names[] = {"no-such-server", "refused", "resolve", "timeout", "tls",
                                      "http-status", "too-large", "closed", "malformed", "internal"};
  if (r == TRANSPORT_OK) return "ok";
  if (r >= 0 && (size_t)r < sizeof names / sizeof names[0]) return names[r];
  return "?";
}

#endif
