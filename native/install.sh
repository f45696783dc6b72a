#!/usr/bin/env bash
# Installs build/pam_mapi.so as $DESTDIR/lib/x86_64-linux-gnu/security/pam_mapi.so (Debian's PAM module
# directory), or removes it again:
#   native/install.sh [DESTDIR]              (or DESTDIR=... in the environment)
#   native/install.sh --uninstall [DESTDIR]
# The installed copy is stripped of debug information (build/pam_mapi.so keeps it for valgrind and gdb).
set -euo pipefail
cd "$(dirname "$0")/.."
MODULE_DIR=lib/x86_64-linux-gnu/security

if [[ ${1:-} == --uninstall ]]; then
  DESTDIR=${2:-${DESTDIR:-}}
  rm -f "$DESTDIR/$MODULE_DIR/pam_mapi.so"
  echo "install.sh: removed $DESTDIR/$MODULE_DIR/pam_mapi.so"
  exit 0
fi

DESTDIR=${1:-${DESTDIR:-}}
[[ -f build/pam_mapi.so ]] || { echo "install.sh: build/pam_mapi.so is missing; run npm run build" >&2; exit 1; }
install -d -m 0755 "$DESTDIR/$MODULE_DIR"
install -m 0644 -s build/pam_mapi.so "$DESTDIR/$MODULE_DIR/pam_mapi.so"
echo "install.sh: installed $DESTDIR/$MODULE_DIR/pam_mapi.so"
