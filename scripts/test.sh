#!/bin/sh
# The whole test suite on a fresh Debian 12 machine: set-up, then every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec node scripts/run-tests.mjs "$@"
