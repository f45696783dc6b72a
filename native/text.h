/* Checks on byte strings that come from untrusted places (the guest, the network, module arguments). */
#ifndef PAM_MAPI_TEXT_H
#define PAM_MAPI_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Strict UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF); NUL counts as invalid. */
bool text_utf8_valid(const uint8_t *s, size_t len);

/* True if s holds a C0 control character or DEL. */
bool text_has_control(const uint8_t *s, size_t len);

/* Copies s into out (size > 0) for a log line: invalid UTF-8 and control characters become '?'; truncates. */
void text_sanitize(char *out, size_t size, const uint8_t *s, size_t len);

#endif
