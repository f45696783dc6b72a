/* blackhole: three kinds of dead Kopano server on loopback, for the failover measurements.
 *   refused: a port nobody listens on (bound, then closed): connect gets RST at once;
 *   silent:  a listener that completes the handshake (kernel backlog) but never reads or answers;
 *   drop:    a listener with a full accept queue: the kernel drops further SYNs, so connect hangs;
 *   and, given SOCKET_PATH, a unix socket listener with a full accept queue: connect fails with EAGAIN at once.
 * Prints "refused P silent P drop P" and waits until killed. Also built by test/faults.test.ts.
 *
 *   blackhole [SOCKET_PATH] */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int listener(int backlog, int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0) return -1;
  if (backlog >= 0 && listen(fd, backlog) != 0) return -1;
  getsockname(fd, (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return fd;
}

/* A unix listener whose accept queue is full: no connection is ever accepted, and a new connect says EAGAIN. */
static int full_unix_listener(const char *path) {
  struct sockaddr_un u = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof u.sun_path) return -1;
  strcpy(u.sun_path, path);
  unlink(path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&u, sizeof u) != 0 || listen(fd, 0) != 0) return -1;
  for (int i = 0; i < 4; i++) {
    int c = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (connect(c, (struct sockaddr *)&u, sizeof u) != 0) close(c);
  }
  return fd;
}

int main(int argc, char **argv) {
  if (argc > 1 && full_unix_listener(argv[1]) < 0) return perror(argv[1]), 1;
  int refused_port, silent_port, drop_port;
  int refused = listener(-1, &refused_port);
  close(refused); /* the port is now free and nobody listens: connect is refused */
  if (listener(128, &silent_port) < 0) return perror("silent"), 1;
  int drop = listener(0, &drop_port);
  if (drop < 0) return perror("drop"), 1;
  /* Fill the accept queue (backlog 0 holds one connection) so that later SYNs are dropped. */
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)drop_port),
                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  for (int i = 0; i < 4; i++) {
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    connect(c, (struct sockaddr *)&a, sizeof a);
    usleep(20000);
  }
  printf("refused %d silent %d drop %d\n", refused_port, silent_port, drop_port);
  fflush(stdout);
  for (;;) pause();
}
