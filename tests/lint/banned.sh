#!/usr/bin/env bash
# STYLE.md rule 11: no sprintf, strcpy, strcat, atoi, atof, strtok or gets in
# the C sources (core/, api/, server/, tests/): unbounded writes and parses
# that cannot report a bad number. snprintf and strtol/strtod do the same
# work with a bound and an error. Prints every use and fails when there is
# one. Usage: tests/lint/banned.sh [SOURCE_DIR]   (ctest banned_functions)
set -euo pipefail
cd "${1:-$(dirname "$0")/../..}"
pattern='(^|[^A-Za-z0-9_])(sprintf|vsprintf|strcpy|strcat|atoi|atol|atoll|atof|strtok|gets)[[:space:]]*\('
hits=$(find core api server tests -name node_modules -prune -o \
         \( -name '*.c' -o -name '*.h' \) -print |
       sort | xargs grep -nE "$pattern" || true)
if [ -n "$hits" ]; then
  echo "banned functions (STYLE.md rule 11):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "banned functions: none in $(find core api server tests -name node_modules -prune -o \( -name '*.c' -o -name '*.h' \) -print | wc -l) files"
