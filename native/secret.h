/* Host copies of the password: made in one place, wiped before they are freed. */
#ifndef PAM_MAPI_SECRET_H
#define PAM_MAPI_SECRET_H

#include <stddef.h>

struct secret {
  char *data; /* NUL-terminated; NULL when empty */
  size_t len;
};

/* Copies s (which belongs to libpam) into *out; -1 when out of memory. */
int secret_copy(struct secret *out, const char *s);
/* Wipes and frees; safe on an empty secret. */
void secret_wipe(struct secret *s);

#endif
