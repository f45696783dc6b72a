/* See cause.h. errno values are named by this table, never by strerror(), whose text follows the host process's
 * locale and is not what the CLI prints. */
#include "cause.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

void cause_set(char *why, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(why, TRANSPORT_CAUSE_CAP, format, ap);
  va_end(ap);
  if (n < 0) why[0] = '\0';
}

void cause_errno(char *why, int err) {
  static const struct {
    int err;
    const char *text;
  } known[] = {
      {ECONNREFUSED, "connection refused (ECONNREFUSED)"},
      {ENOENT, "no such socket (ENOENT)"},
      {EACCES, "permission denied (EACCES)"},
      {EPERM, "operation not permitted (EPERM)"},
      {ETIMEDOUT, "timed out"},
      {EAGAIN, "timed out"}, /* a blocking socket's SO_RCVTIMEO/SO_SNDTIMEO ran out */
      {EINPROGRESS, "timed out"},
      {EHOSTUNREACH, "no route to host (EHOSTUNREACH)"},
      {ENETUNREACH, "network unreachable (ENETUNREACH)"},
      {ECONNRESET, "connection reset by the server (ECONNRESET)"},
      {EPIPE, "connection closed by the server (EPIPE)"},
      {ECONNABORTED, "connection aborted (ECONNABORTED)"},
      {ENOTSOCK, "not a socket (ENOTSOCK)"},
      {ENOTDIR, "not a directory in the socket path (ENOTDIR)"},
      {EADDRNOTAVAIL, "address not available (EADDRNOTAVAIL)"},
      {EAFNOSUPPORT, "address family not supported (EAFNOSUPPORT)"},
      {ENOMEM, "out of memory (ENOMEM)"},
      {EMFILE, "too many open files (EMFILE)"},
      {ENFILE, "too many open files in the system (ENFILE)"},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (known[i].err == err) {
      cause_set(why, "%s", known[i].text);
      return;
    }
  cause_set(why, "system error %d", err);
}
