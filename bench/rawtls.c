/* rawtls: the physical limit of one SOAP logon round trip over TLS, looped without PAM: what the module has to
 * do at least. A fresh TCP connection to 127.0.0.1:PORT, a TLS handshake verified as the module verifies it
 * (TLS >= 1.2, the peer's certificate against CA_FILE, host name "localhost", SNI), the exact request bytes the
 * module sent, a read of the whole reply (head + Content-Length body), close_notify, close.
 *
 *   rawtls PORT CA_FILE REQUEST_FILE ITERATIONS [resume]   -> "us_per_auth X failures N resumed R cpu_us_per_auth C"
 *
 * With "resume" each connection offers the session of the one before (TLS 1.3 ticket or TLS 1.2 session id). */
#define _GNU_SOURCE
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "clock.h"
#include "roundtrip.h"

static char request[65536];

static long tls_read(void *ssl, char *into, size_t room) { return SSL_read(ssl, into, (int)room); }

/* One round trip; 0 if a complete "HTTP/1.1 200" reply came back. *session: offered, then replaced. */
static int tls_round_trip(SSL_CTX *ctx, const struct endpoint *e, size_t request_len, SSL_SESSION **session, int *resumed) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1, ok = -1;
  if (fd < 0) return -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  SSL *ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set1_host(ssl, "localhost");
  SSL_set_tlsext_host_name(ssl, "localhost");
  if (session && *session) SSL_set_session(ssl, *session);
  if (connect(fd, (const struct sockaddr *)&e->address, e->length) == 0 && SSL_connect(ssl) == 1 &&
      SSL_write(ssl, request, (int)request_len) == (int)request_len) {
    ok = read_reply(tls_read, ssl);
    *resumed += SSL_session_reused(ssl);
    if (session) {
      SSL_SESSION_free(*session);
      *session = SSL_get1_session(ssl);
    }
    SSL_shutdown(ssl);
  }
  SSL_free(ssl);
  ERR_clear_error();
  close(fd);
  return ok;
}

int main(int argc, char **argv) {
  if (argc != 5 && !(argc == 6 && strcmp(argv[5], "resume") == 0))
    return fprintf(stderr, "usage: rawtls PORT CA_FILE REQUEST_FILE ITERATIONS [resume]\n"), 2;
  struct endpoint e;
  if (endpoint_parse(argv[1], &e) != 0 || e.address.ss_family != AF_INET) return fprintf(stderr, "rawtls: bad port %s\n", argv[1]), 2;
  long request_len = read_request(argv[3], request, sizeof request);
  if (request_len < 0) return perror(argv[3]), 1;
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx || SSL_CTX_load_verify_locations(ctx, argv[2], NULL) != 1) return fprintf(stderr, "rawtls: cannot load %s\n", argv[2]), 1;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_SESSION *kept = NULL, **session = argc == 6 ? &kept : NULL;
  long iterations = atol(argv[4]), failures = 0;
  int resumed = 0;
  tls_round_trip(ctx, &e, (size_t)request_len, session, &resumed);
  resumed = 0;
  double start = now_us(), cpu_start = cpu_us();
  for (long i = 0; i < iterations; i++)
    if (tls_round_trip(ctx, &e, (size_t)request_len, session, &resumed) != 0) failures++;
  printf("us_per_auth %.2f failures %ld resumed %d cpu_us_per_auth %.2f\n", (now_us() - start) / (double)iterations,
         failures, resumed, (cpu_us() - cpu_start) / (double)iterations);
  return failures ? 1 : 0;
}
