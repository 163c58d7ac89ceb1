"""Harness for the cluster tests: a real etcd (Debian's etcd-server, one member or three) on
loopback, several gslbd sharing verdicts through it, gateways that fail some sources' checks
(srcgw.py), and a querier that counts unanswered queries. Builds on tests/health/healthtest.py.

Every process is started here and stopped by its PID; every wait is bounded; loopback only.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "health"))

import healthtest  # noqa: E402
from healthtest import gslbtest, stop_process, answer_set, poll_until  # noqa: E402,F401

ETCD = shutil.which("etcd") or "/usr/bin/etcd"
SRCGW = os.path.join(HERE, "srcgw.py")


class Etcd:
    """`members` etcd servers forming one cluster on 127.0.0.1; kill(i)/start_member(i)."""

    def __init__(self, members=1):
        self.n = members
        self.dir = tempfile.mkdtemp(prefix="gslbd-etcd-")
        self.client = [gslbtest.free_port() for _ in range(members)]
        self.peer = [gslbtest.free_port() for _ in range(members)]
        self.procs = [None] * members
        self.logs = [None] * members

    @property
    def endpoints(self):
        return [f"http://127.0.0.1:{p}" for p in self.client]

    def args(self, i):
        cluster = ",".join(f"m{j}=http://127.0.0.1:{self.peer[j]}" for j in range(self.n))
        return [ETCD, "--name", f"m{i}", "--data-dir", os.path.join(self.dir, f"m{i}"),
                "--listen-client-urls", self.endpoints[i], "--advertise-client-urls", self.endpoints[i],
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-cluster", cluster, "--initial-cluster-token", "gslbd-test",
                "--heartbeat-interval", "50", "--election-timeout", "500", "--log-level", "warn"]

    def start_member(self, i):
        self.logs[i] = open(os.path.join(self.dir, f"m{i}.log"), "a")
        self.procs[i] = subprocess.Popen(self.args(i), stdout=self.logs[i], stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def healthy(self, i):
        try:
            with urllib.request.urlopen(self.endpoints[i] + "/health", timeout=0.5) as r:
                return json.loads(r.read()).get("health") == "true"
        except Exception:
            return False

    def wait_healthy(self, i, timeout=20.0):
        return poll_until(lambda: self.healthy(i), timeout, step=0.1)[1] is not None

    def kill(self, i):
        if self.procs[i] and self.procs[i].poll() is None:
            os.kill(self.procs[i].pid, signal.SIGKILL)
            self.procs[i].wait(timeout=5)

    def __enter__(self):
        for i in range(self.n):
            self.start_member(i)
        for i in range(self.n):
            if not self.wait_healthy(i):
                self.__exit__(None, None, None)
                raise RuntimeError(f"etcd member {i} did not become healthy")
        return self

    def __exit__(self, *exc):
        for i in range(self.n):
            stop_process(self.procs[i], f"etcd m{i}")
            if self.logs[i]:
                self.logs[i].close()
        shutil.rmtree(self.dir, ignore_errors=True)
        return False


class Gateway:
    """srcgw.py on addr:port, failing the checks that come from `refuse` sources."""

    def __init__(self, addr, port, refuse=()):
        self.addr, self.port, self.refuse = addr, port, refuse
        self.proc = subprocess.Popen([sys.executable, SRCGW, addr, str(port), "--refuse", ",".join(refuse)],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if self.proc.stdout.readline().strip() != b"ready":
            self.stop()
            raise RuntimeError(f"gateway {addr}:{port} did not start")

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)

    def stop(self):
        stop_process(self.proc, f"gateway {self.addr}")


BODY = """
[control]
socket = "{dir}/ctl.sock"
state_file = ""

[cluster]
etcd = [{etcd}]
node = "{node}"
prefix = "{prefix}"
down_when = "{down_when}"
lease = "{lease}"

[[pool]]
name = "a"
probe = "gw"
addresses = [{{ ip = "127.0.0.2" }}]

[[pool]]
name = "b"
probe = "gw"
addresses = [{{ ip = "127.0.0.3" }}]

[[name]]
fqdn = "www.example.test."
ttl = 1
pools = ["a", "b"]
"""


class Node(healthtest.Server):
    """One gslbd of the cluster: node name, probe source, etcd endpoints."""

    def __init__(self, binary, node, source, etcd, gw_port, prefix, down_when="majority", lease="2s"):
        self.node, self.source = node, source
        self.params = dict(etcd=", ".join(f'"{e}"' for e in etcd), node=node, prefix=prefix,
                           down_when=down_when, lease=lease)
        super().__init__(binary, "", {"gw": healthtest.probe_toml(gw_port)})

    def config_text(self, body=None):
        text = super().config_text(BODY.format(dir=self.dir, **self.params))
        return text.replace("[server]\n", f'[server]\nprobe_source = "{self.source}"\n', 1)

    def kill(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)


class Querier:
    """Asks every node for www.example.test. A every 20 ms in a thread; counts the queries
    that got no answer (timeout or an rcode other than NOERROR) per node."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.asked = {n.node: 0 for n in nodes}
        self.unanswered = {n.node: 0 for n in nodes}
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop_flag.is_set():
            for n in self.nodes:
                if n.proc.poll() is not None:
                    continue
                self.asked[n.node] += 1
                if answer_set(n.port, "www.example.test.") is None and n.proc.poll() is None:
                    self.unanswered[n.node] += 1
            time.sleep(0.02)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        self.thread.join(timeout=5)
        return False


def all_answer(nodes, want, timeout=10.0):
    """Polls until every running node answers exactly `want`; returns the time or None."""
    def ok():
        return all(answer_set(n.port, "www.example.test.") == want for n in nodes if n.proc.poll() is None)
    return poll_until(ok, timeout)[1]


def main(tests):
    code = gslbtest.preflight(("dig",))
    if code is not None:
        return code
    if not os.access(ETCD, os.X_OK):
        print("SKIP: etcd (Debian's etcd-server) is not installed")
        return gslbtest.SKIP
    return gslbtest.run_tests(tests, sys.argv[1])
