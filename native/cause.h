/* The words of the per-server log line: why a post to one server failed, the same words the pam-mapi CLI uses
 * (docs/security.md, "Why a server failed"). Every function writes at most TRANSPORT_CAUSE_CAP bytes. */
#ifndef PAM_MAPI_CAUSE_H
#define PAM_MAPI_CAUSE_H

#include "transport_result.h"

/* "connection refused (ECONNREFUSED)", "no such socket (ENOENT)", "permission denied (EACCES)", "timed out", ... */
void cause_errno(char *why, int err);
/* printf-style, truncated to the cap. */
void cause_set(char *why, const char *format, ...) __attribute__((format(printf, 2, 3)));

#endif
