#!/usr/bin/env bash
# Installs what gslbd needs from Debian's archive, only what is missing.
#   scripts/deps.sh          build + run
#   scripts/deps.sh --cluster   also etcd (scripts/demo.sh cluster)
#   scripts/deps.sh --test   also what the test suite uses (dig, kdig, NSD, clang's libFuzzer, ...)
set -euo pipefail

pkgs=(g++ meson ninja-build pkg-config python3 libldns-dev libssl-dev libuv1-dev libcurl4-openssl-dev
      libtomlplusplus-dev libfmt-dev catch2 libmicrohttpd-dev libmaxminddb-dev nlohmann-json3-dev
      dnsutils curl ca-certificates)
if [[ "${1:-}" == "--cluster" ]]; then
  pkgs+=(etcd-server)
fi
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(knot-dnsutils nsd knot gdnsd python3-dnspython ldnsutils clang libclang-rt-14-dev curl dnsperf
         iproute2 rsyslog openssl scdoc prometheus unbound bind9-utils libmaxmind-db-writer-perl
         etcd-server dnsviz)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "installing: ${missing[*]}"
sudo=()
[[ $(id -u) -ne 0 ]] && sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
# Debian's nsd package would start a system NSD on port 53; our tests start their own.
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
