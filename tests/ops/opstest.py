"""Harness for gslbd's operations tests (gslbctl, metrics, reload, SIGTERM, privilege drop,
systemd readiness).

Builds on tests/e2e/gslbtest.py (free ports, stop by PID, Checker, run_tests) and
tests/health/healthtest.py (gateways on 127.0.0.x, key=value events, DNS helpers), and adds a
gslbd with a private control socket, state file and metrics port in a temporary directory that
can be stopped and started again on the same files (drains across restarts), gslbctl and curl
wrappers, and a Prometheus text-format checker.

Every process is started here and stopped by the PID Popen gave us; every wait is bounded.
Nothing talks to anything but 127.0.0.0/8.

  test_*.py PATH/TO/gslbd PATH/TO/gslbctl
"""

import os
import re
import resource
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
sys.path.insert(0, os.path.join(ROOT, "tests", "health"))

import gslbtest  # noqa: E402  (exits 77 when dnspython is missing)
from gslbtest import SKIP, Checker, run_tests, stop_process  # noqa: E402,F401
import healthtest  # noqa: E402
from healthtest import (Gateways, addresses, answer_set, gateway_port, parse_event,  # noqa: E402,F401
                        poll_until, probe_toml, query)

import dns.message  # noqa: E402
import dns.query  # noqa: E402

ZONE = healthtest.ZONE

# Two regions: hangzhou has two gateways (one can die or be drained and the pool still
# stands), shanghai one. The probe is fast so a dead gateway is down in well under a second.
BODY = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
min_healthy = 1
addresses = [{hangzhou}]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = ["127.0.0.3"]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
return = "all"
all_down = "fail_open"

[[name]]
fqdn = "split.example.test."
ttl = 10
mode = "weighted"
pools = [{{ pool = "hangzhou", weight = 90 }}, {{ pool = "shanghai", weight = 10 }}]
return = "one"
"""


def body(hangzhou=("127.0.0.2", "127.0.0.4")):
    return BODY.format(hangzhou=", ".join(f'"{a}"' for a in hangzhou))


GATEWAY_ADDRS = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]


def stop_child(proc):
    """Stops a client we started (gslbctl --follow, an example): SIGTERM, then SIGKILL."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=3)


def free_tcp_port():
    return gslbtest.free_port()


class Ops(healthtest.Running):
    """One gslbd with pools, a control socket, a state file and (optionally) metrics.

    start()/stop() can be called repeatedly on the same directory. Use as a context manager:
    the directory is removed and the process stopped on exit.
    """

    def __init__(self, gslbd, gslbctl, body_text, probes, metrics=True, server_extra="",
                 env=None, unknown="up", mode=None, workers=1, control_extra="",
                 metrics_extra="", nofile=None):
        self.gslbd = os.path.abspath(gslbd)
        self.gslbctl = os.path.abspath(gslbctl)
        self.body, self.probes = body_text, probes
        self.want_metrics, self.server_extra = metrics, server_extra
        self.env, self.unknown, self.mode, self.workers = env, unknown, mode, workers
        self.control_extra, self.metrics_extra = control_extra, metrics_extra
        self.nofile = nofile  # RLIMIT_NOFILE (soft and hard) for gslbd, None to inherit ours
        self.proc = self.dir = self.port = self.log = None
        self.metrics_port = None
        self.started_at = self.ready_at = None
        self.exit_code = None

    # -- files -------------------------------------------------------------------------------

    @property
    def socket(self):
        return os.path.join(self.dir, "ctl.sock")

    @property
    def config(self):
        return os.path.join(self.dir, "gslbd.toml")

    def config_text(self, body_text=None, extra_top=""):
        lines = ["[server]", f'listen = ["127.0.0.1:{self.port}"]', f"workers = {self.workers}",
                 'probes_dir = "probes"']
        if self.server_extra:
            lines.append(self.server_extra)
        lines += ["", "[log]", 'targets = ["stderr"]', "", "[health]",
                  f'unknown = "{self.unknown}"', "",
                  "[control]", 'socket = "ctl.sock"', 'state_file = "state/drains"',
                  self.control_extra, ""]
        if self.want_metrics:
            lines += ["[metrics]", f'listen = "127.0.0.1:{self.metrics_port}"', self.metrics_extra, ""]
        lines += ["[[zone]]", 'name = "example.test."', 'file = "example.test.zone"', "",
                  self.body if body_text is None else body_text, extra_top, ""]
        return "\n".join(lines)

    def write_config(self, text=None):
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(self.config_text() if text is None else text)
        if self.mode is not None:
            os.chmod(tmp, 0o644)
        os.replace(tmp, self.config)  # a reload never reads a half-written file

    def write_probe(self, name, text):
        with open(os.path.join(self.dir, "probes", name + ".toml"), "w") as f:
            f.write(text)

    # -- process -----------------------------------------------------------------------------

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="gslbd-ops-")
        try:
            if self.mode is not None:
                os.chmod(self.dir, self.mode)
            self.port = gslbtest.free_port()
            self.metrics_port = free_tcp_port()
            os.makedirs(os.path.join(self.dir, "probes"))
            os.makedirs(os.path.join(self.dir, "state"))
            for name, text in self.probes.items():
                self.write_probe(name, text)
            with open(os.path.join(self.dir, "example.test.zone"), "w") as f:
                f.write(ZONE)
            self.write_config()
            self.start()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def start(self, wait=True):
        if self.log:
            self.log.close()
        self.log = open(os.path.join(self.dir, "gslbd.log"), "a+")
        env = dict(os.environ)
        env.update(self.env or {})
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen([self.gslbd, "--config", self.config], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                     preexec_fn=self.limit_nofile if self.nofile else None)
        if wait and not self.wait_ready():
            raise RuntimeError("gslbd did not start:\n" + self.log_text())
        return self

    def limit_nofile(self):
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))

    def wait_ready(self, timeout=10.0):
        """Until gslbd answers an SOA query and its control socket accepts connections."""
        deadline = time.monotonic() + timeout
        q = dns.message.make_query("example.test.", "SOA")
        answered = False
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if not answered:
                try:
                    dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.05)
                    answered = True
                    self.ready_at = time.monotonic()
                except Exception:
                    time.sleep(0.01)
                    continue
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(0.2)
                    s.connect(self.socket)
                return True
            except OSError:
                time.sleep(0.01)
        return False

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Sends `sig` to our gslbd; returns (exit code, seconds to exit). SIGKILL after
        `timeout` (then the code is None)."""
        if self.proc is None or self.proc.poll() is not None:
            return (self.proc.returncode if self.proc else None), 0.0
        t0 = time.monotonic()
        os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(timeout=timeout)
            return code, time.monotonic() - t0
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
            return None, time.monotonic() - t0

    # __exit__, hup, log_text, events and wait_event come from healthtest.Running.

    def ctl(self, *args, socket_path=None, timeout=10):
        """Runs gslbctl; returns CompletedProcess (returncode, stdout, stderr as text)."""
        cmd = [self.gslbctl, "--socket", socket_path or self.socket] + list(args)
        return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def answers(self, qname="www.example.test.", rdtype="A"):
        return answer_set(self.port, qname, rdtype)

    def scrape(self, path="/metrics", method="GET"):
        """curl; returns (HTTP status, body)."""
        return curl(self.metrics_port, path, method)

    def samples(self):
        """The samples of one scrape of /metrics, parsed; None unless it returned 200."""
        code, text = self.scrape()
        return parse_exposition(text)[0] if code == 200 else None


def version(gslbd):
    """The version `gslbd --version` prints ("gslbd 0.1.0" -> "0.1.0")."""
    out = subprocess.run([gslbd, "--version"], capture_output=True, text=True, timeout=10).stdout
    return out.split()[-1]


def zone_serial(srv, zone="example.test."):
    """The SOA serial gslbd answers for `zone`."""
    import dns.message
    import dns.query
    r = dns.query.udp(dns.message.make_query(zone, "SOA"), "127.0.0.1", port=srv.port, timeout=2)
    return float(r.answer[0][0].serial)


def curl(port, path="/metrics", method="GET"):
    cmd = ["curl", "-s", "-S", "--max-time", "5", "-o", "-", "-w", "\n%{http_code}",
           "-X", method, f"http://127.0.0.1:{port}{path}"]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10,
                       stdin=subprocess.DEVNULL)
    if r.returncode != 0:
        return None, r.stderr
    text, _, code = r.stdout.rpartition("\n")
    return int(code), text


# -- Prometheus text format (0.0.4) ---------------------------------------------------------

METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({METRIC_NAME})(\{{(?:{LABEL}(?:,{LABEL})*)?,?\}})? (\S+)(?: (-?\d+))?$")
LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def parse_exposition(text):
    """Parses Prometheus text exposition. Returns (samples, types, problems) where samples is
    [(name, {label: value}, float)], types {family: type}, problems a list of strings."""
    samples, types, helps, problems = [], {}, {}, []
    if text and not text.endswith("\n"):
        problems.append("does not end with a newline")
    for n, line in enumerate(text.splitlines(), 1):
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] == "HELP":
                if parts[2] in helps:
                    problems.append(f"line {n}: second HELP for {parts[2]}")
                helps[parts[2]] = parts[3] if len(parts) > 3 else ""
            elif len(parts) >= 3 and parts[1] == "TYPE":
                if len(parts) != 4 or parts[3] not in TYPES:
                    problems.append(f"line {n}: bad TYPE line {line!r}")
                elif parts[2] in types:
                    problems.append(f"line {n}: second TYPE for {parts[2]}")
                else:
                    types[parts[2]] = parts[3]
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"line {n}: not 'name{{labels}} value': {line!r}")
            continue
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        try:
            v = float(value)
        except ValueError:
            problems.append(f"line {n}: value {value!r} is not a number")
            continue
        lbl = dict(LABEL_PAIR.findall(labels))
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and types.get(name[: -len(suffix)]) in ("histogram", "summary"):
                family = name[: -len(suffix)]
        if family not in types:
            problems.append(f"line {n}: {name} has no TYPE line before it")
        if family not in helps:
            problems.append(f"line {n}: {name} has no HELP line")
        samples.append((name, lbl, v))
    return samples, types, problems


def value(samples, metric, /, **labels):
    """The value of the one sample `metric` whose labels include `labels`; None if none."""
    found = [v for n, l, v in samples if n == metric and all(l.get(k) == x for k, x in labels.items())]
    return found[0] if len(found) == 1 else (None if not found else found)


def main(tests, tools=("dig", "curl")):
    if len(sys.argv) < 3:
        print(f"usage: {sys.argv[0]} PATH/TO/gslbd PATH/TO/gslbctl")
        return 2
    for b in sys.argv[1:3]:
        if not os.access(b, os.X_OK):
            print(f"FAIL: {b} is not an executable")
            return 1
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is not installed")
            return SKIP
    return run_tests(tests, sys.argv[1], sys.argv[2])
