#!/usr/bin/env bash
# ctest fuzz_smoke (make test): builds build-fuzz/ when needed (installing
# clang when missing) and runs each libFuzzer target for
# FUZZ_SMOKE_SECONDS (default 20) on a fresh copy of its seed corpus, one
# after the other. Fails on any crash, leak or timeout (inputs kept in
# build-fuzz/smoke/<name>.out/).
set -uo pipefail
. "$(dirname "$0")/common.sh"
secs=${FUZZ_SMOKE_SECONDS:-20}
start=$SECONDS
fuzz_build || exit 1
echo "fuzz_smoke: build-fuzz ready in $((SECONDS - start)) s"
fail=0
# shellcheck disable=SC2086 # a list of names
for name in $FUZZ_TARGETS; do
  rm -rf "$FUZZ_BUILD/smoke/$name"
  fuzz_run "$name" "$secs" "$FUZZ_BUILD/smoke/$name" || fail=1
done
echo "fuzz_smoke: $((SECONDS - start)) s in all"
exit "$fail"
