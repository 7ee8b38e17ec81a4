#!/usr/bin/env bash
# Installs the contract linter (@redocly/cli, pinned in package-lock.json)
# into tests/contract/node_modules with `npm ci`, only when node_modules is
# missing or the lock file changed since the last install. Called by
# `make contract-deps` (and so by `make test`); ctest's contract_lint then
# runs it with `npx --no-install`, never fetching anything itself.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "contract setup: npm is not installed; run deploy/install-deps.sh" >&2
  exit 1
fi

stamp=node_modules/.gravitas-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "contract setup: npm ci (@redocly/cli) in tests/contract" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
