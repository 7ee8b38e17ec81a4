#!/usr/bin/env bash
# Lints the contract with the pinned Redocly CLI (ctest contract_lint):
#   tests/contract/lint.sh [path/to/openapi.yaml]
# Exits non-zero on any error of the recommended ruleset (redocly.yaml and
# .redocly.lint-ignore.yaml beside this script). Never downloads: the linter
# comes from node_modules, installed by setup.sh (make contract-deps).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
spec="$(realpath "${1:-$here/../../openapi.yaml}")"
cd "$here"
if [ ! -x node_modules/.bin/redocly ]; then
  echo "contract_lint: the linter is not installed; run tests/contract/setup.sh" \
       "(or make contract-deps)" >&2
  exit 1
fi
# No usage telemetry, no update check, no registry look-up.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
echo "contract_lint: node $(node --version)," \
     "@redocly/cli $(node -p 'require("@redocly/cli/package.json").version')"
exec npx --no-install --offline redocly lint --format=stylish "$spec"
