#!/usr/bin/env python3
"""Failover and failback end to end: real gateways on 127.0.0.x, a real gslbd, DNS polled every
~15 ms while gateways are killed and restored.

  test_failover.py PATH/TO/gslbd
"""
import sys
import time

import healthtest as ht

INTERVAL, TIMEOUT, RISE, FALL = 0.2, 0.2, 2, 2
# The bounds: an address leaves the answers within fall x interval + timeout + 100 ms of
# its gateway dying (2 x 200 + 200 + 100 = 700 ms), and comes back within
# rise x interval + interval + timeout + 200 ms of the gateway answering again (1000 ms).
DOWN_BOUND = FALL * INTERVAL + TIMEOUT + 0.1
UP_BOUND = RISE * INTERVAL + INTERVAL + TIMEOUT + 0.2
ROUNDS = 3

TWO_POOLS = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
min_healthy = 1
addresses = [{ ip = "127.0.0.2", weight = 1 }]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = [{ ip = "127.0.0.3", weight = 1 }]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
return = "all"
all_down = "fail_open"
"""

MIN_HEALTHY = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
min_healthy = 2
addresses = [{ ip = "127.0.0.2", weight = 1 }, { ip = "127.0.0.4", weight = 1 }]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = [{ ip = "127.0.0.3", weight = 1 }]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
return = "all"
all_down = "fail_open"
"""

HZ, SH = {"127.0.0.2"}, {"127.0.0.3"}


def settle(c, srv, want, what):
    got, t = ht.poll_until(lambda: ht.answer_set(srv.port, "www.example.test.") == want, 3.0)
    c.check(t is not None, what, f"answers stayed {ht.answer_set(srv.port, 'www.example.test.')}, "
            f"want {want}\n{srv.log_text()}")
    # Let every target get its first result, so the kill below is measured from a steady state.
    time.sleep(2 * INTERVAL + TIMEOUT)


def watch_until(srv, qname, want, allowed, timeout):
    """Polls `qname` until the answer set equals `want`. Returns (monotonic time of the first
    such answer or None, list of unexpected answers seen on the way)."""
    odd = []

    def pred():
        got = ht.answer_set(srv.port, qname)
        if got != want and got not in allowed:
            odd.append(got)
        return got == want

    _, t = ht.poll_until(pred, timeout, step=0.01)
    return t, odd


def test_kill_and_restore(c, binary):
    """Kill the first pool's only gateway: its address leaves the answers within the bound and
    the name fails over; restore it: it comes back within the bound and the name fails back."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
    probes = {"gw": ht.probe_toml(port, "200ms", "200ms", RISE, FALL)}
    with ht.Gateways() as gws:
        g2 = gws.add("127.0.0.2", port)
        gws.add("127.0.0.3", port)
        with ht.Server(binary, TWO_POOLS, probes) as srv:
            settle(c, srv, HZ, "both gateways up: www answers hangzhou only")
            downs, ups = [], []
            for rnd in range(ROUNDS):
                n_failover = len(srv.events("failover"))
                n_failback = len(srv.events("failback"))
                n_down = len(srv.events("address-down", address="127.0.0.2"))
                n_up = len(srv.events("address-up", address="127.0.0.2"))

                t_kill = g2.kill()
                t, odd = watch_until(srv, "www.example.test.", SH, [HZ], DOWN_BOUND + 3.0)
                detect = None if t is None else t - t_kill
                c.check(detect is not None, f"round {rnd}: failover to shanghai after the kill",
                        srv.log_text())
                if detect is None:
                    return
                downs.append(detect)
                c.check(detect <= DOWN_BOUND,
                        f"round {rnd}: 127.0.0.2 leaves the answers within fall*interval+timeout"
                        f"+100ms = {ht.ms(DOWN_BOUND)}", f"took {ht.ms(detect)}")
                c.eq(odd, [], f"round {rnd}: only hangzhou or shanghai answered while failing over")
                ev = srv.wait_event("failover", 2.0)
                c.check(len(srv.events("failover")) == n_failover + 1
                        and ev and ev.get("from") == "hangzhou" and ev.get("to") == "shanghai"
                        and "hangzhou has 0/1 healthy (min 1)" in ev.get("reason", ""),
                        f"round {rnd}: one failover event hangzhou -> shanghai",
                        "\n".join(e["_line"] for e in srv.events("failover")))
                d = srv.events("address-down", address="127.0.0.2")
                c.check(len(d) == n_down + 1 and d[-1].get("reason") == "connect refused"
                        and d[-1].get("fails") == f"{FALL}/{FALL}" and d[-1].get("pool") == "hangzhou"
                        and d[-1].get("probe") == "gw",
                        f"round {rnd}: address-down 127.0.0.2 reason=\"connect refused\" "
                        f"fails={FALL}/{FALL}", "\n".join(e["_line"] for e in d))
                c.check(srv.wait_event("pool-down", 1.0, pool="hangzhou", healthy="0/1") is not None,
                        f"round {rnd}: pool-down hangzhou healthy=0/1")

                # Restore: timed from the moment the gateway accepts connections again.
                g2.start()
                t_up = time.monotonic()
                t, odd = watch_until(srv, "www.example.test.", HZ, [SH], UP_BOUND + 3.0)
                back = None if t is None else t - t_up
                c.check(back is not None, f"round {rnd}: failback to hangzhou after the restore",
                        srv.log_text())
                if back is None:
                    return
                ups.append(back)
                # Rise 2: one pass is not enough; the second comes a fast_interval (50 ms) later.
                c.check(back >= (RISE - 1) * INTERVAL / 4 - 0.01,
                        f"round {rnd}: not back before {RISE} passes could have happened",
                        f"took {ht.ms(back)}")
                c.check(back <= UP_BOUND,
                        f"round {rnd}: 127.0.0.2 is back within rise*interval+interval+timeout+200ms"
                        f" = {ht.ms(UP_BOUND)}", f"took {ht.ms(back)}")
                c.eq(odd, [], f"round {rnd}: only shanghai or hangzhou answered while failing back")
                srv.wait_event("failback", 2.0)
                fb = srv.events("failback")
                c.check(len(fb) == n_failback + 1 and fb[-1].get("from") == "shanghai"
                        and fb[-1].get("to") == "hangzhou",
                        f"round {rnd}: one failback event shanghai -> hangzhou",
                        "\n".join(e["_line"] for e in fb))
                u = srv.events("address-up", address="127.0.0.2")
                c.check(len(u) == n_up + 1 and u[-1].get("passes") == f"{RISE}/{RISE}",
                        f"round {rnd}: address-up 127.0.0.2 passes={RISE}/{RISE}",
                        "\n".join(e["_line"] for e in u))
                time.sleep(INTERVAL)  # let the restored gateway's state settle before the next kill
            print(f"  detection (kill -> first answer without 127.0.0.2): "
                  f"{', '.join(ht.ms(x) for x in downs)} (bound {ht.ms(DOWN_BOUND)})")
            print(f"  recovery (gateway accepting -> first answer with it): "
                  f"{', '.join(ht.ms(x) for x in ups)} (bound {ht.ms(UP_BOUND)})")
            # Shanghai never flapped while it served.
            c.eq(srv.events("address-down", address="127.0.0.3"), [],
                 "the healthy gateway never went down")


def test_min_healthy(c, binary):
    """A pool of two with min_healthy 2: one address down makes the whole pool unusable, so the
    name fails over although one hangzhou gateway still answers."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    probes = {"gw": ht.probe_toml(port, "200ms", "200ms", RISE, FALL)}
    both = {"127.0.0.2", "127.0.0.4"}
    with ht.Gateways() as gws:
        gws.add("127.0.0.2", port)
        gws.add("127.0.0.3", port)
        g4 = gws.add("127.0.0.4", port)
        with ht.Server(binary, MIN_HEALTHY, probes) as srv:
            settle(c, srv, both, "hangzhou's two addresses answered")
            t_kill = g4.kill()
            t, odd = watch_until(srv, "www.example.test.", SH, [both], DOWN_BOUND + 3.0)
            c.check(t is not None, "one of two down with min_healthy 2: fails over to shanghai",
                    srv.log_text())
            if t is not None:
                took = t - t_kill
                print(f"  min_healthy failover after {ht.ms(took)}")
                c.check(took <= DOWN_BOUND, f"failover within {ht.ms(DOWN_BOUND)}", ht.ms(took))
            c.eq(odd, [], "never answered hangzhou's surviving address alone")
            ev = srv.wait_event("failover", 2.0)
            c.check(ev is not None and "hangzhou has 1/2 healthy (min 2)" in ev.get("reason", ""),
                    'failover reason "pool hangzhou has 1/2 healthy (min 2)"', srv.log_text())
            pd = srv.wait_event("pool-down", 1.0, pool="hangzhou")
            c.check(pd is not None and pd.get("healthy") == "1/2" and pd.get("min") == "2",
                    "pool-down hangzhou healthy=1/2 min=2", srv.log_text())
            g4.start()
            t, odd = watch_until(srv, "www.example.test.", both, [SH], UP_BOUND + 3.0)
            c.check(t is not None, "fails back once both hangzhou addresses are up",
                    srv.log_text())
            c.check(srv.wait_event("failback", 2.0, to="hangzhou") is not None, "failback event")


def chain(msg):
    """[(owner, type, rdata)] of the answer section."""
    import dns.rdatatype as rt
    return [(rr.name.to_text(), rt.to_text(rr.rdtype), rd.to_text()) for rr in msg.answer for rd in rr]


def test_cname_to_dynamic_name(c, binary):
    """app CNAME www and api CNAME app: the chain ends with www's live addresses, and follows a
    failover."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
    probes = {"gw": ht.probe_toml(port, "200ms", "200ms", RISE, FALL)}
    with ht.Gateways() as gws:
        g2 = gws.add("127.0.0.2", port)
        gws.add("127.0.0.3", port)
        with ht.Server(binary, TWO_POOLS, probes) as srv:
            settle(c, srv, HZ, "www answers hangzhou")
            for qname, links in (("app.example.test.", [("app.example.test.", "www.example.test.")]),
                                 ("api.example.test.", [("api.example.test.", "app.example.test."),
                                                        ("app.example.test.", "www.example.test.")])):
                m = ht.query(srv.port, qname)
                got = chain(m)
                want = [(o, "CNAME", t) for o, t in links] + [("www.example.test.", "A", "127.0.0.2")]
                c.eq(sorted(got), sorted(want), f"{qname} A: CNAME chain ending at hangzhou")
                c.check(m.flags & 0x0400 != 0, f"{qname}: AA set")
                ttl = [rr.ttl for rr in m.answer if rr.rdtype == 1]
                c.eq(ttl, [10], f"{qname}: the dynamic A carries the name's ttl")
            g2.kill()
            _, t = ht.poll_until(lambda: ht.answer_set(srv.port, "app.example.test.") == SH, 3.0)
            c.check(t is not None, "app follows www's failover to shanghai",
                    str(ht.answer_set(srv.port, "app.example.test.")))
            m = ht.query(srv.port, "api.example.test.")
            c.eq(sorted(chain(m)), sorted([("api.example.test.", "CNAME", "app.example.test."),
                                           ("app.example.test.", "CNAME", "www.example.test."),
                                           ("www.example.test.", "A", "127.0.0.3")]),
                 "api's two-link chain ends at shanghai")
            m = ht.query(srv.port, "app.example.test.", "AAAA")
            c.check(m.rcode() == 0 and ht.addresses(m, "AAAA") == set()
                    and [rr.rdtype for rr in m.answer] == [5]
                    and any(rr.rdtype == 6 for rr in m.authority),
                    "app AAAA: the CNAME, then NODATA with the SOA (the pools have no IPv6)",
                    str(m))
            # dig agrees with dnspython.
            code, out = ht.gslbtest.dig(srv.port, "app.example.test.", "A", "+short")
            c.eq(out.split(), ["www.example.test.", "127.0.0.3"], "dig +short app.example.test")


if __name__ == "__main__":
    sys.exit(ht.main([test_kill_and_restore, test_min_healthy, test_cname_to_dynamic_name]))
