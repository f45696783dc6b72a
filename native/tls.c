/* TLS through OpenSSL's libssl for the module's own HTTP client (see tls.h).
 *
 * Kept apart from the host process (sshd, Apache mod_ssl, Dovecot use OpenSSL in the same process):
 * - one OSSL_LIB_CTX of our own, made once per process, into which no configuration file is ever loaded (so no
 *   provider or engine named by openssl.cnf or OPENSSL_CONF), with only the built-in default provider;
 * - OpenSSL's process-wide initialisation is asked not to load a configuration either (OPENSSL_INIT_NO_LOAD_CONFIG
 *   before any other call): when the host has initialised OpenSSL already this changes nothing; when the module
 *   comes first (su, sudo, saslauthd, which do not use OpenSSL themselves) it keeps the process from reading
 *   OPENSSL_CONF on our behalf;
 * - no CRYPTO_set_mem_functions, no global callbacks, no keylog callback, no default verify paths (they read
 *   SSL_CERT_FILE/SSL_CERT_DIR): the trust anchors are cafile=/capath= or Debian's store, named explicitly;
 * - the thread's OpenSSL error queue is emptied after each of our calls, so the host never sees our errors.
 *
 * The socket stays blocking with the deadline in SO_SNDTIMEO/SO_RCVTIMEO, armed again before every SSL call; the
 * socket BIO is ours: send() with MSG_NOSIGNAL (libssl's own socket BIO uses write(), which raises SIGPIPE on a
 * closed connection), and it remembers the first bytes the server sent, so an HTTP reply to our ClientHello can
 * be named ("this port speaks plain HTTP").
 *
 * Sessions are kept per process for resumption (TLS 1.3 tickets, TLS 1.2 session ids), keyed by the server
 * (host, port; SNI is the host) and the trust settings' id, which changes with cafile=/capath= and with the
 * files' identity (device, inode, size, modification and change times). A session holds the server's keys, never
 * anything of a user. Bounded; one mutex. */
#include "tls.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "cause.h"
#include "deadline.h"
#include "openssl_lib.h" /* OpenSSL, loaded on first use: every call below goes through its table */

/* Debian's system store: the directory of hashed links that update-ca-certificates keeps beside the bundle, with
 * the same certificates. The directory is read lazily (only the issuers a handshake needs), the bundle would be
 * parsed whole: ~860 KiB of certificates in every process (measured, docs/performance.md). The bundle's identity
 * is still part of the settings' identity, so an update of the store starts a new context. */
#define DEBIAN_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define DEBIAN_CA_PATH "/etc/ssl/certs"
#define TRUST_SLOTS 4     /* distinct cafile/capath settings kept per process */
#define SESSION_SLOTS 32  /* kept sessions per process, all servers and settings together */
#define HOST_CAP 256

struct tls_stream {
  SSL *ssl;
  int fd;
  int last_errno;        /* of the last failed send/recv in the BIO */
  uint8_t first[5];      /* the first bytes the server sent */
  size_t first_len;
  bool established;
};

/* ---- process-wide state -------------------------------------------------------------------------------- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static OSSL_LIB_CTX *libctx;
static BIO_METHOD *socket_method;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t next_trust_id = 1;

struct file_identity {
  bool present;
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime, ctime;
};

static struct trust_slot {
  char *cafile, *capath; /* as used: NULL for none */
  struct file_identity file, dir;
  SSL_CTX *ctx;
  uint64_t id, used;
} trusts[TRUST_SLOTS];

static struct session_slot {
  uint64_t trust_id, used;
  char host[HOST_CAP];
  uint16_t port;
  SSL_SESSION *session;
} sessions[SESSION_SLOTS];
static uint64_t use_clock;

/* ---- our socket BIO ------------------------------------------------------------------------------------ */

static int bio_write(BIO *b, const char *data, int len) {
  struct tls_stream *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t n = send(t->fd, data, (size_t)len, MSG_NOSIGNAL);
  if (n >= 0) return (int)n;
  t->last_errno = errno;
  if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_write(b); /* the caller checks the deadline */
  return -1;
}

static int bio_read(BIO *b, char *buf, int cap) {
  struct tls_stream *t = BIO_get_data(b);
  BIO_clear_retry_flags(b);
  ssize_t n = recv(t->fd, buf, (size_t)cap, 0);
  if (n > 0) {
    if (t->first_len < sizeof t->first) {
      size_t take = sizeof t->first - t->first_len;
      if (take > (size_t)n) take = (size_t)n;
      memcpy(t->first + t->first_len, buf, take);
      t->first_len += take;
    }
    return (int)n;
  }
  if (n == 0) return 0;
  t->last_errno = errno;
  if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(b);
  return -1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b, (void)num, (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0; /* every write goes straight to the socket */
}

static int bio_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static void init_process(void) {
  if (!openssl_lib_load()) return;
  /* First, before anything else: never a configuration file, whoever initialises OpenSSL in this process. */
  if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL)) return;
  OSSL_LIB_CTX *ctx = OSSL_LIB_CTX_new(); /* no config loaded into it: the built-in default provider only */
  BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pam_mapi socket");
  if (ctx == NULL || m == NULL || !BIO_meth_set_write(m, bio_write) || !BIO_meth_set_read(m, bio_read) ||
      !BIO_meth_set_ctrl(m, bio_ctrl) || !BIO_meth_set_create(m, bio_create)) {
    OSSL_LIB_CTX_free(ctx);
    BIO_meth_free(m);
    ERR_clear_error();
    return;
  }
  libctx = ctx;
  socket_method = m;
  ERR_clear_error();
}

/* ---- trust anchors ------------------------------------------------------------------------------------- */

static bool same_identity(const struct file_identity *a, const struct file_identity *b) {
  return a->present == b->present && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec &&
         a->ctime.tv_sec == b->ctime.tv_sec && a->ctime.tv_nsec == b->ctime.tv_nsec;
}

static bool identify(const char *path, struct file_identity *id, const char *what, char *why) {
  memset(id, 0, sizeof *id);
  if (path == NULL) return true;
  struct stat st;
  if (stat(path, &st) != 0) {
    char errtext[TRANSPORT_CAUSE_CAP];
    if (errno == ENOENT)
      cause_set(errtext, "no such file or directory (ENOENT)");
    else
      cause_errno(errtext, errno);
    cause_set(why, "%s%.120s: %s", what, path, errtext);
    return false;
  }
  id->present = true;
  id->dev = st.st_dev;
  id->ino = st.st_ino;
  id->size = st.st_size;
  id->mtime = st.st_mtim;
  id->ctime = st.st_ctim;
  return true;
}

static bool same_path(const char *a, const char *b) { return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0); }

static int on_new_session(SSL *ssl, SSL_SESSION *session);

static SSL_CTX *make_context(const char *cafile, const char *capath, char *why) {
  SSL_CTX *ctx = SSL_CTX_new_ex(libctx, NULL, TLS_client_method());
  if (ctx == NULL) {
    cause_set(why, "TLS: cannot create a context (out of memory?)");
    return NULL;
  }
  bool ok = SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) == 1;
  /* Debian's own default policy (its openssl.cnf, which we do not read): at least security level 2. */
  SSL_CTX_set_security_level(ctx, 2);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CLEANSE_PLAINTEXT);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* Sessions go to our own cache (keyed by server and trust settings), never to the context's. */
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  if (ok && SSL_CTX_load_verify_locations(ctx, cafile, capath) != 1) {
    unsigned long e = ERR_peek_last_error();
    const char *reason = ERR_reason_error_string(e);
    if (cafile)
      cause_set(why, "cafile=%.120s: no PEM certificate could be read (%s)", cafile, reason ? reason : "unknown");
    else
      cause_set(why, "capath=%.120s: cannot be used (%s)", capath, reason ? reason : "unknown");
    SSL_CTX_free(ctx);
    return NULL;
  }
  if (!ok) {
    cause_set(why, "TLS: cannot set up the context");
    SSL_CTX_free(ctx);
    return NULL;
  }
  return ctx;
}

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

static void forget_sessions_of(uint64_t trust_id) {
  for (size_t i = 0; i < SESSION_SLOTS; i++)
    if (sessions[i].session && sessions[i].trust_id == trust_id) {
      SSL_SESSION_free(sessions[i].session);
      memset(&sessions[i], 0, sizeof sessions[i]);
    }
}

bool tls_trust_acquire(const char *cafile, const char *capath, struct tls_trust *out, char *why) {
  out->ctx = NULL;
  out->id = 0;
  pthread_once(&init_once, init_process);
  if (libctx == NULL) {
    cause_set(why, "TLS: OpenSSL (" OPENSSL_LIB_SONAME ") cannot be loaded or initialised; install libssl3");
    return false;
  }
  if (cafile && !cafile[0]) cafile = NULL;
  if (capath && !capath[0]) capath = NULL;
  /* The system store replaces nothing: it is used only without cafile=/capath=. */
  bool system_store = cafile == NULL && capath == NULL;
  if (system_store) capath = DEBIAN_CA_PATH;
  struct file_identity file, dir;
  if (!identify(cafile, &file, "cafile=", why) ||
      !identify(capath, &dir, system_store ? "the system CA directory " : "capath=", why))
    return false;
  if (system_store) {
    char ignored[TRANSPORT_CAUSE_CAP];
    identify(DEBIAN_CA_FILE, &file, "", ignored); /* absent: not present, which is an identity too */
  }

  pthread_mutex_lock(&lock);
  struct trust_slot *slot = NULL, *oldest = &trusts[0];
  for (size_t i = 0; i < TRUST_SLOTS; i++) {
    struct trust_slot *s = &trusts[i];
    if (s->ctx && same_path(s->cafile, cafile) && same_path(s->capath, capath)) {
      slot = s;
      break;
    }
    if (s->ctx == NULL || (oldest->ctx && s->used < oldest->used)) oldest = s;
  }
  if (slot && !(same_identity(&slot->file, &file) && same_identity(&slot->dir, &dir))) {
    /* the files changed: new anchors, and no session made under the old ones is offered again */
    forget_sessions_of(slot->id);
    SSL_CTX_free(slot->ctx);
    free(slot->cafile);
    free(slot->capath);
    memset(slot, 0, sizeof *slot);
    oldest = slot;
    slot = NULL;
  }
  if (slot == NULL) {
    SSL_CTX *ctx = make_context(cafile, capath, why);
    char *f = dup_or_null(cafile), *d = dup_or_null(capath);
    if (ctx == NULL || (cafile && f == NULL) || (capath && d == NULL)) {
      if (ctx && (!f || !d)) cause_set(why, "TLS: out of memory");
      SSL_CTX_free(ctx);
      free(f);
      free(d);
      ERR_clear_error();
      pthread_mutex_unlock(&lock);
      return false;
    }
    slot = oldest;
    if (slot->ctx) {
      forget_sessions_of(slot->id);
      SSL_CTX_free(slot->ctx); /* connections still using it hold their own reference */
      free(slot->cafile);
      free(slot->capath);
    }
    *slot = (struct trust_slot){.cafile = f, .capath = d, .file = file, .dir = dir, .ctx = ctx, .id = next_trust_id++};
  }
  slot->used = ++use_clock;
  SSL_CTX_up_ref(slot->ctx);
  out->ctx = slot->ctx;
  out->id = slot->id;
  pthread_mutex_unlock(&lock);
  ERR_clear_error();
  return true;
}

void tls_trust_release(struct tls_trust *t) {
  if (t->ctx) SSL_CTX_free(t->ctx);
  t->ctx = NULL;
  t->id = 0;
}

/* ---- the session cache --------------------------------------------------------------------------------- */

/* What a connection's new sessions are stored under: set as the SSL's app data for the handshake. */
struct session_key {
  uint64_t trust_id;
  const char *host;
  uint16_t port;
};

static struct session_slot *find_session(const struct session_key *k) {
  for (size_t i = 0; i < SESSION_SLOTS; i++) {
    struct session_slot *s = &sessions[i];
    if (s->session && s->trust_id == k->trust_id && s->port == k->port && strcmp(s->host, k->host) == 0) return s;
  }
  return NULL;
}

/* Called by libssl with a new session (after the handshake for TLS 1.2, on a ticket for TLS 1.3). */
static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  const struct session_key *k = SSL_get_app_data(ssl);
  if (k == NULL || strlen(k->host) >= HOST_CAP || !SSL_SESSION_is_resumable(session)) return 0;
  pthread_mutex_lock(&lock);
  struct session_slot *slot = find_session(k);
  if (slot == NULL) {
    slot = &sessions[0];
    for (size_t i = 0; i < SESSION_SLOTS; i++) {
      if (sessions[i].session == NULL) {
        slot = &sessions[i];
        break;
      }
      if (sessions[i].used < slot->used) slot = &sessions[i];
    }
  }
  if (slot->session) SSL_SESSION_free(slot->session);
  slot->session = session; /* returning 1 hands us libssl's reference */
  slot->trust_id = k->trust_id;
  slot->port = k->port;
  snprintf(slot->host, sizeof slot->host, "%s", k->host);
  slot->used = ++use_clock;
  pthread_mutex_unlock(&lock);
  return 1;
}

/* The kept session for this server and these settings, with a reference of its own; NULL when there is none. */
static SSL_SESSION *kept_session(const struct session_key *k) {
  SSL_SESSION *session = NULL;
  pthread_mutex_lock(&lock);
  struct session_slot *slot = find_session(k);
  if (slot) {
    if (SSL_SESSION_is_resumable(slot->session)) {
      session = slot->session;
      SSL_SESSION_up_ref(session);
      slot->used = ++use_clock;
    } else {
      SSL_SESSION_free(slot->session);
      memset(slot, 0, sizeof *slot);
    }
  }
  pthread_mutex_unlock(&lock);
  return session;
}

/* ---- one connection ------------------------------------------------------------------------------------ */

/* Arms both socket timeouts with what is left of the deadline: a TLS read may write and a write may read. */
static bool arm(int fd, uint64_t deadline_ns) {
  return deadline_arm(fd, SO_RCVTIMEO, deadline_ns) && deadline_arm(fd, SO_SNDTIMEO, deadline_ns);
}

/* Why an SSL call failed, as a transport error and a cause. */
static enum transport_result failure(struct tls_stream *t, int rc, uint64_t deadline_ns, char *why) {
  int e = SSL_get_error(t->ssl, rc);
  unsigned long err = ERR_peek_last_error();
  enum transport_result r;
  if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && deadline_passed(deadline_ns)) {
    cause_set(why, "timed out");
    r = TE_TIMEOUT;
  } else if (!t->established && t->first_len >= 5 && memcmp(t->first, "HTTP/", 5) == 0) {
    cause_set(why, "this port speaks plain HTTP");
    r = TE_TLS;
  } else if (!t->established && SSL_get_verify_result(t->ssl) != X509_V_OK) {
    cause_set(why, "TLS: %s", X509_verify_cert_error_string(SSL_get_verify_result(t->ssl)));
    r = TE_TLS;
  } else if (e == SSL_ERROR_SYSCALL && err == 0 && t->last_errno != 0) {
    cause_errno(why, t->last_errno);
    r = t->last_errno == EAGAIN || t->last_errno == ETIMEDOUT ? TE_TIMEOUT : TE_CLOSED;
  } else if ((e == SSL_ERROR_SYSCALL && err == 0) ||
             (ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
    cause_set(why, "%s", t->established ? "the server closed the connection without close_notify"
                                        : "TLS: the server closed the connection during the handshake");
    r = t->established ? TE_CLOSED : TE_TLS;
  } else {
    const char *reason = err ? ERR_reason_error_string(err) : NULL;
    cause_set(why, "TLS: %s", reason ? reason : t->established ? "protocol error" : "handshake failed");
    r = TE_TLS; /* an alert or a bad record, during the handshake or after it (a refused renegotiation) */
  }
  ERR_clear_error();
  return r;
}

static bool is_ip_literal(const char *host) {
  unsigned char addr[16];
  return inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

enum transport_result tls_open(const struct tls_trust *trust, int fd, const struct server *s, uint64_t deadline_ns,
                               struct tls_stream **out, char *why) {
  *out = NULL;
  ERR_clear_error();
  struct tls_stream *t = calloc(1, sizeof *t);
  if (t == NULL) {
    cause_set(why, "out of memory");
    return TE_INTERNAL;
  }
  t->fd = fd;
  /* TLS writes records back to back (the handshake's Finished, then the request): with Nagle on, the request
   * would wait for the server's delayed ACK, 40 ms, whenever the server sends nothing after the handshake. */
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  t->ssl = SSL_new(trust->ctx);
  BIO *bio = BIO_new(socket_method);
  bool ok = t->ssl != NULL && bio != NULL;
  if (ok) {
    BIO_set_data(bio, t);
    SSL_set_bio(t->ssl, bio, bio);
    bio = NULL;
    SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (is_ip_literal(s->host)) /* an address is checked against the IP SANs, and never sent as SNI */
      ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), s->host) == 1;
    else
      ok = SSL_set1_host(t->ssl, s->host) == 1 && SSL_set_tlsext_host_name(t->ssl, s->host) == 1;
  }
  BIO_free(bio);
  if (!ok) {
    tls_close(t, 0);
    ERR_clear_error();
    cause_set(why, "TLS: cannot set up the connection");
    return TE_INTERNAL;
  }
  struct session_key key = {.trust_id = trust->id, .host = s->host, .port = s->port};
  SSL_SESSION *kept = kept_session(&key);
  if (kept) {
    SSL_set_session(t->ssl, kept); /* takes its own reference */
    SSL_SESSION_free(kept);
  }
  SSL_set_app_data(t->ssl, &key);
  enum transport_result r = TRANSPORT_OK;
  for (;;) {
    if (!arm(fd, deadline_ns)) {
      r = deadline_passed(deadline_ns) ? TE_TIMEOUT : TE_INTERNAL;
      cause_set(why, "%s", r == TE_TIMEOUT ? "timed out" : "cannot bound the wait");
      break;
    }
    t->last_errno = 0;
    int rc = SSL_connect(t->ssl);
    if (rc == 1) break;
    int e = SSL_get_error(t->ssl, rc);
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !deadline_passed(deadline_ns)) continue;
    r = failure(t, rc, deadline_ns, why);
    break;
  }
  if (r != TRANSPORT_OK) {
    SSL_set_app_data(t->ssl, NULL);
    tls_close(t, 0);
    return r;
  }
  /* TLS 1.3 tickets arrive later, with the reply: the key must live as long as the connection. */
  struct session_key *kept_key = malloc(sizeof *kept_key + strlen(s->host) + 1);
  if (kept_key) {
    char *host = (char *)(kept_key + 1);
    strcpy(host, s->host);
    *kept_key = (struct session_key){.trust_id = trust->id, .host = host, .port = s->port};
  }
  SSL_set_app_data(t->ssl, kept_key);
  t->established = true;
  *out = t;
  return TRANSPORT_OK;
}

enum transport_result tls_send(struct tls_stream *t, const uint8_t *data, size_t len, uint64_t deadline_ns, char *why) {
  ERR_clear_error();
  while (len > 0) {
    if (!arm(t->fd, deadline_ns)) {
      bool late = deadline_passed(deadline_ns);
      cause_set(why, "%s", late ? "timed out" : "cannot bound the wait");
      return late ? TE_TIMEOUT : TE_INTERNAL;
    }
    size_t n = 0;
    t->last_errno = 0;
    int rc = SSL_write_ex(t->ssl, data, len, &n);
    if (rc == 1) {
      data += n, len -= n;
      continue;
    }
    int e = SSL_get_error(t->ssl, rc);
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !deadline_passed(deadline_ns)) continue;
    return failure(t, rc, deadline_ns, why);
  }
  return TRANSPORT_OK;
}

int tls_recv(struct tls_stream *t, uint8_t *buf, size_t cap, size_t *got, uint64_t deadline_ns,
             enum transport_result *err, char *why) {
  ERR_clear_error();
  *got = 0;
  for (;;) {
    if (!arm(t->fd, deadline_ns)) {
      *err = deadline_passed(deadline_ns) ? TE_TIMEOUT : TE_INTERNAL;
      cause_set(why, "%s", *err == TE_TIMEOUT ? "timed out" : "cannot bound the wait");
      return -1;
    }
    t->last_errno = 0;
    int rc = SSL_read_ex(t->ssl, buf, cap, got);
    if (rc == 1) return 1;
    int e = SSL_get_error(t->ssl, rc);
    if (e == SSL_ERROR_ZERO_RETURN) {
      ERR_clear_error();
      return 0;
    }
    if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && !deadline_passed(deadline_ns)) continue;
    *err = failure(t, rc, deadline_ns, why);
    return -1;
  }
}

bool tls_resumed(const struct tls_stream *t) { return t && t->ssl && SSL_session_reused(t->ssl); }

const char *tls_version(const struct tls_stream *t) { return t && t->ssl ? SSL_get_version(t->ssl) : "-"; }

void tls_close(struct tls_stream *t, uint64_t deadline_ns) {
  if (t == NULL) return;
  if (t->ssl) {
    if (t->established && arm(t->fd, deadline_ns)) SSL_shutdown(t->ssl); /* our close_notify; no wait for theirs */
    free(SSL_get_app_data(t->ssl));
    SSL_set_app_data(t->ssl, NULL);
    SSL_free(t->ssl);
  }
  ERR_clear_error();
  explicit_bzero(t, sizeof *t);
  free(t);
}
