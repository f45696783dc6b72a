/* Everything the module says goes through pam_syslog, with control characters stripped. */
#ifndef PAM_MAPI_LOG_H
#define PAM_MAPI_LOG_H

#include <stddef.h>
#include <stdint.h>

#include <security/pam_modules.h>

/* A host message (printf-style); the formatted text is sanitized before it reaches syslog. */
void log_host(pam_handle_t *pamh, int priority, const char *format, ...) __attribute__((format(printf, 3, 4)));

/* A guest log line; `level` is the checked WIT level (0 error … 4 debug). */
void log_guest(pam_handle_t *pamh, uint32_t level, const uint8_t *message, size_t len);

#endif
