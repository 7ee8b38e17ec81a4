#!/usr/bin/env bash
# Installs what the libFuzzer targets need, when missing: clang and the
# compiler-rt runtimes (libFuzzer, ASan, UBSan) from Debian, through the one
# list of packages (deploy/install-deps.sh --fuzz).
set -euo pipefail
rt_ok() {
  local dir
  dir=$(clang -print-resource-dir 2>/dev/null) || return 1
  compgen -G "$dir/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null
}
if command -v clang >/dev/null && rt_ok; then exit 0; fi
bash "$(dirname "$0")/../../deploy/install-deps.sh" --fuzz
rt_ok || { echo "tests/fuzz/install.sh: libFuzzer runtime not found" >&2; exit 1; }
