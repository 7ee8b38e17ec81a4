#!/usr/bin/env bash
# Installs what the libFuzzer targets need, when missing: clang and the
# compiler-rt runtimes (libFuzzer, ASan, UBSan) from Debian.
set -euo pipefail
rt_ok() {
  local dir
  dir=$(clang -print-resource-dir 2>/dev/null) || return 1
  compgen -G "$dir/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null
}
if command -v clang >/dev/null && rt_ok; then exit 0; fi
echo "tests/fuzz/install.sh: installing clang and libclang-rt-14-dev" >&2
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
$sudo apt-get update -qq
$sudo apt-get install -y --no-install-recommends clang libclang-rt-14-dev
rt_ok || { echo "tests/fuzz/install.sh: libFuzzer runtime not found" >&2; exit 1; }
