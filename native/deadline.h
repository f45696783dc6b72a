/* The per-server deadline on blocking sockets: never a signal or alarm. Before every wait the socket's
 * SO_SNDTIMEO or SO_RCVTIMEO is set to what is left of the deadline (a poll()-based wait cost ~15 µs more per
 * login: docs/performance.md). Shared by the HTTP client and the TLS layer. */
#ifndef PAM_MAPI_DEADLINE_H
#define PAM_MAPI_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

static inline uint64_t deadline_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline bool deadline_passed(uint64_t deadline_ns) { return deadline_now_ns() >= deadline_ns; }

/* Bounds the next blocking wait of one kind (SO_SNDTIMEO: connect, send; SO_RCVTIMEO: recv) by what is left
 * of the deadline; false when nothing is left (or the option cannot be set: never block without a bound). */
static inline bool deadline_arm(int fd, int option, uint64_t deadline_ns) {
  uint64_t now = deadline_now_ns();
  if (now >= deadline_ns) return false;
  uint64_t us = (deadline_ns - now + 999u) / 1000u; /* at least 1 µs: a zero timeval would mean "no timeout" */
  struct timeval tv = {.tv_sec = (time_t)(us / 1000000u), .tv_usec = (suseconds_t)(us % 1000000u)};
  return setsockopt(fd, SOL_SOCKET, option, &tv, sizeof tv) == 0;
}

#endif
