#!/bin/sh
# pam-mapi: the administrator's command of pam_mapi, installed by scripts/install.sh (or the libpam-mapi
# package). It runs @LIBDIR@/bin/pam-mapi.mjs with the `node` on PATH (Debian: the nodejs package, version 18.19
# or later); PAM_MAPI_NODE=/path/to/node chooses another one. The version is checked by pam-mapi.mjs itself, so
# that only one Node starts.
node=${PAM_MAPI_NODE:-node}
if ! command -v "$node" >/dev/null 2>&1; then
  echo "pam-mapi: cannot find $node (Node.js 18.19 or later) on PATH" >&2
  echo "fix: apt install nodejs (version 18.19 or later), or set PAM_MAPI_NODE=/path/to/node" >&2
  exit 5
fi
exec "$node" @LIBDIR@/bin/pam-mapi.mjs "$@"
