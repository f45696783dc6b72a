/* Internal interface between guest_instance.c (the only user of the wasm2c-generated names) and
 * guest_abi.c (the only file that reads or writes guest memory). */
#ifndef PAM_MAPI_GUEST_INSTANCE_H
#define PAM_MAPI_GUEST_INSTANCE_H

#include "guest.h"
#include "wasm-rt.h"

struct guest;

/* Runs `body` on the open instance `g` inside a trap scope, with `host` as the imports' view of the world for
 * this call. On a trap, returns GUEST_TRAP and sets *detail; otherwise returns what `body` returned. Any status
 * but GUEST_OK spends the instance: later calls on it fail without running. Everything `body` allocates must
 * hang off `arg`, because a trap skips its frames. */
enum guest_status guest_call(struct guest *g, struct guest_host *host,
                             enum guest_status (*body)(struct guest *, void *), void *arg, const char **detail);

/* The current memory: re-read after every call into the guest, because growth moves it. */
wasm_rt_memory_t *guest_memory(struct guest *g);
struct guest_host *guest_host_of(struct guest *g);

uint32_t guest_call_realloc(struct guest *g, uint32_t old_ptr, uint32_t old_size, uint32_t align, uint32_t size);
uint32_t guest_call_configure(struct guest *g, const uint32_t a[6]);
uint32_t guest_call_authenticate(struct guest *g, const uint32_t a[12]);
uint32_t guest_call_chauthtok(struct guest *g, const uint32_t a[15]);

/* Abort the running guest call from an import because it broke the contract (fault goes to the log). */
_Noreturn void guest_fault(struct guest *g, const char *fault);

/* The imports, implemented in guest_abi.c. */
void guest_abi_post(struct guest *g, uint32_t server, uint32_t body_ptr, uint32_t body_len, uint32_t ret);
void guest_abi_log(struct guest *g, uint32_t level, uint32_t msg_ptr, uint32_t msg_len);

#endif
