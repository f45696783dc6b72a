#include "secret.h"

#include <stdlib.h>
#include <string.h>

int secret_copy(struct secret *out, const char *s) {
  size_t len = strlen(s);
  out->data = malloc(len + 1);
  if (out->data == NULL) {
    out->len = 0;
    return -1;
  }
  memcpy(out->data, s, len + 1);
  out->len = len;
  return 0;
}

void secret_wipe(struct secret *s) {
  if (s->data) {
    explicit_bzero(s->data, s->len + 1);
    free(s->data);
  }
  s->data = NULL;
  s->len = 0;
}
