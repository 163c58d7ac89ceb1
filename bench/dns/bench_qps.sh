#!/usr/bin/env bash
# Per-core UDP/TCP throughput, CPU per query and memory of gslbd beside NSD, Knot and gdnsd, in
# the same run: bench/dns/bench_qps.py (dnsperf; one worker each, servers pinned to CPU 1,
# dnsperf to CPU 0). A benchmark, not a test: it prints figures.
#   bench/dns/bench_qps.sh [bench_qps.py options, e.g. --rounds 2 --duration 3 --servers gslbd,gdnsd]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)

# dnsperf, NSD, Knot, gdnsd and dnspython (for tests/e2e/gslbtest.py) are test dependencies.
"$repo/scripts/deps.sh" --test
[[ -f $repo/build-release/build.ninja ]] ||
  meson setup "$repo/build-release" "$repo" --buildtype=release -Dtests=false >/dev/null
ninja -C "$repo/build-release" src/daemon/gslbd >/dev/null

exec /usr/bin/python3 "$repo/bench/dns/bench_qps.py" --gslbd "$repo/build-release/src/daemon/gslbd" "$@"
