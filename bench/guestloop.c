/* guestloop: the guest alone, in C. The module's own loader (guest_abi.c, guest_instance.c, wasm_rt.c and the
 * wasm2c output) with this file's canned transport in place of the network: every post answers with the body of a
 * captured Kopano 11 logon reply at once. Times `authenticate` alone (instantiate, call, wipe, free) and a whole
 * PAM call as pam_sm_authenticate runs it (one instance for configure and authenticate), and counts the
 * memory.grow calls of that PAM call.
 *
 *   guestloop REPLY_BODY_FILE ITERATIONS  -> "us_authenticate X us_pam_call Y failures N grows_per_call G" */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wasm-rt.h>

#include "clock.h"
#include "guest.h"
#include "transport.h"

static uint8_t *reply_body;
static size_t reply_len;

struct transport {
  int unused;
};

enum transport_result transport_post(struct transport *t, uint32_t server, const uint8_t *body, size_t len,
                                     struct transport_reply *reply) {
  (void)t, (void)body, (void)len;
  if (server != 0) return TE_NO_SUCH_SERVER;
  reply->status = 200;
  reply->body = reply_body;
  reply->len = reply_len;
  return TRANSPORT_OK;
}

/* Every memory.grow the guest does (linked with -Wl,--wrap=wasm_rt_grow_memory). */
static long grows;
uint32_t __real_wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta);
uint32_t __wrap_wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta) {
  grows++;
  return __real_wasm_rt_grow_memory(memory, delta);
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: guestloop REPLY_BODY_FILE ITERATIONS\n"), 2;
  FILE *f = fopen(argv[1], "rb");
  if (!f) return perror(argv[1]), 1;
  reply_body = malloc(1 << 20);
  reply_len = fread(reply_body, 1, 1 << 20, f);
  fclose(f);
  long iterations = atol(argv[2]), failures = 0;

  static const char *const args[] = {"socket=http://127.0.0.1:9/", "timeout=5"};
  struct guest_strings list = {args, 2};
  struct bytes config = {(const uint8_t *)"", 0};
  struct transport transport = {0};
  const char *password = "secret";
  const char *detail;

  /* Two loops, interleaved per iteration so both see the same machine:
   *  - authenticate alone: open (instantiate), authenticate, close (wipe, free) — the guest's cost per login;
   *  - a PAM call as pam_sm_authenticate runs it: open, configure, authenticate, close, on one instance. */
  long grows_warm = 0;
  double t_alone = 0, t_pam_call = 0;
  for (long i = -1; i < iterations; i++) { /* i = -1: warm-up, not timed */
    struct settings settings;
    struct verdict verdict;
    struct guest_host host = {.transport = &transport};
    struct guest *g;
    const struct bytes pw = {(const uint8_t *)password, strlen(password)};

    double t0 = now_us();
    enum guest_status s = guest_open(&g, &detail);
    if (s == GUEST_OK) s = guest_authenticate(g, &host, "bench", "alice", pw, list, config, "", &verdict, &detail);
    guest_close(g);
    double t1 = now_us();
    if (s != GUEST_OK || verdict.code != V_SUCCESS) failures++;
    verdict_clear(&verdict);
    long grows_before = grows;

    struct guest_host configure_host = {.transport = NULL};
    double t2 = now_us();
    s = guest_open(&g, &detail);
    if (s == GUEST_OK) s = guest_configure(g, &configure_host, "bench", list, config, &settings, &detail);
    if (s != GUEST_OK || !settings.ok) failures++;
    if (s == GUEST_OK) s = guest_authenticate(g, &host, "bench", "alice", pw, list, config, "", &verdict, &detail);
    guest_close(g);
    double t3 = now_us();
    if (s != GUEST_OK || verdict.code != V_SUCCESS) failures++;
    settings_clear(&settings);
    verdict_clear(&verdict);
    if (i == -1) grows_warm = grows - grows_before;
    if (i >= 0) t_alone += t1 - t0, t_pam_call += t3 - t2;
  }
  printf("us_authenticate %.2f us_pam_call %.2f failures %ld grows_per_call %ld\n", t_alone / (double)iterations,
         t_pam_call / (double)iterations, failures, grows_warm);
  return failures ? 1 : 0;
}
