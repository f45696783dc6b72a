#!/usr/bin/env bash
# Installs pam_mapi from a built checkout (npm run build), or removes it again:
#   scripts/install.sh [DESTDIR]               (also: make install, npm run install-module)
#   scripts/install.sh --uninstall [DESTDIR]   (also: make uninstall, npm run uninstall-module)
#
# Environment (all optional):
#   DESTDIR         staging root, prepended to every path below (default: empty, the live system)
#   PREFIX          where the pam-mapi command, its man pages and docs go (default /usr/local)
#   DOCDIR          default $PREFIX/share/doc/pam-mapi (the Debian package: /usr/share/doc/libpam-mapi); the man
#                   pages installed name this directory
#   SYSCONFDIR      default /etc; the example configuration goes to $SYSCONFDIR/security/pam_mapi.conf
#   PAM_MODULE_DIR  default /lib/<multiarch>/security, where libpam looks for modules named without a path
#   INSTALL_CONFIG  "no" skips $SYSCONFDIR/security/pam_mapi.conf (the Debian package creates it in postinst)
#
# What goes where (PREFIX=/usr/local):
#   /lib/x86_64-linux-gnu/security/pam_mapi.so    the module, stripped (build/pam_mapi.so keeps debug info)
#   /usr/local/lib/pam-mapi/                      the pam-mapi command: build/host, build/jco, its production
#                                                 node_modules (soap, ini and their dependencies), package.json
#   /usr/local/sbin/pam-mapi                      launcher: runs lib/pam-mapi with the `node` on PATH
#                                                 (Debian's nodejs package, 18.19 or later; PAM_MAPI_NODE overrides);
#                                                 in sbin, an administrator's tool like sssctl and testsaslauthd
#   /usr/local/share/man/man{1,5,8}/              pam-mapi(1), pam_mapi.conf(5), pam_mapi(8), naming DOCDIR
#   /usr/local/share/doc/pam-mapi/                README.md, examples/pam_mapi.conf, recipes/
#   /usr/share/pam-configs/mapi                   pam-auth-update profile (Default: no; nothing changes until
#                                                 an administrator selects it in `pam-auth-update`)
#   /etc/security/pam_mapi.conf                   the commented example, root:root 0644, only if absent: it holds
#                                                 no secret, and every consumer must read it (the module reads it
#                                                 with the caller's rights: www-data in Apache; a monitoring user's
#                                                 pam-mapi check); only root may write it (docs/security.md)
# Uninstalling removes all of these except /etc/security/pam_mapi.conf, which is yours.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=install
if [[ ${1:-} == --uninstall ]]; then mode=uninstall; shift; fi
DESTDIR=${1:-${DESTDIR:-}}
PREFIX=${PREFIX:-/usr/local}
SYSCONFDIR=${SYSCONFDIR:-/etc}
DOCDIR=${DOCDIR:-$PREFIX/share/doc/pam-mapi}
multiarch=$(gcc -print-multiarch 2>/dev/null || true)
PAM_MODULE_DIR=${PAM_MODULE_DIR:-/lib/${multiarch:-x86_64-linux-gnu}/security}
PAM_CONFIGS_DIR=/usr/share/pam-configs
INSTALL_CONFIG=${INSTALL_CONFIG:-yes}

for dir in "$PREFIX" "$SYSCONFDIR" "$PAM_MODULE_DIR" "$DOCDIR"; do
  [[ $dir == /* ]] || { echo "install.sh: $dir is not an absolute path" >&2; exit 2; }
done
[[ -z $DESTDIR || $DESTDIR == /* ]] || DESTDIR=$PWD/$DESTDIR

module=$DESTDIR$PAM_MODULE_DIR/pam_mapi.so
libdir=$DESTDIR$PREFIX/lib/pam-mapi
launcher=$DESTDIR$PREFIX/sbin/pam-mapi
# Where earlier installs put the launcher; removed when it is ours (it runs our lib/pam-mapi), so PATH finds sbin.
old_launcher=$DESTDIR$PREFIX/bin/pam-mapi
mandir=$DESTDIR$PREFIX/share/man
docdir=$DESTDIR$DOCDIR
profile=$DESTDIR$PAM_CONFIGS_DIR/mapi
config=$DESTDIR$SYSCONFDIR/security/pam_mapi.conf
manpages=(man/pam-mapi.1 man/pam_mapi.conf.5 man/pam_mapi.8)

say() { echo "install.sh: $*"; }
remove_old_launcher() {
  if [[ -f $old_launcher ]] && grep -qF "$PREFIX/lib/pam-mapi/bin/pam-mapi.mjs" "$old_launcher"; then
    rm -f "$old_launcher"
    say "removed $old_launcher (the command is in $PREFIX/sbin now)"
  fi
}

if [[ $mode == uninstall ]]; then
  if [[ -z $DESTDIR ]]; then
    # A profile still selected in common-* would leave every login naming a module that is gone.
    if grep -qs 'pam_mapi\.so' /etc/pam.d/common-* && command -v pam-auth-update >/dev/null; then
      say "removing the mapi profile from /etc/pam.d/common-* (pam-auth-update --package --remove mapi)"
      pam-auth-update --package --remove mapi
    fi
    users=$(grep -ls 'pam_mapi\.so' /etc/pam.d/* 2>/dev/null || true)
    if [[ -n $users ]]; then
      echo "install.sh: warning: these PAM services still name pam_mapi.so and will fail until you edit them:" $users >&2
    fi
  fi
  rm -f "$module" "$launcher" "$profile"
  remove_old_launcher
  rm -rf "$libdir" "$docdir"
  for page in "${manpages[@]}"; do rm -f "$mandir/man${page##*.}/$(basename "$page").gz"; done
  say "removed $module, $launcher, $libdir, the man pages, $docdir and $profile"
  [[ -e $config ]] && say "kept $config (your configuration; remove it yourself if you no longer need it)"
  exit 0
fi

missing=()
for f in build/pam_mapi.so build/host/cli/main.js build/jco/pam_mapi.js; do [[ -f $f ]] || missing+=("$f"); done
if ((${#missing[@]})); then
  echo "install.sh: ${missing[*]} missing" >&2
  echo "fix: npm run build (after sudo bash scripts/setup.sh on a fresh machine)" >&2
  exit 1
fi

# The module.
install -d -m 0755 "$(dirname "$module")"
install -m 0644 -s build/pam_mapi.so "$module"
say "installed $module"

# The pam-mapi command: a self-contained copy, so it keeps working when the checkout moves or goes away.
rm -rf "$libdir"
install -d -m 0755 "$libdir/bin" "$libdir/build" "$libdir/host/emulator"
cp -R build/host build/jco "$libdir/build/"
find "$libdir/build" -name '*.map' -delete # they point at host/*.ts, which is not installed
install -m 0644 bin/pam-mapi.mjs "$libdir/bin/pam-mapi.mjs"
install -m 0644 host/emulator/demo-users.json "$libdir/host/emulator/demo-users.json"
# package.json marks the copy as ES modules and carries the name and version `pam-mapi --version` prints.
node -e '
  const p = require("./package.json");
  const keep = { name: p.name, version: p.version, description: p.description, license: p.license, type: p.type, private: true };
  process.stdout.write(JSON.stringify(keep, null, 2) + "\n");
' > "$libdir/package.json"
# Production dependencies only, as Node resolves them (nested ones travel with their parent).
deps=$(node scripts/production-deps.mjs) || exit 1
copied=()
while IFS= read -r rel; do
  [[ $rel == node_modules/* ]] || continue
  for done_dir in "${copied[@]}"; do [[ $rel == "$done_dir"/* ]] && continue 2; done
  install -d -m 0755 "$libdir/$(dirname "$rel")"
  cp -R "$rel" "$libdir/$rel"
  copied+=("$rel")
done <<< "$deps"
((${#copied[@]})) || { echo "install.sh: no production dependencies found in node_modules; fix: npm ci" >&2; exit 1; }
chmod -R u=rwX,go=rX "$libdir"
install -d -m 0755 "$(dirname "$launcher")"
sed "s|@LIBDIR@|$PREFIX/lib/pam-mapi|g" scripts/pam-mapi.launcher.sh > "$launcher"
chmod 0755 "$launcher"
remove_old_launcher
say "installed $launcher (with $PREFIX/lib/pam-mapi, ${#copied[@]} npm packages)"

# Man pages, compressed as Debian does. They name the Debian package's documentation directory; this install's
# DOCDIR replaces it, so that `man pam_mapi` points at files that are there.
for page in "${manpages[@]}"; do
  section=${page##*.}
  install -d -m 0755 "$mandir/man$section"
  sed "s|/usr/share/doc/libpam-mapi|$DOCDIR|g" "$page" | gzip -9n > "$mandir/man$section/$(basename "$page").gz"
  chmod 0644 "$mandir/man$section/$(basename "$page").gz"
done
say "installed man pages under $mandir"

install -d -m 0755 "$docdir/examples" "$docdir/recipes"
install -m 0644 README.md "$docdir/README.md"
install -m 0644 config/pam_mapi.conf.example "$docdir/examples/pam_mapi.conf"
cp -R docs/recipes/. "$docdir/recipes/"
chmod -R u=rwX,go=rX "$docdir"

install -d -m 0755 "$(dirname "$profile")"
install -m 0644 debian/pam-configs/mapi "$profile"
say "installed $profile (select it with pam-auth-update to use pam_mapi in /etc/pam.d/common-*)"

if [[ $INSTALL_CONFIG == yes ]]; then
  if [[ -e $config || -L $config ]]; then
    say "kept the existing $config"
  else
    install -d -m 0755 "$(dirname "$config")"
    install -m 0644 config/pam_mapi.conf.example "$config"
    if [[ $(id -u) -eq 0 ]]; then chown root:root "$config"; fi
    say "installed $config (root:root 0644; edit socket= and check it with: pam-mapi config)"
  fi
fi
