/* See openssl_lib.h. */
#define OPENSSL_LIB_NO_REDIRECT
#include "openssl_lib.h"

#include <dlfcn.h>
#include <pthread.h>

struct openssl_lib openssl_lib;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static bool loaded;

static void load(void) {
  void *lib = dlopen(OPENSSL_LIB_SONAME, RTLD_NOW | RTLD_LOCAL);
  if (lib == NULL) return;
  struct openssl_lib table;
  bool complete = true;
  /* dlsym on libssl's handle finds libcrypto's functions too: it searches the library's dependencies. */
#define OPENSSL_LIB_RESOLVE(name) complete &= (*(void **)&table.name = dlsym(lib, #name)) != NULL;
  OPENSSL_LIB_FUNCTIONS(OPENSSL_LIB_RESOLVE)
#undef OPENSSL_LIB_RESOLVE
  if (!complete) return; /* the handle stays open: harmless, and OpenSSL does not unload cleanly anyway */
  openssl_lib = table;
  loaded = true;
}

bool openssl_lib_load(void) {
  pthread_once(&load_once, load);
  return loaded;
}
