/* rawclient: the physical limit of one SOAP logon round trip. Per iteration: a fresh TCP connection to
 * 127.0.0.1:PORT (as the module opens one per PAM call), the exact request bytes the module sent, a read of the
 * whole reply (head + Content-Length body), close. No HTTP library, no XML.
 *
 *   rawclient PORT REQUEST_FILE ITERATIONS     -> "us_per_auth X failures N" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static char request[65536];
static size_t request_len;

static int round_trip(const struct sockaddr_in *a) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1, ok = -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  char buf[16384];
  size_t len = 0;
  if (connect(fd, (const struct sockaddr *)a, sizeof *a) == 0 && write(fd, request, request_len) == (ssize_t)request_len) {
    for (;;) {
      ssize_t r = read(fd, buf + len, sizeof buf - len - 1);
      if (r <= 0) break;
      len += (size_t)r;
      buf[len] = '\0';
      char *end = strstr(buf, "\r\n\r\n");
      char *cl = strcasestr(buf, "\r\ncontent-length:");
      if (end && cl && len >= (size_t)(end + 4 - buf) + strtoul(cl + 17, NULL, 10)) {
        ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 ? 0 : -1;
        break;
      }
    }
  }
  close(fd);
  return ok;
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: rawclient PORT REQUEST_FILE ITERATIONS\n"), 2;
  FILE *f = fopen(argv[2], "rb");
  if (!f) return perror(argv[2]), 1;
  request_len = fread(request, 1, sizeof request, f);
  fclose(f);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  long iterations = atol(argv[3]), failures = 0;
  round_trip(&a);
  double start = now_us();
  for (long i = 0; i < iterations; i++)
    if (round_trip(&a) != 0) failures++;
  printf("us_per_auth %.2f failures %ld\n", (now_us() - start) / (double)iterations, failures);
  return failures ? 1 : 0;
}
