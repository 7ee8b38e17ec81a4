#!/usr/bin/env bash
# Usage: tests/npm_setup.sh DIR LABEL
# Installs the npm packages pinned in DIR/package-lock.json into
# DIR/node_modules with `npm ci`, only when node_modules is missing or the
# lock file changed since the last install (a stamp with the lock's SHA-256).
# The one install step behind tests/contract/setup.sh and
# tests/deploy/setup.sh; the checks that use the packages never fetch.
set -euo pipefail
dir=$1
label=$2
cd "$dir"

if ! command -v npm >/dev/null 2>&1; then
  echo "$label setup: npm is not installed; run deploy/install-deps.sh" >&2
  exit 1
fi

stamp=node_modules/.gravitas-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "$label setup: npm ci in $dir" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
