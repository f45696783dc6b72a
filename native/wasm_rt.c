/* Our own implementation of the wasm2c 1.0.32 runtime interface (Debian's /usr/src/wasm2c/wasm-rt.h), for
 * bounds-check mode only (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0): no signal handlers, no sigaltstack, no address
 * space reservations. Unlike the stock wasm-rt-impl.c, all trap state is thread-local, so concurrent PAM calls
 * from several threads (Apache mpm_event) cannot longjmp into each other's frames. Guest memory may hold
 * passwords: every block is wiped before it is freed or moved. */
#include "wasm_rt_tls.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "build with -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0: the signal-handler mode is not allowed inside PAM"
#endif
#if !WASM_RT_USE_STACK_DEPTH_COUNT
#error "the call depth must be counted in bounds-check mode"
#endif

#define PAGE_SIZE 65536u
/* Absolute ceiling whatever the module declares (the guest declares 256 pages = 16 MiB). */
#define HOST_MAX_PAGES 1024u
/* The module is built without the exception-handling proposal; keep a small buffer for the interface. */
#define MAX_EXCEPTION_SIZE 256u

/* The call depth is not here: it is per instance (wasm_rt_depth.h). */
static _Thread_local jmp_buf *trap_target;
static _Thread_local jmp_buf *unwind_target;
static _Thread_local uint32_t exception_tag;
static _Thread_local uint32_t exception_size;
static _Thread_local uint8_t exception_value[MAX_EXCEPTION_SIZE];

/* Function types registered by <module>_init_module(), which the loader runs once under pthread_once. */
struct func_type {
  wasm_rt_type_t *params, *results;
  uint32_t param_count, result_count;
};
static struct func_type *func_types;
static uint32_t func_type_count;
static pthread_mutex_t func_types_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t tag_count;
static bool func_types_failed;

jmp_buf *wasm_rt_tls_enter(jmp_buf *target) {
  jmp_buf *previous = trap_target;
  trap_target = target;
  unwind_target = target;
  return previous;
}

void wasm_rt_tls_leave(jmp_buf *previous) {
  trap_target = previous;
  unwind_target = previous;
}

void wasm_rt_trap(wasm_rt_trap_t code) {
  if (trap_target == NULL || code == WASM_RT_TRAP_NONE)
    abort(); /* a trap outside a guest call is a loader bug; there is nowhere safe to go */
  longjmp(*trap_target, (int)code);
}

/* One wiped guest memory block per thread, kept for the thread's next instance. A login needs a zeroed block and
 * leaves a wiped (so again zeroed) one; handing the wiped block to the next instance saves calloc's zeroing, and
 * keeps malloc from trimming and regrowing the heap top around a 128 KiB block at every login (brk, then page
 * faults on fresh pages: measured in the unix-socket loop). It holds nothing but zeros: every block is
 * explicit_bzero'ed before it is kept. The thread-specific key frees it when the thread exits (the module is
 * never unloaded: -z nodelete, so the destructor stays mapped). */
static pthread_key_t spare_key;
static bool spare_key_ok;
static _Thread_local size_t spare_size;

static void spare_release(void *block) { free(block); }

static uint8_t *spare_take(size_t bytes) {
  if (!spare_key_ok) return NULL;
  uint8_t *block = pthread_getspecific(spare_key);
  if (block == NULL || spare_size != bytes || pthread_setspecific(spare_key, NULL) != 0) return NULL;
  return block;
}

/* Keeps a wiped block if the thread has none; false if the caller must free it. */
static bool spare_keep(uint8_t *wiped, size_t bytes) {
  if (!spare_key_ok || pthread_getspecific(spare_key) != NULL || pthread_setspecific(spare_key, wiped) != 0) return false;
  spare_size = bytes;
  return true;
}

void wasm_rt_init(void) { spare_key_ok = pthread_key_create(&spare_key, spare_release) == 0; }
bool wasm_rt_is_initialized(void) { return true; }

void wasm_rt_free(void) {
  pthread_mutex_lock(&func_types_lock);
  for (uint32_t i = 0; i < func_type_count; i++) {
    free(func_types[i].params);
    free(func_types[i].results);
  }
  free(func_types);
  func_types = NULL;
  func_type_count = 0;
  tag_count = 0;
  func_types_failed = false;
  pthread_mutex_unlock(&func_types_lock);
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "no error";
    case WASM_RT_TRAP_OOB: return "out-of-bounds access in linear memory or a table";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow on divide or truncation";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "conversion from NaN to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable instruction executed (guest abort)";
    case WASM_RT_TRAP_CALL_INDIRECT: return "invalid call_indirect";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "uncaught exception";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted or out of memory";
  }
  return "invalid trap code";
}

static bool same_type(const struct func_type *t, uint32_t np, uint32_t nr, const wasm_rt_type_t *types) {
  if (t->param_count != np || t->result_count != nr) return false;
  for (uint32_t i = 0; i < np; i++)
    if (t->params[i] != types[i]) return false;
  for (uint32_t i = 0; i < nr; i++)
    if (t->results[i] != types[np + i]) return false;
  return true;
}

uint32_t wasm_rt_register_func_type(uint32_t param_count, uint32_t result_count, ...) {
  wasm_rt_type_t types[64];
  if (param_count + (uint64_t)result_count > 64) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  va_list ap;
  va_start(ap, result_count);
  for (uint32_t i = 0; i < param_count + result_count; i++) types[i] = va_arg(ap, wasm_rt_type_t);
  va_end(ap);

  pthread_mutex_lock(&func_types_lock);
  uint32_t index = 0;
  for (uint32_t i = 0; i < func_type_count && index == 0; i++)
    if (same_type(&func_types[i], param_count, result_count, types)) index = i + 1;
  if (index == 0) {
    struct func_type *grown = realloc(func_types, (func_type_count + 1) * sizeof *grown);
    wasm_rt_type_t *params = malloc(param_count * sizeof *params + 1);
    wasm_rt_type_t *results = malloc(result_count * sizeof *results + 1);
    if (grown) func_types = grown;
    if (grown && params && results) {
      memcpy(params, types, param_count * sizeof *params);
      memcpy(results, types + param_count, result_count * sizeof *results);
      func_types[func_type_count] = (struct func_type){params, results, param_count, result_count};
      index = ++func_type_count;
    } else {
      free(params);
      free(results);
      func_types_failed = true;
    }
  }
  pthread_mutex_unlock(&func_types_lock);
  return index;
}

/* Two failed registrations would share index 0 and let call_indirect mix up signatures: never instantiate then. */
bool wasm_rt_tls_init_failed(void) {
  pthread_mutex_lock(&func_types_lock);
  bool failed = func_types_failed;
  pthread_mutex_unlock(&func_types_lock);
  return failed;
}

uint32_t wasm_rt_register_tag(uint32_t size) {
  if (size > MAX_EXCEPTION_SIZE) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  pthread_mutex_lock(&func_types_lock);
  uint32_t tag = tag_count++;
  pthread_mutex_unlock(&func_types_lock);
  return tag;
}

void wasm_rt_load_exception(uint32_t tag, uint32_t size, const void *values) {
  if (size > MAX_EXCEPTION_SIZE) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  exception_tag = tag;
  exception_size = size;
  if (size) memcpy(exception_value, values, size);
}

void wasm_rt_throw(void) {
  if (unwind_target == NULL) abort();
  longjmp(*unwind_target, WASM_RT_TRAP_UNCAUGHT_EXCEPTION);
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void) { return unwind_target; }
void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target) { unwind_target = target; }
uint32_t wasm_rt_exception_tag(void) { return exception_tag; }
uint32_t wasm_rt_exception_size(void) { return exception_size; }
void *wasm_rt_exception(void) { return exception_value; }

static uint32_t page_limit(uint32_t declared_max) {
  return declared_max < HOST_MAX_PAGES ? declared_max : HOST_MAX_PAGES;
}

/* Called from instantiation, which the loader always runs inside a trap scope: failure traps. */
void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
  memory->data = NULL;
  memory->pages = memory->size = 0;
  memory->max_pages = page_limit(max_pages);
  if (initial_pages > memory->max_pages) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  size_t bytes = (size_t)initial_pages * PAGE_SIZE;
  memory->data = spare_take(bytes);
  if (memory->data == NULL) memory->data = calloc(bytes ? bytes : 1, 1);
  if (memory->data == NULL) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);
  memory->pages = initial_pages;
  memory->size = (uint32_t)bytes;
}

/* memory.grow: never realloc in place, so no copy of a password is left in freed heap. */
uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta) {
  uint32_t old_pages = memory->pages;
  if (delta == 0) return old_pages;
  uint64_t new_pages = (uint64_t)old_pages + delta;
  if (new_pages > page_limit(memory->max_pages) || new_pages * PAGE_SIZE > UINT32_MAX) return UINT32_MAX;
  uint8_t *data = calloc((size_t)new_pages * PAGE_SIZE, 1);
  if (data == NULL) return UINT32_MAX;
  if (memory->data) {
    memcpy(data, memory->data, memory->size);
    explicit_bzero(memory->data, memory->size);
    if (!spare_keep(memory->data, memory->size)) free(memory->data);
  }
  memory->data = data;
  memory->pages = (uint32_t)new_pages;
  memory->size = (uint32_t)(new_pages * PAGE_SIZE);
  return old_pages;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory) {
  if (memory->data) {
    explicit_bzero(memory->data, memory->size);
    if (!spare_keep(memory->data, memory->size)) free(memory->data);
  }
  memory->data = NULL;
  memory->size = memory->pages = 0;
}

#define DEFINE_TABLE_OPS(type)                                                                          \
  void wasm_rt_allocate_##type##_table(wasm_rt_##type##_table_t *table, uint32_t elements,              \
                                       uint32_t max_elements) {                                         \
    table->size = 0;                                                                                    \
    table->max_size = max_elements;                                                                     \
    table->data = calloc(elements ? elements : 1, sizeof(wasm_rt_##type##_t));                           \
    if (table->data == NULL) wasm_rt_trap(WASM_RT_TRAP_EXHAUSTION);                                     \
    table->size = elements;                                                                             \
  }                                                                                                     \
  void wasm_rt_free_##type##_table(wasm_rt_##type##_table_t *table) {                                   \
    free(table->data);                                                                                  \
    table->data = NULL;                                                                                 \
    table->size = 0;                                                                                    \
  }                                                                                                     \
  uint32_t wasm_rt_grow_##type##_table(wasm_rt_##type##_table_t *table, uint32_t delta,                 \
                                       wasm_rt_##type##_t init) {                                       \
    uint32_t old = table->size;                                                                         \
    uint64_t grown = (uint64_t)old + delta;                                                             \
    if (delta == 0) return old;                                                                         \
    if (grown > table->max_size || grown > (1u << 20)) return UINT32_MAX;                               \
    wasm_rt_##type##_t *data = realloc(table->data, (size_t)grown * sizeof *data);                      \
    if (data == NULL) return UINT32_MAX;                                                                \
    for (uint64_t i = old; i < grown; i++) data[i] = init;                                              \
    table->data = data;                                                                                 \
    table->size = (uint32_t)grown;                                                                      \
    return old;                                                                                         \
  }

DEFINE_TABLE_OPS(funcref)
DEFINE_TABLE_OPS(externref)
