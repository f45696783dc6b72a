/* canned: a fast HTTP/1.1 responder for the benchmarks. Answers every complete request (head + Content-Length
 * body) with the same bytes at once, keeps connections open, never blocks on a slow client. Two epoll threads
 * share the listeners (EPOLLEXCLUSIVE): 127.0.0.1 and, if given, a unix socket (the module's default transport),
 * so it stays ahead of every client on a 2-core machine.
 *
 *   canned REPLY_FILE [RECORD_FILE [SOCKET_PATH]]
 *
 * Prints "port N" on stdout once listening. The first request it reads on each listener is written to
 * RECORD_FILE (TCP) and RECORD_FILE.unix (so the raw client can send exactly the bytes the module sends over
 * each). Runs until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define BUF 65536

enum { TCP, UNIX_SOCKET, LISTENERS };

struct conn {
  int fd;
  int kind; /* which listener it came from */
  size_t len;
  char buf[BUF];
};

/* A listener's epoll tag: conn pointers are the other tags. */
struct listener {
  int fd;
  int kind;
};

static char *reply;
static size_t reply_len;
static struct listener listeners[LISTENERS] = {{-1, TCP}, {-1, UNIX_SOCKET}};
static const char *record_path;
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static int recorded[LISTENERS];

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  struct stat st;
  fstat(fileno(f), &st);
  char *b = malloc((size_t)st.st_size);
  *len = fread(b, 1, (size_t)st.st_size, f);
  fclose(f);
  return b;
}

/* Length of the first complete request in c->buf, or 0 if more bytes are needed. */
static size_t complete_request(const struct conn *c) {
  const char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
  if (!end) return 0;
  size_t head = (size_t)(end - c->buf) + 4, body = 0;
  for (const char *p = c->buf; p < end; p++) {
    if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) {
      body = strtoul(p + 15, NULL, 10);
      break;
    }
  }
  return c->len >= head + body ? head + body : 0;
}

static void record(int kind, const char *data, size_t len) {
  pthread_mutex_lock(&record_lock);
  if (!recorded[kind] && record_path) {
    char path[4096];
    snprintf(path, sizeof path, "%s%s", record_path, kind == UNIX_SOCKET ? ".unix" : "");
    FILE *f = fopen(path, "wb");
    if (f) fwrite(data, 1, len, f), fclose(f);
    recorded[kind] = 1;
  }
  pthread_mutex_unlock(&record_lock);
}

static void close_conn(int ep, struct conn *c) {
  epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  free(c);
}

static void *loop(void *arg) {
  (void)arg;
  int ep = epoll_create1(EPOLL_CLOEXEC);
  for (int k = 0; k < LISTENERS; k++) {
    if (listeners[k].fd < 0) continue;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = &listeners[k]};
    epoll_ctl(ep, EPOLL_CTL_ADD, listeners[k].fd, &ev);
  }
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(ep, events, 64, -1);
    for (int i = 0; i < n; i++) {
      void *tag = events[i].data.ptr;
      if (tag == &listeners[TCP] || tag == &listeners[UNIX_SOCKET]) {
        const struct listener *l = tag;
        for (;;) {
          int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          int one = 1;
          if (l->kind == TCP) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct conn *nc = malloc(sizeof *nc);
          nc->fd = fd;
          nc->kind = l->kind;
          nc->len = 0;
          struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      struct conn *c = tag;
      for (;;) {
        ssize_t r = read(c->fd, c->buf + c->len, BUF - c->len);
        if (r > 0) {
          c->len += (size_t)r;
          size_t used;
          while ((used = complete_request(c)) > 0) {
            record(c->kind, c->buf, used);
            /* The reply is small; a socket buffer always takes it whole on loopback. */
            if (write(c->fd, reply, reply_len) != (ssize_t)reply_len) break;
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
          }
          if (c->len == BUF) { close_conn(ep, c); break; }
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) break;
        close_conn(ep, c);
        break;
      }
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 2) return fprintf(stderr, "usage: canned REPLY_FILE [RECORD_FILE [SOCKET_PATH]]\n"), 2;
  reply = slurp(argv[1], &reply_len);
  if (!reply) return perror(argv[1]), 1;
  record_path = argc > 2 ? argv[2] : NULL;
  int tcp = listeners[TCP].fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof a;
  if (bind(tcp, (struct sockaddr *)&a, sizeof a) || listen(tcp, 4096)) return perror("listen"), 1;
  getsockname(tcp, (struct sockaddr *)&a, &alen);
  if (argc > 3) {
    struct sockaddr_un u = {.sun_family = AF_UNIX};
    if (strlen(argv[3]) >= sizeof u.sun_path) return fprintf(stderr, "canned: socket path too long\n"), 2;
    strcpy(u.sun_path, argv[3]);
    unlink(argv[3]);
    int unix_fd = listeners[UNIX_SOCKET].fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (bind(unix_fd, (struct sockaddr *)&u, sizeof u) || listen(unix_fd, 4096)) return perror(argv[3]), 1;
    chmod(argv[3], 0666); /* saslauthd runs as root, Apache's workers as www-data */
  }
  printf("port %d\n", ntohs(a.sin_port));
  fflush(stdout);
  pthread_t t;
  pthread_create(&t, NULL, loop, NULL);
  loop(NULL);
  return 0;
}
