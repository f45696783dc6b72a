/* One strict HTTP/1.1 POST over a stream socket, plain or through TLS (see http_client.h).
 *
 * Bounds, all enforced here: one deadline for connect, TLS handshake, send and receive, never a signal or alarm:
 * the socket blocks, with SO_SNDTIMEO/SO_RCVTIMEO set to what is left of the deadline before every wait
 * (deadline.h; tls.c arms them again before every SSL call);
 * status lines plus headers of a reply (1xx interim replies included) at most HTTP_HEAD_CAP; a body of at most
 * TRANSPORT_REPLY_CAP, framed by exactly one Content-Length (digits only) or by `Transfer-Encoding: chunked`
 * (strict hex sizes, extensions ignored, trailers at most HTTP_HEAD_CAP); both, or a Transfer-Encoding other than
 * chunked, or any Content-Encoding but identity, is malformed. A reply with neither is read to the close only when
 * the server says so (HTTP/1.0 or `Connection: close`); otherwise it is malformed. Redirects are never followed:
 * any status but 200 and 500 is http-status. The request, which holds the password, is wiped before it is freed. */
#include "http_client.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "cause.h"
#include "deadline.h"

#define USER_AGENT "pam_mapi/0.1"
#define CHUNK_LINE_CAP 1024u
#define MAX_INTERIM 8
/* Head, the largest body and a partial chunk line; the buffer never needs more. */
#define BUFFER_CAP (HTTP_HEAD_CAP + TRANSPORT_REPLY_CAP + HTTP_HEAD_CAP)

/* Milliseconds left, rounded up; 0 when the deadline has passed. */
static int remaining_ms(uint64_t deadline_ns) {
  uint64_t now = deadline_now_ns();
  if (now >= deadline_ns) return 0;
  uint64_t ms = (deadline_ns - now + 999999u) / 1000000u;
  return ms > 86400000u ? 86400000 : (int)ms;
}

/* Waits for events on fd until the deadline: 1 ready, 0 deadline, -1 error. Only for a TCP connect that a signal
 * interrupted (it goes on in the background and can only be waited for). */
static int wait_for(int fd, short events, uint64_t deadline_ns) {
  for (;;) {
    int ms = remaining_ms(deadline_ns);
    if (ms == 0) return 0;
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, ms);
    if (n > 0) return 1;
    if (n < 0 && errno != EINTR) return -1;
  }
}

void http_close(struct http_connection *c) {
  if (c->tls) tls_close(c->tls, c->deadline_ns);
  c->tls = NULL;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
}

void http_buffer_free(struct http_buffer *b) {
  if (b->data) explicit_bzero(b->data, b->capacity);
  free(b->data);
  b->data = NULL;
  b->len = b->capacity = 0;
}

/* Grows by copy, so no stale copy of a reply stays behind in freed heap. */
static bool buffer_reserve(struct http_buffer *b, size_t need) {
  if (need <= b->capacity) return true;
  if (need > BUFFER_CAP) return false;
  size_t capacity = b->capacity ? b->capacity : 16384;
  while (capacity < need) capacity *= 2;
  if (capacity > BUFFER_CAP) capacity = BUFFER_CAP;
  uint8_t *grown = malloc(capacity);
  if (grown == NULL) return false;
  if (b->data) {
    memcpy(grown, b->data, b->len);
    explicit_bzero(b->data, b->capacity);
    free(b->data);
  }
  b->data = grown;
  b->capacity = capacity;
  return true;
}

static enum transport_result connect_error(int err, char *why) {
  cause_errno(why, err);
  return err == ETIMEDOUT ? TE_TIMEOUT : TE_REFUSED;
}

static enum transport_result timed_out(char *why) {
  cause_set(why, "timed out");
  return TE_TIMEOUT;
}

/* A connect to one address that leaves a blocking socket, bounded by the deadline. A unix socket connects at
 * once or never (a full backlog says EAGAIN: no answer now, like a refusal), so it connects non-blocking and then
 * turns blocking. TCP blocks in connect with SO_SNDTIMEO, which ends it with EINPROGRESS at the deadline. */
static enum transport_result connect_one(int family, const struct sockaddr *addr, socklen_t addrlen, uint64_t deadline_ns,
                                         int *out, char *why) {
  bool unix_socket = family == AF_UNIX;
  int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | (unix_socket ? SOCK_NONBLOCK : 0), 0);
  if (fd < 0) {
    cause_errno(why, errno);
    return TE_INTERNAL;
  }
  if (!unix_socket && !deadline_arm(fd, SO_SNDTIMEO, deadline_ns)) {
    close(fd);
    if (deadline_passed(deadline_ns)) return timed_out(why);
    cause_set(why, "cannot bound the wait");
    return TE_INTERNAL;
  }
  if (connect(fd, addr, addrlen) == 0) {
    if (unix_socket && fcntl(fd, F_SETFL, 0) != 0) {
      cause_errno(why, errno);
      close(fd);
      return TE_INTERNAL;
    }
    *out = fd;
    return TRANSPORT_OK;
  }
  int err = errno;
  if (!unix_socket && err == EINPROGRESS) { /* SO_SNDTIMEO ran out */
    close(fd);
    return timed_out(why);
  }
  if (!unix_socket && err == EINTR) { /* the handshake goes on: wait for it, then ask how it ended */
    int ready = wait_for(fd, POLLOUT, deadline_ns);
    socklen_t errlen = sizeof err;
    if (ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &errlen) == 0 && err == 0) {
      *out = fd;
      return TRANSPORT_OK;
    }
    close(fd);
    return ready == 0 ? timed_out(why) : connect_error(err, why);
  }
  close(fd);
  if (unix_socket && err == EAGAIN) { /* the server's backlog is full */
    cause_set(why, "the server's listen queue is full (EAGAIN)");
    return TE_REFUSED;
  }
  return connect_error(err, why);
}

static enum transport_result open_connection(const struct server *s, uint64_t deadline_ns, int *fd, char *why) {
  if (s->kind == SERVER_UNIX) {
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    size_t n = strlen(s->socket_path);
    if (n >= sizeof sun.sun_path) {
      cause_set(why, "the socket path is too long");
      return TE_INTERNAL;
    }
    memcpy(sun.sun_path, s->socket_path, n + 1);
    return connect_one(AF_UNIX, (struct sockaddr *)&sun, sizeof sun, deadline_ns, fd, why);
  }
  /* The host is from the pinned list; a name lookup is not bounded by our deadline (resolv.conf's is). */
  char port[8];
  snprintf(port, sizeof port, "%u", (unsigned)s->port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
  struct addrinfo *list = NULL;
  if (getaddrinfo(s->host, port, &hints, &list) != 0 || list == NULL) {
    cause_set(why, "the host name does not resolve");
    return TE_RESOLVE;
  }
  enum transport_result r = TE_REFUSED;
  for (struct addrinfo *a = list; a; a = a->ai_next) {
    r = connect_one(a->ai_family, a->ai_addr, a->ai_addrlen, deadline_ns, fd, why);
    if (r == TRANSPORT_OK || r == TE_TIMEOUT || r == TE_INTERNAL) break;
  }
  freeaddrinfo(list);
  return r;
}

/* The request, head and body in one buffer and one send; wiped by the caller. */
static uint8_t *build_request(const struct server *s, const uint8_t *body, size_t len, size_t *out_len) {
  char head[4096];
  int n = snprintf(head, sizeof head,
                   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: " USER_AGENT
                   "\r\nAccept: */*\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: %zu\r\n"
                   "Connection: keep-alive\r\n\r\n",
                   s->path, s->authority, len);
  if (n < 0 || (size_t)n >= sizeof head) return NULL;
  uint8_t *req = malloc((size_t)n + len);
  if (req == NULL) return NULL;
  memcpy(req, head, (size_t)n);
  if (len) memcpy(req + n, body, len);
  *out_len = (size_t)n + len;
  return req;
}

/* ---- the I/O seam: a plain socket or TLS (tls.c), under the same deadline ---- */

static enum transport_result send_all(struct http_connection *c, const uint8_t *data, size_t len, char *why) {
  if (c->tls) return tls_send(c->tls, data, len, c->deadline_ns, why);
  while (len > 0) {
    if (!deadline_arm(c->fd, SO_SNDTIMEO, c->deadline_ns)) {
      if (deadline_passed(c->deadline_ns)) return timed_out(why);
      cause_set(why, "cannot bound the wait");
      return TE_INTERNAL;
    }
    ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
    if (n > 0) {
      data += n, len -= (size_t)n;
      continue;
    }
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue; /* the loop checks the deadline */
    if (n < 0) cause_errno(why, errno);
    return TE_CLOSED;
  }
  return TRANSPORT_OK;
}

/* Reads more bytes: 1 some, 0 the peer closed, -1 with the transport error in *err. */
static int receive_more(struct http_connection *c, struct http_buffer *in, enum transport_result *err, char *why) {
  if (in->len == in->capacity && !buffer_reserve(in, in->len + 1)) {
    *err = in->len + 1 > BUFFER_CAP ? TE_TOO_LARGE : TE_INTERNAL;
    return -1;
  }
  if (c->tls) {
    size_t got = 0;
    int r = tls_recv(c->tls, in->data + in->len, in->capacity - in->len, &got, c->deadline_ns, err, why);
    if (r == 1) in->len += got;
    return r;
  }
  for (;;) {
    if (!deadline_arm(c->fd, SO_RCVTIMEO, c->deadline_ns)) {
      *err = deadline_passed(c->deadline_ns) ? TE_TIMEOUT : TE_INTERNAL;
      return -1;
    }
    ssize_t n = recv(c->fd, in->data + in->len, in->capacity - in->len, 0);
    if (n > 0) {
      in->len += (size_t)n;
      return 1;
    }
    if (n == 0) return 0;
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue; /* the loop checks the deadline */
    cause_errno(why, errno);
    *err = TE_CLOSED;
    return -1;
  }
}

static const uint8_t *find_crlf(const uint8_t *p, size_t len) {
  for (size_t i = 0; i + 1 < len; i++)
    if (p[i] == '\r' && p[i + 1] == '\n') return p + i;
  return NULL;
}

static bool is_tchar(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool value_is(const uint8_t *v, size_t n, const char *word) {
  return strlen(word) == n && strncasecmp((const char *)v, word, n) == 0;
}

/* Does a comma-separated header value hold this token? */
static bool value_has_token(const uint8_t *v, size_t n, const char *word) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t start = i;
    while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') i++;
    if (i > start && value_is(v + start, i - start, word)) return true;
  }
  return false;
}

enum framing { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED };

struct head {
  int minor;
  uint16_t status;
  enum framing framing;
  size_t length;
  bool close;
};

/* Parses one complete head (status line and header lines, the final CRLF excluded). */
static enum transport_result parse_head(const uint8_t *p, size_t n, struct head *h) {
  memset(h, 0, sizeof *h);
  const uint8_t *end = p + n, *eol = find_crlf(p, n + 2);
  size_t line = (size_t)(eol - p);
  /* "HTTP/1.x NNN" then end of line or a space and a reason without control characters */
  if (line < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') return TE_MALFORMED;
  for (int i = 9; i < 12; i++)
    if (p[i] < '0' || p[i] > '9') return TE_MALFORMED;
  if (p[9] == '0') return TE_MALFORMED;
  if (line > 12 && p[12] != ' ') return TE_MALFORMED;
  for (size_t i = 12; i < line; i++)
    if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) return TE_MALFORMED;
  h->minor = p[7] - '0';
  h->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
  h->close = h->minor == 0;
  int lengths = 0, encodings = 0;
  for (p = eol + 2; p < end; p = eol + 2) {
    eol = find_crlf(p, (size_t)(end - p) + 2);
    const uint8_t *colon = p;
    while (colon < eol && is_tchar(*colon)) colon++;
    if (colon == p || colon == eol || *colon != ':') return TE_MALFORMED; /* obs-fold and junk lines too */
    const uint8_t *v = colon + 1, *ve = eol;
    for (const uint8_t *q = v; q < ve; q++)
      if ((*q < 0x20 && *q != '\t') || *q == 0x7f) return TE_MALFORMED;
    while (v < ve && (*v == ' ' || *v == '\t')) v++;
    while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
    size_t name = (size_t)(colon - p), vn = (size_t)(ve - v);
    if (value_is(p, name, "content-length")) {
      if (++lengths > 1 || vn == 0) return TE_MALFORMED;
      size_t value = 0;
      for (size_t i = 0; i < vn; i++) {
        if (v[i] < '0' || v[i] > '9') return TE_MALFORMED;
        if (value <= TRANSPORT_REPLY_CAP) value = value * 10 + (size_t)(v[i] - '0');
      }
      h->framing = FRAME_LENGTH;
      h->length = value;
    } else if (value_is(p, name, "transfer-encoding")) {
      if (++encodings > 1 || !value_is(v, vn, "chunked")) return TE_MALFORMED;
    } else if (value_is(p, name, "content-encoding")) {
      if (!value_is(v, vn, "identity")) return TE_MALFORMED;
    } else if (value_is(p, name, "connection")) {
      if (value_has_token(v, vn, "close")) h->close = true;
    }
  }
  if (lengths && encodings) return TE_MALFORMED;
  if (encodings) h->framing = FRAME_CHUNKED;
  return TRANSPORT_OK;
}

enum chunk_state { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILERS, CHUNK_DONE };

struct chunked {
  enum chunk_state state;
  size_t r, w;       /* raw read position, decoded write position (w <= r), in the buffer */
  size_t remaining;  /* of the current chunk's data */
  size_t decoded;    /* body bytes so far */
  size_t trailers;   /* trailer bytes so far */
};

/* Decodes what has arrived, in place; TRANSPORT_OK with state CHUNK_DONE when complete, TRANSPORT_OK otherwise
 * to ask for more, or an error. Consumed framing is squeezed out so the buffer stays within BUFFER_CAP. */
static enum transport_result dechunk(struct http_buffer *in, struct chunked *c) {
  uint8_t *b = in->data;
  while (c->state != CHUNK_DONE) {
    size_t avail = in->len - c->r;
    if (c->state == CHUNK_SIZE || c->state == CHUNK_TRAILERS) {
      const uint8_t *eol = find_crlf(b + c->r, avail);
      size_t cap = c->state == CHUNK_SIZE ? CHUNK_LINE_CAP : HTTP_HEAD_CAP - c->trailers;
      if (eol == NULL) {
        if (avail > cap) return TE_MALFORMED;
        break;
      }
      size_t n = (size_t)(eol - (b + c->r));
      if (n > cap) return TE_MALFORMED;
      const uint8_t *p = b + c->r;
      c->r += n + 2;
      if (c->state == CHUNK_TRAILERS) {
        if (n == 0) c->state = CHUNK_DONE;
        c->trailers += n + 2;
        for (size_t i = 0; i < n; i++)
          if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) return TE_MALFORMED;
        continue;
      }
      size_t i = 0, size = 0;
      for (; i < n; i++) {
        uint8_t d = p[i];
        int v = d >= '0' && d <= '9' ? d - '0' : d >= 'a' && d <= 'f' ? d - 'a' + 10 : d >= 'A' && d <= 'F' ? d - 'A' + 10 : -1;
        if (v < 0) break;
        size = size * 16 + (size_t)v;
        if (size > TRANSPORT_REPLY_CAP - c->decoded) return TE_TOO_LARGE;
      }
      if (i == 0 || (i < n && p[i] != ';')) return TE_MALFORMED; /* extensions after ';' are ignored */
      for (; i < n; i++)
        if ((p[i] < 0x20 && p[i] != '\t') || p[i] == 0x7f) return TE_MALFORMED;
      c->remaining = size;
      c->state = size ? CHUNK_DATA : CHUNK_TRAILERS;
    } else if (c->state == CHUNK_DATA) {
      if (avail == 0) break;
      size_t take = avail < c->remaining ? avail : c->remaining;
      memmove(b + c->w, b + c->r, take);
      c->w += take, c->r += take, c->decoded += take, c->remaining -= take;
      if (c->remaining == 0) c->state = CHUNK_DATA_END;
    } else { /* CHUNK_DATA_END */
      if (avail < 2) break;
      if (b[c->r] != '\r' || b[c->r + 1] != '\n') return TE_MALFORMED;
      c->r += 2;
      c->state = CHUNK_SIZE;
    }
  }
  if (c->state != CHUNK_DONE && c->r > c->w) {
    memmove(b + c->w, b + c->r, in->len - c->r);
    explicit_bzero(b + c->w + (in->len - c->r), c->r - c->w);
    in->len -= c->r - c->w;
    c->r = c->w;
  }
  return TRANSPORT_OK;
}

/* Reads one whole reply (interim 1xx replies skipped) into in; on success in holds only the body. *reusable says
 * whether the connection may carry the next request. */
static enum transport_result read_reply(struct http_connection *conn, struct http_buffer *in, uint16_t *status,
                                        bool *reusable, bool *got_bytes, char *why) {
  enum transport_result err = TE_INTERNAL;
  size_t head_bytes = 0; /* all heads of this reply, interim ones included */
  int interim = 0;
  struct head h;
  size_t body_start;
  in->len = 0;
  for (;;) { /* heads */
    const uint8_t *end = NULL;
    size_t scanned = 0;
    for (;;) {
      if (in->len >= 4) {
        const uint8_t *p = in->data;
        for (size_t i = scanned; i + 3 < in->len; i++)
          if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
            end = p + i;
            break;
          }
        if (end) break;
        scanned = in->len - 3;
      }
      if (head_bytes + in->len > HTTP_HEAD_CAP) return TE_MALFORMED;
      int got = receive_more(conn, in, &err, why);
      if (got < 0) return err;
      if (got == 0) return TE_CLOSED;
      *got_bytes = true;
      /* Not HTTP/1.x at all (HTTP/0.9, another protocol): say so now rather than wait for a head. */
      if (memcmp(in->data, "HTTP/1.", in->len < 7 ? in->len : 7) != 0) return TE_MALFORMED;
    }
    size_t head_len = (size_t)(end - in->data);
    head_bytes += head_len + 4;
    if (head_bytes > HTTP_HEAD_CAP) return TE_MALFORMED;
    enum transport_result r = parse_head(in->data, head_len, &h);
    if (r != TRANSPORT_OK) return r;
    body_start = head_len + 4;
    if (h.status >= 200) break;
    if (h.status == 101 || ++interim > MAX_INTERIM) return TE_MALFORMED; /* we never ask to switch protocols */
    memmove(in->data, in->data + body_start, in->len - body_start);
    in->len -= body_start;
  }
  *status = h.status;
  if (h.status != 200 && h.status != 500) return TE_HTTP_STATUS; /* 3xx included: never followed */
  size_t body_len;
  if (h.framing == FRAME_LENGTH) {
    if (h.length > TRANSPORT_REPLY_CAP) return TE_TOO_LARGE;
    while (in->len - body_start < h.length) {
      int got = receive_more(conn, in, &err, why);
      if (got < 0) return err;
      if (got == 0) return TE_CLOSED;
    }
    body_len = h.length;
    if (in->len - body_start != h.length) h.close = true; /* bytes nobody asked for: don't reuse */
  } else if (h.framing == FRAME_CHUNKED) {
    struct chunked c = {.state = CHUNK_SIZE, .r = body_start, .w = body_start};
    for (;;) {
      enum transport_result r = dechunk(in, &c);
      if (r != TRANSPORT_OK) return r;
      if (c.state == CHUNK_DONE) break;
      int got = receive_more(conn, in, &err, why);
      if (got < 0) return err;
      if (got == 0) return TE_CLOSED;
    }
    body_len = c.decoded;
    if (c.r != in->len) h.close = true;
  } else {
    if (!h.close) return TE_MALFORMED; /* no length and no promise to close: no way to know where it ends */
    for (;;) {
      if (in->len - body_start > TRANSPORT_REPLY_CAP) return TE_TOO_LARGE;
      int got = receive_more(conn, in, &err, why);
      if (got < 0) return err;
      if (got == 0) break;
    }
    body_len = in->len - body_start;
  }
  size_t old_len = in->len;
  memmove(in->data, in->data + body_start, body_len);
  explicit_bzero(in->data + body_len, old_len - body_len);
  in->len = body_len;
  *reusable = !h.close && h.minor == 1;
  return TRANSPORT_OK;
}

/* The cause of a failure that set none. */
static void default_cause(enum transport_result r, uint16_t status, char *why) {
  switch (r) {
    case TE_TIMEOUT: cause_set(why, "timed out"); break;
    case TE_HTTP_STATUS: cause_set(why, "HTTP status %u", (unsigned)status); break;
    case TE_TOO_LARGE: cause_set(why, "the reply is larger than the module accepts"); break;
    case TE_CLOSED: cause_set(why, "the server closed the connection before the reply was complete"); break;
    case TE_MALFORMED: cause_set(why, "the reply is not acceptable HTTP/1.1"); break;
    default: cause_set(why, "%s", transport_result_name(r)); break;
  }
}

/* A new connection: TCP or the unix socket, then for https the TLS handshake. */
static enum transport_result connect_server(struct http_connection *c, const struct server *s,
                                            const struct tls_trust *trust, char *why) {
  enum transport_result r = open_connection(s, c->deadline_ns, &c->fd, why);
  if (r != TRANSPORT_OK || s->kind != SERVER_HTTPS) return r;
  if (trust == NULL || trust->ctx == NULL) {
    cause_set(why, "TLS: no trust anchors");
    r = TE_INTERNAL;
  } else {
    r = tls_open(trust, c->fd, s, c->deadline_ns, &c->tls, why);
    if (r == TRANSPORT_OK) {
      c->tls_version = tls_version(c->tls);
      c->tls_resumed = tls_resumed(c->tls);
    }
  }
  if (r != TRANSPORT_OK) http_close(c);
  return r;
}

enum transport_result http_post(struct http_connection *c, const struct server *s, const struct tls_trust *trust,
                                uint64_t deadline_ns, const uint8_t *body, size_t len, struct http_buffer *in,
                                uint16_t *status, char *why) {
  *status = 0;
  why[0] = '\0';
  c->deadline_ns = deadline_ns;
  size_t request_len = 0;
  uint8_t *request = build_request(s, body, len, &request_len);
  if (request == NULL) {
    cause_set(why, "out of memory");
    return TE_INTERNAL;
  }
  if (!buffer_reserve(in, 16384)) {
    explicit_bzero(request, request_len);
    free(request);
    cause_set(why, "out of memory");
    return TE_INTERNAL;
  }
  enum transport_result r = TE_INTERNAL;
  /* A kept-alive connection may have been closed by the server meanwhile: if it fails before a single byte of
   * the reply came back, try once more on a fresh connection (as libcurl did). */
  for (int attempt = 0; attempt < 2; attempt++) {
    bool reused = c->fd >= 0, got_bytes = false, reusable = false;
    why[0] = '\0';
    if (!reused) {
      r = connect_server(c, s, trust, why);
      if (r != TRANSPORT_OK) break;
    }
    r = send_all(c, request, request_len, why);
    if (r == TRANSPORT_OK) r = read_reply(c, in, status, &reusable, &got_bytes, why);
    if (r != TRANSPORT_OK || !reusable) http_close(c);
    if (r == TRANSPORT_OK || !reused || got_bytes || r == TE_TIMEOUT) break;
  }
  explicit_bzero(request, request_len);
  free(request);
  if (r != TRANSPORT_OK) {
    explicit_bzero(in->data, in->capacity);
    in->len = 0;
    if (!why[0]) default_cause(r, *status, why);
  }
  return r;
}
