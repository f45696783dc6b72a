#include "text.h"

/* Length of the valid UTF-8 sequence at s (at most len bytes), or 0 if it is not one. */
static size_t utf8_sequence(const uint8_t *s, size_t len) {
  uint8_t c = s[0];
  if (c >= 0x01 && c < 0x80) return 1;
  size_t n;
  uint32_t min, cp;
  if (c >= 0xc2 && c <= 0xdf) n = 2, min = 0x80, cp = c & 0x1f;
  else if (c >= 0xe0 && c <= 0xef) n = 3, min = 0x800, cp = c & 0x0f;
  else if (c >= 0xf0 && c <= 0xf4) n = 4, min = 0x10000, cp = c & 0x07;
  else return 0;
  if (len < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return n;
}

bool text_utf8_valid(const uint8_t *s, size_t len) {
  for (size_t i = 0; i < len;) {
    size_t n = utf8_sequence(s + i, len - i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

bool text_has_control(const uint8_t *s, size_t len) {
  for (size_t i = 0; i < len; i++)
    if (s[i] < 0x20 || s[i] == 0x7f) return true;
  return false;
}

void text_sanitize(char *out, size_t size, const uint8_t *s, size_t len) {
  size_t o = 0;
  for (size_t i = 0; i < len && o + 1 < size;) {
    size_t n = utf8_sequence(s + i, len - i);
    if (n == 1 && (s[i] < 0x20 || s[i] == 0x7f)) n = 0;
    if (n == 0 || o + n >= size) {
      out[o++] = '?';
      i += n ? n : 1;
      continue;
    }
    for (size_t k = 0; k < n; k++) out[o++] = (char)s[i + k];
    i += n;
  }
  out[o] = '\0';
}
