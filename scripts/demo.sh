#!/usr/bin/env bash
# Sets everything up and runs gslbd on its bundled example (zone example.test. on
# 127.0.0.1:5353 and [::1]:5353) in the foreground. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
[[ -f build/build.ninja ]] || meson setup build --buildtype=release >/dev/null
ninja -C build >/dev/null

cat <<'TXT'
gslbd is serving the bundled example. In another terminal, try:

  dig @127.0.0.1 -p 5353 www.example.test A          # the gateways' addresses
  dig @127.0.0.1 -p 5353 api.example.test A          # a CNAME chain
  dig @127.0.0.1 -p 5353 nope.example.test A         # NXDOMAIN with the SOA
  dig @127.0.0.1 -p 5353 x.apps.example.test A       # a wildcard
  dig @127.0.0.1 -p 5353 host.sub.example.test A     # a referral to a child zone
  dig @::1 -p 5353 example.test AXFR                 # a zone transfer over TCP

TXT
exec build/src/daemon/gslbd "$@"
