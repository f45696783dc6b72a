/* The server URLs that `configure` returned, validated by the host before any network input exists. */
#ifndef PAM_MAPI_SERVER_URL_H
#define PAM_MAPI_SERVER_URL_H

#include <stddef.h>
#include <stdint.h>

enum server_kind { SERVER_UNIX, SERVER_HTTP, SERVER_HTTPS };

struct server {
  enum server_kind kind;
  char *url;         /* the normalised URL: what debug and warning lines name */
  char *socket_path; /* SERVER_UNIX: absolute path that fits sun_path */
  char *host;        /* SERVER_HTTP(S): DNS name or address, without brackets; "localhost" for a socket */
  char *authority;   /* the Host header: host[:port] as written, brackets kept */
  char *path;        /* the request target, starts with '/' */
  uint16_t port;     /* SERVER_HTTP(S) */
};

/* 0 and a filled *out, or -1 with a static reason in *why. */
int server_parse(const char *text, struct server *out, const char **why);
void server_clear(struct server *s);

#endif
