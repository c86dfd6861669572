#!/bin/sh
# The demo on a fresh Debian 12 machine, as root: set-up, then the main job on
# a sysroot in the project's own .demo/ directory (the machine's / is never
# touched). Safe to run again.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec node scripts/demo.mjs "$@"
