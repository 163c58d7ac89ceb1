#!/usr/bin/env python3
"""gslb-drill against the real gslbd: two failover pools, the first gateway killed at 2 s.

The summary must add up (calls = codes + DNS failures = qps x duration), hold only 200 and -1,
and the failures must be few: with checks every 200 ms, fall 2, a 200 ms timeout and TTL 1 s,
gslbd drops the address within about 0.4-0.6 s of the kill and the drill's cache holds the old
answer for at most 1 s more, so at 50 qps about 30-80 requests fail at worst; we allow 90.

  test_drill.py GSLBD GSLB_DRILL GATEWAY_PY
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drillenv  # noqa: E402
import fortio_reader  # noqa: E402

QPS, DURATION, KILL_AT = 50, 5, 2
MAX_FAILED = 90


def parse(out):
    s = {"codes": {}}
    m = re.search(r"^Ended after ([\d.]+)s : (\d+) calls", out, re.M)
    s["calls"] = int(m.group(2)) if m else None
    for code, n in re.findall(r"^Code +(-?\d+) : (\d+) \(", out, re.M):
        s["codes"][int(code)] = int(n)
    m = re.search(r"DNS failures : (\d+)", out)
    s["dns_failures"] = int(m.group(1)) if m else None
    m = re.search(r"^Failed requests : (\d+) .*?(?:first at ([\d.]+)s, last at ([\d.]+)s, "
                  r"failure window ([\d.]+)s)?$", out, re.M)
    s["failed"] = int(m.group(1)) if m else None
    s["first"] = float(m.group(2)) if m and m.group(2) else None
    s["last"] = float(m.group(3)) if m and m.group(3) else None
    s["window"] = float(m.group(4)) if m and m.group(4) else None
    return s


def main():
    gslbd, drill, gateway = sys.argv[1:4]
    env = drillenv.Env(gslbd, gateway)
    failures = []
    try:
        env.start()
        if not env.wait_answer(["127.0.0.2"]):
            print("FAIL: www never answered 127.0.0.2 alone")
            return 1
        victim = env.gateways["127.0.0.2"].pid
        url = f"http://www.example.test:{env.http_port}/health"
        cmd = [drill, "--server", f"127.0.0.1:{env.dns_port}", "--qps", str(QPS),
               "--duration", f"{DURATION}s", "--timeout", "1s",
               "--at", f"{KILL_AT}s=kill -9 {victim}", url]
        print("$", " ".join(cmd))
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        print(r.stdout, r.stderr, sep="")
        s = parse(r.stdout)
        total = QPS * DURATION
        check = lambda ok, what: ok or failures.append(what)
        check(r.returncode == 0, f"exit status {r.returncode}")
        check(s["calls"] == total, f"calls {s['calls']} != {total}")
        check(sum(s["codes"].values()) == s["calls"], "codes != calls (DNS failures are -1)")
        check(set(s["codes"]) <= {200, -1}, f"codes other than 200/-1: {s['codes']}")
        try:
            f = fortio_reader.parse_text(r.stdout)
            check(f["codes"] == s["codes"] and f["calls"] == f["done_calls"] == total,
                  f"a fortio reader reads other figures: {f['codes']} {f['calls']}")
        except ValueError as e:
            check(False, f"a fortio reader cannot read the summary: {e}")
        check(s["dns_failures"] == 0, f"DNS failures: {s['dns_failures']}")
        check(s["failed"] == s["codes"].get(-1, 0), "failed != Code -1")
        check(s["failed"] is not None and 1 <= s["failed"] <= MAX_FAILED,
              f"failed requests {s['failed']} not in 1..{MAX_FAILED}")
        if s["first"] is not None:
            check(abs(s["last"] - s["first"] - s["window"]) < 0.002, "window != last - first")
        # The outage is the largest burst; a stray timeout of gateway.py elsewhere (its listen
        # backlog is 5) would stretch the overall window but not move the burst.
        bursts = [(int(n), float(a), float(b)) for n, a, b in re.findall(
            r"^Failure burst : (\d+) failed from ([\d.]+)s to ([\d.]+)s", r.stdout, re.M)]
        check(sum(b[0] for b in bursts) == s["failed"], "bursts do not add up to the failures")
        if bursts:
            n, first, last = max(bursts)
            check(KILL_AT - 0.05 <= first <= KILL_AT + 0.5,
                  f"the outage burst starts at {first}s, kill at {KILL_AT}s")
            check(last - first <= 2.0, f"the outage burst lasts {last - first:.3f}s")
        check("running 'kill -9" in r.stdout, "the --at command was not reported")
        check(drillenv.query_a(env.dns_port, "www.example.test")[1] == ["127.0.0.3"],
              "www does not answer the second pool after the drill")
    finally:
        env.stop()
    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
