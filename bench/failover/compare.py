#!/usr/bin/env python3
"""gslbd's failover detection beside gdnsd's (multifo + http_status), on loopback: two HTTP
backends behind www, one killed and restarted again and again while www is asked every 50 ms.
For each server and cycle: "down", from the kill to the first answer without the backend, and
"up", from the restart to the first answer with it again. A benchmark, not a test: it prints a
table. Everything it needs is in this repository (scripts/gateway.py for the backends,
run_gslbd_dynamic.sh for gslbd); gdnsd is used when installed (apt-get install gdnsd) and
reported as skipped otherwise.

  bench/failover/compare.py [--gslbd PATH] [--cycles 5] [--probe-ms 50] [--servers gslbd,gdnsd]

gslbd's check timing comes from GSLBD_INTERVAL/GSLBD_TIMEOUT/GSLBD_FALL/GSLBD_RISE (1s/500ms/2/2,
see run_gslbd_dynamic.sh); gdnsd's from GDNSD_INTERVAL/GDNSD_TIMEOUT/GDNSD_DOWN/GDNSD_UP
(2/1/1/2: its http_status defaults, but down after 1 failure and up after 2 passes, as gslbd's
rise; gdnsd's own default of 20 passes would keep a restarted backend out for 40 s).
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BACKENDS = ("127.0.0.11", "127.0.0.12")
VICTIM = BACKENDS[0]


def free_port():
    """A port free for TCP and UDP on 127.0.0.0/8 (the kernel's pick for TCP, checked for UDP)."""
    while True:
        with socket.socket() as t:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue


def query_a(port, name, timeout=0.3):
    """The A addresses of `name` from 127.0.0.1:port (one UDP query), or None on no answer."""
    qid = int.from_bytes(os.urandom(2), "big")
    qname = b"".join(bytes([len(l)]) + l.encode() for l in name.rstrip(".").split(".")) + b"\0"
    msg = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0) + qname + struct.pack(">HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        try:
            s.sendto(msg, ("127.0.0.1", port))
            data = s.recv(4096)
        except OSError:
            return None
    if len(data) < 12 or int.from_bytes(data[:2], "big") != qid:
        return None
    an = int.from_bytes(data[6:8], "big")

    def skip_name(i):
        while data[i] != 0:
            if data[i] & 0xC0 == 0xC0:
                return i + 2
            i += 1 + data[i]
        return i + 1
    i = skip_name(12) + 4
    out = set()
    for _ in range(an):
        i = skip_name(i)
        rtype, _, _, rdlen = struct.unpack(">HHIH", data[i:i + 10])
        i += 10
        if rtype == 1 and rdlen == 4:
            out.add(socket.inet_ntoa(data[i:i + 4]))
        i += rdlen
    return out


class Procs:
    """Child processes, stopped by PID (SIGTERM, then SIGKILL) when the run ends."""
    def __init__(self):
        self.procs = []

    def start(self, argv, log):
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def stop(self, p):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(3)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        for p in reversed(self.procs):
            self.stop(p)


def backend(procs, addr, port, log):
    return procs.start([sys.executable, os.path.join(REPO, "scripts", "gateway.py"), addr, str(port)], log)


def wait_http(addr, port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((addr, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.02)
    return False


def start_gslbd(procs, gslbd, d, port, check_port, log):
    with open(os.path.join(d, "example.test.zone"), "w") as f:
        f.write(ZONE_PLAIN)
    env_checks = (f"{os.environ.get('GSLBD_INTERVAL', '1s')}/{os.environ.get('GSLBD_TIMEOUT', '500ms')} "
                  f"fall {os.environ.get('GSLBD_FALL', '2')}")
    procs.start(["sh", os.path.join(HERE, "run_gslbd_dynamic.sh"), gslbd, d, str(port), "example.test.",
                 os.path.join(d, "example.test.zone"), ",".join(f"{b}:{check_port}" for b in BACKENDS),
                 str(check_port)], log)
    version = subprocess.run([gslbd, "--version"], capture_output=True, text=True).stdout.split()[-1]
    return f"gslbd {version}", env_checks


def start_gdnsd(procs, d, port, check_port, log):
    interval = os.environ.get("GDNSD_INTERVAL", "2")
    timeout = os.environ.get("GDNSD_TIMEOUT", "1")
    down = os.environ.get("GDNSD_DOWN", "1")
    up = os.environ.get("GDNSD_UP", "2")
    os.makedirs(os.path.join(d, "zones"), exist_ok=True)
    with open(os.path.join(d, "config"), "w") as f:
        f.write(f"""options => {{
  listen => [ 127.0.0.1:{port} ]
  run_dir => {d}/run
  state_dir => {d}/state
}}
service_types => {{
  web => {{ plugin => http_status, port => {check_port}, url_path => "/",
           interval => {interval}, timeout => {timeout}, down_thresh => {down},
           up_thresh => {up}, ok_thresh => {up} }}
}}
plugins => {{
  multifo => {{ www => {{ service_types => [ web ], {", ".join(f"b{i} => {b}" for i, b in enumerate(BACKENDS))} }} }}
}}
""")
    with open(os.path.join(d, "zones", "example.test"), "w") as f:
        f.write(ZONE_PLAIN + "www 30 DYNA multifo!www\n")
    procs.start(["gdnsd", "-c", d, "start"], log)
    out = subprocess.run(["gdnsd", "-c", d, "checkconf"], capture_output=True, text=True)
    version = next((w for w in (out.stdout + out.stderr).split() if w[:1].isdigit() and "." in w), "?")
    return f"gdnsd {version}", f"interval {interval}, timeout {timeout}, down_thresh {down}, up_thresh {up}"


ZONE_PLAIN = """$TTL 30
@    IN SOA ns1.example.test. hostmaster.example.test. 1 3600 600 1209600 30
@    IN NS  ns1.example.test.
ns1  IN A   127.0.0.1
"""


def until(port, pred, timeout, step):
    """Polls www every `step` s until pred(answer); the time it took, or None."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        a = query_a(port, "www.example.test.")
        if a is not None and pred(a):
            return time.monotonic() - t0
        time.sleep(step)
    return None


def run_server(name, args, outdir):
    procs = Procs()
    d = tempfile.mkdtemp(prefix=f"{name}-", dir=outdir)
    log = open(os.path.join(d, "log"), "w")
    port, check_port = free_port(), free_port()
    step = args.probe_ms / 1000
    try:
        backs = {b: backend(procs, b, check_port, log) for b in BACKENDS}
        if not all(wait_http(b, check_port) for b in BACKENDS):
            return {"server": name, "error": "a backend did not start"}
        if name == "gslbd":
            label, checks = start_gslbd(procs, args.gslbd, d, port, check_port, log)
        else:
            label, checks = start_gdnsd(procs, d, port, check_port, log)
        if until(port, lambda a: set(BACKENDS) <= a, 20, 0.1) is None:
            return {"server": label, "error": f"www never answered both backends (log: {d}/log)"}
        downs, ups = [], []
        for _ in range(args.cycles):
            procs.stop(backs[VICTIM])
            backs[VICTIM].kill() if backs[VICTIM].poll() is None else None
            downs.append(until(port, lambda a: VICTIM not in a and a, 30, step))
            backs[VICTIM] = backend(procs, VICTIM, check_port, log)
            wait_http(VICTIM, check_port)
            ups.append(until(port, lambda a: VICTIM in a, 30, step))
            time.sleep(args.settle)
        return {"server": label, "checks": checks, "down": downs, "up": ups}
    finally:
        procs.stop_all()
        log.close()


def fmt_cycles(v):
    got = [x for x in v if x is not None]
    text = "/".join("-" if x is None else f"{x:.2f}" for x in v)
    return f"{text}, median {statistics.median(got):.2f}" if got else text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gslbd", default=os.path.join(REPO, "build", "src", "daemon", "gslbd"))
    ap.add_argument("--cycles", type=int, default=5)
    ap.add_argument("--probe-ms", type=int, default=50)
    ap.add_argument("--settle", type=float, default=1.0, help="seconds between cycles")
    ap.add_argument("--servers", default="gslbd,gdnsd")
    ap.add_argument("--out", default=None, help="where configs and logs go (default: a temp dir)")
    args = ap.parse_args()
    outdir = args.out or tempfile.mkdtemp(prefix="gslbd-failover-")
    os.makedirs(outdir, exist_ok=True)
    rows = []
    for name in args.servers.split(","):
        if name == "gdnsd" and not shutil.which("gdnsd"):
            rows.append({"server": "gdnsd", "error": "not installed (apt-get install gdnsd): skipped"})
            continue
        if name not in ("gslbd", "gdnsd"):
            sys.exit(f"unknown server {name} (gslbd, gdnsd)")
        print(f"# {name}: {args.cycles} cycles ...", flush=True)
        rows.append(run_server(name, args, outdir))
    print(f"\nfailover on loopback, {args.cycles} cycles, www asked every {args.probe_ms} ms "
          f"(down/up: seconds per cycle; logs in {outdir})\n")
    print(f"| server | checks | down (kill -> answer without it) | up (restart -> answer with it) |")
    print("|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['server']} | - | {r['error']} | - |")
        else:
            print(f"| {r['server']} | {r['checks']} | {fmt_cycles(r['down'])} | {fmt_cycles(r['up'])} |")
    return 0 if all("error" not in r or "skipped" in r["error"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
