/* pamloop: in-process PAM transactions, timed, as a daemon runs them (pam_start_confdir, pam_authenticate,
 * pam_acct_mgmt, pam_end per iteration, so the module is dlopen'ed and dlclose'd each time).
 *
 *   pamloop CONFDIR SERVICE USER PASSWORD ITERATIONS        -> "us_per_auth X failures N cpu_us_per_auth C"
 *   pamloop --memory CONFDIR WARM_SERVICE SERVICE USER PASSWORD
 *       one WARM_SERVICE transaction (libpam itself warm), then one SERVICE transaction; prints the peak
 *       resident memory it added (VmHWM delta), what stays resident after pam_end (VmRSS delta) and how much of
 *       that is private anonymous memory (RssAnon delta; the rest is shared, file-backed library pages), in KiB. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

#include "clock.h"

static const char *password;

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
  (void)data;
  struct pam_response *r = calloc((size_t)n, sizeof *r);
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++)
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
      r[i].resp = strdup(password);
  *resp = r;
  return PAM_SUCCESS;
}

static int transaction(const char *confdir, const char *service, const char *user) {
  struct pam_conv conv = {conversation, NULL};
  pam_handle_t *h = NULL;
  int rc = pam_start_confdir(service, user, &conv, confdir, &h);
  if (rc != PAM_SUCCESS) return rc;
  rc = pam_authenticate(h, 0);
  if (rc == PAM_SUCCESS) rc = pam_acct_mgmt(h, 0);
  pam_end(h, rc);
  return rc;
}

static long status_kib(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t n = strlen(field);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0 && line[n] == ':') v = atol(line + n + 1);
  if (f) fclose(f);
  return v;
}

int main(int argc, char **argv) {
  if (argc == 7 && strcmp(argv[1], "--memory") == 0) {
    password = argv[6];
    if (transaction(argv[2], argv[3], argv[5]) != PAM_SUCCESS) return fprintf(stderr, "warm-up failed\n"), 1;
    long hwm0 = status_kib("VmHWM"), rss0 = status_kib("VmRSS"), anon0 = status_kib("RssAnon");
    int rc = transaction(argv[2], argv[4], argv[5]);
    long hwm1 = status_kib("VmHWM"), rss1 = status_kib("VmRSS"), anon1 = status_kib("RssAnon");
    printf("rc %d peak_added_kib %ld retained_kib %ld anon_added_kib %ld baseline_kib %ld\n", rc, hwm1 - hwm0,
           rss1 - rss0, anon1 - anon0, rss0);
    return rc == PAM_SUCCESS ? 0 : 1;
  }
  if (argc != 6) {
    fprintf(stderr, "usage: pamloop CONFDIR SERVICE USER PASSWORD ITERATIONS | --memory CONFDIR WARM SERVICE USER PASSWORD\n");
    return 2;
  }
  password = argv[4];
  long iterations = atol(argv[5]), failures = 0;
  transaction(argv[1], argv[2], argv[3]); /* warm the page cache and libpam */
  double start = now_us(), cpu_start = cpu_us();
  for (long i = 0; i < iterations; i++)
    if (transaction(argv[1], argv[2], argv[3]) != PAM_SUCCESS) failures++;
  double elapsed = now_us() - start, cpu = cpu_us() - cpu_start;
  printf("us_per_auth %.2f failures %ld cpu_us_per_auth %.2f\n", elapsed / (double)iterations, failures,
         cpu / (double)iterations);
  return failures ? 1 : 0;
}
