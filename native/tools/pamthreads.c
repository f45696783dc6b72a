/* pamthreads: concurrent PAM transactions in one process, as Apache's threaded MPMs run them.
 *
 *   pamthreads CONFDIR SERVICE THREADS ITERATIONS USER PASSWORD EXPECT [USER PASSWORD EXPECT]...
 *
 * Each iteration is pam_start_confdir, pam_authenticate, pam_acct_mgmt, pam_end, for the case
 * (thread + iteration) mod the number of cases. EXPECT is "A" (authenticate's code; acct_mgmt must then be
 * 0 if A is 0 and is not checked otherwise) or "A/B" (acct_mgmt's code checked too). Prints
 * "correct=N wrong=M"; exit 0 only if every iteration was correct. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <security/pam_appl.h>

struct expectation {
  const char *user, *password;
  int auth, acct; /* acct < 0: not checked */
};

static const char *confdir, *service;
static struct expectation *cases;
static int ncases, iterations;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long correct, wrong;

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
  const struct expectation *e = data;
  struct pam_response *r = calloc((size_t)n, sizeof *r);
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++)
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
      r[i].resp = strdup(e->password);
  *resp = r;
  return PAM_SUCCESS;
}

static void *worker(void *arg) {
  long id = (long)arg;
  for (int it = 0; it < iterations; it++) {
    const struct expectation *e = &cases[(id + it) % ncases];
    struct pam_conv conv = {conversation, (void *)e};
    pam_handle_t *h = NULL;
    int auth = -1, acct = -1, rc = pam_start_confdir(service, e->user, &conv, confdir, &h);
    if (rc == PAM_SUCCESS) {
      auth = pam_authenticate(h, 0);
      acct = pam_acct_mgmt(h, 0);
      pam_end(h, auth);
    }
    int ok = rc == PAM_SUCCESS && auth == e->auth && (e->acct < 0 || acct == e->acct);
    pthread_mutex_lock(&lock);
    if (ok) correct++;
    else if (wrong++ < 5)
      fprintf(stderr, "pamthreads: thread %ld iteration %d user %s: start=%d auth=%d acct=%d, expected %d/%d\n", id,
              it, e->user, rc, auth, acct, e->auth, e->acct);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 8 || (argc - 5) % 3 != 0) {
    fprintf(stderr, "usage: pamthreads CONFDIR SERVICE THREADS ITERATIONS USER PASSWORD EXPECT...\n");
    return 2;
  }
  confdir = argv[1];
  service = argv[2];
  int threads = atoi(argv[3]);
  iterations = atoi(argv[4]);
  ncases = (argc - 5) / 3;
  cases = calloc((size_t)ncases, sizeof *cases);
  if (cases == NULL || threads < 1 || threads > 256 || iterations < 1) return 2;
  for (int i = 0; i < ncases; i++) {
    struct expectation *e = &cases[i];
    e->user = argv[5 + 3 * i];
    e->password = argv[6 + 3 * i];
    const char *spec = argv[7 + 3 * i];
    e->auth = atoi(spec);
    const char *slash = strchr(spec, '/');
    e->acct = slash ? atoi(slash + 1) : (e->auth == 0 ? 0 : -1);
  }
  pthread_t *tids = calloc((size_t)threads, sizeof *tids);
  if (tids == NULL) return 2;
  for (long t = 0; t < threads; t++)
    if (pthread_create(&tids[t], NULL, worker, (void *)t) != 0) return 2;
  for (int t = 0; t < threads; t++) pthread_join(tids[t], NULL);
  printf("correct=%ld wrong=%ld\n", correct, wrong);
  free(tids);
  free(cases);
  return wrong == 0 ? 0 : 1;
}
