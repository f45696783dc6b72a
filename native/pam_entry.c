/* The PAM entry points. All decisions about passwords and servers are the guest's; this file gathers the
 * inputs, pins the server list, runs the guest, checks its verdict and maps it to a PAM code.
 * PAM_SUCCESS from pam_sm_authenticate comes from exactly one place: conclude(), for a checked success verdict. */
#define PAM_SM_AUTH
#define PAM_SM_ACCOUNT
#define PAM_SM_SESSION
#define PAM_SM_PASSWORD

#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "config_file.h"
#include "guest.h"
#include "log.h"
#include "secret.h"
#include "server_url.h"
#include "tls.h"
#include "transport.h"

#define RESULT_KEY "pam_mapi.result"
#define MAX_SERVERS 16

#define EXPORT __attribute__((visibility("default")))

/* What pam_sm_authenticate leaves in the handle for acct_mgmt. */
enum outcome { OUTCOME_AUTHENTICATED = 1, OUTCOME_FEATURE_DENIED };
struct result_record {
  enum outcome outcome;
  char user[];
};

static void result_cleanup(pam_handle_t *pamh, void *data, int error_status) {
  (void)pamh;
  (void)error_status;
  free(data);
}

static void result_forget(pam_handle_t *pamh) { pam_set_data(pamh, RESULT_KEY, NULL, NULL); }

static int result_remember(pam_handle_t *pamh, enum outcome outcome, const char *user) {
  size_t len = strlen(user);
  struct result_record *r = malloc(sizeof *r + len + 1);
  if (r == NULL) return -1;
  r->outcome = outcome;
  memcpy(r->user, user, len + 1);
  if (pam_set_data(pamh, RESULT_KEY, r, result_cleanup) != PAM_SUCCESS) {
    free(r);
    return -1;
  }
  return 0;
}

/* The record, if it is about the user the handle names now. */
static const struct result_record *result_for_current_user(pam_handle_t *pamh) {
  const void *data = NULL, *user = NULL;
  if (pam_get_data(pamh, RESULT_KEY, &data) != PAM_SUCCESS || data == NULL) return NULL;
  if (pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS || user == NULL) return NULL;
  const struct result_record *r = data;
  return strcmp(r->user, user) == 0 ? r : NULL;
}

/* Everything one pam_sm_authenticate call owns; released in one place. */
struct auth_call {
  pam_handle_t *pamh;
  const char *service, *user, *rhost;
  struct guest_strings args;
  uint8_t *config;
  size_t config_len;
  struct settings settings;
  struct server servers[MAX_SERVERS];
  size_t server_count;
  bool debug;
  struct guest *guest; /* opened for configure, handed to the first password-bearing call */
};

static void auth_call_release(struct auth_call *c) {
  guest_close(c->guest);
  for (size_t i = 0; i < c->server_count; i++) server_clear(&c->servers[i]);
  settings_clear(&c->settings);
  if (c->config) explicit_bzero(c->config, c->config_len);
  free(c->config);
}

static const char *item_or_empty(pam_handle_t *pamh, int item) {
  const void *value = NULL;
  if (pam_get_item(pamh, item, &value) != PAM_SUCCESS || value == NULL) return "";
  return value;
}

static const char *status_text(enum guest_status s) {
  switch (s) {
    case GUEST_OK: return "ok";
    case GUEST_TRAP: return "guest trap";
    case GUEST_BAD_OUTPUT: return "guest broke the ABI contract";
    case GUEST_NO_MEMORY: return "host out of memory";
  }
  return "?";
}

/* The guest says "configuration file line N: ..."; the log says "PATH:N: ...", as compilers do, so the
 * administrator (and an editor's jump-to-line) finds it. `pam-mapi` prints the same. */
static void log_config_error(pam_handle_t *pamh, const char *path, const char *error) {
  static const char prefix[] = "configuration file line ";
  if (strncmp(error, prefix, sizeof prefix - 1) == 0) {
    const char *line = error + sizeof prefix - 1;
    size_t digits = strspn(line, "0123456789");
    if (digits > 0 && digits < 10 && line[digits] == ':') {
      log_host(pamh, LOG_ERR, "configuration error: %s:%.*s%s", path, (int)digits, line, line + digits);
      return;
    }
  }
  log_host(pamh, LOG_ERR, "configuration error: %s", error);
}

/* Reads the config file and runs `configure`; pins and validates the server list. PAM code on failure. */
static int configure(struct auth_call *c, int argc, const char **argv) {
  const char *path = CONFIG_DEFAULT_PATH;
  bool explicit_path = false;
  for (int i = 0; i < argc; i++)
    if (strncmp(argv[i], "config=", 7) == 0) path = argv[i] + 7, explicit_path = true;

  char why[512] = "";
  if (config_file_read(path, explicit_path, &c->config, &c->config_len, why, sizeof why) != 0) {
    log_host(c->pamh, LOG_ERR, "configuration file: %s", why);
    return PAM_SERVICE_ERR;
  }

  struct guest_host host = {.pamh = c->pamh};
  const char *detail = NULL;
  enum guest_status status = guest_open(&c->guest, &detail);
  if (status == GUEST_OK)
    status = guest_configure(c->guest, &host, c->service, c->args, (struct bytes){c->config, c->config_len},
                             &c->settings, &detail);
  if (status != GUEST_OK) {
    log_host(c->pamh, LOG_ERR, "configure: %s (%s); returning PAM_SERVICE_ERR", status_text(status),
             detail ? detail : "no detail");
    return PAM_SERVICE_ERR;
  }
  if (!c->settings.ok) {
    log_config_error(c->pamh, path, c->settings.error);
    return PAM_SERVICE_ERR;
  }
  c->debug = (c->settings.options & OPT_DEBUG) != 0;

  if (c->settings.server_count > MAX_SERVERS) return PAM_SERVICE_ERR;
  for (size_t i = 0; i < c->settings.server_count; i++) {
    const char *reason = NULL;
    if (server_parse(c->settings.servers[i], &c->servers[i], &reason) != 0) {
      log_host(c->pamh, LOG_ERR, "configuration error: server %zu \"%s\": %s", i + 1, c->settings.servers[i], reason);
      return PAM_SERVICE_ERR;
    }
    c->server_count = i + 1;
  }
  /* A trust anchor that cannot be opened is a configuration error now, before any password is read: at
   * connect time it would be "unavailable", which ignore_unavailable quietly steps past. Checked whenever set,
   * whatever the servers' schemes, as this process (its euid) will open it; `pam-mapi check` does the same. */
  if (config_trust_path_check("cafile", c->settings.cafile, false, why, sizeof why) != 0 ||
      config_trust_path_check("capath", c->settings.capath, true, why, sizeof why) != 0) {
    log_host(c->pamh, LOG_ERR, "configuration error: %s; fix: name a readable PEM file (cafile=) or directory (capath=)",
             why);
    return PAM_SERVICE_ERR;
  }
  /* For https, the anchors must also load (a file that opens but holds no certificate): the loaded anchors stay in
   * tls.c's per-process cache for the transport. */
  bool https = false;
  for (size_t i = 0; i < c->server_count; i++) https |= c->servers[i].kind == SERVER_HTTPS;
  if (https && ((c->settings.cafile && c->settings.cafile[0]) || (c->settings.capath && c->settings.capath[0]))) {
    struct tls_trust trust;
    char tls_why[TRANSPORT_CAUSE_CAP];
    if (!tls_trust_acquire(c->settings.cafile, c->settings.capath, &trust, tls_why)) {
      log_host(c->pamh, LOG_ERR, "configuration error: %s", tls_why);
      return PAM_SERVICE_ERR;
    }
    tls_trust_release(&trust);
  }
  if (c->debug)
    log_host(c->pamh, LOG_DEBUG, "%zu server(s) pinned, first %s, timeout %u ms", c->server_count,
             c->settings.servers[0], c->settings.timeout_ms);
  return PAM_SUCCESS;
}

/* The instance for a password-bearing call: the one configure ran on (saving a second instantiation per
 * login), or a fresh one when that was already used (a try_first_pass retry), so no instance sees two
 * passwords. The caller closes it. */
static enum guest_status take_guest(struct auth_call *c, struct guest **g, const char **detail) {
  *g = c->guest;
  c->guest = NULL;
  *detail = NULL;
  return *g ? GUEST_OK : guest_open(g, detail);
}

/* Calls one export on the instance with the transport `host` holds; fills *out. */
typedef enum guest_status (*export_call)(struct guest *g, struct guest_host *host, const struct auth_call *c,
                                         const void *arg, struct verdict *out, const char **detail);

/* One password-bearing guest call with a fresh transport, on the instance take_guest gives, both closed after.
 * GUEST_OK with *out filled; any other status is logged here (`what` names the operation). */
static enum guest_status call_with_transport(struct auth_call *c, const char *what, export_call call, const void *arg,
                                             struct verdict *out) {
  *out = (struct verdict){.code = V_SERVICE_ERR};
  struct transport_options options = {c->settings.timeout_ms, c->settings.cafile, c->settings.capath, c->debug};
  struct transport *transport = transport_new(c->pamh, c->servers, c->server_count, &options);
  if (transport == NULL) {
    log_host(c->pamh, LOG_ERR, "%s: cannot set up the transport (out of memory)", what);
    return GUEST_NO_MEMORY;
  }
  struct guest_host host = {.pamh = c->pamh, .transport = transport, .debug = c->debug};
  struct guest *g;
  const char *detail;
  enum guest_status status = take_guest(c, &g, &detail);
  if (status == GUEST_OK) status = call(g, &host, c, arg, out, &detail);
  guest_close(g);
  transport_free(transport);
  if (status != GUEST_OK)
    log_host(c->pamh, LOG_ERR, "%s: %s (%s); returning PAM_SERVICE_ERR", what, status_text(status),
             detail ? detail : "no detail");
  return status;
}

static enum guest_status call_authenticate(struct guest *g, struct guest_host *host, const struct auth_call *c,
                                           const void *arg, struct verdict *out, const char **detail) {
  const struct secret *password = arg;
  return guest_authenticate(g, host, c->service, c->user, (struct bytes){(const uint8_t *)password->data, password->len},
                            c->args, (struct bytes){c->config, c->config_len}, c->rhost, out, detail);
}

/* One guest `authenticate` with a fresh transport. The verdict code, or V_SERVICE_ERR for any host failure. */
static enum verdict_code authenticate_once(struct auth_call *c, const struct secret *password) {
  struct verdict verdict;
  enum verdict_code code = V_SERVICE_ERR;
  if (call_with_transport(c, "authenticate", call_authenticate, password, &verdict) == GUEST_OK) {
    code = verdict.code;
    if (c->debug)
      log_host(c->pamh, LOG_DEBUG, "verdict %d for \"%s\" (server spells it \"%s\"): %s", (int)code, c->user,
               verdict.user, verdict.reason);
  }
  verdict_clear(&verdict);
  return code;
}

/* The verdict -> PAM code map; the only PAM_SUCCESS of pam_sm_authenticate. */
static int conclude(struct auth_call *c, enum verdict_code code) {
  switch (code) {
    case V_SUCCESS:
      if (result_remember(c->pamh, OUTCOME_AUTHENTICATED, c->user) != 0) {
        log_host(c->pamh, LOG_ERR, "authenticate: cannot record the result; returning PAM_SERVICE_ERR");
        return PAM_SERVICE_ERR;
      }
      return PAM_SUCCESS;
    case V_AUTH_ERR:
      return PAM_AUTH_ERR;
    case V_PERM_DENIED:
      /* If the record cannot be kept, acct_mgmt says PAM_IGNORE; authentication fails either way. */
      (void)result_remember(c->pamh, OUTCOME_FEATURE_DENIED, c->user);
      return PAM_AUTH_ERR;
    case V_AUTHINFO_UNAVAIL:
      return PAM_AUTHINFO_UNAVAIL;
    case V_IGNORE:
      return PAM_IGNORE;
    case V_AUTHTOK_ERR: /* chauthtok's codes: never a sign-in */
    case V_TRY_AGAIN:
    case V_SERVICE_ERR:
    case V_COUNT:
      break;
  }
  return PAM_SERVICE_ERR;
}

static int conversation_code(int rc) { return rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : rc; }

/* Prompts for a new password (try_first_pass after the stored one failed) and makes it the PAM_AUTHTOK. */
static int prompt_password(struct auth_call *c, struct secret *out) {
  char *response = NULL;
  int rc = pam_prompt(c->pamh, PAM_PROMPT_ECHO_OFF, &response, "Password: ");
  if (rc != PAM_SUCCESS || response == NULL) {
    free(response);
    return conversation_code(rc == PAM_SUCCESS ? PAM_CONV_ERR : rc);
  }
  rc = secret_copy(out, response) == 0 ? pam_set_item(c->pamh, PAM_AUTHTOK, response) : PAM_BUF_ERR;
  explicit_bzero(response, strlen(response));
  free(response);
  return rc;
}

static int authenticate(struct auth_call *c, int flags) {
  (void)flags;
  unsigned options = c->settings.options;
  struct secret password = {0};
  const void *stored = NULL;
  bool from_stored = false;
  int rc;

  if (options & (OPT_USE_FIRST_PASS | OPT_TRY_FIRST_PASS)) pam_get_item(c->pamh, PAM_AUTHTOK, &stored);
  if (options & OPT_USE_FIRST_PASS) {
    if (stored == NULL) {
      if (c->debug) log_host(c->pamh, LOG_DEBUG, "use_first_pass: no password from an earlier module");
      return PAM_AUTH_ERR;
    }
    from_stored = true;
    rc = secret_copy(&password, stored) == 0 ? PAM_SUCCESS : PAM_BUF_ERR;
  } else if ((options & OPT_TRY_FIRST_PASS) && stored != NULL) {
    from_stored = true;
    rc = secret_copy(&password, stored) == 0 ? PAM_SUCCESS : PAM_BUF_ERR;
  } else {
    const char *token = NULL;
    rc = conversation_code(pam_get_authtok(c->pamh, PAM_AUTHTOK, &token, NULL));
    if (rc == PAM_SUCCESS) rc = token && secret_copy(&password, token) == 0 ? PAM_SUCCESS : PAM_BUF_ERR;
  }
  if (rc != PAM_SUCCESS) {
    secret_wipe(&password);
    return rc;
  }

  enum verdict_code code = authenticate_once(c, &password);
  secret_wipe(&password);
  if (code == V_AUTH_ERR && from_stored && (options & OPT_TRY_FIRST_PASS) && !(options & OPT_USE_FIRST_PASS)) {
    rc = prompt_password(c, &password);
    if (rc != PAM_SUCCESS) {
      secret_wipe(&password);
      return rc;
    }
    code = authenticate_once(c, &password);
    secret_wipe(&password);
  }
  return conclude(c, code);
}

/* The frame of every operation: the user and items, the configuration and the pinned servers, then `step`;
 * everything the call owns is released in one place. */
static int run_call(pam_handle_t *pamh, int argc, const char **argv, int flags, int (*step)(struct auth_call *, int)) {
  const char *user = NULL;
  int rc = pam_get_user(pamh, &user, NULL);
  if (rc != PAM_SUCCESS) return conversation_code(rc);
  if (user == NULL) return PAM_SERVICE_ERR;

  struct auth_call c = {
      .pamh = pamh,
      .service = item_or_empty(pamh, PAM_SERVICE),
      .user = user,
      .rhost = item_or_empty(pamh, PAM_RHOST),
      .args = {argv, argc > 0 ? (size_t)argc : 0},
  };
  rc = configure(&c, argc, argv);
  if (rc == PAM_SUCCESS) rc = step(&c, flags);
  auth_call_release(&c);
  return rc;
}

EXPORT int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)flags;
  result_forget(pamh); /* an earlier success in this handle must not outlive a new attempt */

  return run_call(pamh, argc, argv, flags, authenticate);
}

/* The module sets no credentials. Like pam_unix and pam_sss it answers PAM_SUCCESS, also in a handle where this
 * module did not authenticate: sshd checks the password in a child process and calls pam_setcred in the parent,
 * where a PAM_IGNORE from a stack of ignores became PAM_PERM_DENIED and dropped a user with the right password.
 * Applications call pam_setcred only after pam_authenticate succeeded, so this grants nothing. */
EXPORT int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)pamh, (void)flags, (void)argc, (void)argv;
  return PAM_SUCCESS;
}

EXPORT int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)flags, (void)argc, (void)argv;
  const struct result_record *r = result_for_current_user(pamh);
  if (r == NULL) return PAM_IGNORE;
  return r->outcome == OUTCOME_AUTHENTICATED ? PAM_SUCCESS : PAM_PERM_DENIED;
}

/* The session step as pam_unix decides it (modules/pam_unix/pam_unix_sess.c): PAM_SUCCESS for a named user,
 * PAM_SESSION_ERR when the handle names nobody. The module opens and closes nothing. */
static int session_step(pam_handle_t *pamh) {
  const void *user = NULL;
  if (pam_get_item(pamh, PAM_USER, &user) != PAM_SUCCESS || user == NULL || *(const char *)user == '\0')
    return PAM_SESSION_ERR;
  return PAM_SUCCESS;
}

EXPORT int pam_sm_open_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)flags, (void)argc, (void)argv;
  return session_step(pamh);
}

EXPORT int pam_sm_close_session(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)flags, (void)argc, (void)argv;
  return session_step(pamh);
}

/* ---- password change (kopano-chauthtok.md §8; the flow itself is the guest's) ---------------------------- */

/* A guest sentence for the user through the conversation, control characters replaced; nothing if PAM_SILENT. */
static void tell_user(pam_handle_t *pamh, int flags, const char *text) {
  if ((flags & PAM_SILENT) || text == NULL || *text == '\0') return;
  char shown[512];
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)text; *p && n + 1 < sizeof shown; p++, n++)
    shown[n] = (*p < 0x20 || *p == 0x7f) ? '?' : (char)*p;
  shown[n] = '\0';
  pam_error(pamh, "%s", shown);
}

struct change_pass {
  enum guest_phase phase;
  const struct secret *old_password, *new_password;
};

static enum guest_status call_chauthtok(struct guest *g, struct guest_host *host, const struct auth_call *c,
                                        const void *arg, struct verdict *out, const char **detail) {
  const struct change_pass *p = arg;
  return guest_chauthtok(g, host, c->service, p->phase, c->user,
                         (struct bytes){(const uint8_t *)p->old_password->data, p->old_password->len},
                         (struct bytes){(const uint8_t *)p->new_password->data, p->new_password->len}, c->args,
                         (struct bytes){c->config, c->config_len}, c->rhost, out, detail);
}

/* One guest `chauthtok` pass with a fresh transport; the PAM code it maps to. */
static int chauthtok_once(struct auth_call *c, int flags, enum guest_phase phase, const struct secret *old_password,
                          const struct secret *new_password) {
  const struct change_pass pass = {phase, old_password, new_password};
  struct verdict verdict;
  int rc = PAM_SERVICE_ERR;
  if (call_with_transport(c, "chauthtok", call_chauthtok, &pass, &verdict) == GUEST_OK) {
    if (c->debug)
      log_host(c->pamh, LOG_DEBUG, "chauthtok %s verdict %d for \"%s\": %s", phase == PHASE_PRELIM ? "prelim" : "update",
               (int)verdict.code, c->user, verdict.reason);
    switch (verdict.code) {
      case V_SUCCESS: rc = PAM_SUCCESS; break;
      case V_AUTH_ERR: rc = PAM_AUTH_ERR; break;
      case V_PERM_DENIED: rc = PAM_PERM_DENIED; break;
      case V_AUTHINFO_UNAVAIL: rc = PAM_AUTHINFO_UNAVAIL; break;
      case V_IGNORE: rc = PAM_IGNORE; break;
      case V_TRY_AGAIN: rc = PAM_TRY_AGAIN; break;
      case V_AUTHTOK_ERR:
        tell_user(c->pamh, flags, verdict.reason);
        rc = PAM_AUTHTOK_ERR;
        break;
      case V_SERVICE_ERR:
      case V_COUNT: break;
    }
  }
  verdict_clear(&verdict);
  return rc;
}

/* Asks once (echo off) and copies the answer; the copy is the caller's to wipe. */
static int ask_secret(pam_handle_t *pamh, const char *prompt, struct secret *out) {
  char *response = NULL;
  int rc = pam_prompt(pamh, PAM_PROMPT_ECHO_OFF, &response, "%s", prompt);
  if (rc != PAM_SUCCESS || response == NULL) {
    free(response);
    return conversation_code(rc == PAM_SUCCESS ? PAM_CONV_ERR : rc);
  }
  rc = secret_copy(out, response) == 0 ? PAM_SUCCESS : PAM_BUF_ERR;
  explicit_bzero(response, strlen(response));
  free(response);
  return rc;
}

/* The current password: PAM_OLDAUTHTOK from an earlier module (try_first_pass/use_first_pass, or the one our
 * preliminary check stored), else "Current password: ", which then becomes PAM_OLDAUTHTOK for the update pass. */
static int current_password(struct auth_call *c, bool reuse_stored, struct secret *out) {
  unsigned options = c->settings.options;
  const void *stored = NULL;
  if (reuse_stored || (options & (OPT_TRY_FIRST_PASS | OPT_USE_FIRST_PASS)))
    pam_get_item(c->pamh, PAM_OLDAUTHTOK, &stored);
  if (stored != NULL) return secret_copy(out, stored) == 0 ? PAM_SUCCESS : PAM_BUF_ERR;
  if (options & OPT_USE_FIRST_PASS) {
    if (c->debug) log_host(c->pamh, LOG_DEBUG, "use_first_pass: no current password from an earlier module");
    return PAM_AUTHTOK_RECOVERY_ERR;
  }
  int rc = ask_secret(c->pamh, "Current password: ", out);
  if (rc == PAM_SUCCESS) rc = pam_set_item(c->pamh, PAM_OLDAUTHTOK, out->data);
  return rc;
}

/* The new password: PAM_AUTHTOK from an earlier module (pam_pwquality) with use_authtok, else asked twice. */
static int new_password(struct auth_call *c, int flags, struct secret *out) {
  if (c->settings.options & OPT_USE_AUTHTOK) {
    const void *stored = NULL;
    pam_get_item(c->pamh, PAM_AUTHTOK, &stored);
    if (stored == NULL) {
      log_host(c->pamh, LOG_ERR, "use_authtok: no new password from an earlier module");
      return PAM_AUTHTOK_ERR;
    }
    return secret_copy(out, stored) == 0 ? PAM_SUCCESS : PAM_BUF_ERR;
  }
  struct secret again = {0};
  int rc = ask_secret(c->pamh, "New password: ", out);
  if (rc == PAM_SUCCESS) rc = ask_secret(c->pamh, "Retype new password: ", &again);
  if (rc == PAM_SUCCESS && (again.len != out->len || strcmp(again.data ? again.data : "", out->data ? out->data : "") != 0)) {
    tell_user(c->pamh, flags, "Sorry, passwords do not match.");
    rc = PAM_AUTHTOK_ERR;
  }
  secret_wipe(&again);
  if (rc == PAM_SUCCESS) rc = pam_set_item(c->pamh, PAM_AUTHTOK, out->data ? out->data : "");
  return rc;
}

static int change_password(struct auth_call *c, int flags) {
  struct secret old_pw = {0}, new_pw = {0};
  int rc;
  if (flags & PAM_PRELIM_CHECK) {
    rc = current_password(c, false, &old_pw);
    if (rc == PAM_SUCCESS) rc = chauthtok_once(c, flags, PHASE_PRELIM, &old_pw, &new_pw);
  } else if (flags & PAM_UPDATE_AUTHTOK) {
    rc = current_password(c, true, &old_pw);
    if (rc == PAM_SUCCESS) rc = new_password(c, flags, &new_pw);
    if (rc == PAM_SUCCESS) rc = chauthtok_once(c, flags, PHASE_UPDATE, &old_pw, &new_pw);
  } else {
    rc = PAM_SERVICE_ERR;
  }
  secret_wipe(&old_pw);
  secret_wipe(&new_pw);
  return rc;
}

EXPORT int pam_sm_chauthtok(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  return run_call(pamh, argc, argv, flags, change_password);
}
