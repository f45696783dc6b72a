/* rawclient: the physical limit of one SOAP logon round trip (bench/roundtrip.h), looped without PAM.
 *
 *   rawclient PORT|SOCKET_PATH REQUEST_FILE ITERATIONS     -> "us_per_auth X failures N" */
#define _GNU_SOURCE
#include "clock.h"
#include "roundtrip.h"

static char request[65536];

int main(int argc, char **argv) {
  if (argc != 4) return fprintf(stderr, "usage: rawclient PORT|SOCKET_PATH REQUEST_FILE ITERATIONS\n"), 2;
  struct endpoint e;
  if (endpoint_parse(argv[1], &e) != 0) return fprintf(stderr, "rawclient: bad endpoint %s\n", argv[1]), 2;
  long request_len = read_request(argv[2], request, sizeof request);
  if (request_len < 0) return perror(argv[2]), 1;
  long iterations = atol(argv[3]), failures = 0;
  round_trip(&e, request, (size_t)request_len);
  double start = now_us();
  for (long i = 0; i < iterations; i++)
    if (round_trip(&e, request, (size_t)request_len) != 0) failures++;
  printf("us_per_auth %.2f failures %ld\n", (now_us() - start) / (double)iterations, failures);
  return failures ? 1 : 0;
}
