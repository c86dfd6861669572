#!/bin/sh
# Install apt-ostreed and its system integration (the design's eight steps,
# with its paths):
#   1. create the directories
#   2. install the daemon and the client (/usr/libexec/apt-ostreed, /usr/bin/apt-ostree;
#      the program itself under /usr/lib/apt-ostree, as the .deb lays it out:
#      bin/, dist/bundle/*.js, native/build/Release/ostree_addon.node), their
#      manual pages (/usr/share/man) and bash completion (/usr/share/bash-completion)
#   3. copy the configuration (/etc/apt-ostree/apt-ostreed.conf; an existing one is kept)
#   4. D-Bus: policy (/etc/dbus-1/system.d) and activation file (/usr/share/dbus-1/system-services)
#   5. systemd units (/etc/systemd/system)
#   6. polkit actions (/usr/share/polkit-1/actions)
#   7. check the OSTree repository of the system (/ostree/repo); never creates one on a live root
#   8. reload D-Bus and systemd, start apt-ostreed, enable the units that have an [Install] section
# and, when it is built (npm run build:cockpit), the Cockpit page under
# /usr/share/cockpit/apt-ostree (with step 2).
#
# Usage: scripts/install-daemon.sh [--destdir DIR]   (or DESTDIR=DIR)
# With a destination directory only files are written under it: nothing is
# started, reloaded or enabled, and nothing outside DIR is touched.
# APT_OSTREE_NO_START=1: install, but start, reload and enable nothing.
set -eu
cd "$(dirname "$0")/.."
TOP=$(pwd)
DESTDIR=${DESTDIR:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --destdir) [ $# -ge 2 ] || { echo "install-daemon: --destdir needs a directory" >&2; exit 1; }; DESTDIR=$2; shift 2 ;;
    --destdir=*) DESTDIR=${1#--destdir=}; shift ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install-daemon: unknown argument $1" >&2; exit 1 ;;
  esac
done
if [ -n "$DESTDIR" ]; then
  mkdir -p "$DESTDIR"
  DESTDIR=$(cd "$DESTDIR" && pwd)
  [ "$DESTDIR" != / ] || DESTDIR=
fi
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then
  echo "install-daemon: installing into / needs root (or give --destdir DIR)" >&2
  exit 1
fi
say() { echo "install-daemon: $*"; }
D=$DESTDIR

# 1. Directories
say "1/8 creating directories"
for d in usr/bin usr/libexec usr/lib/apt-ostree usr/share/dbus-1/system-services usr/share/polkit-1/actions \
         etc/apt-ostree etc/dbus-1/system.d etc/systemd/system \
         var/lib/apt-ostree var/cache/apt-ostree var/log/apt-ostree; do
  install -d -m 755 "$D/$d"
done
chmod 700 "$D/var/log/apt-ostree"

# 2. The program and its two entry points
say "2/8 installing apt-ostreed and apt-ostree"
LIB=$D/usr/lib/apt-ostree
# The program is one bundled file per executable (dist/bundle, npm run build:bundle) holding its
# JavaScript dependencies, and the native addon beside: no node_modules at run time.
if [ ! -f "$LIB/dist/bundle/apt-ostreed.js" ]; then
  for f in apt-ostree cli apt-ostreed overlay-run; do
    [ -f "dist/bundle/$f.js" ] || { echo "install-daemon: dist/bundle is not built (run: npm run build)" >&2; exit 1; }
  done
  mkdir -p "$LIB/dist" "$LIB/bin"
  rm -rf "$LIB/dist/bundle"
  install -d "$LIB/dist/bundle"
  install -m 644 dist/bundle/*.js "$LIB/dist/bundle/"
  install -m 755 bin/apt-ostree bin/apt-ostreed "$LIB/bin/"
  install -m 644 package.json "$LIB/package.json"
  if [ -f native/build/Release/ostree_addon.node ]; then
    install -d "$LIB/native/build/Release"
    install -m 644 native/build/Release/ostree_addon.node "$LIB/native/build/Release/"
  fi
fi
for pair in "usr/bin/apt-ostree:apt-ostree" "usr/libexec/apt-ostreed:apt-ostreed"; do
  dest=${pair%%:*}; prog=${pair#*:}
  printf '#!/bin/sh\n# %s (apt-ostree), run by Debian'"'"'s nodejs.\nexec /usr/bin/node /usr/lib/apt-ostree/bin/%s "$@"\n' "$prog" "$prog" >"$D/$dest"
  chmod 755 "$D/$dest"
done
# The Cockpit page ("Software updates (OSTree)"); the bridge finds it in /usr/share/cockpit.
if [ -f dist/cockpit/apt-ostree/manifest.json ]; then
  rm -rf "$D/usr/share/cockpit/apt-ostree"
  install -d -m 755 "$D/usr/share/cockpit"
  cp -R dist/cockpit/apt-ostree "$D/usr/share/cockpit/apt-ostree"
  chmod -R u=rwX,go=rX "$D/usr/share/cockpit/apt-ostree"
  say "    the Cockpit page: /usr/share/cockpit/apt-ostree"
fi

# The manual pages and the bash completion (generated from the operation registry by npm run build)
for m in apt-ostree.1 apt-ostreed.8 apt-ostreed.conf.5; do
  [ -f "dist/man/$m.gz" ] || { echo "install-daemon: dist/man/$m.gz is missing (run: npm run build)" >&2; exit 1; }
  install -d -m 755 "$D/usr/share/man/man${m##*.}"
  install -m 644 "dist/man/$m.gz" "$D/usr/share/man/man${m##*.}/$m.gz"
done
install -d -m 755 "$D/usr/share/bash-completion/completions"
install -m 644 dist/completion/apt-ostree "$D/usr/share/bash-completion/completions/apt-ostree"

# 3. Configuration (a local one is kept)
say "3/8 configuration"
if [ -e "$D/etc/apt-ostree/apt-ostreed.conf" ]; then
  install -m 644 data/apt-ostreed.conf "$D/etc/apt-ostree/apt-ostreed.conf.dist"
  say "    kept the existing /etc/apt-ostree/apt-ostreed.conf (the shipped one is apt-ostreed.conf.dist)"
else
  install -m 644 data/apt-ostreed.conf "$D/etc/apt-ostree/apt-ostreed.conf"
fi

# 4. D-Bus
say "4/8 D-Bus policy and activation"
install -m 644 data/org.aptostree.dev.conf "$D/etc/dbus-1/system.d/org.aptostree.dev.conf"
install -m 644 data/org.aptostree.dev.service "$D/usr/share/dbus-1/system-services/org.aptostree.dev.service"
install -d -m 755 "$D/usr/share/dbus-1/interfaces"
install -m 644 data/org.aptostree.dev.xml "$D/usr/share/dbus-1/interfaces/org.aptostree.dev.xml"

# 5. systemd units (every unit the repository ships)
say "5/8 systemd units"
UNITS=
for u in data/*.service data/*.timer; do
  [ -e "$u" ] || continue
  case "$u" in data/org.aptostree.dev.service) continue ;; esac
  install -m 644 "$u" "$D/etc/systemd/system/$(basename "$u")"
  UNITS="$UNITS $(basename "$u")"
done

# 6. polkit
say "6/8 polkit actions"
install -m 644 data/org.aptostree.dev.policy "$D/usr/share/polkit-1/actions/org.aptostree.dev.policy"

# 7. The OSTree repository of the system
say "7/8 OSTree repository"
if [ -n "$D" ]; then
  say "    destination directory: not checked"
elif [ -d /ostree/repo ]; then
  say "    /ostree/repo is there"
else
  say "    WARNING: /ostree/repo does not exist: this system is not booted from OSTree;"
  say "    make a sysroot with 'apt-ostree compose sysroot' and use --sysroot, nothing was created here"
fi

# 8. Reload and start
say "8/8 services"
if [ -n "$D" ]; then
  say "    destination directory: nothing started or enabled"
  exit 0
fi
if [ -n "${APT_OSTREE_NO_START:-}" ]; then
  say "    APT_OSTREE_NO_START is set: nothing started, reloaded or enabled"
  exit 0
fi
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl reload dbus.service 2>/dev/null || dbus-send --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig || true
  for u in $UNITS; do
    if grep -q '^\[Install\]' "/etc/systemd/system/$u"; then systemctl enable "$u"; fi
  done
  if [ -d /ostree/repo ]; then systemctl start apt-ostreed.service; fi
else
  say "    systemd is not running: reload D-Bus yourself; the daemon starts on demand"
fi
say "done"
