# Thin wrapper over CMake/ctest. `make run` and `make test` are the two
# commands a newcomer needs; both install missing system packages first.
BUILD ?= build
ASAN_BUILD ?= build-asan
VG_BUILD ?= build-vg
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-sanitize test-valgrind format lint clean

all: build

deps:
	@bash deploy/install-deps.sh

# The pinned OpenAPI linter for ctest's contract_lint (npm ci into
# tests/contract/node_modules, only when missing or the lock changed).
.PHONY: contract-deps
contract-deps: deps
	@bash tests/contract/setup.sh

# The deploy checkers for ctest's deploy_* tests (npm ci into
# tests/deploy/node_modules, only when missing or the lock changed).
.PHONY: deploy-deps
deploy-deps: deps
	@bash tests/deploy/setup.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/gravitas

test: build contract-deps deploy-deps
	cd $(BUILD) && ctest --output-on-failure -j 2 -LE soak

# The soak test (tests/soak/soak.py, ctest label "soak"; ~75 s): 64
# connections of mixed reads and fits against build/gravitas for 60 s.
.PHONY: soak
soak: build
	cd $(BUILD) && ctest --output-on-failure -L soak

# Every test (unit and e2e) built with ASan+UBSan. Criterion runs each test
# in a forked worker and takes its result before the worker exits, so a
# LeakSanitizer report at the worker's exit does NOT fail the test (nor
# ctest). Hence every sanitizer report goes to a file under SAN_LOGS and the
# target fails when any report was written, printing them all.
# deploy_ldd is left out: a sanitized binary links libasan/libubsan, which
# are rightly not in the runtime package list. The soak is left out too: its
# memory-growth bound measures the server, and ASan's quarantine of freed
# blocks (up to 256 MiB) grows the resident set by design (make soak runs
# it on the normal build).
# fast_unwind_on_malloc=0: full allocation stacks through libjansson and
# libcurl, which are built without frame pointers.
SAN_LOGS = $(abspath $(ASAN_BUILD))/sanitizer-logs
SAN_ENV = ASAN_OPTIONS=detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:fast_unwind_on_malloc=0:log_exe_name=1:log_path=$(SAN_LOGS)/asan \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_exe_name=1:log_path=$(SAN_LOGS)/ubsan
test-sanitize: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DGRAVITAS_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@rm -rf $(SAN_LOGS) && mkdir -p $(SAN_LOGS)
	@cd $(ASAN_BUILD) && $(SAN_ENV) GRAVITAS_E2E_WAIT_READY=1 ctest --output-on-failure -j 2 -E '^deploy_ldd$$' -LE soak; rc=$$?; \
	  if [ -n "$$(ls -A $(SAN_LOGS))" ]; then \
	    for f in $(SAN_LOGS)/*; do echo "==== $$f"; cat "$$f"; done; \
	    echo "test-sanitize: sanitizer reports above ($(SAN_LOGS))" >&2; exit 1; \
	  fi; exit $$rc

# The e2e suite with the server under valgrind memcheck (build-vg/,
# RelWithDebInfo; ctest label "valgrind", see tests/e2e/README.md). A server
# with memory errors or definite/indirect leaks at exit fails its test.
# Logs of failing servers stay in $(VG_BUILD)/valgrind-logs.
test-valgrind: deps
	@command -v valgrind >/dev/null || { echo "test-valgrind: installing valgrind" >&2; \
	  $$([ "$$(id -u)" -ne 0 ] && echo sudo) apt-get install -y --no-install-recommends valgrind; }
	@cmake -S . -B $(VG_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGRAVITAS_VALGRIND=ON >/dev/null
	@cmake --build $(VG_BUILD) -j $(JOBS) --target gravitas
	@rm -rf $(VG_BUILD)/valgrind-logs
	cd $(VG_BUILD) && ctest --output-on-failure -L valgrind

# libFuzzer targets (tests/fuzz) for the JSON request decoder, the CSV, formula
# and World Bank parsers, built with clang in build-fuzz/ (clang installed
# when missing), each run FUZZ_SECONDS (default 300) on its growing corpus
# build-fuzz/corpus-<name>; fails on any crash, leak or timeout.
.PHONY: fuzz
fuzz:
	@bash tests/fuzz/run.sh

format:
	clang-format -i core/*.[ch] api/*.[ch] server/*.[ch] tests/*/*.[ch]

# Layout (clang-format, .clang-format) and static checks of the C sources:
# cppcheck, then clang-tidy (.clang-tidy: bugprone, cert, the clang static
# analyzer, misc, performance, portability) over core/, api/ and server/ with
# every warning an error, two files at a time (~3 min on 2 cores; clang's
# "N warnings generated" lines, which count what .clang-tidy leaves out, are
# dropped). clang-tidy reads the compile commands of $(BUILD), configured here
# (nothing is built but the generated build-string header). The tools are
# installed when missing (deploy/install-deps.sh --lint). CI runs it after
# the tests.
LINT_SOURCES = $(wildcard core/*.c api/*.c server/*.c)
lint: deps
	@bash deploy/install-deps.sh --lint
	clang-format --dry-run -Werror core/*.[ch] api/*.[ch] server/*.[ch]
	cppcheck --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --quiet --include=/usr/include/jansson.h core api server
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) --target gravitas_build_id >/dev/null
	@echo "clang-tidy -p $(BUILD) --quiet --warnings-as-errors='*' core/*.c api/*.c server/*.c"
	@bash -o pipefail -c 'printf "%s\n" $(LINT_SOURCES) \
	  | xargs -P 2 -n 1 clang-tidy -p $(BUILD) --quiet --warnings-as-errors="*" 2>&1 \
	  | { grep -Ev "^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$$" || true; }'

# Benchmarks (tests/bench/run.sh; ~15 min): a Release build in build-bench/
# with -DGRAVITAS_BENCH=ON; wrk and nginx installed when missing. Prints
# one Markdown table, also written to build-bench/bench.md.
BENCH_BUILD ?= build-bench
.PHONY: bench
bench: deps
	@bash deploy/install-deps.sh --bench
	@cmake -S . -B $(BENCH_BUILD) -DGRAVITAS_BENCH=ON -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BENCH_BUILD) -j $(JOBS) --target gravitas bench_ols bench_fe bench_ppml
	@bash tests/bench/run.sh $(BENCH_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(VG_BUILD) $(BENCH_BUILD) build-fuzz
