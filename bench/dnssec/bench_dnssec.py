#!/usr/bin/env python3
"""DNSSEC figures for gslbd (a benchmark, not a test: it prints figures, asserts nothing).

  bench/dnssec/bench_dnssec.py PATH/TO/gslbd [--names 10000] [--duration 5] [--rounds 3]

One topology on loopback, served twice: unsigned, then signed (ECDSA P-256 KSK + ZSK made by
dnssec-keygen). N dynamic names fail over between two one-address pools (TCP checks, fall 1,
every 1 s, against listeners this script owns), plus N/10 static names.

  1. qps, DO=0 against DO=1, in the same run of the signed gslbd: dnsperf (one worker),
     alternating rounds, a query mix of static and dynamic A names. Beside it, the peer: NSD
     (server-count 1, rrl off) serving the same names as a static zone pre-signed by
     dnssec-signzone with the same keys, measured in the same alternation, so that the cost of
     the bigger DO=1 answers in the kernel and in dnsperf shows in NSD's ratio too.
  2. Re-signing after a region outage: the first pool's listener closes, every name fails over,
     and every answer set is compiled and signed again. Reported: gslbd's own publish lag
     (gslbd_publish_lag_seconds: verdict to published overlay) and the CPU gslbd used from
     the kill until the last name answers from the second pool; unsigned beside signed.
  3. Memory: VmRSS once ready, per name, unsigned beside signed.
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "e2e"))
import gslbtest as g  # noqa: E402


def listener(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4096)
    return s


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def metric(port, name):
    code, out = g.run_tool(["curl", "-s", f"http://127.0.0.1:{port}/metrics"])
    m = re.search(rf"^{name} ([0-9.e+-]+)$", out, re.M)
    return float(m.group(1)) if m else 0.0


def answer(port, name):
    _, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(port), "+short", "+tries=1", "+time=1", "A", name])
    return out.strip()


class Setup:
    def __init__(self, binary, names, signed, gw_port):
        self.binary, self.names, self.signed, self.gw_port = binary, names, signed, gw_port

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="gslbd-bench-dnssec-")
        zone = ["$ORIGIN bench.test.", "$TTL 300",
                "@ IN SOA ns1 hostmaster 1 3600 600 86400 300", "@ IN NS ns1", "ns1 IN A 127.0.0.1"]
        zone += [f"s{i} IN A 192.0.2.{i % 250 + 1}" for i in range(self.names // 10)]
        with open(os.path.join(self.dir, "bench.zone"), "w") as f:
            f.write("\n".join(zone) + "\n")
        os.makedirs(os.path.join(self.dir, "probes"))
        with open(os.path.join(self.dir, "probes", "gw.toml"), "w") as f:
            f.write(f'type = "tcp"\nport = {self.gw_port}\ninterval = "1s"\ntimeout = "500ms"\nrise = 1\nfall = 1\n')
        dnssec = ""
        if self.signed:
            keys = []
            for args in (["-f", "KSK"], []):
                r = subprocess.run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", *args, "-n", "ZONE",
                                    "bench.test"], cwd=self.dir, capture_output=True, text=True, check=True)
                keys.append(r.stdout.strip())
            self.keys = keys
            dnssec = "dnssec = { keys = [" + ", ".join(f'"{k}"' for k in keys) + "] }\n"
        self.port, self.mport = g.free_port(), g.free_port()
        cfg = [f'[server]\nlisten = ["127.0.0.1:{self.port}"]\nworkers = 1\nprobes_dir = "probes"\n',
               f'[metrics]\nlisten = "127.0.0.1:{self.mport}"\n',
               f'[control]\nsocket = "ctl.sock"\nstate_file = "drains"\n',
               f'[[zone]]\nname = "bench.test."\nfile = "bench.zone"\n{dnssec}',
               '[[pool]]\nname = "a"\nregion = "r1"\nprobe = "gw"\naddresses = [{ ip = "127.0.0.2" }]\n',
               '[[pool]]\nname = "b"\nregion = "r2"\nprobe = "gw"\naddresses = [{ ip = "127.0.0.3" }]\n']
        cfg += [f'[[name]]\nfqdn = "d{i}.bench.test."\nttl = 10\npools = ["a", "b"]\n' for i in range(self.names)]
        with open(os.path.join(self.dir, "gslbd.toml"), "w") as f:
            f.write("\n".join(cfg))
        self.log = open(os.path.join(self.dir, "gslbd.log"), "w+")
        self.proc = subprocess.Popen([self.binary, "--config", os.path.join(self.dir, "gslbd.toml")],
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if not g.wait_for_answer(self.port, "bench.test.", proc=self.proc, timeout=120):
            self.__exit__()
            raise RuntimeError("gslbd did not start")
        deadline = time.monotonic() + 30
        while answer(self.port, f"d{self.names - 1}.bench.test.") != "127.0.0.2" and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(2)
        return self

    def __exit__(self, *exc):
        g.stop_process(self.proc, "gslbd")
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Nsd:
    """NSD serving the signed gslbd's names as one pre-signed static zone (dynamic names with
    their first pool's address), signed by dnssec-signzone with the gslbd run's keys."""

    def __init__(self, setup):
        self.setup = setup

    def __enter__(self):
        d = self.setup.dir
        self.port = g.free_port()
        with open(os.path.join(d, "bench.zone")) as f:
            text = f.read()
        text += "".join(f"d{i} 10 IN A 127.0.0.2\n" for i in range(self.setup.names))
        for key in self.setup.keys:
            text += f"$INCLUDE {key}.key\n"
        with open(os.path.join(d, "nsd.zone"), "w") as f:
            f.write(text)
        subprocess.run(["dnssec-signzone", "-q", "-S", "-K", d, "-o", "bench.test.", "-f",
                        os.path.join(d, "nsd.zone.signed"), os.path.join(d, "nsd.zone")],
                       cwd=d, check=True, capture_output=True, text=True, timeout=600)
        nsd_dir = os.path.join(d, "nsd")
        os.makedirs(nsd_dir)
        with open(os.path.join(nsd_dir, "nsd.conf"), "w") as f:
            f.write(g.nsd_config(nsd_dir, self.port, d,
                                 'zone:\n  name: "bench.test."\n  zonefile: "nsd.zone.signed"\n',
                                 "  rrl-ratelimit: 0\n  verbosity: 0\n"))
        self.proc = subprocess.Popen([g.find_server("nsd"), "-d", "-c", os.path.join(nsd_dir, "nsd.conf")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL)
        if not g.wait_for_answer(self.port, "bench.test.", proc=self.proc, timeout=120):
            self.__exit__()
            raise RuntimeError("nsd did not start")
        return self

    def __exit__(self, *exc):
        g.stop_process(self.proc, "nsd")


def dnsperf(port, qfile, duration, do):
    r = subprocess.run(["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(duration),
                        "-c", "1", "-T", "1", "-q", "100", *(["-D"] if do else [])],
                       capture_output=True, text=True, timeout=duration + 60)
    m = re.search(r"Queries per second:\s+([0-9.]+)", r.stdout)
    return float(m.group(1)) if m else 0.0


def outage(s, gw_a, names):
    """Closes pool a's listener; returns (publish lag s, CPU s, wall s) until the last name moved."""
    lag_sum, lag_n = metric(s.mport, "gslbd_publish_lag_seconds_sum"), metric(s.mport, "gslbd_publish_lag_seconds_count")
    cpu0, t0 = proc_cpu(s.proc.pid), time.monotonic()
    gw_a.close()
    last = f"d{names - 1}.bench.test."
    deadline = t0 + 60
    while answer(s.port, last) != "127.0.0.3" and time.monotonic() < deadline:
        time.sleep(0.05)
    wall, cpu = time.monotonic() - t0, proc_cpu(s.proc.pid) - cpu0
    time.sleep(0.5)
    dn = metric(s.mport, "gslbd_publish_lag_seconds_count") - lag_n
    lag = (metric(s.mport, "gslbd_publish_lag_seconds_sum") - lag_sum) / dn if dn else float("nan")
    return lag, cpu, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gslbd")
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    gw_port = random.randrange(20000, 30000)
    results = {}
    for signed in (False, True):
        gw_a, gw_b = listener("127.0.0.2", gw_port), listener("127.0.0.3", gw_port)
        try:
            with Setup(a.gslbd, a.names, signed, gw_port) as s:
                rss = rss_kb(s.proc.pid)
                qps = {False: [], True: []}
                peer = {False: [], True: []}
                if signed:
                    qfile = os.path.join(s.dir, "queries")
                    with open(qfile, "w") as f:
                        for i in range(20000):
                            f.write(f"d{random.randrange(a.names)}.bench.test. A\n" if i % 2 else
                                    f"s{random.randrange(a.names // 10)}.bench.test. A\n")
                    with Nsd(s) as nsd:
                        for _ in range(a.rounds):
                            for do in (False, True):
                                qps[do].append(dnsperf(s.port, qfile, a.duration, do))
                                peer[do].append(dnsperf(nsd.port, qfile, a.duration, do))
                lag, cpu, wall = outage(s, gw_a, a.names)
                results[signed] = (rss, qps, lag, cpu, wall, peer)
        finally:
            gw_a.close()
            gw_b.close()
    n = a.names + a.names // 10
    print(f"# {a.names} dynamic + {a.names // 10} static names; gslbd {a.gslbd}")
    _, qps, _, _, _, peer = results[True]
    for who, runs in (("gslbd", qps), ("nsd  ", peer)):
        if not min(runs[False] + runs[True]):
            print(f"qps {who}: dnsperf gave nothing in a round {runs}")
            continue
        best = max(runs[True]) / max(runs[False])
        med = statistics.median(runs[True]) / statistics.median(runs[False])
        pairs = statistics.median(t / f for f, t in zip(runs[False], runs[True]))
        print(f"qps {who} (signed zone, 1 worker, dnsperf -c1, {a.rounds} rounds): DO=0 best "
              f"{max(runs[False]):.0f}, DO=1 best {max(runs[True]):.0f}; DO=1/DO=0 best {best:.2f}, "
              f"median {med:.2f}, median of round pairs {pairs:.2f}")
        print(f"  rounds DO=0 {[round(x) for x in runs[False]]} DO=1 {[round(x) for x in runs[True]]}")
    for signed in (False, True):
        rss, _, lag, cpu, wall, _ = results[signed]
        print(f"{'signed  ' if signed else 'unsigned'}: RSS {rss / 1024:.1f} MiB ({rss * 1024 / n:.0f} B/name); "
              f"outage of {a.names} names: publish lag {lag * 1000:.0f} ms, CPU {cpu:.2f} s, "
              f"kill to last name moved {wall:.2f} s")
    r0, r1 = results[False][0], results[True][0]
    print(f"memory per signed name (signed - unsigned RSS, over {n} names): {(r1 - r0) * 1024 / n:.0f} B")


if __name__ == "__main__":
    main()
