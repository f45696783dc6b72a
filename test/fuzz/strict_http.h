/* An independent, strict reader of one HTTP/1.1 reply (RFC 9112, RFC 9110), written apart from
 * native/http_client.c and sharing no code with it: the oracle of the differential fuzzer (http-fuzz.c).
 *
 * It reads the whole reply at once (not incrementally, unlike the client) and says what a strict recipient
 * concludes from these bytes: a complete message, a final status other than 200/500, a refusal, or "more bytes
 * needed". With limits on, it also applies the client's documented stricter-than-RFC limits and policies, each a
 * named class (STRICT_LIMIT and STRICT_TOO_LARGE, `why` names it), so that every refusal of the client can be
 * traced to either an RFC rule or one of those classes. */
#ifndef PAM_MAPI_STRICT_HTTP_H
#define PAM_MAPI_STRICT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum strict_verdict {
  STRICT_MORE,      /* a valid beginning: the reply is not complete yet */
  STRICT_MESSAGE,   /* complete, status 200 or 500: body holds the decoded body */
  STRICT_STATUS,    /* a complete final head with another status (the client stops there: http-status) */
  STRICT_INVALID,   /* breaks RFC 9112/9110 (including choices the RFC leaves to a recipient: refuse) */
  STRICT_LIMIT,     /* valid, but over one of the client's documented limits or outside its policy */
  STRICT_TOO_LARGE, /* a body over the client's 1 MiB cap */
};

#define STRICT_HEAD_CAP 16384u     /* all heads of a reply (1xx included), line ends included */
#define STRICT_CHUNK_LINE_CAP 1024u /* one chunk-size line, without its CRLF */
#define STRICT_TRAILER_CAP 16384u  /* the trailer section, line ends included */
#define STRICT_INTERIM_CAP 8       /* 1xx replies before the final one */
#define STRICT_BODY_CAP (1024u * 1024u)

struct strict_result {
  enum strict_verdict verdict;
  const char *why; /* for INVALID and LIMIT: which rule or which limit class */
  int status;
  uint8_t *body;   /* STRICT_MESSAGE: malloc'd (free it), body_len bytes */
  size_t body_len;
};

/* eof: the server closed the connection cleanly after these bytes. limits: apply the client's limits. */
void strict_read(const uint8_t *data, size_t len, bool eof, bool limits, struct strict_result *out);

#endif
