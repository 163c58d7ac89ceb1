#!/usr/bin/env bash
# gslbd's failover detection beside gdnsd's (multifo + http_status), with this repository's own
# harness (compare.py: backends from scripts/gateway.py, gslbd through run_gslbd_dynamic.sh).
# A benchmark, not a test: it prints a table.
#   bench/failover/compare.sh [GSLBD] [compare.py options, e.g. --cycles 5 --servers gslbd]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
gslbd=$repo/build/src/daemon/gslbd
if [[ $# -gt 0 && $1 != -* ]]; then gslbd=$(realpath "$1"); shift; fi
exec python3 "$here/compare.py" --gslbd "$gslbd" "$@"
