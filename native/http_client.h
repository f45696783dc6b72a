/* A small, strict HTTP/1.1 client for one POST at a time over http:// (TCP), https:// (TCP and TLS, tls.c) or
 * file:// (unix socket): the same framing, limits, deadline and wiping whatever the transport. Every wait is
 * bounded by the caller's deadline; every size is capped. */
#ifndef PAM_MAPI_HTTP_CLIENT_H
#define PAM_MAPI_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server_url.h"
#include "tls.h"
#include "transport_result.h"

#define HTTP_HEAD_CAP (16u * 1024u) /* status lines and headers of one reply, 1xx included; and its trailers */

/* One kept-alive connection to one server, for the length of one PAM call. fd -1: none. The I/O seam: bytes go
 * through tls when it is set (https), straight to fd otherwise. */
struct http_connection {
  int fd;
  struct tls_stream *tls;
  uint64_t deadline_ns; /* of the call's posts to this server; bounds the close_notify too */
  const char *tls_version; /* of the last TLS handshake, for the debug line; NULL: none */
  bool tls_resumed;        /* whether it resumed a kept session */
};

/* Receive buffer; after a successful post it holds exactly the decoded body. Wiped before it is freed. */
struct http_buffer {
  uint8_t *data;
  size_t len, capacity;
};

/* POSTs body to s, on c's connection when it is still open (the server kept it alive), else a new one; trust is
 * required for https and ignored otherwise. On failure why (TRANSPORT_CAUSE_CAP bytes) holds the cause. */
enum transport_result http_post(struct http_connection *c, const struct server *s, const struct tls_trust *trust,
                                uint64_t deadline_ns, const uint8_t *body, size_t len, struct http_buffer *in,
                                uint16_t *status, char *why);
void http_close(struct http_connection *c);
void http_buffer_free(struct http_buffer *b);

#endif
