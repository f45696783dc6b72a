/* The guest's call-depth counter, per instance. build.sh force-includes this (-include) in every file, ahead of
 * wasm-rt.h.
 *
 * Debian's wasm-rt.h (wabt 1.0.32) declares `extern uint32_t wasm_rt_call_stack_depth;`, a process global that
 * every generated function increments on entry and decrements on exit. A global is wrong under Apache's threads
 * and a thread-local costs a TLS access (a call, in a dlopen'ed module) twice per guest function call: 7-9 % of
 * a login (npm run bench). So the counter lives in struct guest (guest_instance.c), GUEST_DEPTH_OFFSET bytes
 * before the wasm2c instance, and each generated function reaches it through its own `instance` argument. An
 * instance runs on one thread at a time and is never re-entered from another instance, so per instance is per
 * thread; after a trap the instance is spent (never called again), so the counter needs no restoring.
 *
 * The header declares its extern only when counting is on: include it once with counting off, then turn
 * counting on for the generated code's FUNC_PROLOGUE/FUNC_EPILOGUE. */
#ifndef PAM_MAPI_WASM_RT_DEPTH_H
#define PAM_MAPI_WASM_RT_DEPTH_H

#include <stdint.h>

#define WASM_RT_USE_STACK_DEPTH_COUNT 0
#include "wasm-rt.h"
#undef WASM_RT_USE_STACK_DEPTH_COUNT
#define WASM_RT_USE_STACK_DEPTH_COUNT 1

#ifndef WASM_RT_MAX_CALL_STACK_DEPTH
#define WASM_RT_MAX_CALL_STACK_DEPTH 500
#endif

#define GUEST_DEPTH_OFFSET 16
#define wasm_rt_call_stack_depth (*(uint32_t *)((char *)instance - GUEST_DEPTH_OFFSET))

#endif
