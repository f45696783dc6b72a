/* HTTP(S) and unix-socket POSTs to the pinned server list, for one authenticate call. */
#ifndef PAM_MAPI_TRANSPORT_H
#define PAM_MAPI_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <security/pam_modules.h>

#include "server_url.h"
#include "transport_result.h"


struct transport_options {
  uint32_t timeout_ms;
  const char *cafile; /* NULL or "" = Debian's bundle */
  const char *capath; /* NULL or "" = Debian's directory */
  bool debug;
};

struct transport_reply {
  uint16_t status;
  const uint8_t *body; /* owned by the transport, valid until the next post or transport_free */
  size_t len;
};

struct transport;

/* The servers are borrowed and must outlive the transport. NULL when out of memory. */
struct transport *transport_new(pam_handle_t *pamh, const struct server *servers, size_t count,
                                const struct transport_options *options);
enum transport_result transport_post(struct transport *t, uint32_t server, const uint8_t *body, size_t len,
                                     struct transport_reply *reply);
/* Closes every connection and wipes the buffers. */
void transport_free(struct transport *t);

#endif
