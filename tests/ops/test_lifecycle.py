#!/usr/bin/env python3
"""SIGTERM and systemd readiness.

SIGTERM while queries flow (UDP loop and pipelined TCP), and while clients hold connections
open (gslbctl events --follow, an idle metrics connection, an idle DNS TCP connection): gslbd
exits 0 within 3 s and logs event=stopping and event=stopped.

READY=1 reaches $NOTIFY_SOCKET (a datagram socket in the tempdir) within probe timeout + 0.5 s
of the start, with healthy gateways and with one that hangs (then not before its first check
has timed out); SIGHUP sends RELOADING=1 then READY=1, SIGTERM STOPPING=1.

  test_lifecycle.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import opstest as ot

import dns.message
import dns.query

STOP_LIMIT = 3.0


def start(gws, gslbd, gslbctl, interval="200ms", timeout="200ms", kinds=None, env=None):
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    kinds = kinds or {}
    for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        gws.add(a, port, kinds.get(a, "http"))
    probes = {"gw": ot.probe_toml(port, interval, timeout)}
    return ot.Ops(gslbd, gslbctl, ot.body(), probes, env=env)


class UdpLoop(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.halt = threading.Event()
        self.sent = self.answered = 0

    def run(self):
        deadline = time.monotonic() + 20
        while not self.halt.is_set() and time.monotonic() < deadline:
            self.sent += 1
            try:
                dns.query.udp(dns.message.make_query("www.example.test.", "A"), "127.0.0.1",
                              port=self.port, timeout=0.2)
                self.answered += 1
            except Exception:
                pass


def check_stopped(c, srv, code, took, what):
    c.eq(code, 0, f"{what}: gslbd exits with status 0")
    c.check(code is not None and took <= STOP_LIMIT, f"{what}: exits within {STOP_LIMIT:.0f} s",
            f"took {took:.2f}s" + ("" if code is not None else " (then killed)"))
    log = srv.log_text()
    c.check("event=stopping" in log, f"{what}: logs event=stopping", log[-800:])
    c.check("event=stopped" in log, f"{what}: logs event=stopped", log[-800:])
    print(f"  {what}: exit {code} after {took:.2f}s")


def test_sigterm_under_load(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        loops = [UdpLoop(srv.port) for _ in range(2)]
        for lp in loops:
            lp.start()
        try:
            time.sleep(1.0)
            # A TCP client with 20 queries pipelined, sent just before the signal.
            tcp = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
            msgs = b""
            for i in range(20):
                w = dns.message.make_query("www.example.test.", "A", id=i).to_wire()
                msgs += struct.pack("!H", len(w)) + w
            tcp.sendall(msgs)
            time.sleep(0.05)  # in flight: written, and read by gslbd before the signal
            code, took = srv.stop(timeout=10)
            got = 0
            deadline = time.monotonic() + 3
            try:
                while got < 20:
                    m = ot.gslbtest.tcp_read_message(tcp, deadline)
                    if m is None:
                        break
                    got += 1
            except OSError:
                pass
            tcp.close()
        finally:
            for lp in loops:
                lp.halt.set()
                lp.join(timeout=3)
        check_stopped(c, srv, code, took, "SIGTERM under UDP+TCP load")
        sent = sum(lp.sent for lp in loops)
        answered = sum(lp.answered for lp in loops)
        print(f"  UDP loops: {answered}/{sent} answered (those after the exit are lost by design);"
              f" TCP: {got}/20 pipelined queries answered")
        c.check(answered > 100, "queries were flowing", f"{answered}/{sent}")
        c.eq(got, 20, "the 20 pipelined TCP queries read before SIGTERM are all answered")
        c.check(not os.path.exists(srv.socket), "the control socket is removed")


def test_sigterm_with_follower(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        follow = subprocess.Popen([srv.gslbctl, "--socket", srv.socket, "events", "--follow"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  stdin=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            c.check(follow.poll() is None, "events --follow is attached")
            code, took = srv.stop(timeout=4)
            check_stopped(c, srv, code, took, "SIGTERM with gslbctl events --follow attached")
            try:
                fcode = follow.wait(timeout=3)
                c.eq(fcode, 0, "events --follow ends (exit 0) when gslbd stops")
            except subprocess.TimeoutExpired:
                c.check(False, "events --follow ends when gslbd stops")
        finally:
            ot.stop_process(follow, "gslbctl")


def test_sigterm_with_idle_metrics_connection(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=3)
        try:
            time.sleep(0.2)
            code, took = srv.stop(timeout=4)
            check_stopped(c, srv, code, took, "SIGTERM with an idle metrics connection")
        finally:
            idle.close()


def test_sigterm_with_idle_control_connection(c, gslbd, gslbctl):
    """A client that connected to the control socket and sent nothing (a hung script)."""
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(srv.socket)
        try:
            time.sleep(0.2)
            c.eq(srv.ctl("status").returncode, 0, "other gslbctl commands work meanwhile")
            code, took = srv.stop(timeout=4)
            check_stopped(c, srv, code, took, "SIGTERM with an idle control connection")
        finally:
            idle.close()


def test_sigterm_with_idle_dns_tcp(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port), timeout=3)
        try:
            time.sleep(0.2)
            code, took = srv.stop(timeout=4)
            check_stopped(c, srv, code, took, "SIGTERM with an idle DNS TCP connection")
        finally:
            idle.close()


class Notify:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages = []  # (monotonic time, text)

    def wait_for(self, text, timeout):
        """Returns the time `text` arrived (as its own line), or None."""
        for t, m in self.messages:
            if text in m.split("\n"):
                return t
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                break
            now = time.monotonic()
            self.messages.append((now, data.decode(errors="replace")))
            if text in data.decode(errors="replace").split("\n"):
                return now
        return None

    def close(self):
        self.sock.close()


def ready_run(c, gslbd, gslbctl, kinds, what, probe_timeout):
    nd = tempfile.mkdtemp(prefix="gslbd-ops-notify-")
    note = Notify(nd)
    try:
        with ot.Gateways() as gws:
            srv = start(gws, gslbd, gslbctl, interval="1s", timeout=f"{int(probe_timeout * 1000)}ms",
                        kinds=kinds, env={"NOTIFY_SOCKET": note.path})
            with srv:
                t_ready = note.wait_for("READY=1", probe_timeout + 3)
                if not c.check(t_ready is not None, f"{what}: READY=1 arrives",
                               str(note.messages)):
                    return
                after = t_ready - srv.started_at
                print(f"  {what}: READY=1 {after:.3f}s after start (probe timeout {probe_timeout}s)")
                c.check(after <= probe_timeout + 0.5,
                        f"{what}: READY=1 within probe timeout + 0.5 s", f"{after:.3f}s")
                if kinds:
                    c.check(after >= probe_timeout * 0.9,
                            f"{what}: not before the hanging check timed out", f"{after:.3f}s")
                c.check(not any("READY=1" in m for t, m in note.messages if t < t_ready),
                        f"{what}: READY=1 once")
                if not kinds:
                    srv.hup()
                    t_rel = note.wait_for("RELOADING=1", 3)
                    # the second READY=1: the one that follows RELOADING=1
                    note.wait_for("__none__", 0.5)  # collect what arrives in the next 0.5 s
                    readies = [t for t, m in note.messages if "READY=1" in m.split("\n")]
                    t_rdy = readies[1] if len(readies) >= 2 else None
                    c.check(t_rel is not None and t_rdy is not None and t_rdy >= t_rel,
                            "SIGHUP: RELOADING=1 then READY=1", str(note.messages))
                    code, _ = srv.stop()
                    c.eq(code, 0, "gslbd exits 0")
                    c.check(note.wait_for("STOPPING=1", 1) is not None, "SIGTERM: STOPPING=1",
                            str(note.messages))
    finally:
        note.close()
        shutil.rmtree(nd, ignore_errors=True)


def test_ready_healthy(c, gslbd, gslbctl):
    ready_run(c, gslbd, gslbctl, None, "healthy gateways", 1.0)


def test_ready_hanging_gateway(c, gslbd, gslbctl):
    ready_run(c, gslbd, gslbctl, {"127.0.0.4": "hang-accept"}, "one gateway hangs", 1.0)


if __name__ == "__main__":
    sys.exit(ot.main([test_sigterm_under_load, test_sigterm_with_follower,
                      test_sigterm_with_idle_metrics_connection, test_sigterm_with_idle_control_connection,
                      test_sigterm_with_idle_dns_tcp,
                      test_ready_healthy, test_ready_hanging_gateway], tools=()))
