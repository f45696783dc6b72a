/* envtrace.so: which environment variables are read while PAM runs, and by whom. For tests (test/env-trace.test.ts).
 *
 * Loaded first (LD_PRELOAD in a plain run; /etc/ld.so.preload in a setuid run, where ld.so ignores LD_PRELOAD), it
 * interposes getenv, secure_getenv, __secure_getenv and __libc_secure_getenv, and the libpam calls an application
 * makes. While one of those PAM calls is running, every read through an interposable symbol is written to stderr as
 *
 *   envtrace: read CALL FUNCTION NAME set|unset OBJECT
 *
 * CALL is the PAM call in progress (pam_start_confdir, pam_authenticate, ...), OBJECT the file name of the shared
 * object that made the call (dladdr of the return address). Reads outside PAM calls (the application's own) are
 * not listed. At load it writes "envtrace: at_secure=N program=PATH" (the AT_SECURE auxv entry: 1 in a setuid
 * program; PATH as given to execve).
 * glibc's reads of its own variables from inside libc (the resolver's RES_OPTIONS, ...) do not go through the PLT
 * and are not seen: docs/security.md says which those are and why they are harmless. Only the name is written,
 * never the value. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <security/pam_appl.h>

static __thread const char *current_call; /* the PAM call in progress on this thread, or NULL */
static __thread int inside;               /* guards against reads made by dlsym/dladdr themselves */

static void say(const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n >= sizeof line) n = sizeof line - 1;
  (void)!write(2, line, (size_t)n);
}

__attribute__((constructor)) static void announce(void) {
  const char *program = (const char *)getauxval(AT_EXECFN);
  say("envtrace: at_secure=%lu program=%s\n", getauxval(AT_SECURE), program ? program : "?");
}

static void *next(const char *symbol) {
  inside++;
  void *f = dlsym(RTLD_NEXT, symbol);
  inside--;
  return f;
}

static void record(const char *function, const char *name, const char *value, void *caller) {
  if (current_call == NULL || inside) return;
  inside++;
  Dl_info info;
  const char *object = "?";
  if (dladdr(caller, &info) && info.dli_fname != NULL) {
    const char *slash = strrchr(info.dli_fname, '/');
    object = slash ? slash + 1 : info.dli_fname;
  }
  say("envtrace: read %s %s %s %s %s\n", current_call, function, name ? name : "(null)", value ? "set" : "unset", object);
  inside--;
}

typedef char *(*getenv_fn)(const char *);

#define READER(fn)                                                       \
  char *fn(const char *name) {                                           \
    static getenv_fn real;                                               \
    if (real == NULL) real = (getenv_fn)next(#fn);                       \
    char *value = real ? real(name) : NULL;                              \
    record(#fn, name, value, __builtin_return_address(0));               \
    return value;                                                        \
  }

READER(getenv)
READER(secure_getenv)
READER(__secure_getenv)
READER(__libc_secure_getenv)

/* The PAM calls: mark the span, call libpam's. */
#define TRACED(ret, fn, params, args)                                    \
  ret fn params {                                                        \
    static ret(*real) params;                                            \
    if (real == NULL) real = (ret(*) params)next(#fn);                   \
    const char *outer = current_call;                                    \
    current_call = #fn;                                                  \
    ret r = real args;                                                   \
    current_call = outer;                                                \
    return r;                                                            \
  }

TRACED(int, pam_start, (const char *s, const char *u, const struct pam_conv *c, pam_handle_t **h), (s, u, c, h))
TRACED(int, pam_start_confdir, (const char *s, const char *u, const struct pam_conv *c, const char *d, pam_handle_t **h),
       (s, u, c, d, h))
TRACED(int, pam_authenticate, (pam_handle_t *h, int f), (h, f))
TRACED(int, pam_acct_mgmt, (pam_handle_t *h, int f), (h, f))
TRACED(int, pam_setcred, (pam_handle_t *h, int f), (h, f))
TRACED(int, pam_open_session, (pam_handle_t *h, int f), (h, f))
TRACED(int, pam_close_session, (pam_handle_t *h, int f), (h, f))
TRACED(int, pam_chauthtok, (pam_handle_t *h, int f), (h, f))
TRACED(int, pam_end, (pam_handle_t *h, int s), (h, s))
