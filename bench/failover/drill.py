#!/usr/bin/python3
"""The failover drill as a client sees it: gslb-drill at 100 requests/s for 60 s through gslbd,
the first of two gateways SIGKILLed at 20 s; checks every 200 ms, fall 2, timeout 200 ms,
TTL 1 s. Prints gslb-drill's summary (failed requests and the failure window).

The drill's stub cache refreshes every TTL from the start of the run, so a kill at a whole
second lands just after a refresh (the worst phase: the stale answer is kept a full TTL);
--kill-at 20.5s shows a middle phase.

  drill.py GSLBD GSLB_DRILL [--kill-at 20s] [--qps 100] [--duration 60s]
A benchmark, not a test.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.path.join(repo, "tests", "drill"))
import drillenv  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gslbd")
    ap.add_argument("drill")
    ap.add_argument("--gateway", default=os.path.join(repo, "scripts", "gateway.py"))
    ap.add_argument("--kill-at", default="20s")
    ap.add_argument("--qps", default="100")
    ap.add_argument("--duration", default="60s")
    ap.add_argument("--interval", default="200ms")
    ap.add_argument("--timeout", default="200ms")
    ap.add_argument("--fall", type=int, default=2)
    ap.add_argument("--ttl", type=int, default=1)
    args = ap.parse_args()
    env = drillenv.Env(args.gslbd, args.gateway, interval=args.interval, timeout=args.timeout,
                       fall=args.fall, ttl=args.ttl)
    try:
        env.start(stderr=subprocess.PIPE)
        events = []

        def read_log():
            for raw in iter(env.proc.stderr.readline, b""):
                events.append((time.monotonic(), raw.decode(errors="replace").rstrip()))
        threading.Thread(target=read_log, daemon=True).start()
        if not env.wait_answer(["127.0.0.2"], timeout=20):
            print("www never answered 127.0.0.2")
            return 1
        pid = env.gateways["127.0.0.2"].pid
        cmd = [args.drill, "--server", f"127.0.0.1:{env.dns_port}", "--qps", args.qps,
               "--duration", args.duration, "--timeout", "1s",
               "--at", f"{args.kill_at}=kill -9 {pid}",
               f"http://www.example.test:{env.http_port}/health"]
        print(f"# gslbd checks: interval {args.interval}, timeout {args.timeout}, fall {args.fall}, "
              f"TTL {args.ttl}s")
        print("$", " ".join(cmd), flush=True)
        t0 = time.monotonic()
        r = subprocess.run(cmd, timeout=600)
        # gslbd's health events on the drill's clock (t0 is a few ms before the drill's start).
        print("# gslbd events during the drill (seconds from the drill's start, +-5 ms):")
        for t, line in events:
            if t >= t0 and "event=" in line:
                print(f"#   {t - t0:7.3f}s {line}")
        return r.returncode
    finally:
        env.stop()


if __name__ == "__main__":
    sys.exit(main())
