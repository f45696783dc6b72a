/* The thread-local parts of our wasm-rt.h implementation (native/wasm_rt.c).
 *
 * Debian's wasm-rt.h declares `extern uint32_t wasm_rt_call_stack_depth;` as a process global, which the
 * generated code increments on every guest call. build.sh compiles everything with
 *   -D'wasm_rt_call_stack_depth=(*wasm_rt_tls_call_stack_depth())'
 * so that declaration becomes a function returning a pointer to our _Thread_local counter, without patching
 * the header. */
#ifndef PAM_MAPI_WASM_RT_TLS_H
#define PAM_MAPI_WASM_RT_TLS_H

#include <setjmp.h>
#include <stdint.h>

#include "wasm-rt.h"

/* wasm_rt_tls_call_stack_depth() is an inline accessor in wasm_rt_depth.h (force-included by build.sh). */

/* Make `target` this thread's trap destination (saving the call depth); returns the previous one, which
 * wasm_rt_tls_leave restores, so guest calls nest safely. */
jmp_buf *wasm_rt_tls_enter(jmp_buf *target);
void wasm_rt_tls_leave(jmp_buf *previous);

/* True if registering the module's function types ran out of memory; the module must not be instantiated. */
bool wasm_rt_tls_init_failed(void);

#endif
