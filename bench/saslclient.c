/* saslclient: load for saslauthd's unix socket. THREADS clients, each sending requests back to back (one
 * connection per request, as saslauthd requires) until SECONDS have passed.
 *
 *   saslclient SOCKET USER PASSWORD SERVICE THREADS SECONDS   -> "auths_per_s X ok N failures M" */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_un address;
static char request[1100];
static size_t request_len;
static double deadline;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long ok, failures;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put(const char *s) {
  uint16_t n = htons((uint16_t)strlen(s));
  memcpy(request + request_len, &n, 2);
  memcpy(request + request_len + 2, s, strlen(s));
  request_len += 2 + strlen(s);
}

static int one_request(void) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), good = 0;
  char reply[512];
  size_t len = 0;
  if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof address) == 0 &&
      write(fd, request, request_len) == (ssize_t)request_len) {
    ssize_t r;
    while (len < sizeof reply && (r = read(fd, reply + len, sizeof reply - len)) > 0) len += (size_t)r;
    good = len == 4 && memcmp(reply + 2, "OK", 2) == 0;
  }
  if (fd >= 0) close(fd);
  return good;
}

static void *client(void *arg) {
  (void)arg;
  long mine_ok = 0, mine_failed = 0;
  while (now_s() < deadline) one_request() ? mine_ok++ : mine_failed++;
  pthread_mutex_lock(&lock);
  ok += mine_ok, failures += mine_failed;
  pthread_mutex_unlock(&lock);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc != 7) return fprintf(stderr, "usage: saslclient SOCKET USER PASSWORD SERVICE THREADS SECONDS\n"), 2;
  address.sun_family = AF_UNIX;
  snprintf(address.sun_path, sizeof address.sun_path, "%s", argv[1]);
  put(argv[2]), put(argv[3]), put(argv[4]), put("");
  int threads = atoi(argv[5]);
  double seconds = atof(argv[6]), start = now_s();
  deadline = start + seconds;
  pthread_t t[64];
  for (int i = 0; i < threads && i < 64; i++) pthread_create(&t[i], NULL, client, NULL);
  for (int i = 0; i < threads && i < 64; i++) pthread_join(t[i], NULL);
  double elapsed = now_s() - start;
  printf("auths_per_s %.1f ok %ld failures %ld\n", (double)(ok + failures) / elapsed, ok, failures);
  return failures ? 1 : 0;
}
