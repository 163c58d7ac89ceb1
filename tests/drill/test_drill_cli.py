#!/usr/bin/env python3
"""gslb-drill's command line: usage, bad arguments, and a run with nobody listening, whose
text and -json result a reader written for fortio's output (fortio_reader.py) must read with
the same figures.

  test_drill_cli.py GSLB_DRILL
"""
import json
import os
import re
import tempfile
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drillenv  # noqa: E402
import fortio_reader  # noqa: E402


def run(drill, *args):
    return subprocess.run([drill, *args], capture_output=True, text=True, timeout=20)


def check_fortio(check, out, json_path):
    """What a fortio reader finds in a run of 20 calls that all failed (no DNS server)."""
    try:
        t = fortio_reader.parse_text(out)
    except ValueError as e:
        check(False, f"fortio reader: {e}")
        return
    check(t["calls"] == t["count"] == t["done_calls"] == 20, f"fortio text: 20 calls ({t})")
    check(t["codes"] == {-1: 20}, f"fortio text: Code  -1 : 20 (fortio's widths), got {t['codes']}")
    check(re.search(r"^Code  -1 : 20 \(100\.0 %\)$", out, re.M), "the -1 line as fortio pads it")
    check(sorted(t["percentiles"]) == [50, 75, 90, 99, 99.9], f"# target lines {t['percentiles']}")
    check(sum(n for *_, n in t["histogram"]) == 20, "histogram counts add up to the calls")
    check(t["histogram"] and t["histogram"][-1][2] == 100.0, "histogram ends at 100 %")
    check(t["min"] <= t["percentiles"][50] <= t["percentiles"][99] <= t["max"],
          "percentiles within min..max")
    check(abs(t["avg_ms"] / 1000 - t["avg"]) < 1e-3, "All done's ms avg = the aggregated avg")
    check(0.9 <= t["elapsed"] < 3, f"Ended after {t['elapsed']}s")
    check(f"Successfully wrote" in out and json_path in out, "-json: says where it wrote")
    try:
        with open(json_path) as f:
            j = fortio_reader.parse_json(json.load(f))
    except (OSError, ValueError, KeyError) as e:
        check(False, f"fortio JSON reader: {e!r}")
        return
    check(j["run_type"] == "HTTP" and j["requested_qps"] == "20", f"JSON RunType/RequestedQPS {j}")
    check(j["calls"] == 20 and j["codes"] == {-1: 20}, f"JSON Count/RetCodes {j['codes']}")
    check(j["url"] == "http://www.example.test:9/", "JSON URL")
    check(all(abs(j["percentiles"][p] - t["percentiles"][p]) <= 1e-6 * max(1, t["percentiles"][p])
              for p in t["percentiles"]), "JSON percentiles = the text's")
    check(abs(j["avg"] - t["avg"]) < 1e-6 and j["histogram"] and len(j["histogram"]) == len(t["histogram"]),
          "JSON histogram = the text's")


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
    json_path = os.path.join(tempfile.mkdtemp(prefix="drill-cli-"), "result.json")
    r = run(drill, "--server", f"127.0.0.1:{port}", "--qps", "20", "--duration", "1s",
            "--dns-timeout", "100ms", "--at", "0.5s=true", "-json", json_path,
            "http://www.example.test:9/")
    print(r.stdout, r.stderr, sep="")
    check_fortio(check, r.stdout, json_path)
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
