/* Validates the server URLs from `configure` again, with a strict grammar of our own (the guest's rules:
 * file:///path, http(s)://host[:port][/path]; no user info, query, fragment, percent-escape or dot segment),
 * and rebuilds each one in a normalised form, so what we checked is exactly what gets connected to, by the
 * module's own HTTP client for every scheme (see transport.c). */
#include "server_url.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "text.h"

#define MAX_URL 2048

/* RFC 3986 pchar without pct-encoded, plus '/': what the guest allows in a path. */
static bool path_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("/-._~!$&'()*+;=:", c);
}

/* A path of allowed characters with no "." or ".." segment. */
static bool path_valid(const char *p, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (p[i] == '\0' || !path_char(p[i])) return false;
  for (size_t i = 0; i < len;) {
    size_t j = i + 1;
    while (j < len && p[j] != '/') j++;
    size_t seg = j - i - 1;
    if ((seg == 1 && p[i + 1] == '.') || (seg == 2 && p[i + 1] == '.' && p[i + 2] == '.')) return false;
    i = j;
  }
  return true;
}

static bool dns_name_valid(const char *h, size_t len) {
  if (len == 0 || len > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= len; i++) {
    char c = i < len ? h[i] : '.';
    if (c == '.') {
      if (label == 0 || label > 63 || h[i - 1] == '-' || h[i - label] == '-') return false;
      label = 0;
    } else if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-') {
      label++;
    } else {
      return false;
    }
  }
  return true;
}

/* Does the last label read as a number: decimal digits, or 0x and hex digits? inet_aton, and so getaddrinfo,
 * takes one to four such parts (decimal, octal, hex) as an IPv4 address: 0x7f.0.0.1, 127.1 and 2130706433 all
 * connect to 127.0.0.1. As in the WHATWG URL host parser, a host that ends in a number is an address or nothing. */
static bool ends_in_number(const char *h, size_t len) {
  size_t start = len;
  while (start > 0 && h[start - 1] != '.') start--;
  const char *label = h + start;
  size_t n = len - start, i = 0;
  if (n >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')) {
    for (i = 2; i < n; i++) {
      char c = (char)(label[i] | 0x20);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
  }
  for (; i < n; i++)
    if (label[i] < '0' || label[i] > '9') return false;
  return n > 0;
}

/* Host: [IPv6], dotted IPv4, or a DNS name; a name that ends in a number must be a dotted quad (inet_pton: four
 * decimal parts, no leading zero), so what we checked is what getaddrinfo connects to. */
static bool host_valid(const char *h, size_t len, bool *bracketed) {
  char copy[256];
  *bracketed = len >= 2 && h[0] == '[' && h[len - 1] == ']';
  if (*bracketed) {
    if (len - 2 >= sizeof copy) return false;
    memcpy(copy, h + 1, len - 2);
    copy[len - 2] = '\0';
    unsigned char addr[16];
    return inet_pton(AF_INET6, copy, addr) == 1;
  }
  if (len >= sizeof copy || !dns_name_valid(h, len)) return false;
  if (!ends_in_number(h, len)) return true;
  memcpy(copy, h, len);
  copy[len] = '\0';
  unsigned char addr[4];
  return inet_pton(AF_INET, copy, addr) == 1;
}

static char *dup_range(const char *s, size_t len) {
  char *out = malloc(len + 1);
  if (out) memcpy(out, s, len), out[len] = '\0';
  return out;
}

static int parse_unix(const char *rest, struct server *out, const char **why) {
  if (strncmp(rest, "localhost/", 10) == 0) rest += 9;
  if (rest[0] != '/') {
    *why = "a file:// URL must not name a host and needs an absolute socket path";
    return -1;
  }
  size_t len = strlen(rest);
  if (len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    *why = "the socket path is too long for a unix socket";
    return -1;
  }
  if (!path_valid(rest, len) || rest[len - 1] == '/') {
    *why = "the socket path is not a plain absolute path";
    return -1;
  }
  out->kind = SERVER_UNIX;
  out->socket_path = strdup(rest);
  out->url = strdup("http://localhost/");
  out->host = strdup("localhost");
  out->authority = strdup("localhost");
  out->path = strdup("/");
  if (!out->socket_path || !out->url || !out->host || !out->authority || !out->path) {
    *why = "out of memory";
    return -1;
  }
  return 0;
}

static int parse_http(const char *scheme, const char *rest, bool tls, struct server *out, const char **why) {
  size_t authority_len = strcspn(rest, "/");
  const char *path = rest + authority_len;
  if (memchr(rest, '@', authority_len)) {
    *why = "user info, a query or a fragment is not allowed";
    return -1;
  }
  /* The port is after the last ':' outside brackets. */
  const char *close = memchr(rest, ']', authority_len);
  const char *from = close ? close : rest;
  const char *colon = memchr(from, ':', authority_len - (size_t)(from - rest));
  size_t host_len = colon ? (size_t)(colon - rest) : authority_len;
  bool bracketed;
  if (host_len == 0) {
    *why = "the URL has no host";
    return -1;
  }
  if (!host_valid(rest, host_len, &bracketed)) {
    *why = "the host is not a DNS name, a dotted-quad IPv4 address or an [IPv6] address (a name that ends in a "
           "number, like 0x7f.0.0.1 or 127.1, must be a dotted quad)";
    return -1;
  }
  unsigned long port = tls ? 443 : 80;
  if (colon) {
    const char *p = colon + 1, *end = rest + authority_len;
    size_t digits = (size_t)(end - p);
    if (digits == 0 || digits > 5 || p[0] == '0') {
      *why = "the port is not 1-65535";
      return -1;
    }
    port = 0;
    for (; p < end; p++) {
      if (*p < '0' || *p > '9') {
        *why = "the port is not 1-65535";
        return -1;
      }
      port = port * 10 + (unsigned long)(*p - '0');
    }
    if (port < 1 || port > 65535) {
      *why = "the port is not 1-65535";
      return -1;
    }
  }
  size_t path_len = strlen(path);
  if (path_len && !path_valid(path, path_len)) {
    *why = "user info, a query or a fragment is not allowed";
    return -1;
  }
  out->kind = tls ? SERVER_HTTPS : SERVER_HTTP;
  out->port = (uint16_t)port;
  out->host = bracketed ? dup_range(rest + 1, host_len - 2) : dup_range(rest, host_len);
  out->authority = dup_range(rest, authority_len);
  out->path = path_len ? strdup(path) : strdup("/");
  size_t url_size = strlen(scheme) + 3 + authority_len + path_len + 2;
  out->url = malloc(url_size);
  if (out->url) snprintf(out->url, url_size, "%s://%.*s%s", scheme, (int)authority_len, rest, path_len ? path : "/");
  if (!out->host || !out->authority || !out->path || !out->url) {
    *why = "out of memory";
    return -1;
  }
  return 0;
}

int server_parse(const char *text, struct server *out, const char **why) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(text);
  if (len == 0 || len > MAX_URL || text_has_control((const uint8_t *)text, len)) {
    *why = "empty, over-long or holds control characters";
    return -1;
  }
  if (strpbrk(text, "?#%")) {
    *why = "a query, a fragment or a percent-escape is not allowed";
    return -1;
  }
  int rc = -1;
  if (strncmp(text, "file://", 7) == 0) rc = parse_unix(text + 7, out, why);
  else if (strncmp(text, "http://", 7) == 0) rc = parse_http("http", text + 7, false, out, why);
  else if (strncmp(text, "https://", 8) == 0) rc = parse_http("https", text + 8, true, out, why);
  else *why = "the scheme must be file, http or https";
  if (rc != 0) server_clear(out);
  return rc;
}

void server_clear(struct server *s) {
  free(s->url);
  free(s->socket_path);
  free(s->host);
  free(s->authority);
  free(s->path);
  memset(s, 0, sizeof *s);
}
