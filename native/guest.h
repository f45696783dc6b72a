/* The guest's two exports as the rest of the loader sees them: C values in, checked C values out.
 * Implemented by guest_abi.c (lowering/lifting) on top of guest_instance.c (instantiate/call/traps). */
#ifndef PAM_MAPI_GUEST_H
#define PAM_MAPI_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <security/pam_modules.h>

struct transport;

/* What the guest's imports may reach. One per guest call, owned by the caller. */
struct guest_host {
  pam_handle_t *pamh;
  struct transport *transport; /* NULL during configure: every post is no-such-server */
  bool debug;                  /* host diagnostics at LOG_DEBUG */
  const char *fault;           /* set by the import checks before they trap the guest */
};

enum guest_status {
  GUEST_OK = 0,
  GUEST_TRAP,       /* the guest trapped (or an import trapped it for a contract violation) */
  GUEST_BAD_OUTPUT, /* the guest returned something that does not pass the checks */
  GUEST_NO_MEMORY,  /* the host could not allocate */
};

/* Option bits of `settings.options`, as in docs/abi.md. */
enum {
  OPT_TRY_FIRST_PASS = 1u << 0,
  OPT_USE_FIRST_PASS = 1u << 1,
  OPT_IGNORE_UNAVAILABLE = 1u << 2,
  OPT_QUIET = 1u << 3,
  OPT_DEBUG = 1u << 4,
  OPT_USE_AUTHTOK = 1u << 5,
  OPT_ALL = 0x3f,
};

struct guest_strings {
  const char *const *items;
  size_t count;
};

struct bytes {
  const uint8_t *data;
  size_t len;
};

/* configure's result, copied out of guest memory and checked. */
struct settings {
  bool ok;
  char *error; /* ok == false: the configuration error (valid UTF-8, may hold control characters) */
  char **servers;
  size_t server_count;
  uint32_t timeout_ms;
  char *cafile, *capath; /* "" = system store */
  unsigned options;
  char **features; /* service=: at least one of these Kopano features is required; none = no check */
  size_t feature_count;
};

enum verdict_code {
  V_SUCCESS, V_AUTH_ERR, V_PERM_DENIED, V_AUTHINFO_UNAVAIL, V_IGNORE, V_SERVICE_ERR, V_AUTHTOK_ERR, V_TRY_AGAIN, V_COUNT
};

/* chauthtok's two passes, as the WIT `phase` enum. */
enum guest_phase { PHASE_PRELIM = 0, PHASE_UPDATE = 1 };

struct verdict {
  enum verdict_code code;
  char *reason;
  char *user;
};

/* One guest instance serves one pam_sm_* call: opened before `configure`, used for it and for at most one
 * password-bearing call (`authenticate` or `chauthtok`), then closed, which wipes and frees all its memory. So
 * nothing survives from one PAM call to the next, and no instance ever sees two passwords. A call that traps or
 * breaks the contract spends the instance (later calls on it fail). `detail` receives a static description of
 * a trap or bad output (for the log). */
struct guest;
enum guest_status guest_open(struct guest **out, const char **detail);
void guest_close(struct guest *g); /* NULL is fine */

enum guest_status guest_configure(struct guest *g, struct guest_host *host, const char *service,
                                  struct guest_strings args, struct bytes config, struct settings *out,
                                  const char **detail);
enum guest_status guest_authenticate(struct guest *g, struct guest_host *host, const char *service, const char *user,
                                     struct bytes password, struct guest_strings args, struct bytes config,
                                     const char *rhost, struct verdict *out, const char **detail);

/* A password change pass (wit `chauthtok`); `new_password` is ignored by the prelim phase. */
enum guest_status guest_chauthtok(struct guest *g, struct guest_host *host, const char *service,
                                  enum guest_phase phase, const char *user, struct bytes old_password,
                                  struct bytes new_password, struct guest_strings args, struct bytes config,
                                  const char *rhost, struct verdict *out, const char **detail);

void settings_clear(struct settings *s);
void verdict_clear(struct verdict *v);

/* One-time runtime setup (pthread_once); false if it failed. */
bool guest_runtime_ready(void);

#endif
