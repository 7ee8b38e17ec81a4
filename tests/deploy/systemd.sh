#!/usr/bin/env bash
# ctest deploy_systemd: deploy/gravitas.service
#  1. has the hardening directives the deploy promises;
#  2. passes `systemd-analyze verify` with no message at all (a copy whose
#     ExecStart= is the binary just built, since /usr/local/bin/gravitas is
#     not installed here);
#  3. scores an overall exposure below THRESHOLD in
#     `systemd-analyze security --offline=true` (0 = fully sandboxed,
#     10 = unprotected);
#  4. sets only GRAVITAS_* variables that `gravitas --help` lists.
# usage: systemd.sh UNIT GRAVITAS_BINARY THRESHOLD
set -euo pipefail
unit=$1 bin=$2 threshold=$3
fail=0 pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "deploy_systemd: systemd-analyze is missing; run deploy/install-deps.sh" >&2
  exit 1
fi
echo "deploy_systemd: $(systemd-analyze --version | head -1)"

# 1. Directives (exact lines).
for line in \
  'DynamicUser=yes' 'StateDirectory=gravitas' \
  'Environment=GRAVITAS_DATA_DIR=/var/lib/gravitas' \
  'EnvironmentFile=-/etc/gravitas/env' \
  'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
  'NoNewPrivileges=yes' 'CapabilityBoundingSet=' \
  'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
  'SystemCallFilter=@system-service' 'MemoryDenyWriteExecute=yes' \
  'LockPersonality=yes' 'RestrictNamespaces=yes' 'KillSignal=SIGTERM' \
  'ExecStart=/usr/local/bin/gravitas'; do
  if grep -qxF "$line" "$unit"; then ok; else bad "$unit lacks the line '$line'"; fi
done
if grep -qE '^TimeoutStopSec=[0-9]+s?$' "$unit"; then ok; else bad "$unit lacks TimeoutStopSec="; fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#^ExecStart=/usr/local/bin/gravitas#ExecStart=$(readlink -f "$bin")#" \
  "$unit" >"$tmp/gravitas.service"

# 2. verify: any message (unknown directive, bad value, missing binary) fails.
out=$(cd "$tmp" && systemd-analyze verify --man=no "$tmp/gravitas.service" 2>&1) && rc=0 || rc=$?
if [ "$rc" -eq 0 ] && [ -z "$out" ]; then ok; else bad "systemd-analyze verify (rc $rc): $out"; fi

# 3. security exposure.
sec=$(systemd-analyze security --offline=true --no-pager "$tmp/gravitas.service" 2>&1) || true
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for gravitas.service: \([0-9.]*\).*/\1/p')
if [ -n "$score" ]; then
  echo "deploy_systemd: overall exposure $score (threshold $threshold)"
  if awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s < t) }'; then ok
  else
    printf '%s\n' "$sec" | grep -E '^✗' || true
    bad "exposure $score is not below $threshold"
  fi
else
  printf '%s\n' "$sec"
  bad "systemd-analyze security --offline=true gave no score"
fi

# 4. settings.
settings=$("$bin" --help | grep -oE 'env GRAVITAS_[A-Z_]+' | cut -d' ' -f2)
for name in $(grep -oE '^Environment=GRAVITAS_[A-Z_]+' "$unit" | cut -d= -f2); do
  if grep -qxF "$name" <<<"$settings"; then ok; else bad "$name is not a setting of gravitas --help"; fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
