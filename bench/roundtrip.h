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

#define REPLY_INCOMPLETE 1

/* The reply read so far (buf[len] == '\0'): REPLY_INCOMPLETE until its head and its Content-Length body are all
 * there, then 0 for "HTTP/1.1 200" and -1 for any other status. */
static inline int reply_status(const char *buf, size_t len) {
  const char *end = strstr(buf, "\r\n\r\n");
  const char *cl = strcasestr(buf, "\r\ncontent-length:");
  if (!end || !cl || len < (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10)) return REPLY_INCOMPLETE;
  return strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
}

/* One round trip; 0 if a complete "HTTP/1.1 200" reply came back. */
static inline int round_trip(const struct endpoint *e, const char *request, size_t request_len) {
  int fd = socket(e->address.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, ok = -1;
  if (e->address.ss_family == AF_INET) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char buf[16384];
  size_t len = 0;
  if (connect(fd, (const struct sockaddr *)&e->address, e->length) == 0 &&
      write(fd, request, request_len) == (ssize_t)request_len) {
    for (;;) {
      ssize_t r = read(fd, buf + len, sizeof buf - len - 1);
      if (r <= 0) break;
      len += (size_t)r;
      buf[len] = '\0';
      int status = reply_status(buf, len);
      if (status != REPLY_INCOMPLETE) {
        ok = status;
        break;
      }
    }
  }
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
