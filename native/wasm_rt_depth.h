/* The guest's call-depth counter, inline. build.sh force-includes this (-include) ahead of wasm-rt.h in every
 * file and maps the header's global `wasm_rt_call_stack_depth` to `(*wasm_rt_tls_call_stack_depth())`
 * (native/wasm_rt_tls.h). Every guest function bumps the counter on entry and exit; as an inline accessor of a
 * thread-local in wasm_rt.c that is a TLS access, not a call into another file (measured by npm run bench). */
#ifndef PAM_MAPI_WASM_RT_DEPTH_H
#define PAM_MAPI_WASM_RT_DEPTH_H

#include <stdint.h>

extern _Thread_local uint32_t wasm_rt_tls_depth __attribute__((visibility("hidden")));

static inline uint32_t *wasm_rt_tls_call_stack_depth(void) { return &wasm_rt_tls_depth; }

#endif
