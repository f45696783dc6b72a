/* The canonical ABI of wit/pam-mapi.wit, lowered by hand (docs/abi.md). The ONLY file that reads or writes
 * guest memory. Everything that comes out of the guest is untrusted: every pointer/length is checked against
 * the current memory size in 64-bit arithmetic, every enum and flag set is range-checked, every string is
 * checked for UTF-8 (and control characters where it matters) before it is copied out. */
#include <endian.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "guest_instance.h"
#include "log.h"
#include "text.h"
#include "transport.h"

#define MAX_ARGS 64
#define MAX_SERVERS 16
#define MAX_URL 2048
#define MAX_PATH_TEXT 4096
#define MAX_MESSAGE 4096
#define MAX_USER 1024
#define MAX_FEATURES 5 /* imap, pop3, mobile, outlook, webapp */
#define MAX_FEATURE 16

/* ---- memory access -------------------------------------------------------------------------------- */

static bool in_bounds(const wasm_rt_memory_t *m, uint32_t ptr, uint64_t len) {
  return (uint64_t)ptr + len <= m->size;
}

static uint32_t load_u32(const wasm_rt_memory_t *m, uint32_t at) {
  uint32_t v;
  memcpy(&v, m->data + at, sizeof v);
  return le32toh(v);
}

static void store_u32(wasm_rt_memory_t *m, uint32_t at, uint32_t v) {
  v = htole32(v);
  memcpy(m->data + at, &v, sizeof v);
}

static void store_u16(wasm_rt_memory_t *m, uint32_t at, uint16_t v) {
  v = htole16(v);
  memcpy(m->data + at, &v, sizeof v);
}

/* ---- lowering (host -> guest) ------------------------------------------------------------------------ */

struct lowering {
  const char *detail;
};

/* Copies len bytes into memory obtained from the guest's cabi_realloc; false if the guest returned a bad block. */
static bool lower_bytes(struct guest *g, struct lowering *lw, const void *data, size_t len, uint32_t align,
                        uint32_t *ptr) {
  if (len > UINT32_MAX) {
    lw->detail = "input too large for guest memory";
    return false;
  }
  uint32_t p = guest_call_realloc(g, 0, 0, align, (uint32_t)len);
  wasm_rt_memory_t *m = guest_memory(g);
  if ((p & (align - 1)) != 0 || !in_bounds(m, p, len)) {
    lw->detail = "cabi_realloc returned a misaligned or out-of-bounds block";
    return false;
  }
  if (len) memcpy(m->data + p, data, len);
  *ptr = p;
  return true;
}

static bool lower_string(struct guest *g, struct lowering *lw, const char *s, uint32_t out[2]) {
  size_t len = strlen(s);
  out[1] = (uint32_t)len;
  return lower_bytes(g, lw, s, len, 1, &out[0]);
}

static bool lower_strings(struct guest *g, struct lowering *lw, struct guest_strings list, uint32_t out[2]) {
  uint32_t pairs[MAX_ARGS * 2];
  if (list.count > MAX_ARGS) {
    lw->detail = "too many module arguments";
    return false;
  }
  for (size_t i = 0; i < list.count; i++)
    if (!lower_string(g, lw, list.items[i], &pairs[2 * i])) return false;
  for (size_t i = 0; i < 2 * list.count; i++) pairs[i] = htole32(pairs[i]);
  out[1] = (uint32_t)list.count;
  return lower_bytes(g, lw, pairs, 8 * list.count, 4, &out[0]);
}

/* ---- lifting (guest -> host) ------------------------------------------------------------------------- */

/* Copies out a (ptr, len) string at `at` as a fresh C string; NULL (and *detail) if it fails a check. */
static char *lift_string(const wasm_rt_memory_t *m, uint32_t at, size_t max, bool allow_control,
                         const char **detail) {
  uint32_t ptr = load_u32(m, at), len = load_u32(m, at + 4);
  if (!in_bounds(m, ptr, len)) return *detail = "string out of bounds", NULL;
  if (len > max) return *detail = "string too long", NULL;
  const uint8_t *s = m->data + ptr;
  if (!text_utf8_valid(s, len)) return *detail = "string is not valid UTF-8", NULL;
  if (!allow_control && text_has_control(s, len)) return *detail = "string holds control characters", NULL;
  char *copy = malloc((size_t)len + 1);
  if (copy == NULL) return *detail = "out of memory", NULL;
  memcpy(copy, s, len);
  copy[len] = '\0';
  return copy;
}

/* The Kopano features service= may name (wit `settings.features`). */
static bool known_feature(const char *name) {
  static const char *const known[] = {"imap", "pop3", "mobile", "outlook", "webapp"};
  for (size_t i = 0; i < sizeof known / sizeof *known; i++)
    if (strcmp(name, known[i]) == 0) return true;
  return false;
}

static enum guest_status lift_settings(struct guest *g, uint32_t ret, struct settings *out, const char **detail) {
  const wasm_rt_memory_t *m = guest_memory(g);
  if ((ret & 3) != 0 || !in_bounds(m, ret, 44)) return *detail = "configure: return area out of bounds", GUEST_BAD_OUTPUT;
  uint8_t tag = m->data[ret];
  if (tag == 1) {
    out->ok = false;
    out->error = lift_string(m, ret + 4, MAX_MESSAGE, true, detail);
    return out->error ? GUEST_OK : GUEST_BAD_OUTPUT;
  }
  if (tag != 0) return *detail = "configure: bad result tag", GUEST_BAD_OUTPUT;

  uint32_t list = load_u32(m, ret + 4), count = load_u32(m, ret + 8);
  if (count == 0 || count > MAX_SERVERS) return *detail = "configure: server count out of range", GUEST_BAD_OUTPUT;
  if ((list & 3) != 0 || !in_bounds(m, list, 8ull * count))
    return *detail = "configure: server list out of bounds", GUEST_BAD_OUTPUT;
  out->servers = calloc(count, sizeof *out->servers);
  if (out->servers == NULL) return GUEST_NO_MEMORY;
  for (uint32_t i = 0; i < count; i++) {
    out->servers[i] = lift_string(m, list + 8 * i, MAX_URL, false, detail);
    if (out->servers[i] == NULL) return GUEST_BAD_OUTPUT;
    out->server_count = i + 1;
  }
  out->timeout_ms = load_u32(m, ret + 12);
  if (out->timeout_ms == 0 || out->timeout_ms > 3600u * 1000u)
    return *detail = "configure: timeout out of range", GUEST_BAD_OUTPUT;
  out->cafile = lift_string(m, ret + 16, MAX_PATH_TEXT, false, detail);
  if (out->cafile == NULL) return GUEST_BAD_OUTPUT;
  out->capath = lift_string(m, ret + 24, MAX_PATH_TEXT, false, detail);
  if (out->capath == NULL) return GUEST_BAD_OUTPUT;
  out->options = m->data[ret + 32];
  if (out->options & ~(unsigned)OPT_ALL) return *detail = "configure: unknown option flags", GUEST_BAD_OUTPUT;
  uint32_t flist = load_u32(m, ret + 36), fcount = load_u32(m, ret + 40);
  if (fcount > MAX_FEATURES) return *detail = "configure: feature count out of range", GUEST_BAD_OUTPUT;
  if (fcount > 0) {
    if ((flist & 3) != 0 || !in_bounds(m, flist, 8ull * fcount))
      return *detail = "configure: feature list out of bounds", GUEST_BAD_OUTPUT;
    out->features = calloc(fcount, sizeof *out->features);
    if (out->features == NULL) return GUEST_NO_MEMORY;
    for (uint32_t i = 0; i < fcount; i++) {
      out->features[i] = lift_string(m, flist + 8 * i, MAX_FEATURE, false, detail);
      if (out->features[i] == NULL) return GUEST_BAD_OUTPUT;
      out->feature_count = i + 1;
      if (!known_feature(out->features[i])) return *detail = "configure: unknown feature name", GUEST_BAD_OUTPUT;
    }
  }
  out->ok = true;
  return GUEST_OK;
}

static enum guest_status lift_verdict(struct guest *g, uint32_t ret, struct verdict *out, const char **detail) {
  const wasm_rt_memory_t *m = guest_memory(g);
  if ((ret & 3) != 0 || !in_bounds(m, ret, 20)) return *detail = "authenticate: return area out of bounds", GUEST_BAD_OUTPUT;
  uint8_t code = m->data[ret];
  if (code >= V_COUNT) return *detail = "authenticate: verdict code out of range", GUEST_BAD_OUTPUT;
  out->reason = lift_string(m, ret + 4, MAX_MESSAGE, true, detail);
  if (out->reason == NULL) return GUEST_BAD_OUTPUT;
  out->user = lift_string(m, ret + 12, MAX_USER, false, detail);
  if (out->user == NULL) return GUEST_BAD_OUTPUT;
  out->code = (enum verdict_code)code; /* last: a verdict is only usable once every check passed */
  return GUEST_OK;
}

/* ---- the exports ----------------------------------------------------------------------------------- */

struct configure_call {
  const char *service;
  struct guest_strings args;
  struct bytes config;
  struct settings *out;
  const char *detail;
};

static enum guest_status configure_body(struct guest *g, void *arg) {
  struct configure_call *c = arg;
  struct lowering lw = {0};
  uint32_t a[6];
  if (!lower_string(g, &lw, c->service, &a[0]) || !lower_strings(g, &lw, c->args, &a[2]) ||
      !lower_bytes(g, &lw, c->config.data, c->config.len, 1, &a[4])) {
    c->detail = lw.detail;
    return GUEST_BAD_OUTPUT;
  }
  a[5] = (uint32_t)c->config.len;
  return lift_settings(g, guest_call_configure(g, a), c->out, &c->detail);
}

enum guest_status guest_configure(struct guest *g, struct guest_host *host, const char *service,
                                  struct guest_strings args, struct bytes config, struct settings *out,
                                  const char **detail) {
  memset(out, 0, sizeof *out);
  struct configure_call c = {service, args, config, out, NULL};
  enum guest_status status = guest_call(g, host, configure_body, &c, detail);
  if (status != GUEST_OK && status != GUEST_TRAP) *detail = c.detail;
  if (status != GUEST_OK) settings_clear(out);
  return status;
}

struct authenticate_call {
  const char *service, *user, *rhost;
  struct bytes password, config;
  struct guest_strings args;
  struct verdict *out;
  const char *detail;
};

static enum guest_status authenticate_body(struct guest *g, void *arg) {
  struct authenticate_call *c = arg;
  struct lowering lw = {0};
  uint32_t a[12];
  if (!lower_string(g, &lw, c->service, &a[0]) || !lower_string(g, &lw, c->user, &a[2]) ||
      !lower_bytes(g, &lw, c->password.data, c->password.len, 1, &a[4]) || !lower_strings(g, &lw, c->args, &a[6]) ||
      !lower_bytes(g, &lw, c->config.data, c->config.len, 1, &a[8]) || !lower_string(g, &lw, c->rhost, &a[10])) {
    c->detail = lw.detail;
    return GUEST_BAD_OUTPUT;
  }
  a[5] = (uint32_t)c->password.len;
  a[9] = (uint32_t)c->config.len;
  return lift_verdict(g, guest_call_authenticate(g, a), c->out, &c->detail);
}

enum guest_status guest_authenticate(struct guest *g, struct guest_host *host, const char *service, const char *user,
                                     struct bytes password, struct guest_strings args, struct bytes config,
                                     const char *rhost, struct verdict *out, const char **detail) {
  memset(out, 0, sizeof *out);
  out->code = V_SERVICE_ERR;
  struct authenticate_call c = {service, user, rhost, password, config, args, out, NULL};
  enum guest_status status = guest_call(g, host, authenticate_body, &c, detail);
  if (status != GUEST_OK && status != GUEST_TRAP) *detail = c.detail;
  if (status != GUEST_OK) {
    verdict_clear(out);
    out->code = V_SERVICE_ERR;
  }
  return status;
}

struct chauthtok_call {
  const char *service, *user, *rhost;
  enum guest_phase phase;
  struct bytes old_password, new_password, config;
  struct guest_strings args;
  struct verdict *out;
  const char *detail;
};

static enum guest_status chauthtok_body(struct guest *g, void *arg) {
  struct chauthtok_call *c = arg;
  struct lowering lw = {0};
  uint32_t a[15];
  a[2] = (uint32_t)c->phase;
  if (!lower_string(g, &lw, c->service, &a[0]) || !lower_string(g, &lw, c->user, &a[3]) ||
      !lower_bytes(g, &lw, c->old_password.data, c->old_password.len, 1, &a[5]) ||
      !lower_bytes(g, &lw, c->new_password.data, c->new_password.len, 1, &a[7]) ||
      !lower_strings(g, &lw, c->args, &a[9]) || !lower_bytes(g, &lw, c->config.data, c->config.len, 1, &a[11]) ||
      !lower_string(g, &lw, c->rhost, &a[13])) {
    c->detail = lw.detail;
    return GUEST_BAD_OUTPUT;
  }
  a[6] = (uint32_t)c->old_password.len;
  a[8] = (uint32_t)c->new_password.len;
  a[12] = (uint32_t)c->config.len;
  return lift_verdict(g, guest_call_chauthtok(g, a), c->out, &c->detail);
}

enum guest_status guest_chauthtok(struct guest *g, struct guest_host *host, const char *service,
                                  enum guest_phase phase, const char *user, struct bytes old_password,
                                  struct bytes new_password, struct guest_strings args, struct bytes config,
                                  const char *rhost, struct verdict *out, const char **detail) {
  memset(out, 0, sizeof *out);
  out->code = V_SERVICE_ERR;
  struct chauthtok_call c = {service, user, rhost, phase, old_password, new_password, config, args, out, NULL};
  enum guest_status status = guest_call(g, host, chauthtok_body, &c, detail);
  if (status != GUEST_OK && status != GUEST_TRAP) *detail = c.detail;
  if (status != GUEST_OK) {
    verdict_clear(out);
    out->code = V_SERVICE_ERR;
  }
  return status;
}

void settings_clear(struct settings *s) {
  if (s->servers)
    for (size_t i = 0; i < s->server_count; i++) free(s->servers[i]);
  free(s->servers);
  if (s->features)
    for (size_t i = 0; i < s->feature_count; i++) free(s->features[i]);
  free(s->features);
  free(s->error);
  free(s->cafile);
  free(s->capath);
  memset(s, 0, sizeof *s);
}

void verdict_clear(struct verdict *v) {
  free(v->reason);
  free(v->user);
  memset(v, 0, sizeof *v);
  v->code = V_SERVICE_ERR;
}

/* ---- the imports ----------------------------------------------------------------------------------- */

void guest_abi_post(struct guest *g, uint32_t server, uint32_t body_ptr, uint32_t body_len, uint32_t ret) {
  struct guest_host *host = guest_host_of(g);
  wasm_rt_memory_t *m = guest_memory(g);
  if ((ret & 3) != 0 || !in_bounds(m, ret, 16)) guest_fault(g, "post: return area out of bounds");
  if (!in_bounds(m, body_ptr, body_len)) guest_fault(g, "post: body out of bounds");

  /* The body is read in place: no guest code runs until transport_post returns, so memory cannot move. */
  struct transport_reply reply = {0};
  enum transport_result r = TE_NO_SUCH_SERVER;
  if (host->transport) r = transport_post(host->transport, server, m->data + body_ptr, body_len, &reply);

  if (r == TRANSPORT_OK) {
    /* The reply lives in the transport (the per-call context), so a trap in cabi_realloc leaks nothing. */
    uint32_t p = guest_call_realloc(g, 0, 0, 1, (uint32_t)reply.len);
    m = guest_memory(g);
    if (!in_bounds(m, p, reply.len) || !in_bounds(m, ret, 16)) guest_fault(g, "post: cabi_realloc returned a bad block");
    if (reply.len) memcpy(m->data + p, reply.body, reply.len);
    memset(m->data + ret, 0, 16);
    store_u16(m, ret + 4, reply.status);
    store_u32(m, ret + 8, p);
    store_u32(m, ret + 12, (uint32_t)reply.len);
  } else {
    memset(m->data + ret, 0, 16);
    m->data[ret] = 1;
    m->data[ret + 4] = (uint8_t)r;
  }
}

void guest_abi_log(struct guest *g, uint32_t level, uint32_t msg_ptr, uint32_t msg_len) {
  const wasm_rt_memory_t *m = guest_memory(g);
  if (level > 4) guest_fault(g, "log: level out of range");
  if (!in_bounds(m, msg_ptr, msg_len)) guest_fault(g, "log: message out of bounds");
  /* Invalid UTF-8 or control characters in a log line are replaced, not fatal: the text may quote a server. */
  log_guest(guest_host_of(g)->pamh, level, m->data + msg_ptr, msg_len);
}
