/* Differential fuzzer of the module's HTTP/1.1 client (native/http_client.c) against an independent strict
 * reader (strict_http.c). Each case is a reply, how the server ends (close, stay silent, reset) and a seed for how
 * the bytes are cut: http_post() runs on it three times (the reply in one piece, cut at random, cut into single
 * bytes or small pieces) and must, every time,
 *   - deliver exactly the strict reader's body when it accepts (status 200 or 500),
 *   - refuse only what the strict reader refuses, by an RFC rule or a named limit class (strict_http.h),
 *     with the same result (malformed, too-large, http-status and its code),
 *   - wait (timeout, closed) only when the strict reader still needs more bytes,
 *   - never be past its deadline when it returns, never block without a bound,
 * and ASan/UBSan must stay silent. The sockets and the clock are the harness's: connect, send, recv, setsockopt,
 * getaddrinfo and clock_gettime are wrapped at link time (-Wl,--wrap=...; see build-http-fuzz.sh), so the client
 * is exactly the module's code, its transport left as it is. recv hands out the scripted pieces; a silent server
 * makes recv return EAGAIN after the SO_RCVTIMEO the client set, on a virtual clock, so a 2 s deadline costs
 * nothing. Everything the client frames comes out of this recv loop, so the same framing over TLS is covered
 * once https reads through the same parser.
 *
 * Input format (libFuzzer and corpus files): byte 0 = how the server ends (% 3: 0 close, 1 silent, 2 reset),
 * byte 1 = cut seed, the rest = the reply bytes.
 *
 * Built two ways: with libFuzzer (-DHTTP_FUZZ_LIBFUZZER, coverage-guided, `npm run fuzz`) and as a plain program
 * with its own generator (fixed seed in CI: test/http-fuzz.test.ts):
 *   http-fuzz [--runs N | --seconds T] [--seed S] [FILE...]   (FILEs: replay those inputs only) */
#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "http_client.h"
#include "strict_http.h"

#define DEADLINE_NS 2000000000ull
#define START_NS 1000000000000ull

/* ---- the wrapped system: one scripted server, one virtual clock ---- */

static struct {
  const uint8_t *data;
  size_t len, off;
  const size_t *cuts; /* segment ends, ascending, the last == len */
  size_t ncuts, next_cut;
  int end;            /* 0 close, 1 silent, 2 reset */
  uint64_t now;
  uint64_t rcvtimeo_ns; /* the last SO_RCVTIMEO the client set; 0 = none (a recv would block for ever) */
  unsigned long recvs;
  const char *fault;  /* the harness's own finding (blocking without a bound, spinning) */
} S;

int __wrap_clock_gettime(clockid_t clock, struct timespec *ts) {
  (void)clock;
  ts->tv_sec = (time_t)(S.now / 1000000000u);
  ts->tv_nsec = (long)(S.now % 1000000000u);
  return 0;
}

int __wrap_setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  (void)fd;
  if (level == SOL_SOCKET && name == SO_RCVTIMEO && len == sizeof(struct timeval)) {
    const struct timeval *tv = value;
    S.rcvtimeo_ns = (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u;
  }
  return 0;
}

static struct sockaddr_in the_address = {.sin_family = AF_INET};
static struct addrinfo the_addrinfo = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM,
                                       .ai_addrlen = sizeof the_address, .ai_addr = (struct sockaddr *)&the_address};

int __wrap_getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) {
  (void)node, (void)service, (void)hints;
  *res = &the_addrinfo;
  return 0;
}

void __wrap_freeaddrinfo(struct addrinfo *ai) {
  (void)ai;
}

int __wrap_connect(int fd, const struct sockaddr *addr, socklen_t len) {
  (void)fd, (void)addr, (void)len;
  return 0;
}

ssize_t __wrap_send(int fd, const void *buf, size_t len, int flags) {
  (void)fd, (void)buf, (void)flags;
  return (ssize_t)len;
}

ssize_t __wrap_recv(int fd, void *buf, size_t cap, int flags) {
  (void)fd, (void)flags;
  if (++S.recvs > 50000000ul) {
    S.fault = "recv called without end (spinning)";
    errno = ECONNRESET;
    return -1;
  }
  if (cap == 0) {
    S.fault = "recv into a full buffer";
    errno = EINVAL;
    return -1;
  }
  if (S.off < S.len) {
    while (S.next_cut < S.ncuts && S.cuts[S.next_cut] <= S.off) S.next_cut++;
    size_t end = S.next_cut < S.ncuts ? S.cuts[S.next_cut] : S.len;
    size_t n = end - S.off < cap ? end - S.off : cap;
    memcpy(buf, S.data + S.off, n);
    S.off += n;
    S.now += 1000; /* 1 µs a segment: a trickle spends the clock only when the server is silent */
    return (ssize_t)n;
  }
  if (S.end == 0) return 0;
  if (S.end == 2) {
    errno = ECONNRESET;
    return -1;
  }
  if (S.rcvtimeo_ns == 0) { /* a real recv would block for ever */
    S.fault = "recv without a receive timeout set";
    errno = ECONNRESET;
    return -1;
  }
  S.now += S.rcvtimeo_ns;
  errno = EAGAIN;
  return -1;
}

/* ---- one case ---- */

static uint64_t rng_state;
static uint64_t rng(void) { /* splitmix64 */
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static size_t below(size_t n) { return n ? (size_t)(rng() % n) : 0; }

static struct {
  unsigned long cases, posts, findings;
  unsigned long verdicts[7];   /* by strict verdict */
  unsigned long classes[32];   /* limit/invalid reasons seen, by first-seen index */
  const char *class_names[32];
} stats;

static void count_class(const char *why) {
  for (int i = 0; i < 32; i++) {
    if (stats.class_names[i] == why) {
      stats.classes[i]++;
      return;
    }
    if (stats.class_names[i] == NULL) {
      stats.class_names[i] = why;
      stats.classes[i] = 1;
      return;
    }
  }
}

static const char *verdict_name(enum strict_verdict v) {
  static const char *const names[] = {"more", "message", "status", "invalid", "limit", "too-large"};
  return names[v];
}

static void dump(const uint8_t *d, size_t n) {
  fputc('"', stderr);
  for (size_t i = 0; i < n && i < 600; i++) {
    if (d[i] == '\r') fputs("\\r", stderr);
    else if (d[i] == '\n') fputs("\\n", stderr);
    else if (d[i] == '"' || d[i] == '\\') fprintf(stderr, "\\%c", d[i]);
    else if (d[i] < 0x20 || d[i] >= 0x7f) fprintf(stderr, "\\x%02x", d[i]);
    else fputc(d[i], stderr);
  }
  fprintf(stderr, "\"%s (%zu bytes)\n", n > 600 ? "..." : "", n);
}

static void finding(const char *what, const uint8_t *d, size_t n, int end, const char *cutting,
                    enum transport_result r, const struct strict_result *want) {
  stats.findings++;
  fprintf(stderr, "FINDING: %s\n  server ends: %s; cut: %s\n  client: %s; strict reader: %s%s%s (status %d)\n  reply: ",
          what, end == 0 ? "close" : end == 1 ? "silent" : "reset", cutting, transport_result_name(r),
          verdict_name(want->verdict), want->why ? ", " : "", want->why ? want->why : "", want->status);
  dump(d, n);
  abort();
}

static void post_once(const uint8_t *d, size_t n, int end, const size_t *cuts, size_t ncuts, const char *cutting,
                      const struct strict_result *want) {
  static char url[] = "http://127.0.0.1:236/", host[] = "127.0.0.1", authority[] = "127.0.0.1:236", path[] = "/";
  struct server server = {.kind = SERVER_HTTP, .url = url, .host = host, .authority = authority, .path = path, .port = 236};
  memset(&S, 0, sizeof S);
  S.data = d, S.len = n, S.cuts = cuts, S.ncuts = ncuts, S.end = end, S.now = START_NS;
  struct http_connection c = {.fd = -1};
  struct http_buffer in = {0};
  uint16_t status = 0;
  char why[TRANSPORT_CAUSE_CAP] = "";
  static const uint8_t body[] = "<soap/>";
  /* No trust anchors: the harness speaks plain http; the framing parser is the same for https (tls.c only moves
   * the bytes). */
  enum transport_result r = http_post(&c, &server, NULL, START_NS + DEADLINE_NS, body, sizeof body - 1, &in, &status, why);
  stats.posts++;
  if (S.fault) finding(S.fault, d, n, end, cutting, r, want);
  /* bound_next_wait rounds the time left up to a microsecond */
  if (S.now > START_NS + DEADLINE_NS + 999) finding("returned after the deadline", d, n, end, cutting, r, want);
  bool ok;
  switch (want->verdict) {
  case STRICT_MESSAGE:
    ok = r == TRANSPORT_OK && status == want->status && in.len == want->body_len &&
         (in.len == 0 || memcmp(in.data, want->body, in.len) == 0);
    break;
  case STRICT_STATUS:
    ok = r == TE_HTTP_STATUS && status == want->status;
    break;
  case STRICT_INVALID:
  case STRICT_LIMIT:
    ok = r == TE_MALFORMED;
    break;
  case STRICT_TOO_LARGE:
    ok = r == TE_TOO_LARGE;
    break;
  default: /* more bytes needed: the client may only be waiting for them */
    ok = end == 1 ? r == TE_TIMEOUT : r == TE_CLOSED;
    break;
  }
  if (!ok) finding(r == TRANSPORT_OK ? "the client accepted what the strict reader did not (or another body)"
                                     : "the client's verdict differs from the strict reader's",
                   d, n, end, cutting, r, want);
  if (r != TE_TIMEOUT && S.now - START_NS > 1000ull * (S.recvs + 1))
    finding("the client waited though the reply was decided", d, n, end, cutting, r, want);
  http_close(&c);
  http_buffer_free(&in);
}

/* One case: the strict verdict once, then the client on three cuttings. */
static void run_case(const uint8_t *d, size_t n, int end, uint8_t cut_seed) {
  struct strict_result want;
  strict_read(d, n, end == 0, true, &want);
  stats.cases++;
  stats.verdicts[want.verdict]++;
  if (want.why) count_class(want.why);
  size_t *cuts = malloc((n + 1) * sizeof *cuts);
  if (cuts == NULL) abort();
  post_once(d, n, end, NULL, 0, "one piece", &want);
  /* random cuts from the seed: a few big pieces or many small ones */
  uint64_t saved = rng_state;
  rng_state = 0x5eed0000ull + cut_seed;
  size_t ncuts = 0, at = 0, step = 1 + (cut_seed % 4 == 0 ? below(8) : below(n / 3 + 2));
  while (at < n) {
    at += 1 + below(step * 2);
    cuts[ncuts++] = at < n ? at : n;
  }
  post_once(d, n, end, cuts, ncuts, "random pieces", &want);
  /* single bytes (small pieces for a large reply) */
  size_t piece = n <= 8192 ? 1 : n / 4096 + 1;
  ncuts = 0;
  for (at = piece; at < n + piece; at += piece) cuts[ncuts++] = at < n ? at : n;
  post_once(d, n, end, cuts, ncuts, piece == 1 ? "single bytes" : "small pieces", &want);
  rng_state = saved;
  free(cuts);
  free(want.body);
}

static void run_input(const uint8_t *data, size_t size) {
  if (size < 2) return;
  run_case(data + 2, size - 2, data[0] % 3, data[1]);
}

#ifdef HTTP_FUZZ_LIBFUZZER
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run_input(data, size);
  return 0;
}
#else
#include "http-fuzz-gen.h"
#endif
