#!/bin/sh
# Installs everything apt-ostree and its tests need on a Debian 12 machine, as
# root, then builds the project. Safe to run again.
set -eu
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES="
  ostree libostree-dev bubblewrap mmdebstrap debian-archive-keyring
  apt-utils dpkg-dev fakeroot attr
  gpg gpg-agent
  dracut-core
  dbus polkitd systemd util-linux e2fsprogs libglib2.0-bin passwd strace
  python3-gi gir1.2-glib-2.0
  qemu-system-x86 qemu-utils ovmf
  dosfstools mtools fdisk
  cockpit-ws cockpit-bridge cockpit-system chromium
  build-essential pkg-config python3 curl ca-certificates
  man-db groff-base
"

missing=""
for p in $DEBIAN_PACKAGES; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: building"
npm run --silent build
