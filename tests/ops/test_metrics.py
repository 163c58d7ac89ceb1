#!/usr/bin/env python3
"""The Prometheus endpoint: scraped with curl, the exposition parses (every sample line
"name{labels} value", HELP and TYPE for every family, histograms cumulative), counters move
with queries, gslbd_address_up goes 1 -> 0 and gslbd_failovers_total counts a failover when
gateways die, drains show as 0 in gslbd_address_up and 1 in gslbd_address_drained (a dead one
0 in both), the CoreDNS-like families (build info, query duration and response size
histograms, zones, process_*) and the last reload's outcome are there, `promtool check metrics`
(Debian's prometheus package) finds nothing wrong, and other paths/methods get 404/405.

  test_metrics.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import os
import shutil
import socket
import subprocess
import sys
import time

import opstest as ot

import dns.message
import dns.query

FAMILIES = {
    "gslbd_queries_total": "counter",
    "gslbd_queries_by_qtype_total": "counter",
    "gslbd_responses_total": "counter",
    "gslbd_responses_truncated_total": "counter",
    "gslbd_answer_compilations_total": "counter",
    "gslbd_address_up": "gauge",
    "gslbd_probe_latency_seconds": "histogram",
    "gslbd_probe_results_total": "counter",
    "gslbd_failovers_total": "counter",
    "gslbd_name_pool": "gauge",
    "gslbd_rrl_dropped_total": "counter",
    "gslbd_rrl_slipped_total": "counter",
    "gslbd_rrl_log_only_total": "counter",
    "gslbd_cookies_total": "counter",
    "gslbd_build_info": "gauge",
    "gslbd_query_duration_seconds": "histogram",
    "gslbd_response_size_bytes": "histogram",
    "gslbd_address_drained": "gauge",
    "gslbd_probe_last_check_timestamp_seconds": "gauge",
    "gslbd_config_last_reload_successful": "gauge",
    "gslbd_config_last_reload_timestamp_seconds": "gauge",
    "gslbd_config_last_reload_success_timestamp_seconds": "gauge",
    "gslbd_zone_serial": "gauge",
    "gslbd_zone_records": "gauge",
    "gslbd_zone_last_load_timestamp_seconds": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_resident_memory_bytes": "gauge",
    "process_virtual_memory_bytes": "gauge",
    "process_open_fds": "gauge",
    "process_max_fds": "gauge",
    "process_start_time_seconds": "gauge",
}


def promtool(c, text, what):
    """`promtool check metrics` reads the exposition from stdin: exit 0 and no lint output.
    Returns False (and fails) when promtool is not installed: scripts/deps.sh --test puts it."""
    tool = shutil.which("promtool")
    if not c.check(tool is not None, "promtool is installed (Debian's prometheus package)"):
        return False
    r = subprocess.run([tool, "check", "metrics"], input=text, text=True, capture_output=True,
                       timeout=30)
    return c.check(r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(),
                   f"{what}: promtool check metrics is clean", (r.stdout + r.stderr)[:2000])


def scrape(c, srv, what):
    code, text = srv.scrape()
    if not c.eq(code, 200, f"{what}: GET /metrics is 200"):
        return []
    samples, types, problems = ot.parse_exposition(text)
    c.check(not problems, f"{what}: the exposition parses", "\n".join(problems[:10]))
    return samples


def start(gws, gslbd, gslbctl):
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        gws.add(a, port)
    probes = {"gw": ot.probe_toml(port, "200ms", "200ms")}
    return ot.Ops(gslbd, gslbctl, ot.body(), probes)


def wait_checked(srv, timeout=3.0):
    """Until every address has a latency sample (its first check is in)."""
    def done():
        code, text = srv.scrape()
        if code != 200:
            return None
        s, _, _ = ot.parse_exposition(text)
        n = [l["address"] for name, l, v in s if name == "gslbd_probe_latency_seconds_count" and v > 0]
        return s if len(set(n)) == 3 else None
    return ot.poll_until(done, timeout, step=0.05)[0]


def test_format(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        c.check(wait_checked(srv) is not None, "every address has a latency sample within 3 s")
        code, text = srv.scrape()
        c.eq(code, 200, "GET /metrics: 200")
        samples, types, problems = ot.parse_exposition(text)
        c.check(not problems, "exposition parses", "\n".join(problems[:20]))
        c.check(len(samples) > 20, "a reasonable number of samples", str(len(samples)))
        promtool(c, text, "after start")
        c.eq(ot.value(samples, "gslbd_build_info", version=ot.version(gslbd)), 1,
             "gslbd_build_info{version} 1, the version gslbd --version prints")
        c.eq(ot.value(samples, "gslbd_zone_serial", zone="example.test."), ot.zone_serial(srv),
             "gslbd_zone_serial{zone=example.test.} is the SOA's serial")
        c.check((ot.value(samples, "gslbd_zone_records", zone="example.test.") or 0) >= 5,
                "gslbd_zone_records counts the zone's records")
        now = time.time()
        loaded = ot.value(samples, "gslbd_zone_last_load_timestamp_seconds", zone="example.test.")
        c.check(loaded is not None and now - 60 < loaded <= now + 1, "zone last load: just now", str(loaded))
        c.eq(ot.value(samples, "gslbd_config_last_reload_successful"), 1, "no reload yet: successful 1")
        for addr in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            t = ot.value(samples, "gslbd_probe_last_check_timestamp_seconds", address=addr)
            c.check(t is not None and now - 5 < t <= now + 1, f"{addr}: last check within 5 s", str(t))
            c.eq(ot.value(samples, "gslbd_address_drained", address=addr), 0, f"{addr}: not drained")
        started = ot.value(samples, "process_start_time_seconds")
        c.check(started is not None and now - 60 < started <= now + 1,
                "process_start_time_seconds: gslbd's start", str(started))
        with open(f"/proc/{srv.proc.pid}/limits") as f:
            soft = next(int(l.split()[3]) for l in f if l.startswith("Max open files"))
        c.eq(ot.value(samples, "process_max_fds"), soft, "process_max_fds: the soft RLIMIT_NOFILE")
        fds = len(os.listdir(f"/proc/{srv.proc.pid}/fd"))
        c.check(abs((ot.value(samples, "process_open_fds") or 0) - fds) <= 3,
                "process_open_fds: about what /proc says", f"{ot.value(samples, 'process_open_fds')} vs {fds}")
        c.check((ot.value(samples, "process_resident_memory_bytes") or 0) > 1 << 20,
                "process_resident_memory_bytes: over 1 MiB")
        for fam, t in FAMILIES.items():
            c.eq(types.get(fam), t, f"# TYPE {fam} {t}")
            c.check(f"# HELP {fam} " in text, f"# HELP {fam}")
            base = {fam} if t != "histogram" else {fam + "_bucket", fam + "_sum", fam + "_count"}
            c.check(any(n in base for n, _, _ in samples), f"{fam} has samples")
        c.check(all(v >= 0 for n, _, v in samples), "no negative values")
        # Label sets as documented
        for n, lbl, v in samples:
            if n == "gslbd_address_up":
                c.eq(sorted(lbl), ["address", "pool", "probe"], "gslbd_address_up labels")
            elif n == "gslbd_probe_results_total":
                c.eq(sorted(lbl), ["address", "probe", "result"], "gslbd_probe_results_total labels")
        ups = {(l["pool"], l["address"]): v for n, l, v in samples if n == "gslbd_address_up"}
        c.eq(ups, {("hangzhou", "127.0.0.2"): 1, ("hangzhou", "127.0.0.4"): 1,
                   ("shanghai", "127.0.0.3"): 1}, "gslbd_address_up: all 1")
        c.eq(ot.value(samples, "gslbd_name_pool", name="www.example.test.", pool="hangzhou"), 1,
             "name_pool www/hangzhou = 1")
        c.eq(ot.value(samples, "gslbd_name_pool", name="www.example.test.", pool="shanghai"), 0,
             "name_pool www/shanghai = 0")
        # Histograms: buckets cumulative, +Inf = count, sum >= 0
        for addr in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            buckets = [(l["le"], v) for n, l, v in samples
                       if n == "gslbd_probe_latency_seconds_bucket" and l.get("address") == addr]
            vals = [v for _, v in buckets]
            c.check(buckets and buckets[-1][0] == "+Inf", f"{addr}: last bucket is +Inf", str(buckets))
            c.check(vals == sorted(vals), f"{addr}: buckets are cumulative", str(buckets))
            les = [float(le) for le, _ in buckets]
            c.check(les == sorted(les), f"{addr}: le ascending", str(buckets))
            count = ot.value(samples, "gslbd_probe_latency_seconds_count", address=addr)
            c.check(vals and count == vals[-1] and count > 0, f"{addr}: +Inf bucket = _count",
                    f"{vals} {count}")
            ok = ot.value(samples, "gslbd_probe_results_total", address=addr, result="ok")
            c.eq(ok, count, f"{addr}: results ok = latency count (every check passed)")
        # Prometheus' own parser, when it is installed, must agree.
        try:
            from prometheus_client.parser import text_string_to_metric_families
        except ImportError:
            print("  (prometheus_client not installed: only our own parser checked the text)")
        else:
            try:
                fams = {f.name for f in text_string_to_metric_families(text)}
                c.check({"gslbd_queries", "gslbd_address_up"} <= fams,
                        "prometheus_client parses the exposition", str(sorted(fams)))
            except Exception as e:  # noqa: BLE001
                c.check(False, "prometheus_client parses the exposition", repr(e))


def test_counters_move(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        wait_checked(srv)
        before = scrape(c, srv, "before")
        n_udp, n_tcp, n_nx = 40, 7, 5
        for _ in range(n_udp):
            ot.query(srv.port, "www.example.test.", "A")
        for _ in range(n_tcp):
            dns.query.tcp(dns.message.make_query("www.example.test.", "AAAA"), "127.0.0.1",
                          port=srv.port, timeout=2)
        for i in range(n_nx):
            ot.query(srv.port, f"nx{i}.example.test.", "MX")
        after = scrape(c, srv, "after")

        def delta(name, **lbl):
            return (ot.value(after, name, **lbl) or 0) - (ot.value(before, name, **lbl) or 0)
        c.eq(delta("gslbd_queries_total", transport="udp"), n_udp + n_nx, "udp queries +45")
        c.eq(delta("gslbd_queries_total", transport="tcp"), n_tcp, "tcp queries +7")
        c.eq(delta("gslbd_queries_by_qtype_total", qtype="A"), n_udp, "qtype A +40")
        c.eq(delta("gslbd_queries_by_qtype_total", qtype="AAAA"), n_tcp, "qtype AAAA +7")
        c.eq(delta("gslbd_queries_by_qtype_total", qtype="MX"), n_nx, "qtype MX +5")
        c.eq(delta("gslbd_responses_total", rcode="NOERROR"), n_udp + n_tcp, "NOERROR +47")
        c.eq(delta("gslbd_responses_total", rcode="NXDOMAIN"), n_nx, "NXDOMAIN +5")
        c.eq(delta("gslbd_responses_truncated_total"), 0, "no truncation")
        c.eq(delta("gslbd_query_duration_seconds_count", transport="udp"), n_udp + n_nx,
             "query duration histogram: one sample per UDP answer")
        c.eq(delta("gslbd_query_duration_seconds_count", transport="tcp"), n_tcp,
             "query duration histogram: one sample per TCP answer")
        c.eq(delta("gslbd_response_size_bytes_count", transport="udp"), n_udp + n_nx,
             "response size histogram: one sample per UDP answer")
        c.check(delta("gslbd_response_size_bytes_sum", transport="udp") > 12 * (n_udp + n_nx),
                "response sizes add up to more than the headers")
        c.eq(ot.value(after, "gslbd_response_size_bytes_bucket", transport="udp", le="0"), 0,
             "no empty responses")

        # A drain shows as address_up 0 and recompiles the answers.
        c.eq(srv.ctl("drain", "127.0.0.4").returncode, 0, "drain 127.0.0.4")
        drained = scrape(c, srv, "drained")
        c.eq(ot.value(drained, "gslbd_address_up", address="127.0.0.4"), 0, "drained: address_up 0")
        c.eq(ot.value(drained, "gslbd_address_drained", address="127.0.0.4"), 1, "drained: address_drained 1")
        c.check((ot.value(drained, "gslbd_answer_compilations_total") or 0)
                > (ot.value(after, "gslbd_answer_compilations_total") or 0),
                "a drain counts an answer compilation")
        c.eq(srv.ctl("undrain", "127.0.0.4").returncode, 0, "undrain 127.0.0.4")
        c.eq(ot.value(scrape(c, srv, "undrained"), "gslbd_address_up", address="127.0.0.4"), 1,
             "undrained: address_up 1")


def test_gateway_dies(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        wait_checked(srv)
        g2, _g3, g4 = gws.all
        before = scrape(c, srv, "before")
        c.eq(ot.value(before, "gslbd_address_up", address="127.0.0.2"), 1, "before: .2 up")
        c.eq(ot.value(before, "gslbd_failovers_total", name="www.example.test."), 0,
             "before: no failovers")
        comp0 = ot.value(before, "gslbd_answer_compilations_total")

        g2.kill()
        c.check(srv.wait_event("address-down", timeout=3, address="127.0.0.2") is not None,
                ".2 goes down")
        mid = scrape(c, srv, "one gateway dead")
        c.eq(ot.value(mid, "gslbd_address_up", address="127.0.0.2"), 0, ".2: address_up 1 -> 0")
        c.eq(ot.value(mid, "gslbd_address_drained", address="127.0.0.2"), 0,
             ".2: dead, not drained: address_drained 0")
        c.eq(ot.value(mid, "gslbd_address_up", address="127.0.0.4"), 1, ".4 still 1")
        c.eq(ot.value(mid, "gslbd_failovers_total", name="www.example.test."), 0,
             "no failover while hangzhou has one healthy")
        refused = ot.value(mid, "gslbd_probe_results_total", address="127.0.0.2",
                           result="connect refused")
        c.check(isinstance(refused, float) and refused >= 2,
                'probe_results_total{result="connect refused"} >= fall', str(refused))
        c.check(ot.value(mid, "gslbd_answer_compilations_total") > comp0,
                "the change counts an answer compilation")

        g4.kill()
        c.check(srv.wait_event("failover", timeout=3, name="www.example.test.") is not None,
                "www fails over")
        after = scrape(c, srv, "both hangzhou gateways dead")
        c.eq(ot.value(after, "gslbd_address_up", address="127.0.0.4"), 0, ".4: address_up 0")
        c.eq(ot.value(after, "gslbd_failovers_total", name="www.example.test."), 1,
             "gslbd_failovers_total{name=www} 0 -> 1")
        c.eq(ot.value(after, "gslbd_name_pool", name="www.example.test.", pool="hangzhou"), 0,
             "name_pool www/hangzhou 1 -> 0")
        c.eq(ot.value(after, "gslbd_name_pool", name="www.example.test.", pool="shanghai"), 1,
             "name_pool www/shanghai 0 -> 1")


def test_reload_outcome(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        wait_checked(srv)
        first = scrape(c, srv, "start")
        t0 = ot.value(first, "gslbd_config_last_reload_success_timestamp_seconds")
        time.sleep(0.05)
        good = srv.config_text()
        srv.write_config(good + "\n[bogus_table]\nx = 1\n")
        c.eq(srv.ctl("reload").returncode, 1, "a broken reload: gslbctl exits 1")
        bad = scrape(c, srv, "after a failed reload")
        c.eq(ot.value(bad, "gslbd_config_last_reload_successful"), 0, "failed reload: successful 0")
        c.check(ot.value(bad, "gslbd_config_last_reload_timestamp_seconds") > t0,
                "failed reload: its time is recorded")
        c.eq(ot.value(bad, "gslbd_config_last_reload_success_timestamp_seconds"), t0,
             "failed reload: the last success's time stays")
        srv.write_config(good)
        c.eq(srv.ctl("reload").returncode, 0, "a good reload: gslbctl exits 0")
        ok = scrape(c, srv, "after a good reload")
        c.eq(ot.value(ok, "gslbd_config_last_reload_successful"), 1, "good reload: successful 1")
        c.check(ot.value(ok, "gslbd_config_last_reload_success_timestamp_seconds") > t0,
                "good reload: the success time moves")
        promtool(c, srv.scrape()[1], "after reloads")


def raw_http(port, request, timeout=3.0):
    """Sends raw bytes, reads until the server closes; returns the whole response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(request)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_http(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        code, body = srv.scrape("/")
        c.eq(code, 404, "GET / is 404")
        code, body = srv.scrape("/metricsx")
        c.eq(code, 404, "GET /metricsx is 404")
        code, body = srv.scrape("/metrics?x=1")
        c.eq(code, 200, "GET /metrics?x=1 is 200 (query string ignored)")
        for m in ("POST", "PUT", "DELETE"):
            code, _ = srv.scrape("/metrics", method=m)
            c.eq(code, 405, f"{m} /metrics is 405")
        # A line that is not an HTTP request line: libmicrohttpd closes without a word.
        resp = raw_http(srv.metrics_port, b"GARBAGE\r\n\r\n")
        c.eq(resp, b"", "a request line without a target is closed unanswered")
        for bad in (b"GET /metrics FOO/1.1\r\n\r\n", b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n"):
            resp = raw_http(srv.metrics_port, bad)
            c.check(resp.startswith(b"HTTP/1.1 400"), f"{bad!r}: 400", repr(resp[:80]))
        # Split across writes: the HTTP library must put the request together.
        with socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=3) as s:
            s.sendall(b"GET /met")
            time.sleep(0.05)
            s.sendall(b"rics HTTP/1.1\r\nHost: x\r\n\r\n")
            s.settimeout(3)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        c.check(out.startswith(b"HTTP/1.1 200") and b"gslbd_queries_total" in out,
                "a request split across two writes is answered", repr(out[:80]))
        # HEAD: headers only (RFC 9110 9.3.2: no content in the response to HEAD).
        resp = raw_http(srv.metrics_port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        head, _, rest = resp.partition(b"\r\n\r\n")
        c.check(head.startswith(b"HTTP/1.1 200"), "HEAD /metrics is 200", repr(head[:80]))
        c.eq(len(rest), 0, "HEAD /metrics: no body after the headers")
        # Still serving after all that.
        c.eq(srv.scrape()[0], 200, "GET /metrics still 200")


if __name__ == "__main__":
    sys.exit(ot.main([test_format, test_counters_move, test_gateway_dies, test_reload_outcome,
                  test_http]))
