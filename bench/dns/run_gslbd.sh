#!/bin/sh
# Starts gslbd for the shared bench scripts: run_gslbd.sh GSLBD DIR PORT ZONE ZONEFILE
set -e
gslbd=$1 dir=$2 port=$3 zone=$4 zonefile=$5
cat > "$dir/gslbd.toml" <<TOML
[server]
listen = ["127.0.0.1:$port"]
workers = 1
[[zone]]
name = "$zone"
file = "$zonefile"
TOML
exec "$gslbd" --config "$dir/gslbd.toml"
