#!/usr/bin/env bash
# Builds the HTTP client's differential fuzzer (test/fuzz/http-fuzz.c) against the module's own
# native/http_client.c, its socket calls and clock wrapped at link time:
#   build/fuzz/http-fuzz            plain driver (generator + replay), gcc ASan/UBSan: CI's short run
#   build/fuzz/http-fuzz-libfuzzer  coverage-guided (clang -fsanitize=fuzzer), only with `--libfuzzer`; needs
#                                   Debian's clang and libclang-rt-14-dev (npm run fuzz)
#   build/fuzz/http-fuzz-cov        with `--coverage`: the plain driver under gcov, to measure a corpus's coverage
# HTTP_CLIENT_C=file builds against another copy of the client (test/http-fuzz.test.ts: a planted bug must be found);
# OUT=path names the output.
set -euo pipefail
cd "$(dirname "$0")/../.."
mkdir -p build/fuzz
WRAP=-Wl,--wrap=connect,--wrap=send,--wrap=recv,--wrap=setsockopt,--wrap=clock_gettime,--wrap=getaddrinfo,--wrap=freeaddrinfo
# tls.c and openssl_lib.c link in for the https seam; the harness never reaches them (plain http, no trust anchors,
# and OpenSSL is only loaded on a first https use), so the parser fuzzed here is the one https replies go through.
SOURCES=("${HTTP_CLIENT_C:-native/http_client.c}" native/tls.c native/openssl_lib.c native/cause.c
  test/fuzz/strict_http.c test/fuzz/http-fuzz.c)
FLAGS=(-std=gnu11 -g -O1 -Wall -Wextra -Werror -Inative -Itest/fuzz -fno-omit-frame-pointer)
SAN=(-fsanitize=address,undefined -fno-sanitize-recover=all)
if [[ ${1:-} == --coverage ]]; then # line coverage of the client by a corpus: replay it, then gcov (docs/security.md)
  rm -rf build/fuzz/cov && mkdir -p build/fuzz/cov
  for src in "${SOURCES[@]}"; do
    "${CC:-gcc}" "${FLAGS[@]}" -O0 --coverage -c "$src" -o "build/fuzz/cov/$(basename "${src%.c}").o"
  done
  "${CC:-gcc}" --coverage build/fuzz/cov/*.o "$WRAP" -o "${OUT:-build/fuzz/http-fuzz-cov}"
  echo "${OUT:-build/fuzz/http-fuzz-cov}"
elif [[ ${1:-} == --libfuzzer ]]; then
  command -v clang >/dev/null || { echo "build-http-fuzz.sh: clang is missing; apt-get install clang libclang-rt-14-dev" >&2; exit 1; }
  clang "${FLAGS[@]}" -DHTTP_FUZZ_LIBFUZZER -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
    "${SOURCES[@]}" "$WRAP" -o "${OUT:-build/fuzz/http-fuzz-libfuzzer}"
  echo "${OUT:-build/fuzz/http-fuzz-libfuzzer}"
else
  "${CC:-gcc}" "${FLAGS[@]}" "${SAN[@]}" "${SOURCES[@]}" "$WRAP" -o "${OUT:-build/fuzz/http-fuzz}"
  echo "${OUT:-build/fuzz/http-fuzz}"
fi
