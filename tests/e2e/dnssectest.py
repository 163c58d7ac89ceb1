"""DNSSEC test helpers shared by tests/e2e and tests/health: a validating Unbound on loopback
that resolves one zone through gslbd with a trust anchor, and dig output readers."""

import os
import shutil
import subprocess
import tempfile
import time

import gslbtest as g


def gslbctl(binary, directory, *args):
    """Runs the gslbctl built beside `binary` (src/daemon/gslbd) against the control socket
    ctl.sock in `directory`."""
    ctl = os.path.join(os.path.dirname(binary), "..", "ctl", "gslbctl")
    return g.run_tool([ctl, "--socket", os.path.join(directory, "ctl.sock"), *args])


def secure(out):
    flags = next((l for l in out.splitlines() if l.startswith(";; flags:")), "")
    return "ad" in flags[len(";; flags:"):].split(";")[0].split()


def status(out):
    for line in out.splitlines():
        if "status:" in line:
            return line.split("status:")[1].split(",")[0].strip()
    return None


def ds_anchors(text):
    """The DS lines of `gslbctl ds` output, single-spaced."""
    return [" ".join(l.split()) for l in text.splitlines() if "DS" in l.split()]


class Unbound:
    """A validating Unbound on loopback that sends ORIGIN's queries to gslbd."""

    def __init__(self, gslbd_port, origin, anchor):
        self.gslbd_port = gslbd_port
        self.origin = origin
        self.anchor = anchor
        self.proc = None
        self.dir = None

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="gslbd-unbound-")
        self.port = g.free_port()
        anchors = "\n".join(f'  trust-anchor: "{a}"' for a in self.anchor)
        conf = f"""server:
  interface: 127.0.0.1
  port: {self.port}
  do-ip6: no
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "{self.dir}"
  pidfile: "{self.dir}/unbound.pid"
  use-syslog: no
  logfile: "{self.dir}/unbound.log"
  verbosity: 1
  module-config: "validator iterator"
  val-log-level: 2
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
  local-zone: "test." nodefault
{anchors}
stub-zone:
  name: "{self.origin}"
  stub-addr: 127.0.0.1@{self.gslbd_port}
"""
        path = os.path.join(self.dir, "unbound.conf")
        with open(path, "w") as f:
            f.write(conf)
        self.proc = subprocess.Popen(["unbound", "-d", "-c", path], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            code, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(self.port), "+tries=1",
                                    "+time=1", "SOA", self.origin])
            if "status:" in out:
                return self
            time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("unbound did not start")

    def ask(self, qtype, name):
        _, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(self.port), "+dnssec", "+tries=1",
                             "+time=3", qtype, name])
        return out

    def log(self):
        try:
            with open(os.path.join(self.dir, "unbound.log")) as f:
                return f.read()[-1500:]
        except OSError:
            return ""

    def __exit__(self, *exc):
        g.stop_process(self.proc, "unbound")
        shutil.rmtree(self.dir, ignore_errors=True)
        return False
