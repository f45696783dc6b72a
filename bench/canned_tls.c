/* canned_tls: the TLS twin of canned.c for the https benchmarks. Answers every complete request (head +
 * Content-Length body) with the same bytes at once and keeps the connection open until the client closes it.
 * Two listeners on 127.0.0.1: the first resumes sessions (OpenSSL's server defaults: a session cache and
 * stateless tickets, as Kopano's gSOAP listener has them), the second never does (no cache, no tickets), so every
 * handshake on it is a full one. A thread per connection, so concurrent daemon workers (Apache, saslauthd) are
 * served side by side.
 *
 *   canned_tls REPLY_FILE CERT_FILE KEY_FILE RECORD_FILE
 *
 * Prints "ports RESUMING FULL" on stdout once listening; writes the first request it reads to RECORD_FILE (for
 * the raw TLS client). Runs until killed. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

static char reply[1 << 20];
static size_t reply_len;

static int listen_on_loopback(int *port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof a;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 128) != 0 ||
      getsockname(fd, (struct sockaddr *)&a, &len) != 0)
    return -1;
  *port = ntohs(a.sin_port);
  return fd;
}

static SSL_CTX *context(const char *cert, const char *key, bool resuming) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx || SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
    return NULL;
  SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"bench", 5);
  if (!resuming) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  return ctx;
}

static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;
static FILE *record;

/* Serves one connection until the client closes it. */
static void serve(SSL_CTX *ctx, int fd) {
  int one = 1;
  struct timeval idle = {.tv_sec = 5}; /* a client that goes quiet does not hold the responder */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  char buf[65536];
  size_t len = 0;
  if (SSL_accept(ssl) == 1) {
    for (;;) {
      int n = SSL_read(ssl, buf + len, (int)(sizeof buf - len - 1));
      if (n <= 0) break;
      len += (size_t)n;
      buf[len] = '\0';
      char *end = strstr(buf, "\r\n\r\n");
      char *cl = strcasestr(buf, "\r\ncontent-length:");
      size_t whole = end ? (size_t)(end + 4 - buf) + (cl ? strtoul(cl + 17, NULL, 10) : 0) : 0;
      if (!end || len < whole) continue;
      pthread_mutex_lock(&record_lock);
      if (record) {
        fwrite(buf, 1, whole, record);
        fclose(record);
        record = NULL;
      }
      pthread_mutex_unlock(&record_lock);
      if (SSL_write(ssl, reply, (int)reply_len) <= 0) break;
      memmove(buf, buf + whole, len - whole);
      len -= whole;
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ERR_clear_error();
  close(fd);
}

struct job {
  SSL_CTX *ctx;
  int fd;
};

static void *serve_thread(void *arg) {
  struct job job = *(struct job *)arg;
  free(arg);
  serve(job.ctx, job.fd);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 5) return fprintf(stderr, "usage: canned_tls REPLY_FILE CERT_FILE KEY_FILE RECORD_FILE\n"), 2;
  signal(SIGPIPE, SIG_IGN);
  FILE *f = fopen(argv[1], "rb");
  if (!f) return perror(argv[1]), 1;
  reply_len = fread(reply, 1, sizeof reply, f);
  fclose(f);
  record = fopen(argv[4], "wb");
  SSL_CTX *ctx[2] = {context(argv[2], argv[3], true), context(argv[2], argv[3], false)};
  int port[2], fd[2] = {listen_on_loopback(&port[0]), listen_on_loopback(&port[1])};
  if (!ctx[0] || !ctx[1] || fd[0] < 0 || fd[1] < 0 || !record) return fprintf(stderr, "canned_tls: set-up failed\n"), 1;
  printf("ports %d %d\n", port[0], port[1]);
  fflush(stdout);
  for (;;) {
    struct pollfd p[2] = {{.fd = fd[0], .events = POLLIN}, {.fd = fd[1], .events = POLLIN}};
    if (poll(p, 2, -1) <= 0) continue;
    for (int i = 0; i < 2; i++)
      if (p[i].revents & POLLIN) {
        int c = accept4(fd[i], NULL, NULL, SOCK_CLOEXEC);
        struct job *job = c >= 0 ? malloc(sizeof *job) : NULL;
        pthread_t thread;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (job) *job = (struct job){ctx[i], c};
        if (!job || pthread_create(&thread, &attr, serve_thread, job) != 0) {
          if (c >= 0) close(c);
          free(job);
        }
        pthread_attr_destroy(&attr);
      }
  }
}
