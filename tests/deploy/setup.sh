#!/usr/bin/env bash
# Installs the deploy checkers (kubernetes-models, TypeScript, yaml,
# dockerfile-utils, dockerfilelint; pinned in package-lock.json) into
# tests/deploy/node_modules with `npm ci`, only when node_modules is missing or
# the lock file changed since the last install. Called by `make deploy-deps`
# (and so by `make test`); ctest's deploy_k8s and deploy_dockerfile then run
# them from node_modules, never fetching anything. Same pattern as
# tests/contract/setup.sh.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "deploy setup: npm is not installed; run deploy/install-deps.sh" >&2
  exit 1
fi

stamp=node_modules/.gravitas-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -d node_modules ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

echo "deploy setup: npm ci (kubernetes-models, typescript, dockerfile linters) in tests/deploy" >&2
npm ci --no-audit --no-fund --loglevel=error
echo "$want" >"$stamp"
