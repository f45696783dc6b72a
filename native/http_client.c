/* One strict HTTP/1.1 POST over a stream socket, plain or through TLS (see http_client.h).
 *
 * Bounds, all enforced here: one deadline for connect, TLS handshake, send and receive, never a signal or alarm:
 * the socket blocks, with SO_SNDTIMEO/SO_RCVTIMEO set to what is left of the deadline before every wait
 * (deadline.h; tls.c arms them again before every SSL call);
 * status lines plus headers of a reply (1xx interim replies included) at most HTTP_HEAD_CAP; a body of at most
 * TRANSPORT_REPLY_CAP, framed by exactly one Content-Length (digits only) or by `Transfer-Encoding: chunked`
 * (strict hex sizes, extensions checked against RFC 9112 and ignored, a size line at most CHUNK_LINE_CAP, trailers
 * field lines and at most HTTP_HEAD_CAP); both, or a Transfer-Encoding other than chunked or from HTTP/1.0, or any
 * Content-Encoding but identity, is malformed. Every line ends in CRLF (a bare LF or CR is malformed). A reply with
 * neither is read to the close only when the server says so (HTTP/1.0 or `Connection: close`); otherwise it is
 * malformed. Redirects are never followed:
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
/* Heads, the largest body and a partial trailer section (or chunk line), plus one byte to read the byte that
 * takes a section over its cap: the buffer never needs more. */
#define BUFFER_CAP (HTTP_HEAD_CAP + TRANSPORT_REPLY_CAP + HTTP_HEAD_CAP + 1)

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

/* ---- Reading a reply (RFC 9112). Every line is judged when its LF arrives (a bare CR as soon as the byte after
 * it does), every cap as soon as it is passed, so the verdict never depends on how the bytes are cut into
 * segments and a reply that is already wrong is refused at once, never at the deadline. ---- */

enum line_state { LINE_MORE, LINE_DONE, LINE_BAD };

/* Where the line that starts at b[start] ends. Only bytes not looked at before are scanned (*seen, relative to
 * start, kept by the caller between calls; 0 for a new line), so a line trickled a byte at a time costs O(n) in
 * all. LINE_DONE with its length in *n (CRLF excluded) once the LF is in; LINE_BAD for a bare LF or a CR that
 * is not followed by LF (RFC 9112 2.2: neither is taken as a line end here); LINE_MORE otherwise. */
static enum line_state next_line(const uint8_t *b, size_t start, size_t len, size_t *seen, size_t *n) {
  for (size_t i = start + *seen; i < len; i++) {
    bool after_cr = i > start && b[i - 1] == '\r';
    if (b[i] == '\n') {
      if (!after_cr) return LINE_BAD;
      *n = i - 1 - start;
      *seen = 0;
      return LINE_DONE;
    }
    if (after_cr) return LINE_BAD;
  }
  *seen = len - start;
  return LINE_MORE;
}

/* The bytes of a partial line that are content for sure: a last CR may be the start of its CRLF. */
static size_t partial_content(const uint8_t *b, size_t start, size_t len) {
  return len - start - (len > start && b[len - 1] == '\r');
}

static bool is_tchar(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ws(uint8_t c) {
  return c == ' ' || c == '\t';
}

/* VCHAR, obs-text, SP and HTAB: what a field value and a reason phrase may hold (RFC 9110 5.5, RFC 9112 4). */
static bool is_text(uint8_t c) {
  return (c >= 0x20 && c != 0x7f) || c == '\t';
}

/* ASCII case-insensitive, whatever locale the host process set (strncasecmp follows it). word is lower case. */
static bool value_is(const uint8_t *v, size_t n, const char *word) {
  if (strlen(word) != n) return false;
  for (size_t i = 0; i < n; i++)
    if ((v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]) != (uint8_t)word[i]) return false;
  return true;
}

static size_t skip_ws(const uint8_t *p, size_t i, size_t n) {
  while (i < n && is_ws(p[i])) i++;
  return i;
}

static size_t skip_token(const uint8_t *p, size_t i, size_t n) {
  while (i < n && is_tchar(p[i])) i++;
  return i;
}

/* field-line = field-name ":" OWS field-value OWS (RFC 9112 5): no whitespace before the colon, no obs-fold (a
 * line that starts with whitespace has no name), no control character in the value. The name's length and the
 * value without its surrounding whitespace go out. */
static bool field_line(const uint8_t *p, size_t n, size_t *name, const uint8_t **v, size_t *vn) {
  size_t i = skip_token(p, 0, n);
  if (i == 0 || i == n || p[i] != ':') return false;
  for (size_t k = i + 1; k < n; k++)
    if (!is_text(p[k])) return false;
  size_t s = skip_ws(p, i + 1, n), e = n;
  while (e > s && is_ws(p[e - 1])) e--;
  *name = i, *v = p + s, *vn = e - s;
  return true;
}

/* A Connection value: tokens separated by commas with optional whitespace, empty elements allowed (RFC 9110
 * 5.6.1, 7.6.1); false when it is not that. *close is set when one of the tokens is "close". */
static bool connection_options(const uint8_t *v, size_t n, bool *close) {
  for (size_t i = 0;;) {
    size_t s = skip_ws(v, i, n), e = skip_token(v, s, n);
    if (value_is(v + s, e - s, "close")) *close = true;
    i = skip_ws(v, e, n);
    if (i == n) return true;
    if (v[i] != ',') return false;
    i++;
  }
}

/* chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) (RFC 9112 7.1.1); the extensions
 * themselves are ignored. */
static bool chunk_ext(const uint8_t *p, size_t i, size_t n) {
  while (i < n) {
    i = skip_ws(p, i, n);
    if (i == n || p[i] != ';') return false;
    size_t s = skip_ws(p, i + 1, n);
    i = skip_token(p, s, n);
    if (i == s) return false;
    size_t eq = skip_ws(p, i, n);
    if (eq == n || p[eq] != '=') continue; /* whitespace left is the next extension's BWS, or refused */
    s = skip_ws(p, eq + 1, n);
    if (s < n && p[s] == '"') {
      for (i = s + 1; i < n && p[i] != '"'; i++) {
        if (p[i] == '\\' && ++i == n) return false;
        if (!is_text(p[i])) return false;
      }
      if (i == n) return false;
      i++;
    } else {
      i = skip_token(p, s, n);
      if (i == s) return false;
    }
  }
  return true;
}

enum framing { FRAME_NONE, FRAME_LENGTH, FRAME_CHUNKED };

struct head {
  int minor;
  uint16_t status;
  enum framing framing;
  size_t length; /* saturates just above TRANSPORT_REPLY_CAP */
  bool close;
};

/* status-line = HTTP-version SP status-code SP [ reason-phrase ] (RFC 9112 4), the SP before an empty reason
 * tolerated missing; HTTP/1.0 or 1.1; a code of 100-599 (RFC 9110 15). Starts a new head. */
static bool status_line(const uint8_t *p, size_t n, struct head *h) {
  if (n < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') || p[8] != ' ') return false;
  for (int i = 9; i < 12; i++)
    if (p[i] < '0' || p[i] > '9') return false;
  if (p[9] < '1' || p[9] > '5' || (n > 12 && p[12] != ' ')) return false;
  for (size_t i = 12; i < n; i++)
    if (!is_text(p[i])) return false;
  memset(h, 0, sizeof *h);
  h->minor = p[7] - '0';
  h->status = (uint16_t)((p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0'));
  h->close = h->minor == 0;
  return true;
}

/* One header field line of the head h (its status line already read). */
static bool head_field(const uint8_t *p, size_t n, struct head *h) {
  size_t name, vn;
  const uint8_t *v;
  if (!field_line(p, n, &name, &v, &vn)) return false;
  bool interim = h->status < 200;
  if (value_is(p, name, "content-length")) {
    /* Exactly one, digits only (a repeated or listed value may be refused: RFC 9110 8.6); none in a 1xx (ibid.),
     * none beside Transfer-Encoding (RFC 9112 6.3). */
    if (interim || h->framing != FRAME_NONE || vn == 0) return false;
    size_t value = 0;
    for (size_t i = 0; i < vn; i++) {
      if (v[i] < '0' || v[i] > '9') return false;
      if (value <= TRANSPORT_REPLY_CAP) value = value * 10 + (size_t)(v[i] - '0');
    }
    h->framing = FRAME_LENGTH;
    h->length = value;
  } else if (value_is(p, name, "transfer-encoding")) {
    /* chunked and nothing else, once; none in a 1xx (RFC 9112 6.1), none from HTTP/1.0 (ibid.: its framing is
     * faulty), none beside Content-Length. */
    if (interim || h->minor == 0 || h->framing != FRAME_NONE || !value_is(v, vn, "chunked")) return false;
    h->framing = FRAME_CHUNKED;
  } else if (value_is(p, name, "content-encoding")) {
    if (!value_is(v, vn, "identity")) return false;
  } else if (value_is(p, name, "connection")) {
    if (!connection_options(v, vn, &h->close)) return false;
  }
  return true;
}

enum chunk_state { CHUNK_SIZE, CHUNK_DATA, CHUNK_DATA_END, CHUNK_TRAILERS, CHUNK_DONE };

struct chunked {
  enum chunk_state state;
  size_t r, w;       /* raw read position, decoded write position (w <= r), in the buffer */
  size_t remaining;  /* of the current chunk's data */
  size_t decoded;    /* body bytes so far */
  size_t trailers;   /* trailer section bytes so far, line ends included */
  size_t seen;       /* bytes of the current size or trailer line already scanned */
};

/* A chunk-size line: 1*HEXDIG [ chunk-ext ]. The size saturates just above what the body may still take. */
static enum transport_result chunk_size_line(const uint8_t *p, size_t n, size_t room, size_t *size) {
  size_t i = 0, value = 0;
  for (; i < n; i++) {
    uint8_t d = p[i];
    int x = d >= '0' && d <= '9' ? d - '0' : (d | 0x20) >= 'a' && (d | 0x20) <= 'f' ? (d | 0x20) - 'a' + 10 : -1;
    if (x < 0) break;
    if (value <= room) value = value * 16 + (size_t)x;
  }
  if (i == 0 || !chunk_ext(p, i, n)) return TE_MALFORMED;
  if (value > room) return TE_TOO_LARGE;
  *size = value;
  return TRANSPORT_OK;
}

/* Decodes what has arrived, in place; TRANSPORT_OK with state CHUNK_DONE when complete, TRANSPORT_OK otherwise
 * to ask for more, or an error. Consumed framing is squeezed out so the buffer stays within BUFFER_CAP. */
static enum transport_result dechunk(struct http_buffer *in, struct chunked *c) {
  uint8_t *b = in->data;
  while (c->state != CHUNK_DONE) {
    size_t avail = in->len - c->r;
    if (c->state == CHUNK_SIZE || c->state == CHUNK_TRAILERS) {
      size_t n;
      enum line_state ls = next_line(b, c->r, in->len, &c->seen, &n);
      if (ls == LINE_BAD) return TE_MALFORMED;
      if (ls == LINE_MORE) {
        /* Over its cap already, whatever comes next. A size line's cap is on its content (its CR may be in and
         * its LF not yet); the trailers' on the section's bytes, line ends included. */
        if (c->state == CHUNK_SIZE ? partial_content(b, c->r, in->len) > CHUNK_LINE_CAP
                                   : avail > HTTP_HEAD_CAP - c->trailers)
          return TE_MALFORMED;
        break;
      }
      const uint8_t *p = b + c->r;
      c->r += n + 2;
      if (c->state == CHUNK_TRAILERS) {
        if (n + 2 > HTTP_HEAD_CAP - c->trailers) return TE_MALFORMED; /* c->trailers <= HTTP_HEAD_CAP always */
        c->trailers += n + 2;
        size_t name, vn;
        const uint8_t *v;
        if (n == 0) c->state = CHUNK_DONE;
        else if (!field_line(p, n, &name, &v, &vn)) return TE_MALFORMED;
        continue;
      }
      if (n > CHUNK_LINE_CAP) return TE_MALFORMED;
      size_t size = 0;
      enum transport_result r = chunk_size_line(p, n, TRANSPORT_REPLY_CAP - c->decoded, &size);
      if (r != TRANSPORT_OK) return r;
      c->remaining = size;
      c->state = size ? CHUNK_DATA : CHUNK_TRAILERS;
    } else if (c->state == CHUNK_DATA) {
      if (avail == 0) break;
      size_t take = avail < c->remaining ? avail : c->remaining;
      memmove(b + c->w, b + c->r, take);
      c->w += take, c->r += take, c->decoded += take, c->remaining -= take;
      if (c->remaining == 0) c->state = CHUNK_DATA_END;
    } else { /* CHUNK_DATA_END: the CRLF after the data, each byte judged as it arrives */
      if (avail == 0) break;
      if (b[c->r] != '\r') return TE_MALFORMED;
      if (avail < 2) break;
      if (b[c->r + 1] != '\n') return TE_MALFORMED;
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
  size_t pos = 0, seen = 0; /* the line being read starts at pos; seen of its bytes were scanned */
  bool want_status = true;
  int interim = 0;
  struct head h = {0};
  in->len = 0;
  for (;;) { /* heads, a line at a time; every head stays in the buffer, so pos counts all of them */
    size_t n;
    enum line_state ls = next_line(in->data, pos, in->len, &seen, &n);
    if (ls == LINE_BAD) return TE_MALFORMED;
    if (ls == LINE_MORE) {
      if (in->len > HTTP_HEAD_CAP) return TE_MALFORMED; /* all of it is head so far */
      /* Not HTTP/1.x at all (HTTP/0.9, another protocol): say so now rather than wait for a line end. */
      size_t have = in->len - pos;
      if (want_status && memcmp(in->data + pos, "HTTP/1.", have < 7 ? have : 7) != 0) return TE_MALFORMED;
      int got = receive_more(conn, in, &err, why);
      if (got < 0) return err;
      if (got == 0) return TE_CLOSED;
      *got_bytes = true;
      continue;
    }
    const uint8_t *line = in->data + pos;
    pos += n + 2;
    if (pos > HTTP_HEAD_CAP) return TE_MALFORMED;
    if (want_status) {
      if (!status_line(line, n, &h)) return TE_MALFORMED;
      /* we never ask to switch protocols */
      if (h.status < 200 && (h.status == 101 || ++interim > MAX_INTERIM)) return TE_MALFORMED;
      want_status = false;
    } else if (n > 0) {
      if (!head_field(line, n, &h)) return TE_MALFORMED;
    } else if (h.status < 200) {
      want_status = true; /* an interim reply ended; the next head follows */
    } else {
      break;
    }
  }
  size_t body_start = pos;
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
