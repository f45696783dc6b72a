/* The physical limit of one SOAP logon round trip, shared by rawclient.c (without PAM) and pam_raw.c (inside
 * PAM): a fresh connection (TCP to 127.0.0.1:PORT, or a unix socket PATH, as the module opens one per PAM call),
 * the exact request bytes the module sent, a read of the whole reply (head + Content-Length body), close. No HTTP
 * library, no XML, no deadline. */
#ifndef PAM_MAPI_BENCH_ROUNDTRIP_H
#define PAM_MAPI_BENCH_ROUNDTRIP_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct endpoint {
  struct sockaddr_storage address;
  socklen_t length;
};

/* "PORT" (127.0.0.1) or "/absolute/path" (a unix socket); 0 on success. */
static inline int endpoint_parse(const char *spec, struct endpoint *e) {
  memset(e, 0, sizeof *e);
  if (spec[0] == '/') {
    struct sockaddr_un *u = (struct sockaddr_un *)&e->address;
    if (strlen(spec) >= sizeof u->sun_path) return -1;
    u->sun_family = AF_UNIX;
    strcpy(u->sun_path, spec);
    e->length = sizeof *u;
    return 0;
  }
  struct sockaddr_in *a = (struct sockaddr_in *)&e->address;
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)atoi(spec));
  a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  e->length = sizeof *a;
  return a->sin_port ? 0 : -1;
}

/* Reads up to `room` bytes of the reply from `source` (a socket, a TLS connection): how many, or <= 0 at the end. */
typedef long (*reply_reader)(void *source, char *into, size_t room);

/* Reads the whole reply (head + Content-Length body); 0 if it is a complete "HTTP/1.1 200", -1 otherwise. */
static inline int read_reply(reply_reader read_some, void *source) {
  char buf[16384];
  size_t len = 0;
  for (;;) {
    long r = read_some(source, buf + len, sizeof buf - len - 1);
    if (r <= 0) return -1;
    len += (size_t)r;
    buf[len] = '\0';
    char *end = strstr(buf, "\r\n\r\n");
    char *cl = strcasestr(buf, "\r\ncontent-length:");
    if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10))
      return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
  }
}

static inline long socket_read(void *fd, char *into, size_t room) { return read(*(int *)fd, into, room); }

/* One round trip; 0 if a complete "HTTP/1.1 200" reply came back. */
static inline int round_trip(const struct endpoint *e, const char *request, size_t request_len) {
  int fd = socket(e->address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, ok = -1;
  if (e->address.ss_family == AF_INET) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (const struct sockaddr *)&e->address, e->length) == 0 &&
      write(fd, request, request_len) == (ssize_t)request_len)
    ok = read_reply(socket_read, &fd);
  close(fd);
  return ok;
}

/* The request bytes from a file (what the canned responder recorded); its length, or -1. */
static inline long read_request(const char *path, char *out, size_t size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  size_t n = fread(out, 1, size, f);
  fclose(f);
  return n > 0 && n < size ? (long)n : -1;
}

#endif
