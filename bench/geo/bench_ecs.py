#!/usr/bin/python3
"""What a source map costs: qps of ECS queries on a mapped name against static queries in the
same run, and the memory of a map with N nets.

Starts gslbd (loopback, one worker) with a [[map]] of N nets (default 10,000: /24s spread over
IPv4 and /48s over 2001:db8::/32) on www.example.test and a static A record beside it, then
runs dnsperf alternately on

  static:     "static.example.test A", no ECS option
  static+ECS: the same with ECS 198.51.100.0/24 (echoed with scope 0): the option's own cost
  mapped:     "www.example.test A" with ECS 198.51.100.0/24 (dnsperf -E), a rule of the map

for --runs rounds of --duration seconds each, and prints each run and the medians and their
ratio. Memory: VmRSS of that gslbd minus VmRSS of the same config without the map's nets.
The pools' probe is a TCP connect to gslbd's own DNS port, so every address is up.

  bench/geo/bench_ecs.py [--nets 10000] [--runs 3] [--duration 5] [--gslbd build/src/daemon/gslbd]
"""
import argparse
import ipaddress
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import gslbtest  # noqa: E402

ZONE = """$ORIGIN example.test.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
static IN A 192.0.2.80
"""


def nets(n, seed=7):
    """n distinct prefixes: 3/4 IPv4 /24s, 1/4 IPv6 /48s, plus 198.51.100.0/24 first."""
    rnd = random.Random(seed)
    out, seen = ["198.51.100.0/24"], {"198.51.100.0/24"}
    while len(out) < n:
        if rnd.random() < 0.75:
            p = f"{rnd.randrange(1, 224)}.{rnd.randrange(256)}.{rnd.randrange(256)}.0/24"
        else:
            p = str(ipaddress.ip_network((0x20010db8 << 96 | rnd.getrandbits(16) << 80, 48)))
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def config(port, n):
    rules = ",\n".join(
        f'  {{ cidr = "{p}", regions = ["{"sh" if i % 2 == 0 else "hz"}", "{"hz" if i % 2 == 0 else "sh"}"] }}'
        for i, p in enumerate(nets(n))) if n else ""
    return f"""[server]
listen = ["127.0.0.1:{port}"]
workers = 1
probes_dir = "probes"

[log]
targets = ["stderr"]

[control]
socket = ""

[[zone]]
name = "example.test."
file = "example.test.zone"

[[pool]]
name = "hangzhou"
region = "hz"
probe = "self"
addresses = ["127.0.0.2"]

[[pool]]
name = "shanghai"
region = "sh"
probe = "self"
addresses = ["127.0.0.3"]

[[map]]
name = "m"
default = ["hz", "sh"]
nets = [
{rules}
]

[[name]]
fqdn = "www.example.test."
pools = ["hangzhou", "shanghai"]
map = "m"
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class Server:
    def __init__(self, gslbd, n):
        self.gslbd, self.n = gslbd, n

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="gslbd-bench-geo-")
        self.port = gslbtest.free_port()
        os.makedirs(os.path.join(self.dir, "probes"))
        with open(os.path.join(self.dir, "probes", "self.toml"), "w") as f:
            f.write(f'type = "tcp"\nport = {self.port}\ninterval = "5s"\ntimeout = "500ms"\n')
        with open(os.path.join(self.dir, "example.test.zone"), "w") as f:
            f.write(ZONE)
        path = os.path.join(self.dir, "gslbd.toml")
        with open(path, "w") as f:
            f.write(config(self.port, self.n))
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen([self.gslbd, "--config", path], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not gslbtest.wait_for_answer(self.port, "static.example.test.", proc=self.proc, timeout=30):
            self.log.seek(0)
            raise RuntimeError("gslbd did not start:\n" + self.log.read())
        time.sleep(1.0)  # the first checks
        return self

    def __exit__(self, *exc):
        gslbtest.stop_process(self.proc, "gslbd")
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


def dnsperf(port, qname, duration, ecs=None):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(f"{qname} A\n")
        data = f.name
    args = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", data, "-l", str(duration),
            "-c", "4", "-q", "200"]
    if ecs:
        args += ["-E", ecs]
    try:
        out = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             timeout=duration + 30).stdout
    finally:
        os.unlink(data)
    qps = re.search(r"Queries per second:\s+([\d.]+)", out)
    lost = re.search(r"Queries lost:\s+(\d+)", out)
    if not qps:
        raise RuntimeError("dnsperf: " + out)
    return float(qps.group(1)), int(lost.group(1)) if lost else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nets", type=int, default=10000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--gslbd", default=os.path.join(ROOT, "build", "src", "daemon", "gslbd"))
    a = ap.parse_args()
    # ECS option 8: family 1, source /24, scope 0, 198.51.100
    ecs = "8:" + "0001" + "18" + "00" + "c63364"
    with Server(a.gslbd, 0) as bare:
        base = rss_kib(bare.proc.pid)
    with Server(a.gslbd, a.nets) as srv:
        mapped_rss = rss_kib(srv.proc.pid)
        # Check what is measured: the mapped name answers with ECS scope 24.
        dig = subprocess.run(["dig", "@127.0.0.1", "-p", str(srv.port), "+subnet=198.51.100.0/24",
                              "www.example.test", "A"], stdout=subprocess.PIPE, text=True).stdout
        if "CLIENT-SUBNET: 198.51.100.0/24/24" not in dig or "127.0.0.3" not in dig:
            raise RuntimeError("the mapped name does not answer as expected:\n" + dig)
        static, static_ecs, mapped = [], [], []
        for r in range(a.runs):
            s, sl = dnsperf(srv.port, "static.example.test", a.duration)
            se, sel = dnsperf(srv.port, "static.example.test", a.duration, ecs)
            m, ml = dnsperf(srv.port, "www.example.test", a.duration, ecs)
            static.append(s)
            static_ecs.append(se)
            mapped.append(m)
            print(f"run {r + 1}: static {s:,.0f} qps (lost {sl}), static+ECS {se:,.0f} (lost {sel}), "
                  f"ECS on mapped name {m:,.0f} qps (lost {ml})")
    ms, mse, mm = statistics.median(static), statistics.median(static_ecs), statistics.median(mapped)
    print(f"median: static {ms:,.0f} qps, static+ECS {mse:,.0f}, ECS on mapped name {mm:,.0f} qps: "
          f"{mm / ms:.2f} x static, {mm / mse:.2f} x static+ECS")
    print(f"memory: VmRSS {mapped_rss / 1024:.1f} MiB with {a.nets} nets, {base / 1024:.1f} MiB "
          f"without: {(mapped_rss - base) / 1024:.1f} MiB for the map "
          f"({(mapped_rss - base) * 1024 / max(a.nets, 1):.0f} bytes per net)")


if __name__ == "__main__":
    main()
