#!/usr/bin/env bash
# Sets everything up and runs gslbd on its bundled example (zone example.test. on
# 127.0.0.1:5353 and [::1]:5353) in the foreground. Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
# Only what the demo runs: the test suites are scripts/test.sh's job (and most of the build).
[[ -f build/build.ninja ]] || meson setup build --buildtype=release -Dtests=false >/dev/null
echo "building gslbd (a minute or two the first time)..."
ninja -C build src/daemon/gslbd src/ctl/gslbctl >/dev/null

# The two regions' gateways: HTTP servers on 127.0.0.2:8080 and 127.0.0.3:8080.
pids=()
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
for gw in 127.0.0.2 127.0.0.3; do
  python3 scripts/gateway.py $gw 8080 & pids+=($!)
done
for gw in 127.0.0.2 127.0.0.3; do  # up before the first checks, so the demo starts healthy
  for _ in $(seq 50); do curl -sf "http://$gw:8080/health" >/dev/null && break; sleep 0.1; done
done

cat <<TXT
gslbd is serving the bundled example; its events go to stderr and syslog. Gateways:
  hangzhou 127.0.0.2:8080 (pid ${pids[0]}), shanghai 127.0.0.3:8080 (pid ${pids[1]}).
In another terminal, try:

  dig @127.0.0.1 -p 5353 www.example.test A          # hangzhou's gateway (failover pool 1)
  dig @127.0.0.1 -p 5353 +subnet=198.51.100.7/24 www.example.test A
                                                     # a shanghai client (EDNS Client Subnet):
                                                     #   shanghai first, CLIENT-SUBNET scope 24
  kill ${pids[0]}                                    # hangzhou dies: within ~2 s www fails
  dig @127.0.0.1 -p 5353 www.example.test A          #   over to shanghai (127.0.0.3)
  dig @127.0.0.1 -p 5353 split.example.test A        # 90/10 weighted between the regions
  dig @127.0.0.1 -p 5353 api.example.test A          # a CNAME chain
  dig @127.0.0.1 -p 5353 nope.example.test A         # NXDOMAIN with the SOA
  dig @127.0.0.1 -p 5353 x.apps.example.test A       # a wildcard
  dig @127.0.0.1 -p 5353 host.sub.example.test A     # a referral to a child zone
  dig @::1 -p 5353 example.test AXFR                 # a zone transfer over TCP

TXT
build/src/daemon/gslbd "$@"
