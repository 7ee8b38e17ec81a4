#!/usr/bin/env bash
# Installs the Debian packages `make lint` needs on top of
# deploy/install-deps.sh (which `make lint` runs first through `make deps`):
# clang-format (the layout of .clang-format) and cppcheck.
# Only what is missing is installed; a second run installs nothing.
set -euo pipefail

want=(clang-format cppcheck)
missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "lint install: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
