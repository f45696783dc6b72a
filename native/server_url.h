/* The server URLs that `configure` returned, validated by the host before any network input exists. */
#ifndef PAM_MAPI_SERVER_URL_H
#define PAM_MAPI_SERVER_URL_H

#include <stddef.h>

enum server_kind { SERVER_UNIX, SERVER_HTTP, SERVER_HTTPS };

struct server {
  enum server_kind kind;
  char *url;         /* what libcurl is given: the normalised http(s) URL, or http://localhost/ for a socket */
  char *socket_path; /* SERVER_UNIX: absolute path that fits sun_path */
};

/* 0 and a filled *out, or -1 with a static reason in *why. */
int server_parse(const char *text, struct server *out, const char **why);
void server_clear(struct server *s);

#endif
