"""A reader of fortio's results, written against fortio's own output (its text summary and its
-json file), not against gslb-drill's: what a script that post-processes fortio runs does.
gslb-drill must be readable by it.

fortio's text lines it reads:
  Ended after 1m0.0012s : 6000 calls. qps=99.998
  Aggregated Function Time : count 6000 avg 0.0012 +/- 0.0003 min 0.0008 max 0.005 sum 7.2
  # range, mid point, percentile, count
  >= 0.0008 <= 0.001 , 0.0009 , 30.00, 1800
  > 0.001 <= 0.002 , 0.0015 , 95.00, 3900
  # target 50% 0.00123
  Code 200 : 5990 (99.8 %)
  Code  -1 : 10 (0.2 %)
  All done 6000 calls (plus 0 warmup) 1.234 ms avg, 99.9 qps
"""
import re

_ENDED = re.compile(r"^Ended after (\S+) : (\d+) calls\. qps=([\d.e+-]+)$", re.M)
_AGG = re.compile(r"^Aggregated Function Time : count (\d+) avg ([\d.e+-]+) \+/- ([\d.e+-]+) "
                  r"min ([\d.e+-]+) max ([\d.e+-]+) sum ([\d.e+-]+)$", re.M)
_BUCKET = re.compile(r"^(>=|>) ([\d.e+-]+) <= ([\d.e+-]+) , ([\d.e+-]+) , ([\d.]+), (\d+)$", re.M)
_TARGET = re.compile(r"^# target ([\d.]+)% ([\d.e+-]+)$", re.M)
_CODE = re.compile(r"^Code +(-?\d+) : (\d+) \(([\d.]+) %\)$", re.M)
_DONE = re.compile(r"^All done (\d+) calls \(plus (\d+) warmup\) ([\d.]+) ms avg, ([\d.]+) qps$", re.M)


def go_seconds(text):
    """Go's time.Duration text ("1m0.5s", "999.1ms", "4.2s") in seconds."""
    total, units = 0.0, {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    for num, unit in re.findall(r"([\d.]+)(h|ms|us|µs|ns|m|s)", text):
        total += float(num) * units[unit]
    return total


def parse_text(out):
    """The figures of a fortio text summary; raises ValueError when a required line is missing."""
    r = {}
    m = _ENDED.search(out)
    if not m:
        raise ValueError("no 'Ended after' line")
    r["elapsed"], r["calls"], r["qps"] = go_seconds(m.group(1)), int(m.group(2)), float(m.group(3))
    m = _AGG.search(out)
    if not m:
        raise ValueError("no 'Aggregated Function Time' line")
    r["count"], r["avg"], r["stddev"], r["min"], r["max"], r["sum"] = (
        int(m.group(1)), *(float(m.group(i)) for i in range(2, 7)))
    r["histogram"] = [(float(a), float(b), float(p), int(n))
                      for _, a, b, _, p, n in _BUCKET.findall(out)]
    r["percentiles"] = {float(p): float(v) for p, v in _TARGET.findall(out)}
    r["codes"] = {int(c): int(n) for c, n, _ in _CODE.findall(out)}
    m = _DONE.search(out)
    if not m:
        raise ValueError("no 'All done' line")
    r["done_calls"], r["avg_ms"], r["done_qps"] = int(m.group(1)), float(m.group(3)), float(m.group(4))
    return r


def parse_json(obj):
    """The same figures from fortio's JSON result (HTTPRunnerResults)."""
    h = obj["DurationHistogram"]
    return {
        "run_type": obj["RunType"],
        "requested_qps": obj["RequestedQPS"],  # a string in fortio ("max" or a number)
        "qps": float(obj["ActualQPS"]),
        "elapsed": obj["ActualDuration"] / 1e9,  # nanoseconds
        "calls": int(h["Count"]),
        "avg": float(h["Avg"]), "min": float(h["Min"]), "max": float(h["Max"]),
        "sum": float(h["Sum"]), "stddev": float(h["StdDev"]),
        "histogram": [(b["Start"], b["End"], b["Percent"], b["Count"]) for b in h["Data"]],
        "percentiles": {float(p["Percentile"]): float(p["Value"]) for p in h["Percentiles"]},
        "codes": {int(k): int(v) for k, v in obj["RetCodes"].items()},
        "url": obj["URL"],
    }
