#!/usr/bin/env bash
# Builds the benchmark tools into build/bench/ from bench/*.c. The guest driver links the module's own loader
# objects from build/gen/ (native/build.sh), so run `npm run build` first.
set -euo pipefail
cd "$(dirname "$0")/.."
CC=${CC:-gcc}
OUT=build/bench
mkdir -p "$OUT"
FLAGS=(-std=gnu11 -O2 -g -Wall -Wextra -Werror)
"$CC" "${FLAGS[@]}" -pthread -o "$OUT/canned" bench/canned.c
"$CC" "${FLAGS[@]}" -o "$OUT/pamloop" bench/pamloop.c -lpam
"$CC" "${FLAGS[@]}" -o "$OUT/rawclient" bench/rawclient.c
# https: a TLS responder (resuming and non-resuming listeners) and the raw TLS client, both on Debian's libssl.
"$CC" "${FLAGS[@]}" -pthread -o "$OUT/canned_tls" bench/canned_tls.c -lssl -lcrypto
"$CC" "${FLAGS[@]}" -o "$OUT/rawtls" bench/rawtls.c -lssl -lcrypto
# The raw round trip inside PAM (never installed): resident like pam_mapi.so, so both keep their state the same way.
"$CC" "${FLAGS[@]}" -fPIC -shared -fvisibility=hidden -pthread -Wl,-z,nodelete -o "$OUT/pam_raw.so" bench/pam_raw.c -lpam
"$CC" "${FLAGS[@]}" -pthread -o "$OUT/saslclient" bench/saslclient.c
"$CC" "${FLAGS[@]}" -o "$OUT/blackhole" bench/blackhole.c
# The guest alone: the module's loader objects, this driver's canned transport instead of transport.o, and a
# counter around memory.grow.
GEN=build/gen
"$CC" "${FLAGS[@]}" -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -include native/wasm_rt_depth.h -I/usr/src/wasm2c -Inative -I"$GEN" \
  -Wl,--wrap=wasm_rt_grow_memory -o "$OUT/guestloop" bench/guestloop.c \
  "$GEN"/{pam_mapi,guest_abi,guest_instance,wasm_rt,log,text}.o -lpam
