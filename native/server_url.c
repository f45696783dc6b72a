/* Validates the server URLs from `configure` with libcurl's own URL parser, and rebuilds each one in the
 * normalised form that the transport hands to libcurl, so what we checked is exactly what gets connected to. */
#include "server_url.h"

#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include <curl/curl.h>

#include "text.h"

#define MAX_URL 2048

static bool part_present(CURLU *u, CURLUPart part) {
  char *value = NULL;
  CURLUcode rc = curl_url_get(u, part, &value, 0);
  bool present = rc == CURLUE_OK && value != NULL && value[0] != '\0';
  curl_free(value);
  return present;
}

static int parse_unix(CURLU *u, struct server *out, const char **why) {
  char *host = NULL, *path = NULL;
  int rc = -1;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0] && strcmp(host, "localhost") != 0) {
    *why = "a file:// URL must not name a host";
    goto done;
  }
  if (curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK || path == NULL || path[0] != '/') {
    *why = "a file:// URL needs an absolute socket path";
    goto done;
  }
  size_t len = strlen(path);
  if (len >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
    *why = "the socket path is too long for a unix socket";
    goto done;
  }
  if (text_has_control((const uint8_t *)path, len)) {
    *why = "the socket path holds control characters";
    goto done;
  }
  out->kind = SERVER_UNIX;
  out->socket_path = strdup(path);
  out->url = strdup("http://localhost/");
  if (out->socket_path == NULL || out->url == NULL) {
    *why = "out of memory";
    goto done;
  }
  rc = 0;
done:
  curl_free(host);
  curl_free(path);
  return rc;
}

static int parse_http(CURLU *u, bool tls, struct server *out, const char **why) {
  char *host = NULL, *url = NULL;
  int rc = -1;
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || host == NULL || host[0] == '\0') {
    *why = "the URL has no host";
    goto done;
  }
  if (strchr(host, '%')) { /* percent-encoded host names or IPv6 zone ids: nothing legitimate needs them */
    *why = "the host name is not plain";
    goto done;
  }
  if (curl_url_get(u, CURLUPART_URL, &url, 0) != CURLUE_OK || url == NULL) {
    *why = "the URL does not normalise";
    goto done;
  }
  out->kind = tls ? SERVER_HTTPS : SERVER_HTTP;
  out->url = strdup(url);
  if (out->url == NULL) {
    *why = "out of memory";
    goto done;
  }
  rc = 0;
done:
  curl_free(host);
  curl_free(url);
  return rc;
}

int server_parse(const char *text, struct server *out, const char **why) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(text);
  if (len == 0 || len > MAX_URL || text_has_control((const uint8_t *)text, len)) {
    *why = "empty, over-long or holds control characters";
    return -1;
  }
  CURLU *u = curl_url();
  if (u == NULL) {
    *why = "out of memory";
    return -1;
  }
  int rc = -1;
  char *scheme = NULL;
  /* CURLU_NON_SUPPORT_SCHEME: parse file:// too even though the handle never speaks it. */
  if (curl_url_set(u, CURLUPART_URL, text, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || scheme == NULL) {
    *why = "not a URL";
    goto done;
  }
  if (part_present(u, CURLUPART_USER) || part_present(u, CURLUPART_PASSWORD) || part_present(u, CURLUPART_OPTIONS) ||
      part_present(u, CURLUPART_QUERY) || part_present(u, CURLUPART_FRAGMENT)) {
    *why = "user info, a query or a fragment is not allowed";
    goto done;
  }
  if (strcmp(scheme, "file") == 0) rc = parse_unix(u, out, why);
  else if (strcmp(scheme, "http") == 0) rc = parse_http(u, false, out, why);
  else if (strcmp(scheme, "https") == 0) rc = parse_http(u, true, out, why);
  else *why = "the scheme must be file, http or https";
done:
  curl_free(scheme);
  curl_url_cleanup(u);
  if (rc != 0) server_clear(out);
  return rc;
}

void server_clear(struct server *s) {
  free(s->url);
  free(s->socket_path);
  memset(s, 0, sizeof *s);
}
