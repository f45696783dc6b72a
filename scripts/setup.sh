#!/usr/bin/env bash
# Installs everything pam_mapi needs on Debian 12 (run as root), then builds it.
# Debian packages: the wasm2c toolchain and OpenSSL's libssl (TLS for https://) for the module, libpam for building
# it, and the real PAM consumers the tests and the demo drive (pamtester, pam_wrapper, saslauthd, Apache with
# mod_authnz_pam, Postfix, OpenSSH's sshd and client, Dovecot IMAP).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential pkg-config wabt libssl-dev libpam0g-dev
  pamtester libpam-wrapper sasl2-bin apache2 libapache2-mod-authnz-pam postfix swaks
  valgrind openssl python3 ca-certificates apache2-utils
  mandoc man-db libnss-wrapper
  libpam-pwquality
  openssh-server openssh-client dovecot-imapd
  sudo  # test/setuid.test.ts: sudo run by an unprivileged caller (never configured: a private sudoers in a namespace)
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run this script as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix asks for a mail setup on install; the tests run a private instance, so "Local only" is enough.
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
  apt-get update -q -o DPkg::Lock::Timeout=300
  # The daemons' packages (sshd, Dovecot, saslauthd, Apache, Postfix) would start their system copies on install;
  # the tests run private instances. policy-rc.d exiting 101 forbids that; only a policy-rc.d put here is removed.
  policy=/usr/sbin/policy-rc.d
  own_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"
    chmod 0755 "$policy"
    own_policy=1
    trap 'if [ -n "$own_policy" ]; then rm -f "$policy"; fi' EXIT
  fi
  apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "${missing[@]}"
  if [ -n "$own_policy" ]; then rm -f "$policy"; own_policy=; fi
fi

echo "setup: installing npm packages (npm ci)"
npm ci --no-audit --no-fund
echo "setup: building (guest, host, native module)"
npm run build
# Debian 12's own nodejs 18, unpacked into build/node18 (not installed) for test/node18.test.ts.
echo "setup: fetching Debian's nodejs 18 for the Node 18 test (scripts/debian-node18.sh)"
bash scripts/debian-node18.sh >/dev/null
echo "setup: done"
