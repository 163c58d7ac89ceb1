#!/usr/bin/env python3
"""Health events reach syslog with the right facility and severity.

glibc's syslog(3) always writes to /dev/log, so this test owns /dev/log for its duration, and
only when nothing is there: it runs Debian's rsyslogd (installed with apt-get if missing) with a
private config whose imuxsock listens on /dev/log and writes daemon.* to a file in a tempdir,
with a template that records the PRI. If rsyslog cannot be run it captures the socket itself
(a unix datagram socket bound at /dev/log). It never touches a /dev/log that exists.

  test_syslog.py PATH/TO/gslbd
"""
import os
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time

import healthtest as ht

DEVLOG = "/dev/log"

BODY = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = ["127.0.0.2"]

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
"""

RSYSLOG_CONF = """
global(workDirectory="{dir}")
module(load="imuxsock" SysSock.Use="on" SysSock.Name="{devlog}" SysSock.Unlink="on"
       SysSock.RateLimit.Interval="0")
template(name="withpri" type="string"
         string="<%PRI%> %syslogfacility-text%.%syslogseverity-text% %syslogtag%%msg%\\n")
daemon.* action(type="omfile" file="{dir}/daemon.log" template="withpri")
"""

# A line as we keep it from either source: (pri, tag, message).
LINE = re.compile(r"^<(\d+)>\s*(?:[a-z]+\.[a-z]+ )?(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d )?"
                  r"(\S+?\[\d+\]:)\s?(.*)$")


def find_rsyslogd():
    for p in (shutil.which("rsyslogd"), "/usr/sbin/rsyslogd"):
        if p and os.access(p, os.X_OK):
            return p
    return None


def install_rsyslog():
    apt = shutil.which("apt-get")
    if not apt:
        return None
    cmd = [apt, "install", "-y", "-q", "rsyslog"]
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            return None
        cmd = ["sudo", "-n"] + cmd
    try:
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=180,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    except (OSError, subprocess.TimeoutExpired):
        return None
    return find_rsyslogd()


def devlog_live():
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        try:
            s.connect(DEVLOG)
            return True
        except OSError:
            return False


class Rsyslog:
    """rsyslogd -n with a private config; stopped by PID."""

    def __init__(self, binary):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="gslbd-rsyslog-")
        self.file = os.path.join(self.dir, "daemon.log")
        self.proc = None

    def start(self):
        conf = os.path.join(self.dir, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(RSYSLOG_CONF.format(dir=self.dir, devlog=DEVLOG))
        self.out = open(os.path.join(self.dir, "rsyslogd.out"), "w+")
        self.proc = subprocess.Popen([self.binary, "-n", "-f", conf,
                                      "-i", os.path.join(self.dir, "rsyslogd.pid")],
                                     stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            if os.path.exists(DEVLOG) and devlog_live():
                return True
            time.sleep(0.05)
        return False

    def diagnostics(self):
        self.out.flush()
        with open(self.out.name) as f:
            return f.read()

    def lines(self):
        try:
            with open(self.file, errors="replace") as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def stop(self):
        ht.stop_process(self.proc, "rsyslogd")
        shutil.rmtree(self.dir, ignore_errors=True)


class Capture:
    """A unix datagram socket at /dev/log; keeps every datagram as a line."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.received = []
        self.stopping = False

    def start(self):
        self.sock.bind(DEVLOG)
        os.chmod(DEVLOG, 0o666)
        self.sock.settimeout(0.1)
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return True

    def run(self):
        while not self.stopping:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data.decode(errors="replace").rstrip("\n"))

    def lines(self):
        return list(self.received)

    def stop(self):
        self.stopping = True
        self.thread.join(timeout=2)
        self.sock.close()


def events_from(lines, pid):
    """[(pri, event dict)] of gslbd's lines from process `pid`."""
    out = []
    for line in lines:
        m = LINE.match(line)
        if not m or f"[{pid}]" not in m.group(2):
            continue
        e = ht.parse_event(m.group(3))
        if e:
            out.append((int(m.group(1)), e))
    return out


def test_events_in_syslog(c, binary, sink, kind):
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
    probes = {"gw": ht.probe_toml(port)}
    with ht.Gateways() as gws:
        g2 = gws.add("127.0.0.2", port)
        gws.add("127.0.0.3", port)
        with ht.Server(binary, BODY, probes, log_targets=("syslog", "stderr")) as srv:
            pid = srv.proc.pid

            def wait_for(event, since=0, **fields):
                def find():
                    for pri, e in events_from(sink.lines(), pid)[since:]:
                        if e.get("event") == event and all(e.get(k) == v for k, v in fields.items()):
                            return pri, e
                    return None
                found, _ = ht.poll_until(find, 5.0, step=0.05)
                return found

            st = wait_for("started")
            c.check(st is not None, f"{kind}: the started line reaches syslog",
                    "\n".join(sink.lines()[-20:]))
            if st is None:
                return
            ht.time.sleep(0.6)
            g2.kill()
            # daemon = 3; warning = 4, notice = 5: <28> and <29>.
            for event, fields, pri in (("address-down", {"address": "127.0.0.2"}, 28),
                                       ("pool-down", {"pool": "hangzhou"}, 28),
                                       ("failover", {"from": "hangzhou", "to": "shanghai"}, 28)):
                got = wait_for(event, **fields)
                c.check(got is not None, f"{kind}: {event} in syslog",
                        "\n".join(sink.lines()[-20:]))
                if got:
                    c.eq(got[0], pri, f"{kind}: {event} has PRI <{pri}> (daemon.warning)")
                    print(f"  <{got[0]}> {got[1]['_line']}")
            down = wait_for("address-down", address="127.0.0.2")
            if down:
                c.eq((down[1].get("reason"), down[1].get("fails")), ("connect refused", "2/2"),
                     f"{kind}: address-down carries its reason and count")
            since = len(events_from(sink.lines(), pid))
            g2.start()
            for event, fields, pri in (("address-up", {"address": "127.0.0.2", "passes": "2/2"}, 29),
                                       ("pool-up", {"pool": "hangzhou"}, 29),
                                       ("failback", {"from": "shanghai", "to": "hangzhou"}, 29)):
                got = wait_for(event, since, **fields)
                c.check(got is not None, f"{kind}: {event} after the restore in syslog",
                        "\n".join(sink.lines()[-20:]))
                if got:
                    c.eq(got[0], pri, f"{kind}: {event} has PRI <{pri}> (daemon.notice)")
                    print(f"  <{got[0]}> {got[1]['_line']}")
            # The same event lines go to stderr and to syslog.
            ht.time.sleep(0.2)
            in_syslog = [e["_line"] for _, e in events_from(sink.lines(), pid)]
            in_stderr = [e["_line"] for e in srv.events()]
            c.eq(in_syslog, in_stderr[:len(in_syslog)], f"{kind}: syslog and stderr carry the same lines")


def main():
    code = ht.gslbtest.preflight(("dig",))
    if code is not None:
        return code
    if os.path.lexists(DEVLOG):
        print(f"SKIP: {DEVLOG} exists ({'served' if devlog_live() else 'not served'}); "
              "this test only binds it when nothing is there")
        return ht.SKIP
    rsyslogd = find_rsyslogd() or install_rsyslog()
    sink, kind = None, None
    try:
        if rsyslogd:
            sink, kind = Rsyslog(rsyslogd), "rsyslog"
            if not sink.start():
                print("rsyslogd did not start; capturing the socket instead:\n" + sink.diagnostics())
                sink.stop()
                sink = None
        else:
            print("rsyslog could not be installed; capturing the socket instead")
        if sink is None:
            if os.path.lexists(DEVLOG):
                print(f"SKIP: {DEVLOG} appeared meanwhile")
                return ht.SKIP
            sink, kind = Capture(), "captured /dev/log"
            sink.start()
        print(f"  syslog sink: {kind}")
        return ht.run_tests([test_events_in_syslog], sys.argv[1], sink, kind)
    finally:
        if sink is not None:
            sink.stop()
        # Ours: it did not exist when we started. Remove it if it is still a socket.
        try:
            if stat.S_ISSOCK(os.lstat(DEVLOG).st_mode):
                os.unlink(DEVLOG)
        except FileNotFoundError:
            pass


if __name__ == "__main__":
    sys.exit(main())
