#!/usr/bin/env bash
# Sets everything up and runs gslbd on its bundled example (zone example.test. on
# 127.0.0.1:5353 and [::1]:5353) in the foreground. Ctrl-C stops it.
#   scripts/demo.sh cluster   three gslbd (n1, n2, n3 on 127.0.0.1:5361..5363) sharing their
#                             verdicts through an etcd on 127.0.0.1:23790 (README "Running
#                             several instances")
set -euo pipefail
cd "$(dirname "$0")/.."

cluster=0
if [[ "${1:-}" == "cluster" ]]; then
  cluster=1
  shift
  scripts/deps.sh --cluster
else
  scripts/deps.sh
fi
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

if (( cluster )); then
  dir=$(mktemp -d /tmp/gslbd-demo-cluster.XXXXXX)
  trap 'kill "${pids[@]}" 2>/dev/null; sleep 0.2; rm -rf "$dir"' EXIT
  ln -s "$PWD/zones" "$PWD/probes" "$dir/"
  etcd --name demo --data-dir "$dir/etcd" --log-level warn \
    --listen-client-urls http://127.0.0.1:23790 --advertise-client-urls http://127.0.0.1:23790 \
    --listen-peer-urls http://127.0.0.1:23800 --initial-advertise-peer-urls http://127.0.0.1:23800 \
    --initial-cluster demo=http://127.0.0.1:23800 >"$dir/etcd.log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do curl -sf http://127.0.0.1:23790/health >/dev/null && break; sleep 0.1; done
  for i in 1 2 3; do
    # The bundled example, on its own port and control socket, checking from 127.0.0.1$i.
    sed -e "s/^listen = .*/listen = [\"127.0.0.1:536$i\"]\nprobe_source = \"127.0.0.1$i\"/" gslbd.toml \
      > "$dir/n$i.toml"
    cat >> "$dir/n$i.toml" <<TOML

[control]
socket = "$dir/n$i.sock"
state_file = ""

[cluster]
etcd = ["http://127.0.0.1:23790"]
node = "n$i"
prefix = "/gslbd/demo"
down_when = "majority"
lease = "3s"
TOML
    build/src/daemon/gslbd --config "$dir/n$i.toml" --log stderr 2> >(sed -u "s/^/n$i: /" >&2) & pids+=($!)
  done
  cat <<TXT
etcd on 127.0.0.1:23790 (pid ${pids[2]}); gslbd n1, n2, n3 on 127.0.0.1:5361, 5362, 5363, each
checking from its own source (127.0.0.11, .12, .13). Gateways: hangzhou 127.0.0.2:8080
(pid ${pids[0]}), shanghai 127.0.0.3:8080 (pid ${pids[1]}). In another terminal:

  dig @127.0.0.1 -p 5362 www.example.test +short     # 127.0.0.2 on all three
  kill ${pids[0]}                                    # hangzhou dies: every node votes it down
  dig @127.0.0.1 -p 5363 www.example.test +short     #   127.0.0.3, events say votes=3/3
  build/src/ctl/gslbctl --socket $dir/n1.sock status # each target's vote per node
  kill ${pids[3]}                                    # n1 dies: after its 3 s lease, 2 live

Ctrl-C stops everything.
TXT
  wait
  exit 0
fi

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
