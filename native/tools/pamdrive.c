/* pamdrive: drive a PAM service from a private configuration directory (pam_start_confdir), for tests.
 *
 *   pamdrive [--repeat N] [--check-signals] CONFDIR SERVICE USER OP...
 *
 * OP is auth, acct, setcred, open, close or chauthtok. Each prompt reads one line from stdin (the password).
 * Prints "OP=CODE" per operation; the exit code is the PAM code of the first failing operation (0 if all
 * succeed). --repeat runs the whole pam_start .. pam_end sequence N times in this process (one line of
 * stdin per prompt, each round). --check-signals installs handlers and an alternate signal stack first, as a
 * daemon would, and afterwards prints "signals=unchanged" or "signals=changed ..." (exit 100 if changed). */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <security/pam_appl.h>

#ifndef SA_RESTORER /* set by libc on every sigaction; not part of what a caller chose */
#define SA_RESTORER 0x04000000
#endif

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *data) {
  (void)data;
  struct pam_response *r = calloc((size_t)n, sizeof *r);
  if (r == NULL) return PAM_BUF_ERR;
  for (int i = 0; i < n; i++) {
    if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
      char *line = NULL;
      size_t cap = 0;
      ssize_t len = getline(&line, &cap, stdin);
      if (len < 0) {
        free(line);
        for (int k = 0; k < i; k++) free(r[k].resp);
        free(r);
        return PAM_CONV_ERR;
      }
      if (len > 0 && line[len - 1] == '\n') line[len - 1] = '\0';
      r[i].resp = line;
    } else {
      fprintf(stderr, "pamdrive: %s: %s\n", msg[i]->msg_style == PAM_ERROR_MSG ? "error" : "info", msg[i]->msg);
    }
  }
  *resp = r;
  return PAM_SUCCESS;
}

static int run_op(pam_handle_t *h, const char *op, int *known) {
  *known = 1;
  if (strcmp(op, "auth") == 0) return pam_authenticate(h, 0);
  if (strcmp(op, "acct") == 0) return pam_acct_mgmt(h, 0);
  if (strcmp(op, "setcred") == 0) return pam_setcred(h, PAM_ESTABLISH_CRED);
  if (strcmp(op, "open") == 0) return pam_open_session(h, 0);
  if (strcmp(op, "close") == 0) return pam_close_session(h, 0);
  if (strcmp(op, "chauthtok") == 0) return pam_chauthtok(h, 0);
  *known = 0;
  return PAM_SYSTEM_ERR;
}

/* ---- signal state snapshot ---- */
#define NSIG_CHECK 65
struct signal_state {
  struct sigaction actions[NSIG_CHECK];
  stack_t altstack;
  sigset_t mask;
};

static void snapshot(struct signal_state *s) {
  memset(s, 0, sizeof *s);
  for (int sig = 1; sig < NSIG_CHECK; sig++) sigaction(sig, NULL, &s->actions[sig]);
  sigaltstack(NULL, &s->altstack);
  sigprocmask(SIG_BLOCK, NULL, &s->mask);
}

/* glibc copies stack garbage past the kernel's 64-bit mask into sa_mask: compare members, not bytes. */
static int same_set(const sigset_t *x, const sigset_t *y) {
  for (int sig = 1; sig < NSIG_CHECK; sig++)
    if (sigismember(x, sig) != sigismember(y, sig)) return 0;
  return 1;
}

static int compare(const struct signal_state *a, const struct signal_state *b) {
  int changed = 0;
  for (int sig = 1; sig < NSIG_CHECK; sig++) {
    const struct sigaction *x = &a->actions[sig], *y = &b->actions[sig];
    if (x->sa_handler != y->sa_handler || (x->sa_flags & ~SA_RESTORER) != (y->sa_flags & ~SA_RESTORER) ||
        !same_set(&x->sa_mask, &y->sa_mask)) {
      printf("%ssignal %d", changed++ ? ", " : "signals=changed ", sig);
    }
  }
  if (a->altstack.ss_sp != b->altstack.ss_sp || a->altstack.ss_flags != b->altstack.ss_flags ||
      a->altstack.ss_size != b->altstack.ss_size)
    printf("%saltstack", changed++ ? ", " : "signals=changed ");
  if (!same_set(&a->mask, &b->mask)) printf("%smask", changed++ ? ", " : "signals=changed ");
  printf(changed ? "\n" : "signals=unchanged\n");
  return changed;
}

static void daemon_handler(int sig) { (void)sig; }

static void act_like_a_daemon(void) {
  static char stack[1 << 16];
  stack_t ss = {.ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa = {.sa_handler = daemon_handler, .sa_flags = SA_ONSTACK};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
}

int main(int argc, char **argv) {
  int repeat = 1, check_signals = 0, i = 1;
  for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
    if (strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = atoi(argv[++i]);
    else if (strcmp(argv[i], "--check-signals") == 0) check_signals = 1;
    else break;
  }
  if (argc - i < 4 || repeat < 1) {
    fprintf(stderr, "usage: pamdrive [--repeat N] [--check-signals] CONFDIR SERVICE USER OP...\n");
    return 2;
  }
  const char *confdir = argv[i], *service = argv[i + 1], *user = argv[i + 2];
  char **ops = argv + i + 3;
  int nops = argc - i - 3;

  struct signal_state before, after;
  if (check_signals) {
    act_like_a_daemon();
    snapshot(&before);
  }
  int first_failure = 0;
  for (int round = 0; round < repeat; round++) {
    struct pam_conv conv = {conversation, NULL};
    pam_handle_t *h = NULL;
    int rc = pam_start_confdir(service, user, &conv, confdir, &h);
    if (rc != PAM_SUCCESS) {
      printf("start=%d\n", rc);
      return rc;
    }
    int last = PAM_SUCCESS;
    for (int k = 0; k < nops; k++) {
      int known;
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      rc = run_op(h, ops[k], &known);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      if (!known) {
        fprintf(stderr, "pamdrive: unknown operation %s\n", ops[k]);
        pam_end(h, PAM_SYSTEM_ERR);
        return 2;
      }
      /* How long the PAM call took as the application sees it, without this process's own start-up. */
      long long us = (long long)(t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000;
      printf("%s=%d\n%s_us=%lld\n", ops[k], rc, ops[k], us);
      fflush(stdout);
      if (rc != PAM_SUCCESS && first_failure == 0) first_failure = rc;
      last = rc;
    }
    pam_end(h, last);
  }
  if (check_signals) {
    snapshot(&after);
    if (compare(&before, &after)) return 100;
  }
  return first_failure;
}
