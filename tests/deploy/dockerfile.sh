#!/usr/bin/env bash
# ctest deploy_dockerfile: the Dockerfile through two linters, then
# check_dockerfile.js (stages, packages, user, port, volume, healthcheck).
# The linters come from tests/deploy/node_modules (setup.sh); nothing is
# downloaded here.
# usage: dockerfile.sh DOCKERFILE INSTALL_DEPS_SH GRAVITAS_BINARY
set -euo pipefail
dockerfile=$1 deps=$2 bin=$3
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -x "$here/node_modules/.bin/dockerfile-utils" ]; then
  echo "deploy_dockerfile: linters missing; run tests/deploy/setup.sh (make deploy-deps)" >&2
  exit 1
fi
fail=0
# dockerfile-utils: the validator of the VS Code Docker extension (syntax,
# instruction arguments, flags, stage references); silent when clean.
echo "deploy_dockerfile: $("$here/node_modules/.bin/dockerfile-utils" --version)"
if "$here/node_modules/.bin/dockerfile-utils" lint "$dockerfile"; then
  echo "dockerfile-utils lint: clean"
else
  echo "FAIL dockerfile-utils lint"; fail=1
fi
# dockerfilelint: best-practice rules (apt usage, ADD vs COPY, ...).
echo "deploy_dockerfile: dockerfilelint $("$here/node_modules/.bin/dockerfilelint" --version)"
if ! "$here/node_modules/.bin/dockerfilelint" "$dockerfile"; then
  echo "FAIL dockerfilelint"; fail=1
fi
node "$here/check_dockerfile.js" "$dockerfile" "$deps" "$bin" || fail=1
exit $fail
