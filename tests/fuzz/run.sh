#!/usr/bin/env bash
# make fuzz: builds the libFuzzer targets in build-fuzz/ (installing clang
# when missing) and runs each for FUZZ_SECONDS (default 300) on its corpus
# build-fuzz/corpus-<name> (a copy of tests/fuzz/<name>_seeds that keeps
# growing from run to run). FUZZ_JOBS targets run at once (default 2).
# Fails when any target finds a crash, a leak or a timeout: the input is in
# build-fuzz/corpus-<name>.out/. Reproduce with
#   build-fuzz/fuzz/fuzz_<name> build-fuzz/corpus-<name>.out/crash-...
set -uo pipefail
. "$(dirname "$0")/common.sh"
secs=${FUZZ_SECONDS:-300}
jobs=${FUZZ_JOBS:-2}
fuzz_build || exit 1
fail=0
# shellcheck disable=SC2086 # a list of names
set -- $FUZZ_TARGETS
while [ $# -gt 0 ]; do
  pids=()
  for ((k = 0; k < jobs && $# > 0; k++)); do
    fuzz_run "$1" "$secs" "$FUZZ_BUILD/corpus-$1" &
    pids+=($!)
    shift
  done
  for p in "${pids[@]}"; do wait "$p" || fail=1; done
done
[ "$fail" -eq 0 ] && echo "make fuzz: no crash, leak or timeout" ||
  echo "make fuzz: FAILED (see above)" >&2
exit "$fail"
