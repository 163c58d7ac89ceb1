#!/usr/bin/env bash
# gslbd's failover detection beside gdnsd (multifo + http_status) and PowerDNS LUA records
# (ifurlup), in one run of ../shared/bench/failover.py (kill a backend, probe www every 50 ms).
# A benchmark, not a test: it prints the shared harness's table.
#   bench/failover/compare.sh [GSLBD] [failover.py options, e.g. --cycles 5 --mode stop]
# gslbd's check timing: GSLBD_INTERVAL/GSLBD_TIMEOUT/GSLBD_FALL (1s/500ms/2, see
# run_gslbd_dynamic.sh); the others': ANCHOR_GDNSD_* (2/1) and ANCHOR_PDNS_* (1/1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${SHARED_BENCH:-$repo/../shared/bench}
gslbd=$repo/build/src/daemon/gslbd
if [[ $# -gt 0 && $1 != -* ]]; then gslbd=$(realpath "$1"); shift; fi
[[ -f $shared/failover.py ]] || { echo "no $shared/failover.py (set SHARED_BENCH)"; exit 1; }
for p in gdnsd pdns-server pdns-backend-bind; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed" ||
    { echo "missing $p: apt-get install -y gdnsd pdns-server pdns-backend-bind"; exit 1; }
done
cd "$shared"
ANCHOR_VERSIONS="gslbd=$("$gslbd" --version | cut -d' ' -f2) (checks ${GSLBD_INTERVAL:-1s}/${GSLBD_TIMEOUT:-500ms} fall ${GSLBD_FALL:-2} TTL ${GSLBD_TTL:-30})" \
  ./failover.py ${PEERS-gdnsd-dyna pdns-lua} gslbd=5309 \
  --cmd "gslbd=$here/run_gslbd_dynamic.sh $gslbd {dir} {port} {zone} {zonefile_plain} {backends} {check_port}" \
  --out "${OUT:-$(mktemp -d /tmp/gslbd-failover.XXXXXX)}" "$@"
