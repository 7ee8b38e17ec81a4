#!/usr/bin/env bash
# Installs the Debian packages `make bench` needs on top of
# deploy/install-deps.sh (which `make bench` runs first through `make deps`):
# wrk (HTTP load generator) and nginx (the static-file reference for
# GET /v1/potential), plus R's plm and statsmodels for the reference fits.
# Only what is missing is installed; a second run installs nothing.
set -euo pipefail

want=(wrk nginx r-base-core r-cran-plm python3-statsmodels python3-numpy)
missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# Any nginx flavour already installed will do (nginx-light, -full, ...).
clean=()
for p in "${missing[@]}"; do
  if [ "$p" = nginx ] && [ -x /usr/sbin/nginx ]; then continue; fi
  clean+=("$p")
done
[ ${#clean[@]} -eq 0 ] && exit 0

echo "bench install: installing ${clean[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${clean[@]}"
