#!/usr/bin/env bash
# Kept for `npm run install-module` / `npm run uninstall-module` and older instructions: the installer is
# scripts/install.sh (module, pam-mapi command, man pages, example configuration, pam-auth-update profile).
#   native/install.sh [DESTDIR]              (or DESTDIR=... PREFIX=... in the environment)
#   native/install.sh --uninstall [DESTDIR]
exec bash "$(dirname "$0")/../scripts/install.sh" "$@"
