#!/usr/bin/python3
"""Several gslbd, one verdict: what sharing verdicts through etcd costs.

  bench/cluster/cluster_bench.py [--gslbd build-test/src/daemon/gslbd] [--runs 5]
                                 [--targets 1000] [--seconds 10]

1. Detection: a gateway (127.0.0.2) is killed at a random moment of its check interval
   (HTTP, interval 1s, timeout 500ms, fall 2); the time from the kill until the answer for
   www.example.test. no longer holds it, for one gslbd alone (no [cluster]), then for three
   gslbd with an etcd on loopback (down_when = majority) until all three answer without it.
   Printed per run and as median/max, with the cluster's cost against the single node.
2. etcd writes: three gslbd checking --targets TCP targets (two pools, half each) every 1 s;
   the keys all three wrote to etcd per second (gslbd_cluster_writes_total) in steady state,
   then while one pool's half (a region) is down, from the moment its listeners close.

Uses the cluster tests' harness (tests/cluster/clustertest.py) for etcd and the nodes; only
127.0.0.0/8; every process started here is stopped by its PID; every wait is bounded.
Needs Debian's etcd-server and python3-dnspython.
"""
import argparse
import contextlib
import os
import random
import re
import resource
import selectors
import socket
import statistics
import sys
import threading
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "cluster"))
import clustertest as ct  # noqa: E402
from clustertest import healthtest  # noqa: E402

HTTP_PROBE = 'type = "http"\nport = {port}\npath = "/health"\ninterval = "1s"\ntimeout = "500ms"\nrise = 2\nfall = 2\n'
TCP_PROBE = 'type = "tcp"\nport = {port}\ninterval = "1s"\ntimeout = "500ms"\nrise = 2\nfall = 2\n'


@contextlib.contextmanager
def three_nodes(binary, etcd, port, probe, customize=None):
    """n1..n3 checking from 127.0.0.11..13 with `probe` (a template with {port}), lease 3s."""
    prefix = "/gslbd/bench-" + uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as stack:
        nodes = []
        for i in range(3):
            n = ct.Node(binary, f"n{i + 1}", f"127.0.0.1{i + 1}", etcd.endpoints, port, prefix, lease="3s")
            n.probes = {"gw": probe.format(port=port)}
            if customize:
                customize(n)
            nodes.append(stack.enter_context(n))
        yield nodes


def kill_and_time(nodes, gw, majority=1):
    """Kills `gw` at a random phase. Returns (seconds until every node answers 127.0.0.3,
    seconds from the `majority`-th node's own down vote, as its log shows it, to then)."""
    time.sleep(random.uniform(0, 1.0))
    base = [len(n.log_text().splitlines()) for n in nodes]
    t = gw.kill()
    votes, answered = {}, {}
    deadline = t + 10
    while len(answered) < len(nodes) and time.monotonic() < deadline:
        now = time.monotonic()
        for n, b in zip(nodes, base):
            if n.node not in votes and any("event=vote address=127.0.0.2" in l and "vote=down" in l
                                           for l in n.log_text().splitlines()[b:]):
                votes[n.node] = now
            if n.node not in answered and healthtest.answer_set(n.port, "www.example.test.") == {"127.0.0.3"}:
                answered[n.node] = now
        time.sleep(0.005)
    if len(answered) < len(nodes):
        return float("nan"), float("nan")
    done = max(answered.values())
    decisive = sorted(votes.values())[majority - 1] if len(votes) >= majority else float("nan")
    return done - t, done - decisive


def detection(binary, runs):
    port = healthtest.gateway_port(["127.0.0.2", "127.0.0.3"])
    single, cluster = [], []
    with healthtest.Gateways() as gws:
        gws.add("127.0.0.3", port)
        body = ('[[pool]]\nname = "a"\nprobe = "gw"\naddresses = [{ ip = "127.0.0.2" }]\n'
                '[[pool]]\nname = "b"\nprobe = "gw"\naddresses = [{ ip = "127.0.0.3" }]\n'
                '[[name]]\nfqdn = "www.example.test."\nttl = 1\npools = ["a", "b"]\n'
                '[control]\nsocket = ""\nstate_file = ""\n')
        with healthtest.Server(binary, body, {"gw": HTTP_PROBE.format(port=port)}) as one:
            for _ in range(runs):
                gw = gws.add("127.0.0.2", port)
                ct.all_answer([one], {"127.0.0.2"}, timeout=10)
                one.node = "single"
                single.append(kill_and_time([one], gw)[0])
                gw.stop()
        with ct.Etcd(1) as etcd, three_nodes(binary, etcd, port, HTTP_PROBE) as nodes:
            for _ in range(runs):
                gw = gws.add("127.0.0.2", port)
                if not ct.all_answer(nodes, {"127.0.0.2"}, timeout=10):
                    print("cluster did not come back to 127.0.0.2", file=sys.stderr)
                cluster.append(kill_and_time(nodes, gw, majority=2))
                gw.stop()
    return single, cluster


class Listeners:
    """TCP listeners on many addresses in one thread, each accepting and closing at once."""

    def __init__(self, addrs, port):
        self.sel = selectors.DefaultSelector()
        self.socks = {}
        for a in addrs:
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((a, port))
            s.listen(64)
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
            self.socks[a] = s
        self.lock = threading.Lock()
        self.stop_flag = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop_flag:
            with self.lock:
                events = self.sel.select(timeout=0.05)
                for key, _ in events:
                    try:
                        c, _ = key.fileobj.accept()
                        c.close()
                    except OSError:
                        pass

    def close(self, addrs):
        with self.lock:
            for a in addrs:
                s = self.socks.pop(a)
                self.sel.unregister(s)
                s.close()

    def stop(self):
        self.stop_flag = True
        self.thread.join(timeout=2)
        self.close(list(self.socks))


def writes(node):
    with urllib.request.urlopen(f"http://127.0.0.1:{node.metrics_port}/metrics", timeout=15) as r:
        m = re.search(r"^gslbd_cluster_writes_total (\d+)", r.read().decode(), re.M)
    return int(m.group(1)) if m else 0


def etcd_writes(binary, targets, seconds):
    addrs = [f"127.2.{i // 250}.{i % 250 + 1}" for i in range(targets)]
    half = targets // 2
    port = ct.gslbtest.candidate_port()
    listeners = Listeners(addrs, port)
    body_pools = ('[[pool]]\nname = "a"\nprobe = "gw"\naddresses = [' +
                  ", ".join(f'{{ ip = "{a}" }}' for a in addrs[:half]) + ']\n'
                  '[[pool]]\nname = "b"\nprobe = "gw"\naddresses = [' +
                  ", ".join(f'{{ ip = "{a}" }}' for a in addrs[half:]) + ']\n')
    out = {}
    try:
        def with_pools_and_metrics(n):
            n.metrics_port = ct.gslbtest.free_port()
            base = n.config_text

            def text(body=None):
                t = re.sub(r'\[\[pool\]\].*?(?=\[\[name\]\])', lambda _: body_pools, base(body), flags=re.S)
                return t + f'\n[metrics]\nlisten = "127.0.0.1:{n.metrics_port}"\n'
            n.config_text = text
        with ct.Etcd(1) as etcd, three_nodes(binary, etcd, port, TCP_PROBE, with_pools_and_metrics) as nodes:
            time.sleep(5)  # every target checked and voted a few times over
            w0 = [writes(n) for n in nodes]
            time.sleep(seconds)
            w1 = [writes(n) for n in nodes]
            out["steady"] = (sum(w1) - sum(w0)) / seconds
            listeners.close(addrs[:half])  # the region dies
            time.sleep(seconds)
            w2 = [writes(n) for n in nodes]
            out["outage"] = (sum(w2) - sum(w1)) / seconds
            out["outage_keys"] = sum(w2) - sum(w1)
            out["per_node"] = [b - a for a, b in zip(w1, w2)]
            out["events"] = [f"{n.node}: {e['_line']}" for n in nodes
                             for e in n.events() if e["event"].startswith("cluster-")]
    finally:
        listeners.stop()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gslbd", default=os.path.join(ROOT, "build-test/src/daemon/gslbd"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    single, cluster = detection(args.gslbd, args.runs)
    total = [c[0] for c in cluster]
    spread = [c[1] for c in cluster]
    fmt = lambda xs: " ".join(f"{x * 1000:.0f}" for x in xs)  # noqa: E731
    med = lambda xs: statistics.median(xs) * 1000  # noqa: E731
    print(f"detection, kill -> answers without the address (ms), {args.runs} runs:")
    print(f"  one gslbd:                 {fmt(single)}  median {med(single):.0f}, max {max(single) * 1000:.0f}")
    print(f"  three gslbd, all answering: {fmt(total)}  median {med(total):.0f}, max {max(total) * 1000:.0f}")
    print(f"  of which, from the 2nd node's down vote to all three answering (the cluster's cost): "
          f"{fmt(spread)}  median {med(spread):.0f}, max {max(spread) * 1000:.0f}")
    w = etcd_writes(args.gslbd, args.targets, args.seconds)
    print(f"etcd writes, 3 gslbd x {args.targets} TCP targets at 1 s:")
    print(f"  steady state:         {w['steady']:.1f} keys/s (all three nodes)")
    print(f"  region outage ({args.targets // 2} down): {w['outage']:.1f} keys/s over {args.seconds} s "
          f"({w['outage_keys']} keys; per node {w['per_node']})")
    for line in w["events"]:
        print("  " + line)


if __name__ == "__main__":
    main()
