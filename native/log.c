#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

#include <security/pam_ext.h>

#include "text.h"

#define LINE_MAX_BYTES 1024

void log_host(pam_handle_t *pamh, int priority, const char *format, ...) {
  char raw[LINE_MAX_BYTES], clean[LINE_MAX_BYTES];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(raw, sizeof raw, format, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = (size_t)n < sizeof raw ? (size_t)n : sizeof raw - 1;
  text_sanitize(clean, sizeof clean, (const uint8_t *)raw, len);
  pam_syslog(pamh, priority, "%s", clean);
}

void log_guest(pam_handle_t *pamh, uint32_t level, const uint8_t *message, size_t len) {
  static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG};
  if (level >= sizeof priorities / sizeof priorities[0]) return;
  char clean[LINE_MAX_BYTES];
  text_sanitize(clean, sizeof clean, message, len);
  pam_syslog(pamh, priorities[level], "%s", clean);
}
