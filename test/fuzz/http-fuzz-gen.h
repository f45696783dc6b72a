/* The plain driver of http-fuzz.c (no libFuzzer): replays input files, or generates replies from a seed. The
 * generator builds replies from the grammar's parts, right and wrong, with sizes around every cap, then mutates
 * some bytes, so a short fixed-seed run in CI reaches every verdict. Included by http-fuzz.c only. */

struct text {
  uint8_t *p;
  size_t n, cap;
};

static void put(struct text *t, const void *s, size_t n) {
  if (t->n + n > t->cap) {
    t->cap = (t->n + n) * 2 + 64;
    t->p = realloc(t->p, t->cap);
    if (t->p == NULL) abort();
  }
  memcpy(t->p + t->n, s, n);
  t->n += n;
}
static void puts_(struct text *t, const char *s) { put(t, s, strlen(s)); }
static void putf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct text *t, const char *fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  put(t, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}
static void repeat(struct text *t, char c, size_t n) {
  put(t, "", 0);
  while (n > 0) {
    char block[256];
    size_t k = n < sizeof block ? n : sizeof block;
    memset(block, c, k);
    put(t, block, k);
    n -= k;
  }
}
static const char *pick(const char *const *list, size_t n) { return list[below(n)]; }
#define PICK(list) pick(list, sizeof list / sizeof *list)
static bool chance(unsigned percent) { return below(100) < percent; }

/* a size near a cap, or small */
static size_t near(size_t cap) { return chance(50) ? cap - 2 + below(5) : below(cap + 2); }

static const char *const STATUS_LINES[] = {
  "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 200 OK", "HTTP/1.1 500 Internal Server Error", "HTTP/1.0 200 OK",
  "HTTP/1.1 200", "HTTP/1.1 200 ", "HTTP/1.1 404 Not Found", "HTTP/1.1 302 Found", "HTTP/1.1 204 No Content",
  "HTTP/1.1 101 Switching Protocols", "HTTP/2 200", "HTTP/1.2 200 OK", "http/1.1 200 OK", "HTTP/1.1 2000 OK",
  "HTTP/1.1 099 X", "HTTP/1.1 600 X", "HTTP/1.1 200 O\tK", "HTTP/1.1 200 \xe9t\xe9", "HTTP/1.1 200 O\x01K",
  "HTTP/1.1  200 OK", "ICY 200 OK", "HTTP/1.1 599 x", "HTTP/1.0 500 x",
};
static const char *const INTERIM_LINES[] = {"HTTP/1.1 100 Continue", "HTTP/1.1 102 Processing", "HTTP/1.1 103 Early Hints", "HTTP/1.1 199"};
static const char *const EXTRA_FIELDS[] = {
  "Server: gSOAP/2.8", "Content-Type: text/xml; charset=utf-8", "X-Empty:", "X-Tab:\tv\t", "X-Obs: \x80\xff",
  "Connection: keep-alive", "Connection: close", "Connection: Keep-Alive, Close", "Connection: keep-alive close",
  "Connection: ,close,", "Connection: keep-alive ,\tclose", "Connection: close;x", "Connection:", "connection: CLOSE",
  "Content-Encoding: identity", "Content-Encoding: gzip", "Content-Encoding: Identity ",
  "X-Bad : 1", " folded", "\tfolded", "NoColon", ": empty-name", "X-Ctl: a\x01" "b", "X-Del: a\x7f", "X-Nul: a\x00",
  "X-\xe9: 1", "Trailer: X-T", "Keep-Alive: timeout=5",
};
static const char *const EXTENSIONS[] = {
  "", "", "", ";x", " ;x", "\t;x", ";x=y", "; x = y", ";x=\"q\"", ";x=\"a \\\" b\"", ";a;b=c;d=\"\"", ";x=\"\\\x01\"",
  ";", ";=y", ";x=", ";x =", " ", "\t", " x", ";a b", ";x=\"open", ";x=a b", ";x=\"a\x01\"", ";x=\"\xe9\"",
  ";x=\xe9", "x", ";x;", ";x=y;", ";x=\"a\"b",
};
static const char *const TRAILERS[] = {
  "X-T: 1", "X-Other: two words", "Expires: 0", "NoColon", " folded", "X-T : 1", "X-Ctl: \x01", ": v", "X-T:",
};
static const char *const TRANSFER_ENCODINGS[] = {
  "chunked", "chunked", "chunked", "Chunked", " chunked ", "gzip, chunked", "chunked, chunked", "identity", "chunked,",
  "", "chunked;q=1", "CHUNKED",
};

static void body_bytes(struct text *t, size_t n) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = chance(95) ? (uint8_t)('a' + below(26)) : (uint8_t)below(256);
    put(t, &c, 1);
  }
}

static size_t body_size(void) {
  if (below(1000) < 2) return near(STRICT_BODY_CAP); /* the 1 MiB cap, in each framing */
  switch (below(10)) {
  case 0: return 0;
  case 1: return near(STRICT_CHUNK_LINE_CAP);
  case 2: return below(20000);
  default: return below(300);
  }
}

static void generate(struct text *t) {
  t->n = 0;
  if (below(1000) == 0) { /* a body read to the close, around the 1 MiB cap */
    puts_(t, chance(50) ? "HTTP/1.0 200 OK\r\n\r\n" : "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
    body_bytes(t, near(STRICT_BODY_CAP));
    return;
  }
  /* interim replies */
  size_t interim = chance(80) ? 0 : chance(90) ? 1 + below(3) : 7 + below(4);
  for (size_t i = 0; i < interim; i++) {
    putf(t, "%s\r\n", PICK(INTERIM_LINES));
    if (chance(10)) putf(t, "%s\r\n", PICK(EXTRA_FIELDS));
    if (chance(5)) puts_(t, "Content-Length: 0\r\n");
    puts_(t, "\r\n");
  }
  putf(t, "%s\r\n", chance(60) ? "HTTP/1.1 200 OK" : PICK(STATUS_LINES));
  size_t body = body_size();
  int framing = (int)below(10); /* 0-4 chunked, 5-8 length, 9 none */
  for (size_t i = below(4); i > 0; i--) putf(t, "%s\r\n", chance(60) ? "Server: x" : PICK(EXTRA_FIELDS));
  if (chance(5)) { /* a head of about 16 KiB */
    size_t want = near(STRICT_HEAD_CAP), pad = want > t->n + 16 ? want - t->n - 16 : 0;
    puts_(t, "X-Pad: ");
    repeat(t, 'p', pad);
    puts_(t, "\r\n");
  }
  if (framing >= 5 && framing <= 8) {
    switch (below(12)) {
    case 0: putf(t, "Content-Length: %zu\r\n", body + below(3) - 1); break;
    case 1: putf(t, "Content-Length: %zu, %zu\r\n", body, body); break;
    case 2: putf(t, "Content-Length: %zu\r\nContent-Length: %zu\r\n", body, body); break;
    case 3: putf(t, "Content-Length: 0%zu\r\n", body); break;
    case 4: putf(t, "Content-Length: %zu\r\n", (size_t)STRICT_BODY_CAP + below(2)); break;
    case 5: puts_(t, "Content-Length: 18446744073709551617\r\n"); break;
    case 6: putf(t, "Content-Length: +%zu\r\n", body); break;
    default: putf(t, "Content-Length:%s%zu%s\r\n", chance(50) ? " " : "", body, chance(20) ? " \t" : ""); break;
    }
    if (chance(4)) puts_(t, "Transfer-Encoding: chunked\r\n");
  } else if (framing <= 4) {
    putf(t, "Transfer-Encoding: %s\r\n", chance(85) ? "chunked" : PICK(TRANSFER_ENCODINGS));
    if (chance(4)) putf(t, "Content-Length: %zu\r\n", body);
  }
  if (chance(8)) putf(t, "%s\r\n", PICK(EXTRA_FIELDS));
  puts_(t, "\r\n");
  if (framing <= 4) {
    size_t left = body, pieces = 1 + below(4);
    while (left > 0) {
      size_t n = pieces-- <= 1 ? left : 1 + below(left);
      const char *ext = chance(70) ? "" : PICK(EXTENSIONS);
      if (chance(3)) { /* a size line of about 1 KiB */
        size_t digits = (size_t)snprintf(NULL, 0, "%zx", n);
        size_t fill = near(STRICT_CHUNK_LINE_CAP);
        putf(t, "%zx;", n);
        repeat(t, 'x', fill > digits + 1 ? fill - digits - 1 : 0);
      } else {
        putf(t, chance(10) ? "%zX%s" : chance(10) ? "000%zx%s" : "%zx%s", n, ext);
      }
      puts_(t, "\r\n");
      body_bytes(t, n);
      puts_(t, chance(2) ? "\n" : "\r\n");
      left -= n;
    }
    if (chance(3)) puts_(t, "100001\r\n"); /* over 1 MiB in one chunk */
    putf(t, "%s%s\r\n", chance(10) ? "000" : "0", chance(80) ? "" : PICK(EXTENSIONS));
    for (size_t i = chance(70) ? 0 : 1 + below(3); i > 0; i--) putf(t, "%s\r\n", PICK(TRAILERS));
    if (chance(4)) { /* a trailer section of about 16 KiB */
      size_t fill = near(STRICT_TRAILER_CAP);
      puts_(t, "X-Big: ");
      repeat(t, 't', fill > 11 ? fill - 11 : 0);
      puts_(t, "\r\n");
    }
    puts_(t, "\r\n");
  } else {
    body_bytes(t, body);
  }
  if (chance(5)) puts_(t, "HTTP/1.1 200 OK\r\n"); /* bytes after the reply */
  /* mutations */
  size_t mutations = chance(45) ? 0 : 1 + below(3);
  for (size_t m = 0; m < mutations && t->n > 0; m++) {
    size_t at = below(t->n);
    static const char special[] = "\r\n \t;:=\",0aF\x7f\x00";
    switch (below(6)) {
    case 0: t->p[at] = (uint8_t)below(256); break;
    case 1: t->p[at] = (uint8_t)special[below(sizeof special - 1)]; break;
    case 2: memmove(t->p + at, t->p + at + 1, t->n - at - 1), t->n--; break; /* delete */
    case 3: { /* insert */
      uint8_t c = (uint8_t)special[below(sizeof special - 1)];
      put(t, &c, 1);
      memmove(t->p + at + 1, t->p + at, t->n - at - 1);
      t->p[at] = c;
      break;
    }
    case 4: { /* a CRLF loses its CR or its LF */
      for (size_t i = at; i + 1 < t->n; i++)
        if (t->p[i] == '\r' && t->p[i + 1] == '\n') {
          memmove(t->p + i + (below(2) ? 0 : 1) , t->p + i + 1, t->n - i - 1);
          t->n--;
          break;
        }
      break;
    }
    default: t->n = at; break; /* truncate */
    }
  }
}

static uint8_t *read_file(const char *path, size_t *n) {
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  struct text t = {0};
  uint8_t buf[65536];
  size_t got;
  while ((got = fread(buf, 1, sizeof buf, f)) > 0) put(&t, buf, got);
  fclose(f);
  *n = t.n;
  return t.p ? t.p : malloc(1);
}

int main(int argc, char **argv) {
  unsigned long runs = 10000;
  uint64_t seed = 1;
  double seconds = 0; /* with --seconds: run until then instead of --runs */
  int files = 0;
  struct timespec t0, t1;
  timespec_get(&t0, TIME_UTC);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) seed = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) seconds = strtod(argv[++i], NULL), runs = ~0ul;
    else {
      size_t n;
      uint8_t *d = read_file(argv[i], &n);
      if (d == NULL) {
        fprintf(stderr, "http-fuzz: cannot read %s; give existing corpus files\n", argv[i]);
        return 2;
      }
      run_input(d, n);
      free(d);
      files++;
    }
  }
  if (files == 0) {
    rng_state = seed;
    struct text t = {0};
    for (unsigned long i = 0; i < runs; i++) {
      if (seconds > 0 && i % 1000 == 0) {
        timespec_get(&t1, TIME_UTC);
        if ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >= seconds) break;
      }
      generate(&t);
      run_case(t.p, t.n, (int)below(3), (uint8_t)below(256));
    }
    free(t.p);
  }
  timespec_get(&t1, TIME_UTC);
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  printf("http-fuzz: %lu cases (%lu http_post runs) in %.1f s, %s %llu; findings %lu\n", stats.cases, stats.posts,
         secs, files ? "replayed files, seed unused" : "seed", (unsigned long long)seed, stats.findings);
  printf("strict verdicts: message %lu, status %lu, invalid %lu, limit %lu, too-large %lu, more %lu\n",
         stats.verdicts[STRICT_MESSAGE], stats.verdicts[STRICT_STATUS], stats.verdicts[STRICT_INVALID],
         stats.verdicts[STRICT_LIMIT], stats.verdicts[STRICT_TOO_LARGE], stats.verdicts[STRICT_MORE]);
  for (int i = 0; i < 32 && stats.class_names[i]; i++) printf("  %7lu  %s\n", stats.classes[i], stats.class_names[i]);
  return stats.findings ? 1 : 0;
}
