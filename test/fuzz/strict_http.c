/* The fuzzer's oracle: see strict_http.h. Written from RFC 9112/9110 without looking at how the client is built:
 * one pass over the whole reply, each rule checked at the byte where a reader first knows it holds or fails, so
 * its verdict on a prefix is what an incremental reader must conclude on that prefix. */
#include "strict_http.h"

#include <stdlib.h>
#include <string.h>

struct reader {
  const uint8_t *d;
  size_t n;
  bool eof;
  struct strict_result *out;
};

/* Each returns false, so a rule that decides can `return refuse(...)`. */
static bool decide(struct reader *r, enum strict_verdict v, const char *why) {
  r->out->verdict = v;
  r->out->why = why;
  return false;
}
static bool invalid(struct reader *r, const char *why) { return decide(r, STRICT_INVALID, why); }
static bool limit(struct reader *r, const char *why) { return decide(r, STRICT_LIMIT, why); }
static bool more(struct reader *r) { return decide(r, STRICT_MORE, NULL); }

static bool sp_or_tab(uint8_t c) { return c == 0x20 || c == 0x09; }
/* VCHAR / obs-text / SP / HTAB: field-value bytes, reason-phrase, qdtext and quoted-pair (less '"' and '\') */
static bool text_byte(uint8_t c) { return c == 0x09 || c == 0x20 || (c >= 0x21 && c <= 0x7e) || c >= 0x80; }
static bool tchar(uint8_t c) {
  if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  switch (c) {
  case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.': case '^':
  case '_': case '`': case '|': case '~':
    return true;
  default:
    return false;
  }
}
static int hexval(uint8_t c) {
  if (c >= '0' && c <= '9') return c - '0';
  c |= 0x20;
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}
static bool same_ci(const uint8_t *p, size_t len, const char *word) {
  size_t k = 0;
  for (; k < len && word[k]; k++) {
    uint8_t a = p[k], b = (uint8_t)word[k];
    if (a >= 'A' && a <= 'Z') a += 32;
    if (a != b) return false;
  }
  return k == len && word[k] == 0;
}

/* The line that starts at `at`: 1 (content up to *cr, next line at *next), 0 (its end has not arrived), -1 (a LF
 * without CR before it, or a CR with something else than LF after it). */
static int line_at(const struct reader *r, size_t at, size_t *cr, size_t *next) {
  for (size_t k = at; k < r->n; k++) {
    if (r->d[k] == '\n') return -1;
    if (r->d[k] == '\r') {
      if (k + 1 == r->n) return 0;
      if (r->d[k + 1] != '\n') return -1;
      *cr = k;
      *next = k + 2;
      return 1;
    }
  }
  return 0;
}

struct head {
  int version_minor, status;
  bool has_length, has_chunked, close;
  size_t length; /* saturated above the body cap */
};

static bool parse_status_line(const uint8_t *p, size_t len, struct head *h) {
  static const char version[] = "HTTP/1.";
  if (len < 12 || memcmp(p, version, 7) != 0) return false;
  if (p[7] != '0' && p[7] != '1') return false;
  if (p[8] != ' ') return false;
  int code = 0;
  for (size_t k = 9; k < 12; k++) {
    if (p[k] < '0' || p[k] > '9') return false;
    code = code * 10 + (p[k] - '0');
  }
  if (code < 100 || code > 599) return false; /* RFC 9110 15 */
  if (len > 12) {
    if (p[12] != ' ') return false;
    for (size_t k = 13; k < len; k++)
      if (!text_byte(p[k])) return false;
  }
  h->version_minor = p[7] - '0';
  h->status = code;
  h->close = h->version_minor == 0;
  return true;
}

/* field-line = field-name ":" OWS field-value OWS; the value trimmed out. */
static bool split_field(const uint8_t *p, size_t len, size_t *name_len, size_t *v0, size_t *v1) {
  size_t k = 0;
  while (k < len && tchar(p[k])) k++;
  if (k == 0 || k == len || p[k] != ':') return false;
  *name_len = k;
  for (size_t j = k + 1; j < len; j++)
    if (!text_byte(p[j])) return false;
  size_t a = k + 1, b = len;
  while (a < b && sp_or_tab(p[a])) a++;
  while (b > a && sp_or_tab(p[b - 1])) b--;
  *v0 = a, *v1 = b;
  return true;
}

/* Connection = #connection-option: elements (tokens) and empty elements between commas, OWS around them. */
static bool connection_list(const uint8_t *v, size_t len, bool *close) {
  size_t k = 0;
  for (;;) {
    while (k < len && sp_or_tab(v[k])) k++;
    size_t t = k;
    while (k < len && tchar(v[k])) k++;
    if (same_ci(v + t, k - t, "close")) *close = true;
    while (k < len && sp_or_tab(v[k])) k++;
    if (k == len) return true;
    if (v[k] != ',') return false;
    k++;
  }
}

static bool header_field(struct reader *r, const uint8_t *p, size_t len, struct head *h) {
  size_t name_len, v0, v1;
  if (!split_field(p, len, &name_len, &v0, &v1)) return invalid(r, "a head line that is not a field line");
  const uint8_t *v = p + v0;
  size_t vlen = v1 - v0;
  bool informational = h->status < 200;
  if (same_ci(p, name_len, "content-length")) {
    if (informational) return invalid(r, "Content-Length in a 1xx (RFC 9110 8.6)");
    if (h->has_chunked) return invalid(r, "Content-Length beside Transfer-Encoding (RFC 9112 6.3)");
    if (h->has_length) return invalid(r, "Content-Length twice (RFC 9110 8.6 lets a recipient refuse it)");
    if (vlen == 0) return invalid(r, "an empty Content-Length");
    size_t value = 0;
    for (size_t k = 0; k < vlen; k++) {
      if (v[k] < '0' || v[k] > '9') return invalid(r, "a Content-Length that is not 1*DIGIT (a list may be refused)");
      value = value > STRICT_BODY_CAP ? value : value * 10 + (size_t)(v[k] - '0');
    }
    h->has_length = true;
    h->length = value;
  } else if (same_ci(p, name_len, "transfer-encoding")) {
    if (informational) return invalid(r, "Transfer-Encoding in a 1xx (RFC 9112 6.1)");
    if (h->version_minor == 0) return invalid(r, "Transfer-Encoding from HTTP/1.0 (RFC 9112 6.1: faulty framing)");
    if (h->has_length) return invalid(r, "Transfer-Encoding beside Content-Length (RFC 9112 6.3)");
    if (h->has_chunked) return invalid(r, "chunked applied twice (RFC 9112 7)");
    if (!same_ci(v, vlen, "chunked")) return limit(r, "policy: a transfer coding other than exactly chunked");
    h->has_chunked = true;
  } else if (same_ci(p, name_len, "content-encoding")) {
    if (!same_ci(v, vlen, "identity")) return limit(r, "policy: a content coding other than identity");
  } else if (same_ci(p, name_len, "connection")) {
    if (!connection_list(v, vlen, &h->close)) return invalid(r, "Connection is not a list of tokens (RFC 9110 7.6.1)");
  }
  return true;
}

/* chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), val = token / quoted-string */
static bool chunk_extensions(const uint8_t *p, size_t i, size_t len) {
  while (i < len) {
    size_t j = i;
    while (j < len && sp_or_tab(p[j])) j++;
    if (j == len || p[j] != ';') return false;
    j++;
    while (j < len && sp_or_tab(p[j])) j++;
    size_t t = j;
    while (j < len && tchar(p[j])) j++;
    if (j == t) return false;
    size_t k = j;
    while (k < len && sp_or_tab(p[k])) k++;
    if (k < len && p[k] == '=') {
      k++;
      while (k < len && sp_or_tab(p[k])) k++;
      if (k < len && p[k] == '"') {
        k++;
        for (;;) {
          if (k == len) return false;
          uint8_t c = p[k];
          if (c == '"') {
            k++;
            break;
          }
          if (c == '\\') {
            if (++k == len || !text_byte(p[k])) return false;
          } else if (!text_byte(c)) {
            return false;
          }
          k++;
        }
      } else {
        t = k;
        while (k < len && tchar(p[k])) k++;
        if (k == t) return false;
      }
      j = k;
    }
    i = j;
  }
  return true;
}

static bool message(struct reader *r, const uint8_t *body, size_t len, bool copy) {
  r->out->verdict = STRICT_MESSAGE;
  r->out->body_len = len;
  if (copy) {
    r->out->body = malloc(len ? len : 1);
    if (r->out->body == NULL) abort();
    if (len) memcpy(r->out->body, body, len);
  }
  return false;
}

static bool chunked_body(struct reader *r, size_t at) {
  uint8_t *body = malloc(STRICT_BODY_CAP + 1);
  if (body == NULL) abort();
  size_t total = 0, cr, next;
  bool done = false;
  for (;;) {
    int line = line_at(r, at, &cr, &next);
    if (line < 0) {
      invalid(r, "a bare CR or LF in a chunk-size line");
      break;
    }
    if (line == 0) {
      size_t sure = r->n - at - (r->n > at && r->d[r->n - 1] == '\r');
      if (sure > STRICT_CHUNK_LINE_CAP) limit(r, "limit: a chunk-size line over 1024 bytes");
      else more(r);
      break;
    }
    const uint8_t *p = r->d + at;
    size_t len = cr - at;
    if (len > STRICT_CHUNK_LINE_CAP) {
      limit(r, "limit: a chunk-size line over 1024 bytes");
      break;
    }
    size_t digits = 0, size = 0;
    while (digits < len && hexval(p[digits]) >= 0) {
      if (size <= STRICT_BODY_CAP) size = size * 16 + (size_t)hexval(p[digits]);
      digits++;
    }
    if (digits == 0 || !chunk_extensions(p, digits, len)) {
      invalid(r, "a chunk-size line outside 1*HEXDIG [ chunk-ext ]");
      break;
    }
    if (size > STRICT_BODY_CAP - total) {
      decide(r, STRICT_TOO_LARGE, "limit: a body over 1 MiB");
      break;
    }
    at = next;
    if (size == 0) {
      done = true;
      break;
    }
    if (r->n - at < size) {
      more(r);
      break;
    }
    memcpy(body + total, r->d + at, size);
    total += size;
    at += size;
    if (at == r->n) {
      more(r);
      break;
    }
    if (r->d[at] != '\r') {
      invalid(r, "chunk data not followed by CRLF");
      break;
    }
    if (at + 1 == r->n) {
      more(r);
      break;
    }
    if (r->d[at + 1] != '\n') {
      invalid(r, "chunk data not followed by CRLF");
      break;
    }
    at += 2;
  }
  if (done) { /* trailer-section CRLF */
    size_t section = 0;
    for (;;) {
      int line = line_at(r, at, &cr, &next);
      if (line < 0) {
        invalid(r, "a bare CR or LF in the trailers");
        break;
      }
      if (line == 0) {
        if (section + (r->n - at) > STRICT_TRAILER_CAP) limit(r, "limit: trailers over 16 KiB");
        else more(r);
        break;
      }
      section += next - at;
      if (section > STRICT_TRAILER_CAP) {
        limit(r, "limit: trailers over 16 KiB");
        break;
      }
      if (cr == at) {
        message(r, body, total, true);
        break;
      }
      size_t name_len, v0, v1;
      if (!split_field(r->d + at, cr - at, &name_len, &v0, &v1)) {
        invalid(r, "a trailer line that is not a field line");
        break;
      }
      at = next;
    }
  }
  free(body);
  return false;
}

static void read_reply(struct reader *r) {
  size_t at = 0, cr, next;
  int interim = 0;
  struct head h;
  for (;;) {
    memset(&h, 0, sizeof h);
    int line = line_at(r, at, &cr, &next);
    if (line < 0) {
      invalid(r, "a bare CR or LF in a status line");
      return;
    }
    if (line == 0) {
      size_t have = r->n - at;
      if (r->n > STRICT_HEAD_CAP) limit(r, "limit: heads over 16 KiB");
      else if (memcmp(r->d + at, "HTTP/1.", have < 7 ? have : 7) != 0) invalid(r, "not an HTTP/1.x status line");
      else more(r);
      return;
    }
    if (next > STRICT_HEAD_CAP) {
      limit(r, "limit: heads over 16 KiB");
      return;
    }
    if (!parse_status_line(r->d + at, cr - at, &h)) {
      invalid(r, "a bad status line");
      return;
    }
    at = next;
    if (h.status == 101) {
      invalid(r, "101 without an Upgrade asked for (RFC 9110 15.2.2)");
      return;
    }
    if (h.status < 200 && ++interim > STRICT_INTERIM_CAP) {
      limit(r, "limit: more than 8 interim replies");
      return;
    }
    for (;;) {
      line = line_at(r, at, &cr, &next);
      if (line < 0) {
        invalid(r, "a bare CR or LF in a head");
        return;
      }
      if (line == 0) {
        if (r->n > STRICT_HEAD_CAP) limit(r, "limit: heads over 16 KiB");
        else more(r);
        return;
      }
      if (next > STRICT_HEAD_CAP) {
        limit(r, "limit: heads over 16 KiB");
        return;
      }
      if (cr == at) break;
      if (!header_field(r, r->d + at, cr - at, &h)) return;
      at = next;
    }
    at = next;
    if (h.status >= 200) break;
  }
  r->out->status = h.status;
  if (h.status != 200 && h.status != 500) {
    decide(r, STRICT_STATUS, NULL);
    return;
  }
  if (h.has_length) {
    if (h.length > STRICT_BODY_CAP) decide(r, STRICT_TOO_LARGE, "limit: a body over 1 MiB");
    else if (r->n - at < h.length) more(r);
    else message(r, r->d + at, h.length, true);
    return;
  }
  if (h.has_chunked) {
    chunked_body(r, at);
    return;
  }
  /* RFC 9112 6.3 (8): the body runs to the close. The client takes that only when the server said it closes. */
  if (!h.close) {
    limit(r, "policy: no length and no close (a keep-alive reply that could only end at the close)");
    return;
  }
  if (r->n - at > STRICT_BODY_CAP) decide(r, STRICT_TOO_LARGE, "limit: a body over 1 MiB");
  else if (!r->eof) more(r);
  else message(r, r->d + at, r->n - at, true);
}

void strict_read(const uint8_t *data, size_t len, bool eof, bool limits, struct strict_result *out) {
  (void)limits; /* the limit classes are always reported, as STRICT_LIMIT / STRICT_TOO_LARGE */
  memset(out, 0, sizeof *out);
  struct reader r = {.d = data, .n = len, .eof = eof, .out = out};
  read_reply(&r);
}
