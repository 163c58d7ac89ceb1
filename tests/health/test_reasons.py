#!/usr/bin/env python3
"""Each way a gateway can fail takes its address down with the matching reason in the event
line: HTTP 503, a gateway that accepts and never answers, one that listens and never accepts,
one that resets the connection, and a body that does not match.

  test_reasons.py PATH/TO/gslbd
"""
import sys

import healthtest as ht

BODY = """
[[pool]]
name = "bad"
region = "cn-hangzhou"
probe = "gw"
addresses = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.7"]

[[pool]]
name = "body"
region = "cn-shanghai"
probe = "gwbody"
addresses = ["127.0.0.6"]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["bad"]
return = "all"
all_down = "fail_open"

[[name]]
fqdn = "body.example.test."
ttl = 10
mode = "failover"
pools = ["body"]
return = "all"
all_down = "empty"
"""

# address -> (gateway kind, status, expected reason, pool, probe)
CASES = {
    "127.0.0.2": ("http", 503, "HTTP 503", "bad", "gw"),
    "127.0.0.3": ("hang-accept", 0, "timeout after 200ms", "bad", "gw"),
    "127.0.0.4": ("reset", 0, "connection reset", "bad", "gw"),
    "127.0.0.5": ("hang-listen", 0, "timeout after 200ms", "bad", "gw"),
    "127.0.0.6": ("http", 200, "body mismatch", "body", "gwbody"),
}


def test_failure_reasons(c, binary):
    addrs = list(CASES) + ["127.0.0.7"]
    port = ht.gateway_port(addrs)
    probes = {"gw": ht.probe_toml(port),
              "gwbody": ht.probe_toml(port, extra='expect_body = "this is not in the body"\n')}
    with ht.Gateways() as gws:
        for addr, (kind, status, _, _, _) in CASES.items():
            gws.add(addr, port, kind, status)
        gws.add("127.0.0.7", port)
        with ht.Server(binary, BODY, probes) as srv:
            for addr, (kind, _, reason, pool, probe) in CASES.items():
                ev = srv.wait_event("address-down", 5.0, address=addr)
                c.check(ev is not None, f"{addr} ({kind}) goes down", srv.log_text())
                if ev is None:
                    continue
                c.eq(ev.get("reason"), reason, f"{addr} ({kind}): reason")
                c.eq((ev.get("pool"), ev.get("probe")), (pool, probe), f"{addr}: pool and probe")
                print(f"  {kind:12} {ev['_line']}")
            _, t = ht.poll_until(
                lambda: ht.answer_set(srv.port, "www.example.test.") == {"127.0.0.7"}, 3.0)
            c.check(t is not None, "only the healthy gateway stays in the answers",
                    str(ht.answer_set(srv.port, "www.example.test.")))
            c.eq(srv.events("address-down", address="127.0.0.7"), [],
                 "the healthy gateway never went down")
            # The failing ones stay down (no flapping) over a few more intervals.
            ht.time.sleep(1.0)
            c.eq([e["_line"] for e in srv.events("address-up") if e.get("address") in CASES], [],
                 "no failing gateway ever came up")
            c.eq(ht.answer_set(srv.port, "www.example.test."), {"127.0.0.7"},
                 "still only the healthy gateway after 1 s")
            m = ht.query(srv.port, "body.example.test.")
            c.check(m.rcode() == 0 and not m.answer, "body mismatch: its only pool is down, NODATA",
                    str(m))


if __name__ == "__main__":
    sys.exit(ht.main([test_failure_reasons]))
