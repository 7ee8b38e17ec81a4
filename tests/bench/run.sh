#!/usr/bin/env bash
# make bench: runs every benchmark of tests/bench against build-bench/ (built
# by `make bench` with -DGRAVITAS_BENCH=ON -DCMAKE_BUILD_TYPE=Release) and
# prints one Markdown table (also written to build-bench/bench.md). Each
# ratio is between two numbers measured in this run; the fixest bars are
# published figures. Logs of every step: build-bench/bench-logs/.
# Budget: ~12 minutes on 2 cores. Never fails on a slow number, only when a
# benchmark itself fails.
#   tests/bench/run.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="$(cd "${1:-$root/build-bench}" && pwd)"
logs="$build/bench-logs"
py=/usr/bin/python3
rm -rf "$logs" && mkdir -p "$logs"
tmp="$(mktemp -d /tmp/gravitas-bench-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

step() { echo "bench: $* ($(date +%T), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2; }
load0="$(cut -d' ' -f1-3 /proc/loadavg)"
t0=$SECONDS

step "bench_ols (core_ols_fit, 1e5 and 1e6)"
"$build/tests/bench/bench_ols" | tee "$logs/ols.log"

step "bench_fe (two-way FE OLS, 1e5 and 1e6)"
"$build/tests/bench/bench_fe" "$tmp/fe.csv" | tee "$logs/fe.log"
core_fe=$(sed -n 's/^n = 100000: .*: \([0-9.]*\) s wall.*/\1/p' "$logs/fe.log")

# plm takes about a minute a fit on a loaded 2-core host (3 fits); the lm
# with dummies that follows in bench_fe.R can take many minutes: the script
# is stopped after 240 s and the report says what did not finish.
step "bench_fe.R (R plm at 1e5)"
timeout 240 Rscript "$here/bench_fe.R" "$tmp/fe.csv" "$core_fe" \
  > "$logs/fe_r.log" 2>&1 || echo "bench: bench_fe.R stopped or failed (status $?)" >&2
grep -v '^ \|^[0-9]:\|^Warning' "$logs/fe_r.log" >&2 || true

step "bench_ppml (two-way PPML, 1e5 and 1e6, reduced set for glm)"
"$build/tests/bench/bench_ppml" --csv "$tmp/ppml.csv" | tee "$logs/ppml.log"

step "bench_ppml.R (R glm at 1e5, 100 x 50 levels)"
timeout 300 Rscript "$here/bench_ppml.R" "$tmp/ppml.csv" > "$logs/ppml_r.log" 2>&1 \
  || echo "bench: bench_ppml.R stopped or failed (status $?)" >&2
cat "$logs/ppml_r.log" >&2

step "statsmodels (OLS HC1 1e6, GLM Poisson on the reduced PPML set)"
$py "$here/bench_sm.py" "$tmp/ppml.csv" "$logs/sm.json" > "$logs/sm.log"

step "HTTP: wrk vs nginx, POST /v1/models vs statsmodels, ingest, memory"
$py "$here/bench_http.py" "$build/gravitas" "$logs/http.json" > "$logs/http.log"

load1="$(cut -d' ' -f1-3 /proc/loadavg)"
{
  echo "Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores" \
       "($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')," \
       "$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM)," \
       "commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')," \
       "Release build. Load average (1, 5, 15 min): $load0 at the start," \
       "$load1 at the end; $((SECONDS - t0)) s in all." \
       "Times are the best of the repetitions each row names;" \
       "\"met?\" against the fixest bars is judged on wall time (fixest's" \
       "figures are wall times with 2 threads, and the FE and PPML fits" \
       "demean on 2 threads), elsewhere on CPU time where both are shown" \
       "(wall time is inflated by any load)."
} > "$logs/header.md"
$py "$here/bench_report.py" "$logs" "$build/bench.md"
