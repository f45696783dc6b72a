/* TLS for https:// on the module's own HTTP client, through OpenSSL's libssl in a library context of the
 * module's own: no configuration file, no environment, nothing global of the host process changed. */
#ifndef PAM_MAPI_TLS_H
#define PAM_MAPI_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server_url.h"
#include "transport_result.h"

/* The trust settings of one call: cafile/capath (both empty: Debian's store, named explicitly), loaded once per
 * process and kept while the files are unchanged. `id` names exactly these settings (paths and the files'
 * identity) for the session cache. */
struct tls_trust {
  struct ssl_ctx_st *ctx; /* one reference, dropped by tls_trust_release */
  uint64_t id;
};

/* false, with the cause in why (TRANSPORT_CAUSE_CAP bytes), when the trust anchors cannot be loaded. */
bool tls_trust_acquire(const char *cafile, const char *capath, struct tls_trust *out, char *why);
void tls_trust_release(struct tls_trust *t);

/* One TLS connection over a connected blocking socket (which stays the caller's to close). */
struct tls_stream;

/* The handshake, bounded by the deadline: the certificate verified against the trust anchors, the host name (or
 * the IP address of a literal) checked. A session kept from an earlier login to the same server under the same
 * trust settings is offered for resumption. */
enum transport_result tls_open(const struct tls_trust *trust, int fd, const struct server *s, uint64_t deadline_ns,
                               struct tls_stream **out, char *why);
enum transport_result tls_send(struct tls_stream *t, const uint8_t *data, size_t len, uint64_t deadline_ns, char *why);
/* 1 with *got > 0 bytes, 0 when the peer closed the TLS connection cleanly, -1 with the error in *err. */
int tls_recv(struct tls_stream *t, uint8_t *buf, size_t cap, size_t *got, uint64_t deadline_ns,
             enum transport_result *err, char *why);
/* Whether the handshake resumed a kept session, and the protocol version, for the debug line. */
bool tls_resumed(const struct tls_stream *t);
const char *tls_version(const struct tls_stream *t);
/* Says close_notify (bounded by the deadline) when the connection is healthy, then frees everything. */
void tls_close(struct tls_stream *t, uint64_t deadline_ns);

#endif
