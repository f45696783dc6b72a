/* The benchmark drivers' clocks (pamloop, rawclient, rawtls, guestloop): wall time and this process's CPU time, in
 * microseconds. Include after #define _GNU_SOURCE, like the drivers' other headers. */
#ifndef PAM_MAPI_BENCH_CLOCK_H
#define PAM_MAPI_BENCH_CLOCK_H

#include <sys/resource.h>
#include <time.h>

/* Monotonic wall time. */
static inline double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* CPU time (user + system) of this process: less disturbed than wall time by other jobs on a shared machine. */
static inline double cpu_us(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

#endif
