#!/usr/bin/env python3
"""Differential test of source maps and ECS against gdnsd's geoip plugin (Debian package gdnsd):
the same `nets` map served by both, the same ECS queries to both, and the answer and SCOPE
PREFIX-LENGTH must agree. Skips (exit 77) when gdnsd is missing.

The map is random (seeded, printed): IPv4 and IPv6 nets, nested ones among them. gdnsd
normalises its nets (a net with the same datacenter list as its parent, or as its sibling, is
merged into it), which widens the scope for those clients; gslbd keeps each rule apart (the
issue asks for the widest prefix with one *rule*, which metrics count). So the generator gives
every net an order that differs from its enclosing net's (or the default's) and from its
sibling's: then "same rule" and "same list" are the same partition and the scopes must match.
gdnsd also reads IPv4 inside IPv6 in ::/96 (v4-compatible), 2002::/16 (6to4) and 2001::/32
(Teredo), which splits its IPv6 tree there; gslbd reads IPv4 only in ::ffff:0:0/96. So the IPv6
nets and queries stay in 2400::/8, away from those ranges (a query's prefix keeps 8 bits).

  test_gdnsd_geo.py PATH/TO/gslbd
"""
import ipaddress
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "e2e"))

import gslbtest  # noqa: E402  (exits 77 when dnspython is missing)
from gslbtest import SKIP, run_tests, stop_process  # noqa: E402

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402

SEED = int(os.environ.get("GEO_DIFF_SEED", "20261128"))
ORDERS = [("sh", "hz"), ("sh",), ("hz",)]  # never the default (hz, sh)
DEFAULT = ("hz", "sh")
ADDR = {"hz": "127.0.0.2", "sh": "127.0.0.3"}
REGION = {"hz": "cn-hangzhou", "sh": "cn-shanghai"}

ZONE = """$ORIGIN example.test.
$TTL 3600
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


def random_map(rnd, n=120):
    """{network: order}: random v4 and v6 nets, a third nested inside earlier ones."""
    nets = []
    while len(nets) < n:
        if nets and rnd.random() < 0.35:
            parent = rnd.choice(nets)
            extra = rnd.randint(1, 8)
            if parent.prefixlen + extra > parent.max_prefixlen:
                continue
            sub = list(parent.subnets(prefixlen_diff=extra))
            net = rnd.choice(sub[:64] + sub[-64:])
        elif rnd.random() < 0.7:
            net = ipaddress.ip_network((rnd.getrandbits(32), rnd.randint(8, 28)), strict=False)
        else:
            net = ipaddress.ip_network(((0x24 << 120) | rnd.getrandbits(120), rnd.randint(16, 64)),
                                       strict=False)
        if net not in nets:
            nets.append(net)
    nets.sort(key=lambda x: (x.version, x.prefixlen))
    order = {}
    for net in nets:
        enclosing = [p for p in order if p.version == net.version and net.subnet_of(p) and p != net]
        parent = max(enclosing, key=lambda p: p.prefixlen) if enclosing else None
        avoid = {order[parent] if parent else DEFAULT}
        if net.prefixlen > 0:
            sib = list(net.supernet().subnets())
            sib = sib[1] if sib[0] == net else sib[0]
            if sib in order:
                avoid.add(order[sib])
        order[net] = rnd.choice([o for o in ORDERS if o not in avoid])
    return order


def queries(rnd, order, n=400):
    """ECS subnets: inside each net, just outside it, and random; random source lengths."""
    out = []
    nets = list(order)
    for _ in range(n):
        kind = rnd.random()
        if kind < 0.5:
            net = rnd.choice(nets)
            addr = int(net.network_address) + rnd.getrandbits(net.max_prefixlen - net.prefixlen)
            fam = net.version
        elif kind < 0.7:
            net = rnd.choice(nets)
            addr = int(net.broadcast_address) + 1
            fam = net.version
            if addr >= 2 ** net.max_prefixlen:
                continue
        else:
            fam = 4 if rnd.random() < 0.6 else 6
            addr = rnd.getrandbits(32) if fam == 4 else (0x24 << 120) | rnd.getrandbits(120)
        bits = 32 if fam == 4 else 128
        src = rnd.choice([bits, 24 if fam == 4 else 56, rnd.randint(1 if fam == 4 else 8, bits)])
        out.append(str(ipaddress.ip_network((addr, src), strict=False)))
    return out


def gdnsd_config(d, port, order):
    nets = "\n".join(f"          {n} => [{', '.join(o)}]" for n, o in order.items())
    return f"""options => {{
  listen => [ 127.0.0.1:{port} ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => {d}/run
  state_dir => {d}/state
}}
plugins => {{
  geoip => {{
    maps => {{
      by-source => {{
        datacenters => [{', '.join(DEFAULT)}]
        nets => {{
{nets}
        }}
      }}
    }}
    resources => {{
      www => {{
        map => by-source
        dcmap => {{ hz => {ADDR['hz']}, sh => {ADDR['sh']} }}
      }}
    }}
  }}
}}
"""


def gslbd_config(port, order):
    rules = ",\n".join(
        f'  {{ cidr = "{n}", regions = [{", ".join(chr(34) + REGION[r] + chr(34) for r in o)}] }}'
        for n, o in order.items())
    return f"""[server]
listen = ["127.0.0.1:{port}"]
probes_dir = "probes"

[log]
targets = ["stderr"]

[health]
unknown = "up"

[control]
socket = ""

[[zone]]
name = "example.test."
file = "example.test.zone"

[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "self"
addresses = ["{ADDR['hz']}"]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "self"
addresses = ["{ADDR['sh']}"]

[[map]]
name = "by-source"
default = ["cn-hangzhou", "cn-shanghai"]
nets = [
{rules}
]

[[name]]
fqdn = "www.example.test."
pools = ["hangzhou", "shanghai"]
map = "by-source"
"""


def ask(port, subnet):
    net = ipaddress.ip_network(subnet)
    q = dns.message.make_query("www.example.test.", "A", use_edns=0,
                               options=[dns.edns.ECSOption(str(net.network_address), net.prefixlen)])
    m = dns.query.udp(q, "127.0.0.1", port=port, timeout=2.0)
    ecs = next((o for o in m.options if o.otype == dns.edns.ECS), None)
    addrs = sorted(rd.to_text() for rrset in m.answer for rd in rrset)
    return m.rcode(), addrs, (ecs.scopelen if ecs else None)


class Proc:
    def __init__(self, args, d, name):
        self.args, self.dir, self.name = args, d, name

    def __enter__(self):
        self.log = open(os.path.join(self.dir, self.name + ".log"), "w+")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        return self

    def text(self):
        self.log.seek(0)
        return self.log.read()

    def __exit__(self, *exc):
        stop_process(self.proc, self.name)
        self.log.close()
        return False


def wait_ready(port, proc):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.proc.poll() is not None:
            return False
        try:
            if ask(port, "192.0.2.0/24")[1]:
                return True
        except Exception:
            pass
        time.sleep(0.1)
    return False


def test_against_gdnsd(c, gslbd):
    rnd = random.Random(SEED)
    order = random_map(rnd)
    subnets = queries(rnd, order)
    print(f"seed {SEED}: {len(order)} nets, {len(subnets)} ECS queries")
    d = tempfile.mkdtemp(prefix="gslbd-geo-diff-")
    try:
        for sub in ("zones", "run", "state", "probes"):
            os.makedirs(os.path.join(d, sub))
        gport, sport = gslbtest.free_port(), gslbtest.free_port()
        with open(os.path.join(d, "config"), "w") as f:
            f.write(gdnsd_config(d, gport, order))
        with open(os.path.join(d, "zones", "example.test"), "w") as f:
            f.write("@ 3600 SOA ns1 hostmaster 1 3600 600 86400 300\n@ 3600 NS ns1\n"
                    "ns1 3600 A 127.0.0.1\nwww 10 DYNA geoip!www\n")
        with open(os.path.join(d, "example.test.zone"), "w") as f:
            f.write(ZONE)
        with open(os.path.join(d, "probes", "self.toml"), "w") as f:
            f.write(f'type = "tcp"\nport = {sport}\ninterval = "5s"\ntimeout = "1s"\n')
        with open(os.path.join(d, "gslbd.toml"), "w") as f:
            f.write(gslbd_config(sport, order))
        with Proc(["gdnsd", "-c", d, "-f", "start"], d, "gdnsd") as g, \
                Proc([gslbd, "--config", os.path.join(d, "gslbd.toml")], d, "gslbd") as s:
            if not c.check(wait_ready(gport, g), "gdnsd starts", g.text()):
                return
            if not c.check(wait_ready(sport, s), "gslbd starts", s.text()):
                return
            differ = []
            for sub in subnets:
                want, got = ask(gport, sub), ask(sport, sub)
                if want != got:
                    differ.append(f"  {sub}: gdnsd {want}, gslbd {got}")
            c.check(not differ, f"{len(subnets)} ECS queries: same answer and scope as gdnsd",
                    f"{len(differ)} differ:\n" + "\n".join(differ[:30]))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def main():
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} PATH/TO/gslbd")
        return 2
    if shutil.which("gdnsd") is None:
        print("SKIP: gdnsd is not installed (Debian package gdnsd)")
        return SKIP
    return run_tests([test_against_gdnsd], os.path.abspath(sys.argv[1]))


if __name__ == "__main__":
    sys.exit(main())
