"""Shared harness for gslbd's end-to-end and differential tests.

Starts the built gslbd (and, for the differential test, NSD) on free loopback ports with
private config and zone files in a temporary directory, and always stops every process it
started by PID. Every wait is bounded in time. Nothing here talks to anything but 127.0.0.1
and ::1.
"""

import fcntl
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

SKIP = 77  # meson's exit code for a skipped test

try:
    import dns.flags
    import dns.message
    import dns.name
    import dns.opcode
    import dns.exception
    import dns.query
    import dns.rcode
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.rrset
except ImportError:  # pragma: no cover - depends on the machine
    print("SKIP: dnspython is not installed for", sys.executable)
    sys.exit(SKIP)


def have_ipv6():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


_claimed_ports = []  # lock files held until this process exits


def _claim(port):
    """Whether no other test process has this port: gslbd binds with SO_REUSEPORT, so two
    servers started side by side on one port would both bind it and split its queries, and a
    port found free is only free until the server binds it. A lock on a per-port file, held for
    the life of the process (the kernel drops it when the process dies), closes that window."""
    d = os.path.join(tempfile.gettempdir(), "gslbd-test-ports")
    os.makedirs(d, exist_ok=True)
    f = open(os.path.join(d, str(port)), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return False
    _claimed_ports.append(f)
    return True


def candidate_port():
    """A random port below the kernel's ephemeral range, claimed by no other test process: a
    port the kernel handed out (bind to 0) could be given again to any outgoing connection (a
    probe, dig) before the server under test binds it, and tests run side by side."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    while True:
        port = random.randrange(10000, max(10001, min(low, 32768)))
        if _claim(port):
            return port


def free_port(v6=False, tries=50):
    """A port that is free on 127.0.0.1 (and on ::1 when v6) for both UDP and TCP."""
    for _ in range(tries):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            port = candidate_port()
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            socks = []
            try:
                for fam, typ, host in [(socket.AF_INET, socket.SOCK_STREAM, "127.0.0.1")] + (
                    [(socket.AF_INET6, socket.SOCK_DGRAM, "::1"),
                     (socket.AF_INET6, socket.SOCK_STREAM, "::1")] if v6 else []):
                    s = socket.socket(fam, typ)
                    socks.append(s)
                    if fam == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
                return port
            except OSError:
                continue
            finally:
                for s in socks:
                    s.close()
    raise RuntimeError("no free port found")


def wait_for_answer(port, qname, host="127.0.0.1", proc=None, timeout=10.0):
    """Polls with an SOA query over UDP until the server answers; bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    q = dns.message.make_query(qname, "SOA")
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            dns.query.udp(q, host, port=port, timeout=0.3)
            return True
        except Exception:
            time.sleep(0.05)
    return False


def stop_process(proc, name="process"):
    """SIGTERM, then SIGKILL after a grace period. Only ever the PID we started."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        print(f"{name} (pid {proc.pid}) ignored SIGTERM; killing it")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


class Gslbd:
    """One gslbd process with its own config, zones and ports. Use as a context manager."""

    def __init__(self, binary, zones, server_extra="", zone_extra=None, v6=False,
                 allow_transfer=("127.0.0.0/8", "::1"), workers=1, extra_files=None):
        self.binary = os.path.abspath(binary)
        self.zones = zones  # list of (origin, zone text)
        self.server_extra = server_extra
        self.zone_extra = zone_extra or {}
        self.v6 = v6 and have_ipv6()
        self.allow_transfer = allow_transfer
        self.workers = workers
        self.extra_files = extra_files or {}  # more files for zones/ ($INCLUDE targets)
        self.proc = None
        self.dir = None
        self.port = None
        self.log = None

    def write_config(self, directory):
        os.makedirs(os.path.join(directory, "zones"), exist_ok=True)
        listen = [f'"127.0.0.1:{self.port}"'] + ([f'"[::1]:{self.port}"'] if self.v6 else [])
        lines = ["[server]", f"listen = [{', '.join(listen)}]", f"workers = {self.workers}"]
        if self.server_extra:
            lines.append(self.server_extra)
        # A private control socket and state file: tests run gslbd side by side.
        if "[control]" not in (self.server_extra or ""):
            lines += ["", "[control]", 'socket = "ctl.sock"', 'state_file = "drains"']
        for name, text in self.extra_files.items():
            with open(os.path.join(directory, "zones", name), "w") as f:
                f.write(text)
        for origin, text in self.zones:
            fname = f"zones/{origin.rstrip('.') or 'root'}.zone"
            with open(os.path.join(directory, fname), "w") as f:
                f.write(text)
            acl = ", ".join(f'"{a}"' for a in self.allow_transfer)
            lines += ["", "[[zone]]", f'name = "{origin}"', f'file = "{fname}"',
                      f"allow_transfer = [{acl}]"]
            if origin in self.zone_extra:
                lines.append(self.zone_extra[origin])
        path = os.path.join(directory, "gslbd.toml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def __enter__(self):
        self.dir = tempfile.mkdtemp(prefix="gslbd-e2e-")
        try:
            self.port = free_port(self.v6)
            self.config = self.write_config(self.dir)
            self.log = open(os.path.join(self.dir, "gslbd.log"), "w+")
            self.proc = subprocess.Popen([self.binary, "--config", self.config],
                                         stdout=self.log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
            if not wait_for_answer(self.port, self.zones[0][0], proc=self.proc):
                raise RuntimeError("gslbd did not start:\n" + self.log_text())
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def log_text(self):
        if not self.log:
            return ""
        self.log.flush()
        with open(self.log.name) as f:
            return f.read()

    def __exit__(self, *exc):
        try:
            stop_process(self.proc, "gslbd")
        finally:
            if self.log:
                self.log.close()
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
        return False


def find_server(name):
    """A DNS server binary from Debian's packages (nsd, knotd): on PATH or in /usr/sbin."""
    path = shutil.which(name)
    if path is None and os.access(f"/usr/sbin/{name}", os.X_OK):
        path = f"/usr/sbin/{name}"
    return path


def nsd_config(d, port, zones_dir, zone_blocks, server_extra=""):
    """An nsd.conf for a private NSD on 127.0.0.1:port whose state lives in `d`."""
    return f"""server:
  ip-address: 127.0.0.1@{port}
  port: {port}
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "{zones_dir}"
  database: ""
  zonelistfile: "{d}/zone.list"
  xfrdfile: "{d}/xfrd.state"
  xfrdir: "{d}/xfr"
  pidfile: "{d}/nsd.pid"
  logfile: "{d}/nsd.log"
{server_extra}remote-control:
  control-enable: no
{zone_blocks}"""


# named-compilezone's policy checks, off (check-names, NS/MX/SRV targets, the post-load
# integrity checks): for reading back data that is already known to load.
BIND_RELAXED = ("-k", "ignore", "-n", "ignore", "-m", "ignore", "-M", "ignore", "-S", "ignore",
                "-i", "none")


def bind_records(text):
    """(owner, ttl, type, rdata) from named-compilezone's canonical output, the RDATA's blanks
    folded: the form both sides of a comparison with BIND are put in."""
    recs = []
    for line in text.splitlines():
        parts = line.split(None, 4)
        if len(parts) < 4 or line.startswith(";"):
            continue
        rdata = parts[4] if len(parts) == 5 else ""  # APL may have none
        recs.append((parts[0], int(parts[1]), parts[3], " ".join(rdata.split())))
    return recs


def _register_rfc1035_types():
    """dnspython reads MD, MF, MB, MG, MR and MINFO as opaque bytes, and a server may compress
    the names in them (RFC 3597 §4: they are RFC 1035 types), which opaque bytes cannot hold
    outside their message: read them as the names they are."""
    import types
    import dns.rdtypes.ANY.RP
    import dns.rdtypes.nsbase
    module = types.ModuleType("gslbtest_rfc1035_types")
    for rdtype in ("MD", "MF", "MB", "MG", "MR"):
        setattr(module, rdtype, type(rdtype, (dns.rdtypes.nsbase.NSBase,), {"__slots__": ()}))
    module.MINFO = type("MINFO", (dns.rdtypes.ANY.RP.RP,), {"__slots__": ()})
    for rdtype in ("MD", "MF", "MB", "MG", "MR", "MINFO"):
        try:
            dns.rdata.register_type(module, dns.rdatatype.from_text(rdtype), rdtype)
        except dns.exception.DNSException:  # registered before, or dnspython knows it now
            pass


def axfr_records(port, origin, host="127.0.0.1"):
    """A zone transfer from gslbd: (owner as sent, ttl, type number, RDATA bytes), one SOA."""
    _register_rfc1035_types()
    out = []
    soas = 0
    for m in dns.query.xfr(host, origin, port=port, timeout=10, relativize=False, lifetime=60):
        for rrset in m.answer:
            for rd in rrset:
                if rd.rdtype == dns.rdatatype.SOA:
                    soas += 1
                    if soas > 1:
                        continue
                out.append((rrset.name.to_text(), rrset.ttl, int(rd.rdtype), rd.to_wire()))
    return out


def bind_render(directory, origin, records):
    """Records (as axfr_records gives them) as BIND prints them: written in RFC 3597 form and
    read back by named-compilezone, so that they compare with BIND's own reading of a zone
    file with no third parser in between. A duplicate BIND folds shows as an extra row."""
    path = os.path.join(directory, f".render-{os.getpid()}.txt")
    with open(path, "w") as f:
        for owner, ttl, rtype, wire in records:
            f.write(f"{owner} {ttl} IN TYPE{rtype} \\# {len(wire)} {wire.hex()}\n")
    try:
        r = subprocess.run(["named-compilezone", "-q", *BIND_RELAXED, "-o", "-", origin, path],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=60, stdin=subprocess.DEVNULL, errors="replace")
        if r.returncode != 0:
            return None
        recs = bind_records(r.stdout)
        if len(recs) != len(records):
            recs.append(("(duplicates)", 0, "", f"{len(records)} records sent, {len(recs)} "
                         "distinct to BIND"))
        return recs
    finally:
        os.unlink(path)


def run_tool(args, timeout=15):
    """Runs dig/kdig; returns (exit code, stdout)."""
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout


def dig(port, *args, host="127.0.0.1", tcp=False):
    """Runs `dig` against one of our servers; returns (exit code, text output)."""
    cmd = ["dig", f"@{host}", "-p", str(port), "+time=2", "+tries=1", "+nocookie"]
    if tcp:
        cmd.append("+tcp")
    return run_tool(cmd + list(args))


def kdig(port, *args, host="127.0.0.1", tcp=False):
    """Runs Knot's `kdig` against one of our servers; returns (exit code, text output)."""
    cmd = ["kdig", f"@{host}", "-p", str(port), "+time=2", "+retry=0"]
    if tcp:
        cmd.append("+tcp")
    return run_tool(cmd + list(args))


class Reply:
    """What a test looks at in a response, from dig's or kdig's text or from dnspython."""

    def __init__(self):
        self.rcode = None          # "NOERROR", "NXDOMAIN", ...
        self.flags = set()         # {"qr", "aa", "rd", ...}
        self.question = []         # [(name as sent back, type)]
        self.sections = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}  # [(name, ttl, type, rdata)]
        self.has_opt = False
        self.text = ""

    def rrs(self, section, rtype=None):
        return [r for r in self.sections[section] if rtype is None or r[2] == rtype]

    def __repr__(self):
        return self.text or f"{self.rcode} {sorted(self.flags)} {self.question} {self.sections}"


def parse_tool_output(text):
    """Parses dig or kdig presentation output into a Reply."""
    r = Reply()
    r.text = text
    current = None
    for line in text.splitlines():
        m = re.search(r"status: ([A-Z]+)", line)
        if m:
            r.rcode = m.group(1)
        m = re.search(r";; (?:flags|Flags): ([a-z ]*);", line)
        if m:
            r.flags = set(m.group(1).split())
        if "OPT PSEUDOSECTION" in line or "EDNS PSEUDOSECTION" in line:
            r.has_opt = True
        m = re.match(r";; ([A-Z]+) SECTION:", line)
        if m:
            current = m.group(1)
            continue
        if not line.strip():
            current = None
            continue
        if current == "QUESTION":
            parts = line.lstrip(";").split()
            if len(parts) >= 3:
                r.question.append((parts[0], parts[-1]))
        elif current in r.sections and not line.startswith(";"):
            parts = line.split(None, 4)
            if len(parts) >= 4:
                r.sections[current].append(
                    (parts[0].lower(), int(parts[1]), parts[3], parts[4] if len(parts) > 4 else ""))
    return r


def reply_from_message(m):
    """A dnspython Message as a Reply."""
    r = Reply()
    r.rcode = dns.rcode.to_text(m.rcode())
    r.flags = set(dns.flags.to_text(m.flags).lower().split())
    r.question = [(rr.name.to_text(), dns.rdatatype.to_text(rr.rdtype)) for rr in m.question]
    for name, sec in (("ANSWER", m.answer), ("AUTHORITY", m.authority),
                      ("ADDITIONAL", m.additional)):
        for rrset in sec:
            for rd in rrset:
                r.sections[name].append((rrset.name.to_text().lower(), rrset.ttl,
                                         dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
    r.has_opt = m.edns >= 0
    return r


def udp(msg, port, host="127.0.0.1", timeout=2.0):
    return dns.query.udp(msg, host, port=port, timeout=timeout, ignore_unexpected=True)


def tcp(msg, port, host="127.0.0.1", timeout=3.0):
    return dns.query.tcp(msg, host, port=port, timeout=timeout)


def raw_udp(data, port, host="127.0.0.1", timeout=1.0):
    """Sends raw bytes; returns the raw reply or None if nothing came within `timeout`."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def recv_exact(sock, n, deadline):
    buf = b""
    while len(buf) < n:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_read_message(sock, deadline):
    head = recv_exact(sock, 2, deadline)
    if head is None:
        return None
    return recv_exact(sock, int.from_bytes(head, "big"), deadline)


class Checker:
    """Counts checks; a failed check is printed with its context and makes the test fail."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, cond, what, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f"\n      {detail}" if detail else ""))
        return cond

    def eq(self, got, want, what):
        return self.check(got == want, what, f"got {got!r}, want {want!r}")


def run_tests(tests, *args):
    """Runs test functions(checker, *args); prints the closing line; returns the exit code."""
    c = Checker()
    for t in tests:
        start = time.monotonic()
        before = c.failed
        try:
            t(c, *args)
        except Exception:
            c.failed += 1
            print(f"FAIL: {t.__name__} raised:")
            traceback.print_exc(file=sys.stdout)
        status = "ok" if c.failed == before else "FAILED"
        print(f"{t.__name__}: {status} ({time.monotonic() - start:.1f}s)")
    print(f"{c.passed} passed, {c.failed} failed")
    return 1 if c.failed else 0


def preflight(tools=("dig", "kdig")):
    """Checks argv[1] and the client tools. Returns an exit code to stop with, or None."""
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} PATH/TO/gslbd")
        return 2
    if not os.access(sys.argv[1], os.X_OK):
        print(f"FAIL: {sys.argv[1]} is not an executable")
        return 1
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is not installed")
            return SKIP
    return None
