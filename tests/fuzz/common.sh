# shellcheck shell=bash
# Shared by run.sh (make fuzz) and smoke.sh (ctest fuzz_smoke); sourced.
FUZZ_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FUZZ_BUILD=${FUZZ_BUILD:-$FUZZ_SRC/build-fuzz}
FUZZ_TARGETS=${FUZZ_TARGETS:-"wb_parse csv request formula"}
# Every sanitizer report is fatal and printed into the target's log.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# Installs clang when missing, configures build-fuzz/ once (clang,
# GRAVITAS_FUZZ=ON, no tests) and builds the four targets.
fuzz_build() {
  bash "$FUZZ_SRC/tests/fuzz/install.sh" || return 1
  if [ ! -f "$FUZZ_BUILD/CMakeCache.txt" ]; then
    CC=clang cmake -S "$FUZZ_SRC" -B "$FUZZ_BUILD" \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAVITAS_FUZZ=ON \
      -DGRAVITAS_TESTS=OFF >/dev/null || return 1
  fi
  cmake --build "$FUZZ_BUILD" -j "${JOBS:-$(nproc)}" --target fuzz_targets \
    >"$FUZZ_BUILD/fuzz-build.log" 2>&1 || {
    cat "$FUZZ_BUILD/fuzz-build.log" >&2
    return 1
  }
}

# fuzz_run NAME SECONDS CORPUS: runs fuzz_NAME for SECONDS on CORPUS (a
# directory seeded from the target's seed corpus, which new inputs are added
# to), with tests/fuzz/NAME.dict when there is one; crashes, leaks and timeouts (-timeout per input) go to CORPUS.out/
# with the log. Prints one summary line (runs, coverage); returns non-zero
# and prints the report on any finding.
fuzz_run() {
  local name=$1 secs=$2 corpus=$3
  local out=$corpus.out log=$corpus.out/fuzz.log
  mkdir -p "$corpus" "$out"
  # tests/fuzz/<name>_seeds; wb_parse's are tests/fuzz/wb_seeds.
  local seeds=$FUZZ_SRC/tests/fuzz/${name%_parse}_seeds
  cp -n "$seeds/"* "$corpus/" || return 1
  rm -f "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*
  local rc=0 dict=()
  [ -f "$FUZZ_SRC/tests/fuzz/$name.dict" ] &&
    dict=(-dict="$FUZZ_SRC/tests/fuzz/$name.dict")
  "$FUZZ_BUILD/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/" \
    "${dict[@]}" "$corpus" >"$log" 2>&1 || rc=$?
  local last runs
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  printf 'fuzz_%-9s %4ss  runs %-10s %s\n' "$name" "$secs" "${runs:-?}" \
    "$(printf '%s' "$last" | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')"
  if [ "$rc" -ne 0 ] || compgen -G "$out/crash-*" >/dev/null ||
    compgen -G "$out/leak-*" >/dev/null || compgen -G "$out/timeout-*" >/dev/null ||
    compgen -G "$out/oom-*" >/dev/null; then
    echo "fuzz_$name: FAILED (exit $rc); log $log; inputs:" >&2
    ls "$out" >&2
    grep -v -E '^(#[0-9]+|INFO:)' "$log" | tail -n 60 >&2
    return 1
  fi
}
