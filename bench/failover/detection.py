#!/usr/bin/python3
"""Detection latency of gslbd: a gateway killed -> the first DNS answer without it.

gslbd serves www.example.test from two failover pools (gateway.py on 127.0.0.2, then 127.0.0.3).
Per kill: wait a random fraction of the check interval (so kills fall anywhere in the check
cycle), SIGKILL the first gateway, poll www A every 5 ms over UDP until 127.0.0.2 is gone;
restart it and wait until www answers 127.0.0.2 again. Every wait is bounded.

Also the verdict-to-answer latency: from the moment gslbd's stderr line
`event=address-down ... address=127.0.0.2` reaches us (gslbd logs it before publishing the new
answers) to the first answer without the address. The poller wakes at once on that line and
then queries back to back, so the figure is an upper bound that includes one loopback round
trip (~0.1 ms in Python).

  detection.py GSLBD [--kills 20] [--settings 1s/500ms/2 200ms/200ms/2]
A benchmark, not a test: it prints figures.
"""
import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(here))
sys.path.insert(0, os.path.join(repo, "tests", "drill"))
import drillenv  # noqa: E402  (the drill test's gslbd + gateways harness)

VICTIM, OTHER = "127.0.0.2", "127.0.0.3"


class LogWatch(threading.Thread):
    """Reads gslbd's stderr; stamps each address-down line for VICTIM with time.monotonic()."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.down_at, self.lines = stream, [], []
        self.event = threading.Event()

    def run(self):
        for raw in iter(self.stream.readline, b""):
            t = time.monotonic()
            line = raw.decode(errors="replace").rstrip()
            self.lines.append(line)
            if "event=address-down" in line and f"address={VICTIM}" in line:
                self.down_at.append(t)
                self.event.set()


def one_setting(gslbd, gateway_py, interval, timeout, fall, kills):
    env = drillenv.Env(gslbd, gateway_py, interval=interval, timeout=timeout, fall=fall, ttl=1)
    res = {"detect": [], "verdict": [], "failed": 0}
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        env.start(stderr=subprocess.PIPE)
        watch = LogWatch(env.proc.stderr)
        watch.start()
        if not env.wait_answer([VICTIM], timeout=20):
            raise RuntimeError("www never answered the first pool")
        ival = float(interval[:-2]) / 1000 if interval.endswith("ms") else float(interval[:-1])
        for k in range(kills):
            time.sleep(random.uniform(0, ival))
            watch.event.clear()
            n_down = len(watch.down_at)
            t_kill = time.monotonic()
            env.kill_gateway(VICTIM)
            gone_at = None
            deadline = t_kill + 15
            while time.monotonic() < deadline:
                r = drillenv.query_a(env.dns_port, "www.example.test", timeout=0.2, sock=sock)
                t = time.monotonic()
                if r and r[0] == 0 and VICTIM not in r[1]:
                    gone_at = t
                    break
                # 5 ms between polls, but wake at once when the verdict is logged.
                if not watch.event.is_set():
                    watch.event.wait(0.005)
            if gone_at is None:
                res["failed"] += 1
            else:
                res["detect"].append(gone_at - t_kill)
                # Our reader thread may not have stamped the line yet (the GIL); give it a
                # moment. A stamp after the answer then shows as a negative figure.
                watch.event.wait(0.1)
                if len(watch.down_at) > n_down:
                    res["verdict"].append(gone_at - watch.down_at[n_down])
            env.start_gateway(VICTIM)
            if not env.wait_answer([VICTIM], timeout=20, stable=0.2):
                raise RuntimeError(f"kill {k + 1}: {VICTIM} never came back")
    finally:
        sock.close()
        env.stop()
    return res


def fmt(xs, scale=1000.0, unit="ms"):
    if not xs:
        return "-"
    return (f"min {min(xs) * scale:.1f} / median {statistics.median(xs) * scale:.1f} / "
            f"max {max(xs) * scale:.1f} {unit} (n={len(xs)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("gslbd")
    ap.add_argument("--gateway", default=os.path.join(repo, "scripts", "gateway.py"))
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--settings", nargs="+", default=["1s/500ms/2", "200ms/200ms/2"],
                    help="INTERVAL/TIMEOUT/FALL")
    args = ap.parse_args()
    print(f"gslbd detection latency, {args.kills} kills per setting, poll every 5 ms")
    for s in args.settings:
        interval, timeout, fall = s.split("/")
        r = one_setting(args.gslbd, args.gateway, interval, timeout, int(fall), args.kills)
        print(f"interval {interval} timeout {timeout} fall {fall}:")
        print(f"  kill -> first answer without it : {fmt(r['detect'])}")
        print(f"  verdict logged -> that answer   : {fmt(r['verdict'], 1e3, 'ms')}"
              f"  [{fmt(r['verdict'], 1e6, 'us')}]")
        if r["failed"]:
            print(f"  kills never detected within 15 s: {r['failed']}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
