#!/usr/bin/env bash
# Per-core UDP/TCP throughput and memory of gslbd beside NSD, Knot and gdnsd, measured in the
# same run by ../shared/bench/bench_qps.py (dnsperf; one worker each, pinned to one core; a
# cgroup CPU quota run for CPU time per query). A benchmark, not a test: it prints figures.
#   [PEERS="gdnsd"] bench/dns/bench_qps.sh [bench_qps.py options, e.g. --runs 1 --duration 5]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
shared=${SHARED_BENCH:-$repo/../shared/bench}
[[ -f $shared/bench_qps.py ]] || { echo "no $shared/bench_qps.py (set SHARED_BENCH)"; exit 1; }

"$repo/scripts/deps.sh" --test
for p in gdnsd knot; do
  dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed" ||
    { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null; }
done
[[ -f $repo/build-release/build.ninja ]] ||
  meson setup "$repo/build-release" "$repo" --buildtype=release -Dtests=false >/dev/null
ninja -C "$repo/build-release" src/daemon/gslbd >/dev/null
gslbd=$repo/build-release/src/daemon/gslbd

cd "$shared"
ANCHOR_VERSIONS="gslbd=$("$gslbd" --version | cut -d' ' -f2)" \
  ./bench_qps.py ${PEERS:-nsd knot gdnsd} gslbd=5309 \
  --cmd "gslbd=$here/run_gslbd.sh $gslbd {dir} {port} {zone} {zonefile}" \
  --out "${OUT:-$(mktemp -d /tmp/gslbd-bench.XXXXXX)}" "$@"
