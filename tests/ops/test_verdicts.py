#!/usr/bin/env python3
"""gslbd's verdict stream (`gslbctl verdicts [--follow]`, format v1) and gslb-route-follow, the
library that applies it to a gslb::route cluster, against a real gslbd and real HTTP gateways:

- the snapshot: one state line per target, then {"v":1,"type":"synced"}; --follow then streams
  a line per change (a gateway dies, a drain, an undrain) and a new snapshot after a reload;
- a verdict follower that stops reading is dropped (event=follower-dropped) while one that reads
  keeps getting every snapshot (200 more targets, each reload a ~30 KB snapshot);
- the example client (examples/route/http_client.cpp) with --gslbd-socket and its own outlier
  detection off: a gateway killed under it is dropped from its picks once gslbd's verdict
  arrives; when gslbd restarts the library reconnects and resyncs, and the client goes back to
  the gateway that came back.

  test_verdicts.py PATH/TO/gslbd PATH/TO/gslbctl PATH/TO/route_http_client
"""
import json
import os
import re
import select
import socket
import subprocess
import sys
import time

import opstest as ot

CLIENT = None  # the example client, from argv[3]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class Lines:
    """Reads a child's stdout line by line without blocking past a deadline; keeps every line."""

    def __init__(self, proc):
        self.proc, self.buf, self.all, self.pos = proc, b"", [], 0

    def until(self, pred, timeout):
        """The next line (after the last one returned) for which pred holds, or None."""
        deadline = time.monotonic() + timeout
        while True:
            while self.pos < len(self.all):
                line = self.all[self.pos]
                self.pos += 1
                if pred(line):
                    return line
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            fd = self.proc.stdout.fileno()
            r, _, _ = select.select([fd], [], [], min(0.1, left))
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.all.append(line.decode(errors="replace"))

    def text(self):
        return "\n".join(self.all[-60:])


def setup(gws, addrs=("127.0.0.2", "127.0.0.3", "127.0.0.4")):
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    for a in addrs:
        gws.add(a, port)
    return {"gw": ot.probe_toml(port, "200ms", "200ms")}, port


def snapshot(srv):
    r = srv.ctl("verdicts")
    return r.returncode, [json.loads(l) for l in r.stdout.splitlines()]


def all_up(srv, addrs):
    code, lines = snapshot(srv)
    states = {l["address"]: l["state"] for l in lines if l.get("type") == "state"}
    return lines if code == 0 and all(states.get(a) == "up" for a in addrs) else None


def is_state(address, state):
    def pred(line):
        try:
            j = json.loads(line)
        except ValueError:
            return False
        return j.get("type") == "state" and j.get("address") == address and j.get("state") == state
    return pred


def test_stream(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        g2 = gws.all[0]
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            lines, at = ot.poll_until(lambda: all_up(srv, ["127.0.0.2", "127.0.0.3", "127.0.0.4"]), 5, step=0.05)
            c.check(at is not None, "verdicts: every target up within 5 s")
            lines = lines or []
            states = [l for l in lines if l.get("type") == "state"]
            c.eq(len(states), 3, "verdicts: one state line per target")
            c.eq(lines[-1] if lines else None, {"v": 1, "type": "synced"}, "verdicts ends with synced")
            for l in states:
                c.check(l.get("v") == 1 and l.get("probe") == "gw" and "reason" in l
                        and TIME_RE.match(l.get("time", "")), "a state line has v, probe, reason, time", l)

            follow = subprocess.Popen([srv.gslbctl, "--socket", srv.socket, "verdicts", "--follow"],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL)
            out = Lines(follow)
            try:
                c.check(out.until(lambda l: '"synced"' in l, 3) is not None,
                        "verdicts --follow starts with the snapshot", out.text())
                t_kill = g2.kill()
                line = out.until(is_state("127.0.0.2", "down"), 5)
                c.check(line is not None, "verdicts --follow streams 127.0.0.2 down", out.text())
                if line:
                    print(f"  verdicts --follow: down arrived {time.monotonic() - t_kill:.2f}s after the kill")
                    c.check(json.loads(line)["reason"] != "", "the down line says why", line)
                c.eq(srv.ctl("drain", "127.0.0.4").returncode, 0, "drain 127.0.0.4")
                c.check(out.until(is_state("127.0.0.4", "drained"), 3) is not None,
                        "verdicts --follow streams the drain", out.text())
                c.eq(srv.ctl("undrain", "127.0.0.4").returncode, 0, "undrain 127.0.0.4")
                c.check(out.until(is_state("127.0.0.4", "up"), 3) is not None,
                        "verdicts --follow streams the undrain", out.text())
                # A reload may change the targets: a new snapshot, ending in synced.
                c.eq(srv.ctl("reload").returncode, 0, "reload")
                c.check(out.until(lambda l: '"synced"' in l, 5) is not None,
                        "a reload sends a new snapshot", out.text())
                changes = [l for l in out.all if '"127.0.0.2"' in l and '"down"' in l]
                c.check(len(changes) == 2, "127.0.0.2 down: one change line, once more in the new snapshot",
                        out.text())
                c.check(follow.poll() is None, "verdicts --follow keeps running")
            finally:
                ot.stop_child(follow)
            c.eq(srv.ctl("status").returncode, 0, "status after the follower left")


# 200 more targets on addresses where nothing listens (connect refused at once): each reload
# then sends every verdict follower a snapshot of ~30 KB.
MANY = """
[[pool]]
name = "many"
region = "cn-many"
probe = "gw"
addresses = [{many}]

[[name]]
fqdn = "many.example.test."
ttl = 10
mode = "failover"
pools = ["many"]
"""


def test_slow_follower_dropped(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        body = ot.body() + MANY.format(many=", ".join(f'"127.0.1.{i}"' for i in range(1, 201)))
        with ot.Ops(gslbd, gslbctl, body, probes) as srv:
            good = subprocess.Popen([srv.gslbctl, "--socket", srv.socket, "verdicts", "--follow"],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL)
            out = Lines(good)
            bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            bad.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            try:
                c.check(out.until(lambda l: '"synced"' in l, 5) is not None, "the reader is synced",
                        out.text())
                bad.connect(srv.socket)
                bad.sendall(b"verdicts\t--follow\n")
                codes = []
                while len(codes) < 60 and "a verdicts --follow client stopped reading" not in srv.log_text():
                    codes.append(srv.ctl("reload").returncode)
                    out.until(lambda l: '"synced"' in l, 5)  # the reader takes each snapshot
                reloads = len(codes)
                print(f"  {reloads} reloads, {len(out.all)} verdict lines to the reader")
                c.check(set(codes) == {0}, "every reload succeeded", codes)
                dropped = [l for l in srv.log_text().splitlines() if "event=follower-dropped" in l]
                c.check(len(dropped) == 1 and "verdicts --follow" in dropped[0] and "bound=262144" in dropped[0],
                        "the reader-less verdict follower is dropped, once, at the bound", "\n".join(dropped))
                bad.settimeout(5)
                got, chunk = 0, b"x"
                while chunk:
                    chunk = bad.recv(65536)
                    got += len(chunk)
                c.check(got > 0, "the dropped follower reads what the kernel held, then EOF", str(got))
                synced = sum('"synced"' in l for l in out.all)
                c.eq(synced, reloads + 1, "the reading follower got the first snapshot and one per reload")
                c.check(good.poll() is None, "the reading follower is still connected")
                code, lines = snapshot(srv)
                c.check(code == 0 and len(lines) == 204, "a new client gets the whole snapshot", len(lines))
            finally:
                bad.close()
                ot.stop_child(good)


def check_first_attempts(c, out, n, address, what, in_flight=False):
    """The client's next n requests went first to `address` and succeeded there. in_flight: the
    first request line after a notice is not counted (it may have been picked before the
    verdict reached the cluster and printed after the notice)."""
    if in_flight:
        out.until(lambda l: re.match(r"request \d+ attempt 1 ", l), 5)
    got = []
    while len(got) < n:
        line = out.until(lambda l: re.match(r"request \d+ attempt 1 ", l), 5)
        if line is None:
            break
        m = re.search(r"endpoint (\S+):\d+ .* result (\S+)", line)
        got.append((m.group(1), m.group(2)) if m else (None, None))
    c.check(len(got) == n and all(a == (address, "200") for a in got), what, got)


def test_example_follows_gslbd(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, port = setup(gws, ("127.0.0.2", "127.0.0.3"))
        g2 = gws.all[0]
        body = ot.body(hangzhou=("127.0.0.2",))
        with ot.Ops(gslbd, gslbctl, body, probes) as srv:
            ot.poll_until(lambda: all_up(srv, ["127.0.0.2", "127.0.0.3"]), 5, step=0.05)
            client = subprocess.Popen(
                [CLIENT, "--client", "cn/hangzhou", "--no-outlier", "--gslbd-socket", srv.socket,
                 "--endpoint", f"127.0.0.2:{port}@cn/hangzhou",
                 "--endpoint", f"127.0.0.3:{port}@cn/shanghai",
                 "--requests", "100000", "--interval-ms", "40"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
            out = Lines(client)
            try:
                c.check(out.until(lambda l: l == "gslbd: synced", 5) is not None,
                        "the client follows gslbd (synced)", out.text())
                check_first_attempts(c, out, 5, "127.0.0.2", "before: the client uses its own zone's gateway")

                g2.kill()
                c.check(out.until(lambda l: l.startswith("gslbd: 127.0.0.2 unhealthy"), 5) is not None,
                        "gslbd's verdict reaches the client: 127.0.0.2 unhealthy", out.text())
                check_first_attempts(c, out, 10, "127.0.0.3",
                                     "after the verdict every request goes to 127.0.0.3 first, and succeeds",
                                     in_flight=True)

                # gslbd goes away: the client keeps its last verdicts and keeps working.
                srv.stop()
                c.check(out.until(lambda l: l.startswith("gslbd: disconnected"), 5) is not None,
                        "the library sees gslbd go", out.text())
                check_first_attempts(c, out, 5, "127.0.0.3", "while gslbd is away the client stays on 127.0.0.3")

                # The gateway comes back while gslbd is down; gslbd restarts: reconnect and resync.
                g2.start()
                srv.start()
                # The snapshot may already say up (a line before "synced") or still unknown (then
                # the change line comes after it): look for both, in either order.
                c.check(out.until(lambda l: l.startswith("gslbd: 127.0.0.2 healthy"), 8) is not None,
                        "the restarted gslbd's verdict reaches the client: 127.0.0.2 healthy", out.text())
                synced = sum(l == "gslbd: synced" for l in out.all) >= 2 or \
                    out.until(lambda l: l == "gslbd: synced", 5) is not None
                c.check(synced and sum(l == "gslbd: connected" for l in out.all) >= 2,
                        "the library reconnected and resynced after the restart", out.text())
                check_first_attempts(c, out, 5, "127.0.0.2", "the client returns to its own zone's gateway",
                                     in_flight=True)
                c.check(client.poll() is None, "the client is still running")
            finally:
                ot.stop_child(client)
                err = client.stderr.read().decode(errors="replace")
            c.check("ejected" not in err, "no ejection: only gslbd's verdicts moved the client", err)


if __name__ == "__main__":
    if len(sys.argv) < 4:
        print(f"usage: {sys.argv[0]} PATH/TO/gslbd PATH/TO/gslbctl PATH/TO/route_http_client")
        sys.exit(2)
    CLIENT = os.path.abspath(sys.argv.pop(3))
    sys.exit(ot.main([test_stream, test_slow_follower_dropped, test_example_follows_gslbd], tools=()))
