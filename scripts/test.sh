#!/bin/sh
# The whole test suite on a fresh Debian 12 machine: set-up, the linters
# (ESLint, Prettier), then every test.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
echo "test: npm run lint"
npm run --silent lint
exec node scripts/run-tests.mjs "$@"
