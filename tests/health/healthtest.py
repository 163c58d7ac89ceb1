"""Harness for gslbd's health-check end-to-end tests.

Builds on tests/e2e/gslbtest.py (free ports, bounded waits, stop by PID, Checker) and adds:
gateways on loopback addresses (scripts/gateway.py for HTTP, fakegw.py for gateways that hang
or reset), a gslbd started with pools, names and probe files, its log read as key=value events,
and DNS polling helpers that time how long an answer takes to change.

Every process is started here and stopped by the PID we got from Popen; every wait is bounded.
Nothing talks to anything but 127.0.0.0/8 and ::1.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))

import gslbtest  # noqa: E402  (exits 77 when dnspython is missing)
from gslbtest import SKIP, Checker, run_tests, stop_process, wait_for_answer  # noqa: E402,F401

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

GATEWAY = os.path.join(ROOT, "scripts", "gateway.py")
FAKEGW = os.path.join(HERE, "fakegw.py")

ZONE = """$ORIGIN example.test.
$TTL 3600
@               IN SOA   ns1.example.test. hostmaster.example.test. (
                         2026112201 3600 600 1209600 300 )
                IN NS    ns1
ns1             IN A     127.0.0.1
www             IN TXT   "answered from pools"
app             IN CNAME www
api             IN CNAME app
"""


def ms(seconds):
    return f"{seconds * 1000:.0f}ms"


def can_bind(addr, port):
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    try:
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((addr, port))
        return True
    except OSError:
        return False


def gateway_port(addresses, tries=100):
    """A TCP port free on every address in `addresses` (all gateways of one test share it, as
    the probe has one port)."""
    for _ in range(tries):
        port = gslbtest.candidate_port()
        if all(can_bind(a, port) for a in addresses):
            return port
    raise RuntimeError("no port free on " + ", ".join(addresses))


def accepting(addr, port, timeout=0.2):
    try:
        with socket.create_connection((addr, port), timeout=timeout):
            return True
    except OSError:
        return False


class Gateway:
    """One stand-in gateway process on addr:port.

    kind "http" runs scripts/gateway.py (with --status), "hang-accept", "hang-listen" and
    "reset" run fakegw.py. start() returns once the socket is listening; kill() SIGKILLs it.
    """

    def __init__(self, addr, port, kind="http", status=200):
        self.addr, self.port, self.kind, self.status = addr, port, kind, status
        self.proc = None

    def start(self, timeout=10.0):
        if self.kind == "http":
            args = [sys.executable, GATEWAY, self.addr, str(self.port), "--status", str(self.status)]
        else:
            args = [sys.executable, FAKEGW, self.kind, self.addr, str(self.port)]
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        if self.kind == "http":
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gateway {self.addr}:{self.port} exited: "
                                       + self.proc.stdout.read().decode(errors="replace"))
                if accepting(self.addr, self.port):
                    return self
                time.sleep(0.01)
        else:
            # fakegw prints "ready" once it listens; a connect would use up its backlog.
            os.set_blocking(self.proc.stdout.fileno(), False)
            buf = b""
            while time.monotonic() < deadline:
                try:
                    buf += self.proc.stdout.read() or b""
                except (BlockingIOError, TypeError):
                    pass
                if b"ready" in buf:
                    return self
                if self.proc.poll() is not None:
                    raise RuntimeError(f"fakegw {self.kind} exited: {buf!r}")
                time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"gateway {self.kind} {self.addr}:{self.port} did not start")

    def kill(self):
        """SIGKILL, and wait until the port refuses connections. Returns the time of the kill."""
        if self.proc is None or self.proc.poll() is not None:
            return time.monotonic()
        os.kill(self.proc.pid, signal.SIGKILL)
        t = time.monotonic()
        self.proc.wait(timeout=5)
        return t

    def stop(self):
        stop_process(self.proc, f"gateway {self.addr}")


class Gateways:
    """A set of gateways; stops all of them on exit."""

    def __init__(self):
        self.all = []

    def add(self, addr, port, kind="http", status=200):
        g = Gateway(addr, port, kind, status)
        self.all.append(g)
        return g.start()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for g in self.all:
            g.stop()
        return False


def probe_toml(port, interval="200ms", timeout="200ms", rise=2, fall=2, extra=""):
    return (f'type = "http"\nport = {port}\npath = "/health"\ninterval = "{interval}"\n'
            f'timeout = "{timeout}"\nrise = {rise}\nfall = {fall}\n{extra}')


class Running:
    """What every running-gslbd helper shares: its process (`proc`), log file (`log`) and
    temporary directory (`dir`); signals; and the key=value events it logged."""

    proc = None
    log = None
    dir = None

    def __exit__(self, *exc):
        try:
            stop_process(self.proc, "gslbd")
        finally:
            if self.log:
                self.log.close()
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
        return False

    def hup(self):
        os.kill(self.proc.pid, signal.SIGHUP)

    def log_text(self):
        if not self.log:
            return ""
        self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def events(self, event=None, **fields):
        """Log lines with event=`event` whose key=value fields include `fields`, parsed."""
        out = []
        for line in self.log_text().splitlines():
            e = parse_event(line)
            if not e or (event and e.get("event") != event):
                continue
            if all(e.get(k) == v for k, v in fields.items()):
                out.append(e)
        return out

    def wait_event(self, event, timeout=5.0, count=1, **fields):
        """The `count`-th event matching, or None after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.events(event, **fields)
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)


class Server(Running):
    """gslbd with pools and names: `body` is the TOML after [server]/[log]/[health]/[[zone]]
    ([[pool]] and [[name]] tables); `probes` maps probe name to the probe file's text."""

    def __init__(self, binary, body, probes, unknown="up", log_targets=("stderr",), zone=ZONE,
                 workers=1):
        self.binary = os.path.abspath(binary)
        self.body, self.probes, self.unknown = body, probes, unknown
        self.log_targets, self.zone, self.workers = log_targets, zone, workers
        self.proc = self.dir = self.port = self.log = None
        self.started_at = None

    def config_text(self, body=None):
        targets = ", ".join(f'"{t}"' for t in self.log_targets)
        return "\n".join([
            "[server]", f'listen = ["127.0.0.1:{self.port}"]', f"workers = {self.workers}",
            'probes_dir = "probes"', "", "[log]", f"targets = [{targets}]", "",
            "[health]", f'unknown = "{self.unknown}"', "",
            "[[zone]]", 'name = "example.test."', 'file = "example.test.zone"', "",
            self.body if body is None else body, ""])

    def write_config(self, text=None):
        path = os.path.join(self.dir, "gslbd.toml")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.config_text() if text is None else text)
        os.replace(tmp, path)  # a reload never reads a half-written file
        return path

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="gslbd-health-")
        try:
            self.port = gslbtest.free_port()
            os.makedirs(os.path.join(self.dir, "probes"))
            for name, text in self.probes.items():
                with open(os.path.join(self.dir, "probes", name + ".toml"), "w") as f:
                    f.write(text)
            with open(os.path.join(self.dir, "example.test.zone"), "w") as f:
                f.write(self.zone)
            self.config = self.write_config()
            self.log = open(os.path.join(self.dir, "gslbd.log"), "w+")
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen([self.binary, "--config", self.config],
                                         stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            if not self.wait_ready():
                raise RuntimeError("gslbd did not start:\n" + self.log_text())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def wait_ready(self, timeout=10.0):
        """Polls with short per-query timeouts (a query sent before the socket is bound is lost
        silently), so the start-up tests see answers from the first few milliseconds."""
        deadline = time.monotonic() + timeout
        q = dns.message.make_query("example.test.", "SOA")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.02)
                self.ready_at = time.monotonic()
                return True
            except Exception:
                time.sleep(0.005)
        return False


EVENT_FIELD = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|\S*)')


def parse_event(line):
    """`event=address-down pool=a reason="HTTP 503" fails=1/2` -> dict; None if not an event."""
    if "event=" not in line:
        return None
    d = {}
    for k, v in EVENT_FIELD.findall(line[line.index("event="):]):
        d[k] = v[1:-1] if v.startswith('"') else v
    d["_line"] = line
    return d


def query(port, qname, rdtype="A", timeout=1.0):
    """One UDP query; returns the dnspython Message (raises on timeout)."""
    q = dns.message.make_query(qname, rdtype)
    return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout, ignore_unexpected=True)


def addresses(msg, rdtype="A"):
    """The addresses of type `rdtype` in the answer section (at the end of any CNAME chain)."""
    t = dns.rdatatype.from_text(rdtype)
    return {rd.to_text() for rrset in msg.answer if rrset.rdtype == t for rd in rrset}


def answer_set(port, qname, rdtype="A"):
    """The address set, or None when the query failed or was not NOERROR."""
    try:
        m = query(port, qname, rdtype, timeout=0.5)
    except Exception:
        return None
    if m.rcode() != dns.rcode.NOERROR:
        return None
    return addresses(m, rdtype)


def poll_until(pred, timeout, step=0.015):
    """Calls pred() every `step` until it returns something truthy; returns (value, time it
    became true) or (last value, None) after `timeout`."""
    deadline = time.monotonic() + timeout
    v = None
    while True:
        v = pred()
        now = time.monotonic()
        if v:
            return v, now
        if now >= deadline:
            return v, None
        time.sleep(step)


def main(tests, tools=("dig",)):
    code = gslbtest.preflight(tools)
    if code is not None:
        return code
    return run_tests(tests, sys.argv[1])
