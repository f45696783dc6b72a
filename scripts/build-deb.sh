#!/usr/bin/env bash
# Builds the Debian package libpam-mapi_<version>_<arch>.deb from a built checkout (npm run build), with
# dpkg-deb alone (no debhelper): the files are exactly what scripts/install.sh installs with PREFIX=/usr, the
# docs under /usr/share/doc/libpam-mapi, and debian/{postinst,prerm,postrm,copyright}.
#   scripts/build-deb.sh [OUTDIR]     (default build/; also: npm run deb, make deb)
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."

outdir=${1:-build}
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
version=$(node -p 'require("./package.json").version')
arch=$(dpkg --print-architecture)
package=libpam-mapi
deb=$outdir/${package}_${version}_${arch}.deb

stage=$(mktemp -d "${TMPDIR:-/tmp}/libpam-mapi-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
root=$stage/root

# /etc/security/pam_mapi.conf is not shipped: postinst creates it from the example only when absent.
DESTDIR=$root PREFIX=/usr DOCDIR=/usr/share/doc/$package INSTALL_CONFIG=no bash scripts/install.sh >/dev/null
install -m 0644 debian/copyright "$root/usr/share/doc/$package/copyright"
printf '%s (%s) unstable; urgency=medium\n\n  * Built from the pam_mapi repository.\n\n -- pam_mapi developers <pam-mapi@localhost>  %s\n' \
  "$package" "$version" "$(date -R -u -d @"${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")" \
  | gzip -9n > "$root/usr/share/doc/$package/changelog.Debian.gz"
chmod 0644 "$root/usr/share/doc/$package/changelog.Debian.gz"

install -d -m 0755 "$root/DEBIAN"
for script in postinst prerm postrm; do install -m 0755 "debian/$script" "$root/DEBIAN/$script"; done
installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<EOF
Package: $package
Version: $version
Architecture: $arch
Maintainer: pam_mapi developers <pam-mapi@localhost>
Installed-Size: $installed_size
Depends: libc6 (>= 2.34), libssl3 (>= 3.0.0), libpam0g (>= 1.4), libpam-runtime (>= 1.0.1-6)
Recommends: nodejs (>= 18.19)
Suggests: sasl2-bin, libapache2-mod-authnz-pam
Section: admin
Priority: optional
Description: PAM module that checks passwords against a Kopano or Zarafa server
 pam_mapi.so asks a Kopano (8-11) or Zarafa (7.x) groupware server over SOAP
 whether a password is right, so that Postfix SMTP AUTH (through saslauthd),
 Apache Basic auth (through mod_authnz_pam) and other PAM services can use the
 groupware's accounts. Its logic runs sandboxed in WebAssembly.
 .
 The package holds the module, the pam-mapi command (/usr/sbin/pam-mapi, which
 runs with Node.js 18.19 or later from the nodejs package), man pages, an example
 /etc/security/pam_mapi.conf and a pam-auth-update profile (not enabled by
 default).
EOF
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
