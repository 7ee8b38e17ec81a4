#!/usr/bin/env bash
# Installs the contract linter (@redocly/cli, pinned in package-lock.json)
# into tests/contract/node_modules, only when missing or the lock changed
# (tests/npm_setup.sh). Called by `make contract-deps` (and so by
# `make test`); ctest's contract_lint then runs it with `npx --no-install`,
# never fetching anything itself.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../npm_setup.sh" "$here" contract
