/* A small, strict HTTP/1.1 client for one POST at a time over http:// (TCP) or file:// (unix socket), so the
 * default deployment never loads libcurl. Every wait is bounded by the caller's deadline; every size is capped. */
#ifndef PAM_MAPI_HTTP_CLIENT_H
#define PAM_MAPI_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "server_url.h"
#include "transport.h"

#define HTTP_HEAD_CAP (16u * 1024u) /* status lines and headers of one reply, 1xx included; and its trailers */

/* One kept-alive connection to one server, for the length of one PAM call. fd -1: none. */
struct http_connection {
  int fd;
};

/* Receive buffer; after a successful post it holds exactly the decoded body. Wiped before it is freed. */
struct http_buffer {
  uint8_t *data;
  size_t len, capacity;
};

/* POSTs body to s, on c's connection when it is still open (the server kept it alive), else a new one. */
enum transport_result http_post(struct http_connection *c, const struct server *s, uint64_t deadline_ns,
                                const uint8_t *body, size_t len, struct http_buffer *in, uint16_t *status,
                                const char **why);
void http_close(struct http_connection *c);
void http_buffer_free(struct http_buffer *b);
uint64_t http_now_ns(void);

#endif
