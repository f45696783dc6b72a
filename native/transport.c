/* POSTs for one authenticate call, all through the module's own HTTP/1.1 client (http_client.c): http://,
 * file:// (unix socket) and https:// (TLS through OpenSSL's libssl, tls.c). Each server index gets one
 * connection (so logon, getUser and logoff share it) and one deadline, started by its first post; every
 * connection is closed when the call ends. What survives between calls is only per-process TLS state that holds
 * nothing of a user (tls.c: the trust anchors and the servers' sessions for resumption). Nothing here depends on
 * the caller's environment: there are no proxies, and the CA store and protocols are set explicitly. */
#include "transport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "deadline.h"
#include "http_client.h"
#include "log.h"
#include "tls.h"

struct endpoint {
  struct http_connection http;
  uint64_t deadline_ns; /* 0: no post to this server yet */
  bool warned;          /* its cause is logged once per call */
};

struct transport {
  pam_handle_t *pamh;
  const struct server *servers;
  size_t count;
  struct transport_options options;
  struct endpoint *endpoints;
  struct tls_trust trust; /* acquired on the first https post of the call */
  bool trust_failed;
  char trust_why[TRANSPORT_CAUSE_CAP];
  struct http_buffer in; /* the last reply */
};

struct transport *transport_new(pam_handle_t *pamh, const struct server *servers, size_t count,
                                const struct transport_options *options) {
  struct transport *t = calloc(1, sizeof *t);
  if (t == NULL) return NULL;
  t->pamh = pamh;
  t->servers = servers;
  t->count = count;
  t->options = *options;
  t->endpoints = calloc(count ? count : 1, sizeof *t->endpoints);
  if (t->endpoints == NULL) {
    transport_free(t);
    return NULL;
  }
  for (size_t i = 0; i < count; i++) t->endpoints[i].http.fd = -1;
  return t;
}

/* A server as the guest's lines and `pam-mapi check` name it: its URL (file:///path for a unix socket). */
static const char *url_scheme(const struct server *s) {
  return s->kind == SERVER_UNIX ? "file://" : "";
}

static const char *url_rest(const struct server *s) {
  return s->kind == SERVER_UNIX ? s->socket_path : s->url;
}

/* The trust anchors for this call's https servers: once per call (a configuration problem fails each https
 * server the same way). */
static const struct tls_trust *call_trust(struct transport *t, char *why) {
  if (t->trust.ctx == NULL && !t->trust_failed)
    t->trust_failed = !tls_trust_acquire(t->options.cafile, t->options.capath, &t->trust, t->trust_why);
  if (t->trust_failed) {
    snprintf(why, TRANSPORT_CAUSE_CAP, "%s", t->trust_why);
    return NULL;
  }
  return &t->trust;
}

enum transport_result transport_post(struct transport *t, uint32_t server, const uint8_t *body, size_t len,
                                     struct transport_reply *reply) {
  if (server >= t->count) return TE_NO_SUCH_SERVER;
  const struct server *s = &t->servers[server];
  struct endpoint *e = &t->endpoints[server];
  uint64_t start = deadline_now_ns();
  if (e->deadline_ns == 0) e->deadline_ns = start + (uint64_t)t->options.timeout_ms * 1000000u;

  uint16_t status = 0;
  char why[TRANSPORT_CAUSE_CAP] = "";
  bool opened = e->http.fd < 0;
  enum transport_result result;
  const struct tls_trust *trust = NULL;
  if (start >= e->deadline_ns) {
    result = TE_TIMEOUT;
    snprintf(why, sizeof why, "timed out");
  } else if (s->kind == SERVER_HTTPS && (trust = call_trust(t, why)) == NULL) {
    result = TE_TLS;
  } else {
    result = http_post(&e->http, s, trust, e->deadline_ns, body, len, &t->in, &status, why);
  }
  if (t->options.debug) {
    unsigned long ms = (unsigned long)((deadline_now_ns() - start) / 1000000u);
    char tls[64] = "";
    if (s->kind == SERVER_HTTPS && result == TRANSPORT_OK && e->http.tls_version)
      snprintf(tls, sizeof tls, ", %s %s", e->http.tls_version,
               !opened ? "on the kept connection" : e->http.tls_resumed ? "session resumed" : "full handshake");
    /* Numbered from 1, as the guest's own lines number them. */
    if (result == TRANSPORT_OK)
      log_host(t->pamh, LOG_DEBUG, "server %u (%s%s): %zu bytes sent, HTTP %u, %zu bytes received in %lu ms%s",
               server + 1, url_scheme(s), url_rest(s), len, (unsigned)status, t->in.len, ms, tls);
    else
      log_host(t->pamh, LOG_DEBUG, "server %u (%s%s): %s after %lu ms (HTTP %u): %s", server + 1, url_scheme(s), url_rest(s),
               transport_result_name(result), ms, (unsigned)status, why);
  }
  if (result != TRANSPORT_OK) {
    /* The one line per failed server, with the precise cause (the guest's own line says which request). */
    if (!e->warned) log_host(t->pamh, LOG_WARNING, "server %u (%s%s): %s", server + 1, url_scheme(s), url_rest(s), why);
    e->warned = true;
    return result;
  }
  reply->status = status;
  reply->body = t->in.data;
  reply->len = t->in.len;
  return TRANSPORT_OK;
}

void transport_free(struct transport *t) {
  if (t == NULL) return;
  if (t->endpoints)
    for (size_t i = 0; i < t->count; i++) http_close(&t->endpoints[i].http);
  free(t->endpoints);
  tls_trust_release(&t->trust);
  http_buffer_free(&t->in);
  explicit_bzero(t, sizeof *t);
  free(t);
}
