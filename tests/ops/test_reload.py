#!/usr/bin/env python3
"""Reloads do not lose queries: a bounded query loop (dnspython over UDP, 300 ms timeout, one
query every ~5 ms) and, when installed, dnsperf at a fixed rate run while gslbd goes through
ten reloads, good and bad alternating, by SIGHUP and by `gslbctl reload`. Every query must be
answered, with NOERROR and an address set the current (or the previous) configuration allows;
every reload must end as reloaded / reload-failed as expected.

  test_reload.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

import opstest as ot

import dns.message
import dns.query
import dns.rcode

RELOADS = 10
GAP = 0.35  # seconds between reloads


class QueryLoop(threading.Thread):
    """Queries www A over UDP until stopped (bounded by `limit` seconds)."""

    def __init__(self, port, limit=30.0):
        super().__init__(daemon=True)
        self.port, self.limit = port, limit
        self.stop_flag = threading.Event()
        self.sent = self.answered = self.lost = self.bad = 0
        self.bad_samples = []
        self.max_latency = 0.0

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self.stop_flag.is_set() and time.monotonic() < deadline:
            q = dns.message.make_query("www.example.test.", "A")
            t = time.monotonic()
            self.sent += 1
            try:
                m = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.3,
                                  ignore_unexpected=True)
            except Exception:  # timeout: a lost query
                self.lost += 1
                continue
            self.answered += 1
            self.max_latency = max(self.max_latency, time.monotonic() - t)
            got = ot.addresses(m)
            if m.rcode() != dns.rcode.NOERROR or not got or not got <= {"127.0.0.2", "127.0.0.4"}:
                self.bad += 1
                if len(self.bad_samples) < 5:
                    self.bad_samples.append((dns.rcode.to_text(m.rcode()), sorted(got)))
            time.sleep(0.005)


def bad_configs(srv, good_text):
    """(description, config text, extra action) for broken reloads, each a different mistake."""
    zone_missing = good_text.replace('file = "example.test.zone"', 'file = "missing.zone"')
    return [
        ("TOML syntax error", good_text + "\n[[pool]\nname = \n", None),
        ("unknown key", good_text.replace("min_healthy = 1", "min_healthy = 1\nbogus = true", 1), None),
        ("name outside every zone", good_text.replace('fqdn = "split.example.test."',
                                                      'fqdn = "split.example.org."'), None),
        ("missing zone file", zone_missing, None),
        ("pool with an unknown probe", good_text.replace('probe = "gw"', 'probe = "nosuch"', 1), None),
    ]


def run_dnsperf(port, seconds, rate, workdir):
    qfile = os.path.join(workdir, "queries.txt")
    with open(qfile, "w") as f:
        f.write("www.example.test. A\n" * 20)
    cmd = ["dnsperf", "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(seconds),
           "-Q", str(rate), "-t", "1", "-c", "1", "-q", "10"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL)


def test_reloads_lose_nothing(c, gslbd, gslbctl):
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    with ot.Gateways() as gws:
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            gws.add(a, port)
        probes = {"gw": ot.probe_toml(port, "200ms", "200ms")}
        workdir = tempfile.mkdtemp(prefix="gslbd-ops-dnsperf-")
        perf = loop = None
        try:
            with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
                goods = [srv.config_text(ot.body(("127.0.0.2",))),
                         srv.config_text(ot.body(("127.0.0.2", "127.0.0.4")))]
                bads = bad_configs(srv, goods[1])
                loop = QueryLoop(srv.port)
                loop.start()
                duration = int(RELOADS * GAP + 3)
                if shutil.which("dnsperf"):
                    perf = run_dnsperf(srv.port, duration, 200, workdir)
                else:
                    print("  (dnsperf not installed: only the dnspython loop counts)")
                time.sleep(0.5)
                results = []
                for i in range(RELOADS):
                    good = i % 2 == 0
                    how = "SIGHUP" if i % 4 in (0, 3) else "gslbctl"
                    if good:
                        what, text = f"good #{i // 2}", goods[(i // 2) % 2]
                    else:
                        what, text, _ = bads[(i // 2) % len(bads)]
                    srv.write_config(text)
                    want_event = "reloaded" if good else "reload-failed"
                    n_before = len(srv.events(want_event))
                    if how == "SIGHUP":
                        srv.hup()
                        rc = None
                    else:
                        r = srv.ctl("reload")
                        rc = r.returncode
                        c.eq(rc, 0 if good else 1, f"reload {i} ({what}) by gslbctl: exit code")
                        if not good:
                            c.check(re.search(r"gslbd\.toml:\d+:\d+: ", r.stderr),
                                    f"reload {i} ({what}): errors as file:line:col", repr(r.stderr))
                    e = srv.wait_event(want_event, timeout=3, count=n_before + 1)
                    c.check(e is not None, f"reload {i} ({what}, {how}): event={want_event}")
                    results.append((i, what, how, rc, e is not None))
                    time.sleep(GAP)
                time.sleep(0.3)
                loop.stop_flag.set()
                loop.join(timeout=5)
                # gslbd must still be the same process, serving the last good config
                c.check(srv.proc.poll() is None, "gslbd still running after the reloads")
                final = srv.answers()
                c.eq(final, {"127.0.0.2", "127.0.0.4"} if (RELOADS - 2) // 2 % 2 else {"127.0.0.2"},
                     "the last good configuration serves")
                if perf is not None:
                    out, _ = perf.communicate(timeout=duration + 15)
                    perf = None
                    sent = re.search(r"Queries sent:\s+(\d+)", out)
                    done = re.search(r"Queries completed:\s+(\d+)", out)
                    lost = re.search(r"Queries lost:\s+(\d+)", out)
                    if c.check(sent and done and lost, "dnsperf output parses", out[-1500:]):
                        print(f"  dnsperf during {RELOADS} reloads: sent {sent.group(1)}, "
                              f"completed {done.group(1)}, lost {lost.group(1)}")
                        c.eq(int(lost.group(1)), 0, "dnsperf: zero queries lost")
                        c.check(int(sent.group(1)) > 100, "dnsperf sent a meaningful load",
                                sent.group(1))
        finally:
            if loop is not None:
                loop.stop_flag.set()
                loop.join(timeout=5)
            if perf is not None and perf.poll() is None:
                ot.stop_process(perf, "dnsperf")
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"  dnspython loop during {RELOADS} reloads: sent {loop.sent}, answered "
              f"{loop.answered}, unanswered {loop.lost}, wrong {loop.bad}, "
              f"slowest answer {loop.max_latency * 1000:.1f} ms")
        c.check(loop.sent > 200, "the loop sent a meaningful number of queries", str(loop.sent))
        c.eq(loop.lost, 0, "zero unanswered queries across the reloads")
        c.eq(loop.bad, 0, "every answer NOERROR with an allowed address set")
        if loop.bad_samples:
            print("  wrong answers:", loop.bad_samples)
        kinds = {(r[1].startswith("good"), r[2]) for r in results}
        c.eq(len(kinds), 4, "good and bad reloads by both SIGHUP and gslbctl")


if __name__ == "__main__":
    sys.exit(ot.main([test_reloads_lose_nothing], tools=()))
