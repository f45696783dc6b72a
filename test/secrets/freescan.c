/* freescan: a test-only LD_PRELOAD library that looks at every heap block as it is freed (free, and the old block
 * of a realloc that moves) and reports each one that still holds FREESCAN_NEEDLE, naming the library that freed it.
 * It checks the production build/pam_mapi.so as it is: the guest memory (wiped by wasm_rt_free_memory), the host's
 * password copies (secret_wipe) and whatever libcurl, OpenSSL or libpam release. Reports are appended to the file
 * FREESCAN_REPORT, one line per block: "freed-with-secret <library> <block size>". With FREESCAN_SIZE_AT_LEAST=N it
 * also reports every block of at least N bytes as "freed <library> <block size>", so a test can see that the blocks
 * it cares about were scanned at all. Built by test/secrets.test.ts. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void (*real_free)(void *);
static void *(*real_realloc)(void *, size_t);
static __thread int busy; /* dlsym and dladdr may allocate: no scanning inside our own calls */

static void append(const char *path, const char *what, size_t size, void *caller) {
  Dl_info info;
  const char *lib = dladdr(caller, &info) && info.dli_fname ? info.dli_fname : "?";
  char line[512];
  int n = snprintf(line, sizeof line, "%s %s %zu\n", what, lib, size);
  int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
  if (fd >= 0) {
    if (write(fd, line, (size_t)n) < 0) { /* nothing to do */ }
    close(fd);
  }
}

static void report(const void *block, size_t size, void *caller) {
  const char *needle = getenv("FREESCAN_NEEDLE");
  const char *path = getenv("FREESCAN_REPORT");
  if (!needle || !*needle || !path || !block) return;
  const char *at_least = getenv("FREESCAN_SIZE_AT_LEAST");
  if (at_least && size >= strtoull(at_least, NULL, 10)) append(path, "freed", size, caller);
  if (memmem(block, size, needle, strlen(needle))) append(path, "freed-with-secret", size, caller);
}

void free(void *p) {
  if (!real_free) {
    if (busy) return; /* a free during dlsym: leak it */
    busy = 1;
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    busy = 0;
  }
  if (p && !busy) {
    busy = 1;
    report(p, malloc_usable_size(p), __builtin_return_address(0));
    busy = 0;
  }
  real_free(p);
}

void *realloc(void *p, size_t size) {
  if (!real_realloc || !real_free) {
    busy = 1;
    real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
    busy = 0;
  }
  if (!p || busy) return real_realloc(p, size);
  size_t old = malloc_usable_size(p);
  void *copy = NULL;
  /* keep what the old block held, to report it only if realloc moved it (the old block is then freed unwiped) */
  busy = 1;
  if (old > 0 && (copy = malloc(old)) != NULL) memcpy(copy, p, old);
  busy = 0;
  void *q = real_realloc(p, size);
  if (copy) {
    busy = 1;
    if (q != p && q != NULL) report(copy, old, __builtin_return_address(0));
    explicit_bzero(copy, old); /* our own copy must not become a finding of its own */
    real_free(copy);
    busy = 0;
  }
  return q;
}
