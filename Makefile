# Thin wrapper over CMake/ctest. `make run` and `make test` are the two
# commands a newcomer needs; both install missing system packages first.
BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)

.PHONY: all deps build run test test-sanitize format lint clean

all: build

deps:
	@bash deploy/install-deps.sh

# The pinned OpenAPI linter for ctest's contract_lint (npm ci into
# tests/contract/node_modules, only when missing or the lock changed).
.PHONY: contract-deps
contract-deps: deps
	@bash tests/contract/setup.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/gravitas

test: build contract-deps
	cd $(BUILD) && ctest --output-on-failure -j 2

test-sanitize: deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DGRAVITAS_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j 2

format:
	clang-format -i core/*.[ch] api/*.[ch] server/*.[ch] tests/*/*.[ch]

lint:
	clang-format --dry-run -Werror core/*.[ch] api/*.[ch] server/*.[ch]
	cppcheck --error-exitcode=1 --enable=warning,performance,portability \
	  --inline-suppr --quiet core api server

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
