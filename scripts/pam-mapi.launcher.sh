#!/bin/sh
# pam-mapi: the administrator's command of pam_mapi, installed by scripts/install.sh (or the libpam-mapi
# package). It runs @LIBDIR@/bin/pam-mapi.mjs with the `node` on PATH (Debian: the nodejs package, version 20
# or later); PAM_MAPI_NODE=/path/to/node chooses another one.
node=${PAM_MAPI_NODE:-node}
if ! command -v "$node" >/dev/null 2>&1; then
  echo "pam-mapi: cannot find $node (Node.js 20 or later) on PATH" >&2
  echo "fix: apt install nodejs (version 20 or later), or set PAM_MAPI_NODE=/path/to/node" >&2
  exit 5
fi
if ! "$node" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' 2>/dev/null; then
  echo "pam-mapi: $("$node" --version 2>/dev/null || echo "$node") is too old; pam-mapi needs Node.js 20 or later" >&2
  echo "fix: install Node.js 20 or later, or set PAM_MAPI_NODE=/path/to/node" >&2
  exit 5
fi
exec "$node" @LIBDIR@/bin/pam-mapi.mjs "$@"
