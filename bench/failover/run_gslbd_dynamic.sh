#!/bin/sh
# Starts gslbd for compare.py: www is answered from one
# pool holding every backend, health-checked with HTTP GET / on the check port.
#   run_gslbd_dynamic.sh GSLBD DIR PORT ZONE ZONEFILE_PLAIN "BACKENDS" CHECK_PORT
# BACKENDS: "127.0.0.11:8081,127.0.0.12:8081".
# Timing: GSLBD_INTERVAL (1s), GSLBD_TIMEOUT (500ms), GSLBD_FALL (2), GSLBD_RISE (2),
# GSLBD_TTL (30, the TTL the shared zone gives the other servers' www).
set -e
gslbd=$1 dir=$2 port=$3 zone=$4 zonefile=$5 backends=$6 check_port=$7
mkdir -p "$dir/probes"
cat > "$dir/probes/backend-http.toml" <<TOML
type = "http"
port = $check_port
path = "/"
expect_status = ["2xx"]
interval = "${GSLBD_INTERVAL:-1s}"
timeout = "${GSLBD_TIMEOUT:-500ms}"
rise = ${GSLBD_RISE:-2}
fall = ${GSLBD_FALL:-2}
TOML
addresses=""
for b in $(echo "$backends" | tr ',' ' '); do
  ip=${b%:*}
  addresses="$addresses{ ip = \"$ip\", weight = 1 }, "
done
cat > "$dir/gslbd.toml" <<TOML
[server]
listen = ["127.0.0.1:$port"]
workers = 1
probes_dir = "probes"

[log]
targets = ["stderr"]

[[zone]]
name = "${zone%.}."
file = "$zonefile"

[[pool]]
name = "backends"
region = "local"
probe = "backend-http"
addresses = [ $addresses]

[[name]]
fqdn = "www.${zone%.}."
ttl = ${GSLBD_TTL:-30}
mode = "failover"
pools = ["backends"]
return = "all"
all_down = "fail_open"
TOML
exec "$gslbd" --config "$dir/gslbd.toml"
