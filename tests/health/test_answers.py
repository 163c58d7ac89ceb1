#!/usr/bin/env python3
"""What a health-checked name answers: the all_down modes (fail_open, empty, servfail) and their
recovery; a weighted 90/10 split with return = "one"; AAAA from IPv6 pools and NODATA for a
family the pools lack.

  test_answers.py PATH/TO/gslbd
"""
import collections
import sys
import time

import healthtest as ht

import dns.rcode
import dns.rdatatype

ALL_DOWN = """
[[pool]]
name = "first"
region = "r1"
probe = "gw"
addresses = ["127.0.0.2", "127.0.0.4"]

[[pool]]
name = "second"
region = "r2"
probe = "gw"
addresses = ["127.0.0.3"]
""" + "".join(f"""
[[name]]
fqdn = "{n}.example.test."
ttl = 10
mode = "failover"
pools = ["first", "second"]
return = "all"
all_down = "{mode}"
""" for n, mode in (("open", "fail_open"), ("empty", "empty"), ("sf", "servfail"))) + """
[[name]]
fqdn = "wempty.example.test."
ttl = 10
mode = "weighted"
pools = [{ pool = "first", weight = 1 }, { pool = "second", weight = 1 }]
return = "all"
all_down = "empty"
"""

WEIGHTED = """
[[pool]]
name = "a"
region = "r1"
probe = "gw"
addresses = ["127.0.0.2"]

[[pool]]
name = "b"
region = "r2"
probe = "gw"
addresses = ["127.0.0.3"]

[[pool]]
name = "six"
region = "r3"
probe = "gw"
addresses = ["::1"]

[[pool]]
name = "dual"
region = "r4"
probe = "gw"
addresses = ["127.0.0.5", "::1"]

[[name]]
fqdn = "split.example.test."
ttl = 10
mode = "weighted"
pools = [{ pool = "a", weight = 90 }, { pool = "b", weight = 10 }]
return = "one"
all_down = "fail_open"

[[name]]
fqdn = "v6.example.test."
ttl = 20
mode = "failover"
pools = ["six"]
return = "all"
all_down = "empty"

[[name]]
fqdn = "dual.example.test."
ttl = 30
mode = "failover"
pools = ["dual"]
return = "all"
all_down = "empty"
"""


def soa_ttl(m):
    return [rr.ttl for rr in m.authority if rr.rdtype == dns.rdatatype.SOA]


def test_all_down_modes(c, binary):
    """No gateway answers: fail_open gives the first pool's addresses, empty NODATA with the SOA
    (negative TTL at most the name's ttl), servfail SERVFAIL; a gateway coming back recovers all."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    probes = {"gw": ht.probe_toml(port)}
    with ht.Gateways() as gws:
        with ht.Server(binary, ALL_DOWN, probes) as srv:
            for n, mode in (("open", "fail_open"), ("empty", "empty"), ("sf", "servfail"),
                            ("wempty", "empty")):
                ev = srv.wait_event("all-down", 5.0, name=f"{n}.example.test.")
                c.check(ev is not None and ev.get("action") == mode,
                        f"{n}: all-down event with action={mode}", srv.log_text())
            m = ht.query(srv.port, "open.example.test.")
            c.eq((dns.rcode.to_text(m.rcode()), ht.addresses(m)),
                 ("NOERROR", {"127.0.0.2", "127.0.0.4"}), "fail_open: the first pool's addresses")
            c.eq([rr.ttl for rr in m.answer], [10], "fail_open: with the name's ttl")
            for n in ("empty", "wempty"):
                m = ht.query(srv.port, f"{n}.example.test.")
                c.check(m.rcode() == dns.rcode.NOERROR and not m.answer and len(soa_ttl(m)) == 1,
                        f"{n}: NODATA with the SOA in authority", str(m))
                c.check(soa_ttl(m) and 0 < soa_ttl(m)[0] <= 10,
                        f"{n}: negative TTL at most the name's ttl (10)", str(soa_ttl(m)))
                c.check(m.flags & 0x0400, f"{n}: AA set")
            m = ht.query(srv.port, "sf.example.test.")
            c.eq(dns.rcode.to_text(m.rcode()), "SERVFAIL", "servfail: SERVFAIL")
            c.eq(len(m.answer) + len(m.authority), 0, "servfail: empty sections")
            _, out = ht.gslbtest.dig(srv.port, "sf.example.test.", "A")
            c.check("status: SERVFAIL" in out, "dig sees SERVFAIL", out)
            _, out = ht.gslbtest.dig(srv.port, "open.example.test.", "A", "+short")
            c.eq(sorted(out.split()), ["127.0.0.2", "127.0.0.4"], "dig +short open.example.test")

            # The second pool's gateway comes up: every name recovers to it.
            gws.add("127.0.0.3", port)
            for n in ("open", "empty", "sf", "wempty"):
                _, t = ht.poll_until(
                    lambda: ht.answer_set(srv.port, f"{n}.example.test.") == {"127.0.0.3"}, 3.0)
                c.check(t is not None, f"{n}: recovers to the second pool",
                        str(ht.answer_set(srv.port, f"{n}.example.test.")))
                ev = srv.wait_event("recovered", 1.0, name=f"{n}.example.test.")
                c.check(ev is not None and ev.get("to") == "second", f"{n}: recovered event to=second",
                        srv.log_text())


def test_weighted_and_families(c, binary):
    """split: 90/10 weighted with return = "one" over 2000 queries; v6: AAAA ::1, A NODATA;
    split AAAA: NODATA; dual: A and AAAA each from its own family."""
    v6 = ht.gslbtest.have_ipv6()
    if not v6:
        print("  no IPv6 on loopback: the ::1 parts are skipped")
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3", "127.0.0.5"] + (["::1"] if v6 else []))
    probes = {"gw": ht.probe_toml(port)}
    with ht.Gateways() as gws:
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.5") + (("::1",) if v6 else ()):
            gws.add(a, port)
        with ht.Server(binary, WEIGHTED, probes) as srv:
            time.sleep(0.5)  # every target has had its first check
            c.eq(srv.events("address-down"), [], "every gateway is up")
            n = 2000
            counts = collections.Counter()
            sizes = collections.Counter()
            for _ in range(n):
                m = ht.query(srv.port, "split.example.test.")
                got = ht.addresses(m)
                sizes[len(got)] += 1
                for a in got:
                    counts[a] += 1
            c.eq(dict(sizes), {1: n}, 'return = "one": exactly one address per answer')
            share = counts["127.0.0.2"] / n
            print(f"  split over {n} queries: {dict(counts)} ({share:.1%} to pool a)")
            # sd of the share for p = 0.9, n = 2000 is sqrt(0.09/2000) = 0.67%; 3% is 4.5 sd.
            c.check(abs(share - 0.9) <= 0.03, "90/10 split within 3 percentage points",
                    f"{share:.1%}")
            c.eq(set(counts), {"127.0.0.2", "127.0.0.3"}, "only pool a and b addresses")

            m = ht.query(srv.port, "split.example.test.", "AAAA")
            c.check(m.rcode() == 0 and not m.answer and soa_ttl(m) and soa_ttl(m)[0] <= 10,
                    "split AAAA: NODATA with SOA (no IPv6 in its pools)", str(m))
            if v6:
                m = ht.query(srv.port, "v6.example.test.", "AAAA")
                c.eq(ht.addresses(m, "AAAA"), {"::1"}, "v6 AAAA: ::1")
                c.eq([rr.ttl for rr in m.answer], [20], "v6 AAAA: the name's ttl")
                m = ht.query(srv.port, "v6.example.test.", "A")
                c.check(m.rcode() == 0 and not m.answer and soa_ttl(m) and soa_ttl(m)[0] <= 20,
                        "v6 A: NODATA with SOA (no IPv4 in its pool)", str(m))
                c.eq(ht.addresses(ht.query(srv.port, "dual.example.test.", "A")), {"127.0.0.5"},
                     "dual A: the IPv4 address only")
                c.eq(ht.addresses(ht.query(srv.port, "dual.example.test.", "AAAA"), "AAAA"),
                     {"::1"}, "dual AAAA: the IPv6 address only")
                _, out = ht.gslbtest.dig(srv.port, "v6.example.test.", "AAAA", "+short")
                c.eq(out.split(), ["::1"], "dig +short v6.example.test AAAA")
                m = ht.query(srv.port, "v6.example.test.", "TXT")
                c.check(m.rcode() == 0 and not m.answer, "v6 TXT: NODATA", str(m))


ADDRESS_WEIGHTS = """
[[pool]]
name = "w"
region = "r1"
probe = "gw"
addresses = [{ ip = "127.0.0.2", weight = 3 }, { ip = "127.0.0.4", weight = 1 }, "127.0.0.5"]

[[name]]
fqdn = "one.example.test."
ttl = 10
mode = "failover"
pools = ["w"]
return = "one"
all_down = "fail_open"

[[name]]
fqdn = "two.example.test."
ttl = 10
mode = "failover"
pools = ["w"]
return = 2
all_down = "fail_open"
"""


def test_address_weights(c, binary):
    """Address weights 3:1:1 in one pool. return = "one": about 60/20/20. return = 2: two
    distinct addresses per answer, and the two weight-1 addresses are equally frequent whatever
    their place in the list. Weighted sampling without replacement gives 90/55/55: .2 is drawn
    first 3/5 of the time and second in 1/5 * 3/4 + 1/5 * 3/4 = 0.3 more; .4 first 1/5, second
    3/5 * 1/2 + 1/5 * 1/4 = 0.35 (two addresses per answer: the shares sum to 2)."""
    addrs = ["127.0.0.2", "127.0.0.4", "127.0.0.5"]
    port = ht.gateway_port(addrs)
    with ht.Gateways() as gws:
        for a in addrs:
            gws.add(a, port)
        with ht.Server(binary, ADDRESS_WEIGHTS, {"gw": ht.probe_toml(port)}) as srv:
            time.sleep(0.5)
            n = 2000
            for qname, k, want in (("one.example.test.", 1, (0.6, 0.2, 0.2)),
                                   ("two.example.test.", 2, (0.9, 0.55, 0.55))):
                counts, sizes = collections.Counter(), collections.Counter()
                for _ in range(n):
                    got = ht.addresses(ht.query(srv.port, qname))
                    sizes[len(got)] += 1
                    counts.update(got)
                shares = [counts[a] / n for a in addrs]
                print(f"  {qname} return {k}: " + ", ".join(
                    f"{a} {s:.0%}" for a, s in zip(addrs, shares)) + " (weights 3:1:1)")
                c.eq(dict(sizes), {k: n}, f"{qname}: {k} address(es) per answer")
                # sd of a share near 0.55 over 2000 answers is 1.1 points, and of the difference
                # of two such shares about 2.2 (they move against each other): 8 points is 3.6
                # sd; each share within 6 points of its expectation is 5.4 sd.
                c.check(abs(shares[1] - shares[2]) <= 0.08,
                        f"{qname}: the two weight-1 addresses come up equally often",
                        f"127.0.0.4 {shares[1]:.1%}, 127.0.0.5 {shares[2]:.1%}")
                c.check(all(abs(s - w) <= 0.06 for s, w in zip(shares, want)),
                        f"{qname}: shares near {want}", f"{[round(s, 3) for s in shares]}")


if __name__ == "__main__":
    sys.exit(ht.main([test_all_down_modes, test_weighted_and_families, test_address_weights]))
