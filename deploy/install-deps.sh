#!/usr/bin/env bash
# Installs the Debian packages Gravitas needs to build, run and test, and only
# those that are missing. This is the one list of system packages: the Makefile,
# CI and the Dockerfile all call it. Idempotent: a second run installs nothing.
#
#   deploy/install-deps.sh              build + test dependencies (with
#                                       Node.js and npm for the contract lint,
#                                       Chromium for the browser test)
#   deploy/install-deps.sh --runtime    only the shared libraries the binary needs
#   deploy/install-deps.sh --reference  also R and statsmodels, to regenerate the
#                                       reference fixtures under tests/reference/
#   deploy/install-deps.sh --lint       only the linters of `make lint`
#   deploy/install-deps.sh --bench      only the peers and references of
#                                       `make bench` (wrk, nginx, R plm,
#                                       statsmodels)
#   deploy/install-deps.sh --fuzz       only clang and its libFuzzer runtime
#                                       (`make fuzz`, ctest fuzz_smoke)
set -euo pipefail

runtime=(libmicrohttpd12 libjansson4 libgsl27 libopenblas0 libcurl4 libsqlite3-0
         libssl3 ca-certificates curl)
build=(build-essential cmake pkg-config libmicrohttpd-dev libjansson-dev libgsl-dev
       libopenblas-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev libcriterion-dev
       python3 python3-jsonschema python3-yaml curl valgrind)
reference=(r-base-core r-cran-sandwich r-cran-plm r-cran-lmtest python3-statsmodels
           python3-scipy)
lint=(clang-format cppcheck clang-tidy)
bench=(wrk r-base-core r-cran-plm python3-statsmodels python3-numpy)
# Any nginx flavour already installed will do (nginx-light, -full, ...).
[ -x /usr/sbin/nginx ] || bench+=(nginx)
fuzz=(clang libclang-rt-14-dev)

want=()
case "${1:-}" in
  --runtime) want=("${runtime[@]}") ;;
  --reference) want=("${runtime[@]}" "${build[@]}" "${reference[@]}") ;;
  --lint) want=("${lint[@]}") ;;
  --bench) want=("${bench[@]}") ;;
  --fuzz) want=("${fuzz[@]}") ;;
  "") want=("${runtime[@]}" "${build[@]}") ;;
  *) echo "usage: $0 [--runtime|--reference|--lint|--bench|--fuzz]" >&2; exit 2 ;;
esac

# Node.js and npm run the contract linter (tests/contract, ctest contract_lint).
# Debian's packages, only when no node or npm is on PATH: a Node.js installed
# otherwise (NodeSource's bundles npm) is used as it is.
if [ -z "${1:-}" ] || [ "${1:-}" = "--reference" ]; then
  command -v node >/dev/null 2>&1 || want+=(nodejs)
  command -v npm >/dev/null 2>&1 || want+=(npm)
  # systemd-analyze checks deploy/gravitas.service (ctest deploy_systemd).
  command -v systemd-analyze >/dev/null 2>&1 || want+=(systemd)
  # A real browser for the frontend's end-to-end test (tests/e2e/browser.py):
  # headless Chromium driven through ChromeDriver.
  want+=(chromium chromium-driver)
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
