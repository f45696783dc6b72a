/* POSTs for one authenticate call. http:// and file:// go through our own HTTP/1.1 client (http_client.c);
 * https:// goes through libcurl, which is loaded with dlopen() on the first https post only, so a module that
 * speaks http or a unix socket never maps libcurl or OpenSSL. Each server index gets one connection (so logon,
 * getUser and logoff share it) and one deadline, started by its first post; everything is torn down when the
 * call ends, so no connection survives a PAM call. Nothing here depends on the caller's environment: proxies,
 * CA stores and protocols are all set explicitly. */
#include "transport.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>

#include <curl/curl.h> /* types and constants only: every call goes through `curl` below */

#include "http_client.h"
#include "log.h"

#define DEBIAN_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define DEBIAN_CA_PATH "/etc/ssl/certs"
#define USER_AGENT "pam_mapi/0.1"

struct endpoint {
  CURL *easy;                  /* https */
  struct http_connection http; /* http and unix sockets */
  uint64_t deadline_ns;        /* 0: no post to this server yet */
};

struct transport {
  pam_handle_t *pamh;
  const struct server *servers;
  size_t count;
  struct transport_options options;
  struct endpoint *endpoints;
  struct curl_slist *headers;
  uint8_t *reply;
  size_t reply_len, reply_capacity;
  bool too_large, bad_encoding;
  struct http_buffer in; /* our own client's replies */
  char error[CURL_ERROR_SIZE];
};

/* libcurl, resolved once per process on the first https post. RTLD_LOCAL: its symbols stay out of the caller's
 * namespace. It is never dlclose()d (the module is nodelete, and OpenSSL does not unload cleanly). */
static struct {
  CURLcode (*global_init)(long);
  void (*global_cleanup)(void);
  CURL *(*easy_init)(void);
  CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
  CURLcode (*easy_perform)(CURL *);
  CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
  void (*easy_cleanup)(CURL *);
  const char *(*easy_strerror)(CURLcode);
  struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
  void (*slist_free_all)(struct curl_slist *);
} curl;
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static bool curl_ready;

static void curl_load_once(void) {
  void *lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return;
#define LOAD(field, name) *(void **)&curl.field = dlsym(lib, name)
  LOAD(global_init, "curl_global_init");
  LOAD(global_cleanup, "curl_global_cleanup");
  LOAD(easy_init, "curl_easy_init");
  LOAD(easy_setopt, "curl_easy_setopt");
  LOAD(easy_perform, "curl_easy_perform");
  LOAD(easy_getinfo, "curl_easy_getinfo");
  LOAD(easy_cleanup, "curl_easy_cleanup");
  LOAD(easy_strerror, "curl_easy_strerror");
  LOAD(slist_append, "curl_slist_append");
  LOAD(slist_free_all, "curl_slist_free_all");
#undef LOAD
  if (!curl.global_init || !curl.global_cleanup || !curl.easy_init || !curl.easy_setopt || !curl.easy_perform ||
      !curl.easy_getinfo || !curl.easy_cleanup || !curl.easy_strerror || !curl.slist_append || !curl.slist_free_all)
    return; /* the handle stays open: harmless, and dlclose of libcurl is not safe anyway */
  /* curl_global_init is not thread-safe in every build: pthread_once runs it exactly once. */
  curl_ready = curl.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
}

static bool curl_load(void) {
  pthread_once(&curl_once, curl_load_once);
  return curl_ready;
}

__attribute__((destructor)) static void curl_release(void) {
  if (curl_ready) curl.global_cleanup();
  curl_ready = false;
}

static uint64_t now_ns(void) { return http_now_ns(); }

const char *transport_result_name(enum transport_result r) {
  static const char *const names[] = {"no-such-server", "refused", "resolve", "timeout", "tls",
                                      "http-status", "too-large", "closed", "malformed", "internal"};
  if (r == TRANSPORT_OK) return "ok";
  if (r >= 0 && (size_t)r < sizeof names / sizeof names[0]) return names[r];
  return "?";
}

static void wipe_reply(struct transport *t) {
  if (t->reply) explicit_bzero(t->reply, t->reply_capacity);
  t->reply_len = 0;
}

static size_t on_body(char *data, size_t size, size_t count, void *arg) {
  struct transport *t = arg;
  size_t n = size * count;
  if (n > TRANSPORT_REPLY_CAP - t->reply_len) {
    t->too_large = true;
    return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
  }
  if (t->reply_len + n > t->reply_capacity) {
    size_t capacity = t->reply_capacity ? t->reply_capacity : 16384;
    while (capacity < t->reply_len + n) capacity *= 2;
    if (capacity > TRANSPORT_REPLY_CAP) capacity = TRANSPORT_REPLY_CAP;
    /* Grow by copy so no stale copy of a reply stays behind in freed heap. */
    uint8_t *grown = malloc(capacity);
    if (grown == NULL) return 0;
    if (t->reply) {
      memcpy(grown, t->reply, t->reply_len);
      explicit_bzero(t->reply, t->reply_capacity);
      free(t->reply);
    }
    t->reply = grown;
    t->reply_capacity = capacity;
  }
  memcpy(t->reply + t->reply_len, data, n);
  t->reply_len += n;
  return n;
}

/* Any Content-Encoding but identity is refused: we never ask for one and never decode one. */
static size_t on_header(char *data, size_t size, size_t count, void *arg) {
  struct transport *t = arg;
  size_t n = size * count;
  static const char name[] = "content-encoding:";
  if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
    const char *v = data + sizeof name - 1, *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    if (!((size_t)(end - v) == 8 && strncasecmp(v, "identity", 8) == 0)) {
      t->bad_encoding = true;
      return 0;
    }
  }
  return n;
}

/* libcurl's sockets, opened close-on-exec so a forking caller (saslauthd, sshd) never leaks them. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *address) {
  (void)arg;
  (void)purpose;
  return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static CURL *make_handle(struct transport *t, const struct server *s) {
  CURL *c = curl.easy_init();
  if (c == NULL) return NULL;
  const struct transport_options *o = &t->options;
  bool own_ca = (o->cafile && o->cafile[0]) || (o->capath && o->capath[0]);
  CURLcode rc = CURLE_OK;
#define SET(option, value) \
  if (rc == CURLE_OK) rc = curl.easy_setopt(c, option, value)
  SET(CURLOPT_URL, s->url);
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_FOLLOWLOCATION, 0L);
  SET(CURLOPT_PROXY, "");
  SET(CURLOPT_NOPROXY, "*");
  SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
  SET(CURLOPT_USERAGENT, USER_AGENT);
  SET(CURLOPT_HTTPHEADER, t->headers);
  SET(CURLOPT_POST, 1L);
  SET(CURLOPT_HTTP_CONTENT_DECODING, 0L);
  SET(CURLOPT_HTTP_TRANSFER_DECODING, 1L);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)TRANSPORT_REPLY_CAP);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_WRITEDATA, t);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_HEADERDATA, t);
  SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
  SET(CURLOPT_ERRORBUFFER, t->error);
  SET(CURLOPT_SSL_VERIFYPEER, 1L);
  SET(CURLOPT_SSL_VERIFYHOST, 2L);
  SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  /* Always explicit, so SSL_CERT_FILE, SSL_CERT_DIR or CURL_CA_BUNDLE in the caller's environment change
   * nothing; an administrator's cafile/capath replaces the system store rather than adding to it. */
  SET(CURLOPT_CAINFO, own_ca ? (o->cafile && o->cafile[0] ? o->cafile : NULL) : DEBIAN_CA_FILE);
  SET(CURLOPT_CAPATH, own_ca ? (o->capath && o->capath[0] ? o->capath : NULL) : DEBIAN_CA_PATH);
#undef SET
  if (rc != CURLE_OK) {
    curl.easy_cleanup(c);
    return NULL;
  }
  return c;
}

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

/* libcurl's per-call state, made on the first https post of the call. */
static bool curl_prepare(struct transport *t) {
  if (t->headers) return true;
  if (!curl_load()) return false;
  struct curl_slist *h = curl.slist_append(NULL, "Content-Type: text/xml; charset=utf-8");
  if (h == NULL) return false;
  t->headers = h;
  return curl.slist_append(h, "Expect:") != NULL;
}

static enum transport_result map_curl_error(const struct transport *t, CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return TE_REFUSED;
    case CURLE_COULDNT_RESOLVE_HOST:
      return TE_RESOLVE;
    case CURLE_OPERATION_TIMEDOUT:
      return TE_TIMEOUT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_SSL_ENGINE_INITFAILED:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_USE_SSL_FAILED:
      return TE_TLS;
    case CURLE_FILESIZE_EXCEEDED:
      return TE_TOO_LARGE;
    case CURLE_WRITE_ERROR:
      if (t->too_large) return TE_TOO_LARGE;
      if (t->bad_encoding) return TE_MALFORMED;
      return TE_INTERNAL;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      return TE_CLOSED;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_BAD_CONTENT_ENCODING:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_TOO_MANY_REDIRECTS:
      return TE_MALFORMED;
    default:
      return TE_INTERNAL;
  }
}

static const char *display_name(const struct server *s) {
  return s->kind == SERVER_UNIX ? s->socket_path : s->url;
}

/* Our own client: http:// and file://. */
static enum transport_result post_http(struct transport *t, struct endpoint *e, const struct server *s,
                                       const uint8_t *body, size_t len, uint16_t *status, const char **why) {
  return http_post(&e->http, s, e->deadline_ns, body, len, &t->in, status, why);
}

/* libcurl: https://. */
static enum transport_result post_curl(struct transport *t, struct endpoint *e, const struct server *s,
                                       const uint8_t *body, size_t len, uint64_t start, uint16_t *status,
                                       const char **why) {
  *why = "";
  if (!curl_prepare(t)) {
    *why = "libcurl (libcurl.so.4) cannot be loaded or initialised";
    return TE_INTERNAL;
  }
  long remaining_ms = (long)((e->deadline_ns - start + 999999u) / 1000000u);
  if (e->easy == NULL && (e->easy = make_handle(t, s)) == NULL) return TE_INTERNAL;
  wipe_reply(t);
  t->too_large = t->bad_encoding = false;
  t->error[0] = '\0';
  CURLcode rc = curl.easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  if (rc == CURLE_OK) rc = curl.easy_setopt(e->easy, CURLOPT_POSTFIELDS, (const char *)body);
  if (rc == CURLE_OK) rc = curl.easy_setopt(e->easy, CURLOPT_TIMEOUT_MS, remaining_ms);
  if (rc == CURLE_OK) rc = curl.easy_setopt(e->easy, CURLOPT_CONNECTTIMEOUT_MS, remaining_ms);
  if (rc == CURLE_OK) rc = curl.easy_perform(e->easy);
  /* The body may hold the password; don't leave libcurl pointing into guest memory. */
  curl.easy_setopt(e->easy, CURLOPT_POSTFIELDS, "");
  curl.easy_setopt(e->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);

  long code = 0;
  curl.easy_getinfo(e->easy, CURLINFO_RESPONSE_CODE, &code);
  *status = code > 0 && code < 1000 ? (uint16_t)code : 0;
  if (rc != CURLE_OK) {
    *why = t->error[0] ? t->error : curl.easy_strerror(rc);
    wipe_reply(t);
    return map_curl_error(t, rc);
  }
  if (code != 200 && code != 500) {
    wipe_reply(t);
    return TE_HTTP_STATUS;
  }
  return TRANSPORT_OK;
}

enum transport_result transport_post(struct transport *t, uint32_t server, const uint8_t *body, size_t len,
                                     struct transport_reply *reply) {
  if (server >= t->count) return TE_NO_SUCH_SERVER;
  const struct server *s = &t->servers[server];
  struct endpoint *e = &t->endpoints[server];
  uint64_t start = now_ns();
  if (e->deadline_ns == 0) e->deadline_ns = start + (uint64_t)t->options.timeout_ms * 1000000u;
  if (start >= e->deadline_ns) return TE_TIMEOUT;

  uint16_t status = 0;
  const char *why = "";
  bool tls = s->kind == SERVER_HTTPS;
  enum transport_result result = tls ? post_curl(t, e, s, body, len, start, &status, &why)
                                     : post_http(t, e, s, body, len, &status, &why);
  const uint8_t *data = tls ? t->reply : t->in.data;
  size_t data_len = tls ? t->reply_len : t->in.len;
  if (t->options.debug) {
    unsigned long ms = (unsigned long)((now_ns() - start) / 1000000u);
    /* Numbered from 1, as the guest's own lines number them. */
    if (result == TRANSPORT_OK)
      log_host(t->pamh, LOG_DEBUG, "server %u (%s): %zu bytes sent, HTTP %u, %zu bytes received in %lu ms",
               server + 1, display_name(s), len, (unsigned)status, data_len, ms);
    else
      log_host(t->pamh, LOG_DEBUG, "server %u (%s): %s after %lu ms (HTTP %u; %s: %s)", server + 1, display_name(s),
               transport_result_name(result), ms, (unsigned)status, tls ? "curl" : "http", why);
  }
  if (result != TRANSPORT_OK) return result;
  reply->status = status;
  reply->body = data;
  reply->len = data_len;
  return TRANSPORT_OK;
}

void transport_free(struct transport *t) {
  if (t == NULL) return;
  if (t->endpoints)
    for (size_t i = 0; i < t->count; i++) {
      if (t->endpoints[i].easy) curl.easy_cleanup(t->endpoints[i].easy);
      http_close(&t->endpoints[i].http);
    }
  free(t->endpoints);
  if (t->headers) curl.slist_free_all(t->headers);
  wipe_reply(t);
  free(t->reply);
  http_buffer_free(&t->in);
  explicit_bzero(t, sizeof *t);
  free(t);
}
