#!/usr/bin/env python3
"""gslb-drill's command line: usage, bad arguments, and a run with nobody listening.

  test_drill_cli.py GSLB_DRILL
"""
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drillenv  # noqa: E402


def run(drill, *args):
    return subprocess.run([drill, *args], capture_output=True, text=True, timeout=20)


def main():
    drill = sys.argv[1]
    failures = []
    check = lambda ok, what: ok or failures.append(what)

    r = run(drill, "--help")
    check(r.returncode == 0 and "usage: gslb-drill" in r.stdout, "--help")
    for args, why in [((), "--server is required"),
                      (("--server", "127.0.0.1:53"), "the URL is required"),
                      (("--server", "nope", "http://a.test/"), "--server: not ADDR:PORT"),
                      (("--server", "127.0.0.1:53", "--qps", "0", "http://a.test/"), "--qps"),
                      (("--server", "127.0.0.1:53", "--duration", "soon", "http://a.test/"),
                       "not a duration"),
                      (("--server", "127.0.0.1:53", "--at", "2s", "http://a.test/"),
                       "expected TIME=COMMAND"),
                      (("--server", "127.0.0.1:53", "http://127.0.0.1/"), "must name a host"),
                      (("--server", "127.0.0.1:53", "https://a.test/"), "only http://"),
                      (("--server", "127.0.0.1:53", "--bogus", "1", "http://a.test/"),
                       "unknown option")]:
        r = run(drill, *args)
        check(r.returncode == 2 and why in r.stderr, f"{args}: want exit 2 and '{why}', got "
              f"{r.returncode} {r.stderr.splitlines()[:1]}")

    # No DNS server on the port: every request is a DNS failure, the run still ends and adds up.
    port = drillenv.free_udp_tcp_port()
    r = run(drill, "--server", f"127.0.0.1:{port}", "--qps", "20", "--duration", "1s",
            "--dns-timeout", "100ms", "--at", "0.5s=true", "http://www.example.test:9/")
    print(r.stdout, r.stderr, sep="")
    check(r.returncode == 0, f"exit {r.returncode}")
    check(re.search(r"^Ended after [\d.]+s : 20 calls", r.stdout, re.M), "20 calls")
    check("DNS failures : 20 (100.0 %)" in r.stdout, "20 DNS failures")
    check("Failed requests : 20 " in r.stdout, "20 failed")
    check(re.search(r"^# 0\.5\d\ds: running 'true'", r.stdout, re.M), "--at 0.5s ran at 0.5 s")
    check("Failure burst : 20 failed from 0.000s to 0.950s" in r.stdout, "one burst")

    for f in failures:
        print("FAIL:", f)
    print("ok" if not failures else f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
