#!/usr/bin/env bash
# Installs the deploy checkers (kubernetes-models, TypeScript, yaml,
# dockerfile-utils, dockerfilelint; pinned in package-lock.json) into
# tests/deploy/node_modules, only when missing or the lock changed
# (tests/npm_setup.sh). Called by `make deploy-deps` (and so by `make test`);
# ctest's deploy_k8s and deploy_dockerfile then run them from node_modules,
# never fetching anything.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
exec bash "$here/../npm_setup.sh" "$here" deploy
