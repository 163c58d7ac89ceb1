#!/usr/bin/python3
"""The control plane at scale: a region outage at N names, gslbd beside gdnsd in one run.

  bench/scale/scale.py [--servers gslbd,gdnsd] [--gslbd build-release/src/daemon/gslbd]
                       [--names 10000] [--pairs 1000] [--flappers 500] [--duration 20]
                       [--interval 1]

The stable gateways are one nginx (Debian's nginx-light) when it is installed, else a Python
accept loop (which falls behind past a few thousand connects a second).

Topology (the same for both servers): P pool pairs of one address each. Pair p is a primary
address A(2p) and a backup A(2p+1) (127.1.x.y); name n{i}.scale.test. fails over from pair
i % P's primary to its backup. Every check is a TCP connect: the backups and the primaries of
pairs >= F to one listener on 0.0.0.0:19000 that accepts and closes; the primaries of pairs
< F (the "flappers", one region) to a listener of their own on A(2p):19001, which this script
closes to kill them.

Each server runs with its fastest settings: gslbd checks every 1 s (--interval) with a 500 ms timeout,
rise 1, fall 1; gdnsd (metafo DYNA over tcp_connect) every 2 s with a 1 s timeout (its
minimum), up/ok/down_thresh 1.

Printed per server: start to first answer; start to every verdict in (gslbd: every address
has a result in /metrics); the region outage: all F flappers die at once, time until the last
of 200 sampled names on them stops answering the dead address, and gslbd's verdict-to-publish
lag (gslbd_publish_lag_seconds); CPU (% of one core) and RSS while the flappers but one flip
every second for --duration; SIGTERM to exit.

Only 127.0.0.0/8 is used; every process is started here and stopped by its PID; every wait
is bounded. Standard library and dnspython only (Debian: python3-dnspython).
"""
import argparse
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import dns.message
import dns.query

STABLE_PORT, FLAP_PORT = 19000, 19001


def addr(i):
    """The i-th gateway address, 127.1.0.2 upward (250 to a /24)."""
    i += 1
    return f"127.1.{i // 250}.{i % 250 + 1}"


class Listener:
    """A TCP port that accepts and closes at once: a live gateway for a connect check."""

    def __init__(self, ip, port):
        self.ip, self.port, self.sock = ip, port, None

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((self.ip, self.port))
        s.listen(1024)
        self.sock = s
        threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        while True:
            try:
                c, _ = s.accept()
                c.close()
            except OSError:
                return

    def down(self):
        if self.sock:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accept() of _serve
            except OSError:
                pass
            self.sock.close()
            self.sock = None


class NginxListener:
    """The stable gateways at tens of thousands of connects a second: nginx (Debian's nginx-light)
    accepting on 0.0.0.0. A Python accept loop fell behind there, its backlog overflowed, and
    the dropped SYNs turned into timeouts, verdicts and publishes that the servers were then
    measured on."""

    def __init__(self, port):
        self.port, self.proc, self.dir = port, None, None

    def up(self):
        self.dir = tempfile.mkdtemp(prefix="scale-nginx-")
        d = self.dir
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(f"""worker_processes 1;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 16384; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{ listen 0.0.0.0:{self.port} backlog=8192; return 444; }}
}}
""")
        self.proc = subprocess.Popen(["nginx", "-c", f"{d}/nginx.conf", "-g", "daemon off;"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        time.sleep(0.5)

    def down(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


def more_descriptors():
    """The soft descriptor limit raised to the hard one: gslbd budgets one per probe target."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ZONE_HEAD = ["$ORIGIN scale.test.", "$TTL 300", "@ IN SOA ns1 h 1 7200 3600 1209600 60",
             "@ IN NS ns1", "ns1 IN A 127.0.0.1"]


class Gslbd:
    name = "gslbd"

    def __init__(self, binary):
        self.binary = os.path.abspath(binary)

    def setup(self, d, a, port):
        self.dir = d
        self.metrics = free_port()
        os.makedirs(f"{d}/probes")
        for probe, p in (("stable", STABLE_PORT), ("flappy", FLAP_PORT)):
            with open(f"{d}/probes/{probe}.toml", "w") as f:
                f.write(f'type = "tcp"\nport = {p}\ninterval = "{a.interval}s"\ntimeout = "500ms"\n'
                        "rise = 1\nfall = 1\n")
        with open(f"{d}/scale.test.zone", "w") as f:
            f.write("\n".join(ZONE_HEAD) + "\n")
        # Few DNS/TCP connections: the descriptors go to the probes (one per target, or as many
        # as fit when the targets outnumber them).
        targets = 2 * a.pairs
        fit = resource.getrlimit(resource.RLIMIT_NOFILE)[1] - 300
        cfg = ["[server]", f'listen = ["127.0.0.1:{port}"]', "workers = 1", "tcp_max_connections = 64",
               *([f"max_checks_in_flight = {fit}"] if targets > fit else []),
               "[log]", 'targets = ["stderr"]',
               "[control]", 'socket = "ctl.sock"', 'state_file = ""',
               "[metrics]", f'listen = "127.0.0.1:{self.metrics}"',
               "[[zone]]", 'name = "scale.test."', 'file = "scale.test.zone"']
        for p in range(a.pairs):
            cfg += ["[[pool]]", f'name = "p{p}"', f'probe = "{"flappy" if p < a.flappers else "stable"}"',
                    f'addresses = ["{addr(2 * p)}"]',
                    "[[pool]]", f'name = "q{p}"', 'probe = "stable"', f'addresses = ["{addr(2 * p + 1)}"]']
        for n in range(a.names):
            p = n % a.pairs
            cfg += ["[[name]]", f'fqdn = "n{n}.scale.test."', "ttl = 5", f'pools = ["p{p}", "q{p}"]']
        with open(f"{d}/gslbd.toml", "w") as f:
            f.write("\n".join(cfg) + "\n")
        return [self.binary, "--config", f"{d}/gslbd.toml"]

    def metrics_text(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics}/metrics", timeout=5) as r:
            return r.read().decode()

    def verdicts_in(self, a):
        seen = set(re.findall(r'gslbd_probe_results_total\{address="([^"]+)"', self.metrics_text()))
        return len(seen) >= 2 * a.pairs

    def status_seconds(self):
        """How long `gslbctl status` takes (the control socket, as gslbctl speaks it)."""
        t = time.monotonic()
        with socket.socket(socket.AF_UNIX) as c:
            c.settimeout(10)
            c.connect(f"{self.dir}/ctl.sock")
            c.sendall(b"status\n")
            while c.recv(65536):
                pass
        return time.monotonic() - t

    def publish_lag(self):
        """The bucket bound below which 99% (and all) of the verdict-to-publish lags fall."""
        text = self.metrics_text()
        buckets = [(float("inf") if le == "+Inf" else float(le), int(n)) for le, n in
                   re.findall(r'gslbd_publish_lag_seconds_bucket\{le="([^"]+)"\} (\d+)', text)]
        total = buckets[-1][1] if buckets else 0
        if not total:
            return "no verdicts"
        p99 = next(le for le, n in buckets if n >= 0.99 * total)
        top = next(le for le, n in buckets if n >= total)
        return f"publish lag p99 <= {p99 * 1000:g} ms, max <= {top * 1000:g} ms over {total} verdicts"


class Gdnsd:
    name = "gdnsd"

    def __init__(self, binary):
        self.binary = binary

    def setup(self, d, a, port):
        os.makedirs(f"{d}/zones")
        svc = "interval => 2, timeout => 1, up_thresh => 1, ok_thresh => 1, down_thresh => 1"
        cfg = ["options => {", f'  listen => [ "127.0.0.1:{port}" ]', "  udp_threads => 1",
               "  tcp_threads => 1", f'  run_dir => "{d}/run"', f'  state_dir => "{d}/state"', "}",
               "service_types => {",
               f"  stable => {{ plugin => tcp_connect, port => {STABLE_PORT}, {svc} }}",
               f"  flappy => {{ plugin => tcp_connect, port => {FLAP_PORT}, {svc} }}",
               "}", "plugins => {", "  metafo => {", "    resources => {"]
        for p in range(a.pairs):
            probe = "flappy" if p < a.flappers else "stable"
            cfg.append(f"      r{p} => {{ datacenters => [ p, q ], dcmap => {{ "
                       f"p => {{ service_types => {probe}, a => {addr(2 * p)} }}, "
                       f"q => {{ service_types => stable, a => {addr(2 * p + 1)} }} }} }}")
        cfg += ["    }", "  }", "}", ""]
        with open(f"{d}/config", "w") as f:
            f.write("\n".join(cfg))
        # "5/5": TTL 5 and DYNA minimum 5 (gdnsd's min_ttl; a lower one logs a warning per name).
        zone = ZONE_HEAD + [f"n{n} 5/5 DYNA metafo!r{n % a.pairs}" for n in range(a.names)]
        with open(f"{d}/zones/scale.test", "w") as f:
            f.write("\n".join(zone) + "\n")
        return [self.binary, "-c", d, "start"]

    def verdicts_in(self, a):
        return None  # gdnsd does not say

    def publish_lag(self):
        return "gdnsd swaps its state table at most once a second"


def run(server, a):
    d = tempfile.mkdtemp(prefix=f"scale-{server.name}-")
    port = free_port()
    stable = NginxListener(STABLE_PORT) if shutil.which("nginx") else Listener("0.0.0.0", STABLE_PORT)
    stable.up()
    flappers = [Listener(addr(2 * p), FLAP_PORT) for p in range(a.flappers)]
    for f in flappers:
        f.up()
    cmd = server.setup(d, a, port)
    log = open(f"{d}/server.log", "w")
    t_start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=d, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, preexec_fn=more_descriptors)
    try:
        return measure(server, a, proc, port, flappers, t_start, d)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        for f in flappers + [stable]:
            f.down()
        log.close()
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)


def measure(server, a, proc, port, flappers, t_start, d):
    def ask(name):
        r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1)
        return [rd.address for rr in r.answer for rd in rr]

    while True:
        try:
            ask("n0.scale.test.")
            break
        except Exception:
            if proc.poll() is not None or time.monotonic() - t_start > 300:
                print(open(f"{d}/server.log").read()[-1500:])
                return None
            time.sleep(0.05)
    t_answer = time.monotonic() - t_start
    t_verdicts = None
    while time.monotonic() - t_start < 300:
        v = server.verdicts_in(a)
        if v is None:
            break
        if v:
            t_verdicts = time.monotonic() - t_start
            break
        time.sleep(0.1)
    time.sleep(3)  # gdnsd needs its first checks in too
    rss0 = rss_mb(proc.pid)

    # The region outage: every flapper dies at once.
    sample = [n for n in range(a.names) if n % a.pairs < a.flappers][:200]
    for f in flappers:
        f.down()
    t0 = time.monotonic()
    left = set(sample)
    while left and time.monotonic() - t0 < 120:
        for n in list(left):
            if addr(2 * (n % a.pairs)) not in ask(f"n{n}.scale.test."):
                left.discard(n)
    outage = time.monotonic() - t0
    lag = server.publish_lag()
    for f in flappers:
        f.up()
    time.sleep(3)

    # Steady flapping: every flapper but the first flips every second.
    stop = time.monotonic() + a.duration

    def flap():
        up = True
        while time.monotonic() < stop:
            time.sleep(1.0)
            for f in flappers[1:]:
                (f.down if up else f.up)()
            up = not up

    th = threading.Thread(target=flap)
    th.start()
    c0, w0 = cpu_ticks(proc.pid), time.monotonic()
    status = []  # gslbctl status while the flapping goes on: the loop must stay responsive
    while th.is_alive() and hasattr(server, "status_seconds"):
        status.append(server.status_seconds())
        time.sleep(2)
    th.join()
    cpu = 100.0 * (cpu_ticks(proc.pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - w0)
    rss1 = rss_mb(proc.pid)
    t_term = time.monotonic()
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    term = time.monotonic() - t_term
    verdicts = f"{t_verdicts:.2f} s" if t_verdicts is not None else "n/a"
    return (f"{server.name}: names {a.names}, targets {2 * a.pairs}, dying {a.flappers}: "
            f"start to answer {t_answer:.2f} s, to all verdicts {verdicts}; "
            f"outage: last of {len(sample)} names moved after {outage * 1000:.0f} ms "
            f"({'all moved' if not left else f'{len(left)} never did'}), {lag}; "
            f"flapping {a.flappers - 1} every 1 s: CPU {cpu:.1f}% of a core, "
            f"RSS {rss0} -> {rss1} MB; SIGTERM to exit {term:.2f} s"
            + (f"; gslbctl status at most {max(status) * 1000:.0f} ms" if status else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="gslbd,gdnsd")
    ap.add_argument("--gslbd", default="build-release/src/daemon/gslbd")
    ap.add_argument("--gdnsd", default=shutil.which("gdnsd") or "/usr/sbin/gdnsd")
    ap.add_argument("--names", type=int, default=10000)
    ap.add_argument("--pairs", type=int, default=1000)
    ap.add_argument("--flappers", type=int, default=500)
    ap.add_argument("--duration", type=float, default=20)
    ap.add_argument("--interval", type=int, default=1,
                    help="gslbd's check interval in seconds (gdnsd's is 2, its minimum)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dirs")
    a = ap.parse_args()
    if not (1 <= a.flappers <= a.pairs and a.names >= a.pairs and 2 * a.pairs < 250 * 250):
        ap.error("need 1 <= flappers <= pairs <= names and fewer than 31250 pairs")
    servers = {"gslbd": lambda: Gslbd(a.gslbd), "gdnsd": lambda: Gdnsd(a.gdnsd)}
    rc = 0
    for name in a.servers.split(","):
        line = run(servers[name](), a)
        print(line if line else f"{name}: did not start", flush=True)
        rc |= line is None
    return rc


if __name__ == "__main__":
    sys.exit(main())
