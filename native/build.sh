#!/usr/bin/env bash
# Builds the native PAM module build/pam_mapi.so from the guest build/pam_mapi.wasm (run `npm run build:guest`
# first), the test-only variant build/test/pam_mapi_testguest.so from native/testguest/, and the test tools
# build/pamdrive and build/pamthreads. Generated C goes to build/gen/ and is never committed.
set -euo pipefail
cd "$(dirname "$0")/.."

CC=${CC:-gcc}
RT_DIR=/usr/src/wasm2c # Debian wabt 1.0.32: we use its wasm-rt.h, never its wasm-rt-impl.c or libwasm-rt-impl.a
[[ -f build/pam_mapi.wasm ]] || { echo "build.sh: build/pam_mapi.wasm is missing; run npm run build:guest" >&2; exit 1; }
[[ -f $RT_DIR/wasm-rt.h ]] || { echo "build.sh: $RT_DIR/wasm-rt.h is missing; apt-get install wabt" >&2; exit 1; }

# Bounds-check mode (no signal handlers, no guard regions) and a per-instance call-depth counter in place of
# the header's global one (see native/wasm_rt_depth.h).
RT_DEFS=(-DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0 -include native/wasm_rt_depth.h)
# TLS descriptors (gnu2) for the trap state in wasm_rt.c: with the default dialect each thread-local access in a
# dlopen'ed module is a call to __tls_get_addr; with descriptors glibc resolves it to a static-TLS offset when
# there is room, and falls back to the dynamic path by itself when there is not, so loading never fails for lack
# of static TLS.
BASE=(-std=gnu11 -O2 -g -fPIC -fvisibility=hidden -mtls-dialect=gnu2 "${RT_DEFS[@]}" -I"$RT_DIR" -Inative)
STRICT=(-Wall -Wextra -Werror)
# wasm2c output is not warning-clean (unused labels, comma expressions); NDEBUG drops its asserts. -O3 (after
# BASE's -O2, so it wins) makes the guest ~10 % faster for ~18 KB of code (npm run bench, guest alone).
GENERATED=(-O3 -w -DNDEBUG)
# nodelete: libpam dlclose()s the module at every pam_end (saslauthd, Apache, sshd run one PAM transaction per
# login); staying resident saves re-loading OpenSSL each time and keeps the TLS session cache (docs/performance.md).
# No per-call state survives: each call gets a fresh guest instance and its own connections; what the process
# keeps holds nothing of a user (native/tls.c). libssl (Debian's libssl3) is not linked: it is loaded on the first
# https use (native/openssl_lib.c), so http:// and unix-socket modules never map it.
LINK=(-shared -Wl,--version-script=native/pam_mapi.map -Wl,-z,relro,-z,now -Wl,-z,defs -Wl,-z,nodelete -lpam)
SOURCES=(pam_entry guest_abi guest_instance wasm_rt transport http_client tls openssl_lib cause server_url config_file log text secret)

# build_module WASM GEN_DIR OUTPUT
build_module() {
  local wasm=$1 gen=$2 out=$3 objs=()
  mkdir -p "$gen"
  wasm2c "$wasm" -n pam_mapi -o "$gen/pam_mapi.c"
  "$CC" "${BASE[@]}" "${GENERATED[@]}" -I"$gen" -c "$gen/pam_mapi.c" -o "$gen/pam_mapi.o"
  objs+=("$gen/pam_mapi.o")
  for src in "${SOURCES[@]}"; do
    "$CC" "${BASE[@]}" "${STRICT[@]}" -I"$gen" -c "native/$src.c" -o "$gen/$src.o"
    objs+=("$gen/$src.o")
  done
  "$CC" "${BASE[@]}" -o "$out" "${objs[@]}" "${LINK[@]}"
  check_module "$out"
}

# Only pam_sm_* may be exported, and nothing may pull in signal handling.
check_module() {
  local so=$1 exported bad
  exported=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
  bad=$(grep -v '^pam_sm_' <<<"$exported" || true)
  [[ -z $bad ]] || { echo "build.sh: $so exports more than pam_sm_*: $bad" >&2; exit 1; }
  bad=$(nm -D --undefined-only "$so" | awk '{print $2}' | grep -E '^(sigaction|signal|sigaltstack|sigset|bsd_signal|sysv_signal|alarm|exit|_exit|mmap)(@|$)' || true)
  [[ -z $bad ]] || { echo "build.sh: $so imports forbidden functions: $bad" >&2; exit 1; }
}

mkdir -p build/test
build_module build/pam_mapi.wasm build/gen build/pam_mapi.so

node_modules/.bin/asc native/testguest/index.ts --runtime stub -O2 --initialMemory 4 --maximumMemory 256 \
  --use abort=native/testguest/index/trap -o build/test/testguest.wasm
build_module build/test/testguest.wasm build/test/gen build/test/pam_mapi_testguest.so

TOOL=(-std=gnu11 -O2 -g "${STRICT[@]}")
"$CC" "${TOOL[@]}" -o build/pamdrive native/tools/pamdrive.c -lpam
"$CC" "${TOOL[@]}" -pthread -o build/pamthreads native/tools/pamthreads.c -lpam

echo "build.sh: build/pam_mapi.so $(stat -c %s build/pam_mapi.so) bytes; exports: $(nm -D --defined-only build/pam_mapi.so | awk '{print $3}' | tr '\n' ' ')"
