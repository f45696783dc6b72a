#!/usr/bin/env bash
# Fetches Debian 12's own Node.js 18 (the nodejs and libnode108 packages, and the packages they need that this
# machine lacks) with `apt-get download` and unpacks them with `dpkg -x` into build/node18/root, without installing
# anything: the machine's own Node stays as it is. test/node18.test.ts runs the pam-mapi command with it, in a
# private mount namespace where build/node18/root/usr is laid over /usr (Debian's Node reads its bundled
# JavaScript libraries from /usr/share/nodejs, so it must see them there).
#   scripts/debian-node18.sh     (scripts/setup.sh runs it; the tests run it when build/node18 is missing)
# Prints the root directory on its last line. Cached: a second run downloads nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=build/node18
root=$dir/root
debs=$dir/debs
# One fetch at a time (two test runs may start side by side); the second finds the first's result.
mkdir -p build
exec 9>build/node18.lock
flock 9
if [[ -x $root/usr/bin/node && -f $dir/version ]]; then
  echo "$PWD/$root"
  exit 0
fi

# Debian's version, not the candidate: a machine may have a newer nodejs from elsewhere (NodeSource) installed.
debian_version() { apt-cache madison nodejs 2>/dev/null | awk -F'|' '$2 ~ /^ *18\./ { gsub(/ /, "", $2); print $2; exit }'; }
version=$(debian_version)
if [[ -z $version && $(id -u) -eq 0 ]]; then
  apt-get update -q -o DPkg::Lock::Timeout=300 >/dev/null
  version=$(debian_version)
fi
if [[ -z $version ]]; then
  echo "debian-node18.sh: apt knows no nodejs 18.x package" >&2
  echo "fix: run on Debian 12 (bookworm) with its main archive in /etc/apt/sources.list(.d), after apt-get update" >&2
  exit 1
fi

# nodejs and libnode108 at that version; every package they depend on that is not installed here, recursively
# (a dependency that is installed is already under /usr, which the overlay keeps visible).
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
wanted=("nodejs=$version" "libnode108=$version")
queue=(nodejs libnode108)
seen=" nodejs libnode108 "
while ((${#queue[@]})); do
  package=${queue[0]}
  queue=("${queue[@]:1}")
  spec=$package
  [[ $package == nodejs || $package == libnode108 ]] && spec=$package=$version
  # "Depends: name" lines; virtual packages (<name>) and the alternative nodejs:any are satisfied by nodejs itself.
  while read -r dep; do
    [[ $seen == *" $dep "* ]] && continue
    seen+="$dep "
    installed "$dep" && continue
    wanted+=("$dep")
    queue+=("$dep")
  done < <(apt-cache depends --no-recommends --no-suggests --no-conflicts --no-breaks --no-replaces --no-enhances "$spec" \
    | awk '$1 ~ /Depends:$/ && $2 !~ /^</ { sub(/:any$/, "", $2); print $2 }')
done

rm -rf "$dir"
mkdir -p "$debs" "$root"
# apt's download sandbox user (_apt) must be able to write into the directory.
chmod 0777 "$debs"
(cd "$debs" && apt-get download -q "${wanted[@]}" >/dev/null)
chmod 0755 "$debs"
for deb in "$debs"/*.deb; do dpkg -x "$deb" "$root"; done
real=$("$root/usr/bin/node" --version 2>/dev/null || LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu "$root/usr/bin/node" --version)
[[ $real == v18.* ]] || { echo "debian-node18.sh: unpacked node says $real, not v18" >&2; exit 1; }
echo "nodejs $version ($real): ${wanted[*]}" > "$dir/version"
echo "debian-node18.sh: unpacked Debian's nodejs $version and ${#wanted[@]} packages into $root" >&2
echo "$PWD/$root"
