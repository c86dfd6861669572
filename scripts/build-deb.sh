#!/bin/sh
# `npm run deb`: builds dist/apt-ostree_VERSION_ARCH.deb with dpkg-deb, and
# beside it dist/cockpit-apt-ostree_VERSION_all.deb (the Cockpit page,
# /usr/share/cockpit/apt-ostree; printed first, the main package last).
#
#   /usr/lib/apt-ostree/{package.json,bin,dist/bundle,native/build/Release}
#       one bundled JavaScript file per executable (scripts/bundle.mjs: the
#       code and its npm dependencies) and the N-API addon over libostree
#       (the repository's layout, so the code finds its addon the same way
#       as in a checkout); no node_modules
#   /usr/bin/apt-ostree, /usr/libexec/apt-ostreed   wrappers running them with
#       Debian's nodejs
#   units, D-Bus and polkit files, /etc/apt-ostree/apt-ostreed.conf: installed
#       by scripts/install-daemon.sh into the package root (DESTDIR)
#
# The build is reproducible: file times are clamped to SOURCE_DATE_EPOCH (the
# last commit's time unless set), so the same inputs give the same .deb.
# APT_OSTREE_DEB_NO_BUILD=1 packages what is built already (no `npm run build`).
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)

die() { echo "build-deb: $*" >&2; exit 1; }

command -v dpkg-deb >/dev/null || die "dpkg-deb is missing (apt-get install dpkg)"
VERSION=$(node -p "require('./package.json').version")
ARCH=$(dpkg --print-architecture)
if [ -z "${SOURCE_DATE_EPOCH:-}" ]; then
  SOURCE_DATE_EPOCH=$(git log -1 --format=%ct 2>/dev/null || echo 1700000000)
fi
export SOURCE_DATE_EPOCH

if [ "${APT_OSTREE_DEB_NO_BUILD:-0}" != 1 ]; then
  npm run --silent build
fi
ADDON=native/build/Release/ostree_addon.node
[ -f "$ADDON" ] || die "$ADDON is not built (run: npm run build)"
[ -f dist/bundle/apt-ostree.js ] || die "dist/bundle is not built (run: npm run build)"

STAGE=$(mktemp -d "$TOP/dist/.deb-stage.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT INT TERM
PKG=$STAGE/root
mkdir -p "$PKG/DEBIAN"

# Everything a manual installation puts in place, written into the package
# root: the program under /usr/lib/apt-ostree, the wrappers, configuration,
# D-Bus, systemd and polkit files (nothing is started with a destination).
sh scripts/install-daemon.sh --destdir "$PKG" >/dev/null
LIB=$PKG/usr/lib/apt-ostree
for f in usr/bin/apt-ostree usr/libexec/apt-ostreed usr/lib/apt-ostree/dist/bundle/apt-ostree.js \
         usr/lib/apt-ostree/dist/bundle/cli.js usr/lib/apt-ostree/dist/bundle/apt-ostreed.js \
         usr/lib/apt-ostree/dist/bundle/overlay-run.js usr/lib/apt-ostree/native/build/Release/ostree_addon.node \
         etc/apt-ostree/apt-ostreed.conf; do
  [ -e "$PKG/$f" ] || die "scripts/install-daemon.sh did not install /$f"
done
# The Cockpit page is a package of its own (it needs cockpit-bridge, the daemon does not).
[ -f "$PKG/usr/share/cockpit/apt-ostree/manifest.json" ] || die "the Cockpit page is not built (run: npm run build)"
CPKG=$STAGE/cockpit
mkdir -p "$CPKG/DEBIAN" "$CPKG/usr/share"
mv "$PKG/usr/share/cockpit" "$CPKG/usr/share/cockpit"
# Only what the runtime reads of package.json.
node -e '
  const p = require("./package.json");
  const keep = { name: p.name, version: p.version, description: p.description, license: p.license,
                 private: true, engines: p.engines, dependencies: p.dependencies };
  process.stdout.write(JSON.stringify(keep, null, 2) + "\n");' >"$LIB/package.json"

# Debian's documentation place.
mkdir -p "$PKG/usr/share/doc/apt-ostree"
[ -f README.md ] && gzip -9n <README.md >"$PKG/usr/share/doc/apt-ostree/README.md.gz"

# Control files. Every file under /etc is a conffile.
if [ -d "$PKG/etc" ]; then
  (cd "$PKG" && find etc -type f | sort | sed 's|^|/|') >"$PKG/DEBIAN/conffiles"
  [ -s "$PKG/DEBIAN/conffiles" ] || rm -f "$PKG/DEBIAN/conffiles"
fi
for s in postinst prerm postrm; do install -m 755 "packaging/debian/$s" "$PKG/DEBIAN/$s"; done
SIZE=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)
cat >"$PKG/DEBIAN/control" <<CONTROL
Package: apt-ostree
Version: $VERSION
Architecture: $ARCH
Maintainer: apt-ostree developers <apt-ostree@localhost>
Installed-Size: $SIZE
Section: admin
Priority: optional
Depends: nodejs (>= 18.19), libostree-1-1 (>= 2022.2), ostree, bubblewrap, dbus, polkitd, apt, dpkg, attr, e2fsprogs, libc6, libglib2.0-0
Recommends: mmdebstrap, dracut, ostree-boot
Description: atomic, image-based package management for Debian on OSTree
 apt-ostree manages a Debian system deployed with OSTree as rpm-ostree does
 for Fedora: every change (package layering, upgrades, kernel arguments) is
 a new deployment booted next, and the previous one stays for rollback.
 .
 This package holds the apt-ostree client, the apt-ostreed daemon (D-Bus
 activated, authorized through polkit), its systemd units and the compose
 commands that build trees, sysroots and disk images.
CONTROL

CSIZE=$(du -sk --exclude=DEBIAN "$CPKG" | cut -f1)
cat >"$CPKG/DEBIAN/control" <<CONTROL
Package: cockpit-apt-ostree
Version: $VERSION
Architecture: all
Maintainer: apt-ostree developers <apt-ostree@localhost>
Installed-Size: $CSIZE
Section: admin
Priority: optional
Depends: cockpit-bridge, apt-ostree
Recommends: cockpit-ws, cockpit-system
Description: Cockpit page for apt-ostree
 "Software updates (OSTree)" in the Cockpit web console: the deployments in
 boot order, checking for and applying updates with live progress, roll
 back, layered packages and kernel arguments, through the apt-ostreed
 D-Bus daemon and its polkit authorization.
CONTROL

# Reproducible: clamp times, root-owned files.
find "$PKG" "$CPKG" -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
COUT="dist/cockpit-apt-ostree_${VERSION}_all.deb"
dpkg-deb --root-owner-group -Zxz --build "$CPKG" "$COUT.tmp.$$" >/dev/null
mv "$COUT.tmp.$$" "$COUT"
echo "$COUT"
OUT="dist/apt-ostree_${VERSION}_${ARCH}.deb"
dpkg-deb --root-owner-group -Zxz --build "$PKG" "$OUT.tmp.$$" >/dev/null
mv "$OUT.tmp.$$" "$OUT"
echo "$OUT"
