/* The thread-local parts of our wasm-rt.h implementation (native/wasm_rt.c): where a trap jumps to. The call
 * depth is per instance instead (native/wasm_rt_depth.h). */
#ifndef PAM_MAPI_WASM_RT_TLS_H
#define PAM_MAPI_WASM_RT_TLS_H

#include <setjmp.h>
#include <stdint.h>

#include "wasm-rt.h"

/* Make `target` this thread's trap destination; returns the previous one, which
 * wasm_rt_tls_leave restores, so guest calls nest safely. */
jmp_buf *wasm_rt_tls_enter(jmp_buf *target);
void wasm_rt_tls_leave(jmp_buf *previous);

/* True if registering the module's function types ran out of memory; the module must not be instantiated. */
bool wasm_rt_tls_init_failed(void);

#endif
