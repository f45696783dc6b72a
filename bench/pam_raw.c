/* pam_raw.so: the physical limit of a password-checking PAM module that asks a SOAP server, for the benchmarks
 * only (never installed). What every such module must do and nothing more: pam_get_user, pam_get_authtok (the
 * conversation), then the raw round trip of bench/roundtrip.h with the exact request bytes pam_mapi sent (read
 * once per process and file). Success if the server answered 200. So saslauthd and Apache can be measured with it beside
 * pam_mapi and pam_permit: the best ratio to pam_permit any module could reach on this machine.
 *
 *   auth required pam_raw.so PORT|SOCKET_PATH REQUEST_FILE
 *   account required pam_raw.so */
#define _GNU_SOURCE
#include <pthread.h>

#include <security/pam_ext.h>
#include <security/pam_modules.h>

#include "roundtrip.h"

/* The request bytes, read once per process and file (a daemon may serve a TCP and a unix-socket service). */
struct request {
  char path[256];
  char data[65536];
  long len;
};
static struct request requests[2];
static pthread_mutex_t requests_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct request *request_for(const char *path) {
  const struct request *found = NULL;
  pthread_mutex_lock(&requests_lock);
  for (size_t i = 0; i < 2 && !found; i++) {
    struct request *r = &requests[i];
    if (r->path[0] == '\0' && strlen(path) < sizeof r->path) {
      strcpy(r->path, path);
      r->len = read_request(path, r->data, sizeof r->data);
    }
    if (strcmp(r->path, path) == 0) found = r;
  }
  pthread_mutex_unlock(&requests_lock);
  return found && found->len > 0 ? found : NULL;
}

__attribute__((visibility("default"))) int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc,
                                                                const char **argv) {
  (void)flags;
  const char *user = NULL, *password = NULL;
  struct endpoint e;
  if (argc != 2 || endpoint_parse(argv[0], &e) != 0) return PAM_SERVICE_ERR;
  if (pam_get_user(pamh, &user, NULL) != PAM_SUCCESS || user == NULL) return PAM_AUTH_ERR;
  if (pam_get_authtok(pamh, PAM_AUTHTOK, &password, NULL) != PAM_SUCCESS || password == NULL) return PAM_AUTH_ERR;
  const struct request *r = request_for(argv[1]);
  if (r == NULL) return PAM_SERVICE_ERR;
  return round_trip(&e, r->data, (size_t)r->len) == 0 ? PAM_SUCCESS : PAM_AUTH_ERR;
}

__attribute__((visibility("default"))) int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)pamh, (void)flags, (void)argc, (void)argv;
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_acct_mgmt(pam_handle_t *pamh, int flags, int argc, const char **argv) {
  (void)pamh, (void)flags, (void)argc, (void)argv;
  return PAM_SUCCESS;
}
