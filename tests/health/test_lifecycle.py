#!/usr/bin/env python3
"""Start-up and reload: what an unchecked address counts as (health.unknown), and SIGHUP with an
added address, a broken config and a broken probe file while queries keep flowing.

  test_lifecycle.py PATH/TO/gslbd
"""
import os
import sys
import threading
import time

import healthtest as ht

import dns.rcode

START_TIMEOUT = 1.0  # probe timeout (= interval) for the start-up test
SLACK = 0.5          # "a bit": process start, scheduling on a loaded 2-core machine

STARTUP = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = ["127.0.0.2"]

[[pool]]
name = "refused"
region = "cn-beijing"
probe = "gw"
addresses = ["127.0.0.4"]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = ["127.0.0.3"]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
return = "all"
all_down = "{all_down}"

[[name]]
fqdn = "www2.example.test."
ttl = 10
mode = "failover"
pools = ["refused", "shanghai"]
return = "all"
all_down = "{all_down}"
"""


def startup(binary, unknown, all_down, port, watch):
    """Starts gslbd and polls www and www2 every 10 ms for `watch` seconds from its start.
    Returns (server start time, [(time, name, answer set)])."""
    probes = {"gw": ht.probe_toml(port, "1s", "1s")}
    seen = []
    with ht.Server(ht.os.path.abspath(binary), STARTUP.format(all_down=all_down), probes,
                   unknown=unknown) as srv:
        t0 = srv.started_at
        print(f"  gslbd answered {ht.ms(srv.ready_at - t0)} after it was started")
        while time.monotonic() < t0 + watch:
            for q in ("www.example.test.", "www2.example.test."):
                seen.append((time.monotonic() - t0, q, ht.answer_set(srv.port, q)))
            time.sleep(0.01)
        log = srv.log_text()
    return seen, log


def test_unknown_up(c, binary):
    """unknown = "up": a gateway that hangs (127.0.0.2) is answered until its first check times
    out, one that refuses (127.0.0.4) until its first check fails; never afterwards."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    with ht.Gateways() as gws:
        gws.add("127.0.0.2", port, "hang-accept")
        gws.add("127.0.0.3", port)
        seen, log = startup(binary, "up", "fail_open", port, START_TIMEOUT + SLACK + 1.0)
    bound = START_TIMEOUT + SLACK
    for q, dead in (("www.example.test.", "127.0.0.2"), ("www2.example.test.", "127.0.0.4")):
        answers = [(t, a) for t, n, a in seen if n == q]
        with_dead = [t for t, a in answers if a and dead in a]
        first = answers[0] if answers else None
        if dead == "127.0.0.2":
            # The first answers come long before a 1 s timeout can expire.
            c.check(first is not None and first[1] == {dead},
                    f"{q}: unchecked {dead} counts as up at start", f"first answer {first}")
        last = max(with_dead) if with_dead else 0.0
        print(f"  {q}: {dead} answered until {ht.ms(last)} after start (bound {ht.ms(bound)})"
              if with_dead else f"  {q}: {dead} already checked when the first answer came")
        c.check(last <= bound, f"{q}: {dead} leaves the answers within timeout + {ht.ms(SLACK)}",
                f"last seen at {ht.ms(last)}\n{log}")
        tail = [a for t, a in answers if t > bound]
        c.check(tail and all(a == {"127.0.0.3"} for a in tail),
                f"{q}: only shanghai afterwards", str(sorted({str(a) for a in tail})))
    c.check('reason="timeout after 1s"' in log and 'address=127.0.0.2' in log,
            "the hanging gateway's first check ends in a timeout", log)


def test_unknown_down(c, binary):
    """unknown = "down": the dead gateways are never answered, not even before their first
    check; the live one is answered as soon as its first check passes."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    with ht.Gateways() as gws:
        gws.add("127.0.0.2", port, "hang-accept")
        gws.add("127.0.0.3", port)
        # servfail, not fail_open: fail_open would answer the first pool while nothing is
        # known yet, by design.
        seen, log = startup(binary, "down", "servfail", port, START_TIMEOUT + SLACK + 1.0)
    for q, dead in (("www.example.test.", "127.0.0.2"), ("www2.example.test.", "127.0.0.4")):
        answers = [(t, a) for t, n, a in seen if n == q]
        c.eq([t for t, a in answers if a and dead in a], [], f"{q}: {dead} is never answered")
        live = [t for t, a in answers if a == {"127.0.0.3"}]
        c.check(live and live[0] <= START_TIMEOUT + SLACK,
                f"{q}: shanghai answered once its first check passed",
                f"first at {ht.ms(live[0]) if live else None}\n{log}")
        if live:
            print(f"  {q}: first answer with shanghai {ht.ms(live[0])} after start")
            after = [a for t, a in answers if t > live[0]]
            c.check(all(a == {"127.0.0.3"} for a in after), f"{q}: and only shanghai after that",
                    str(sorted({str(a) for a in after})))


RELOAD = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = ["127.0.0.2"]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = [{shanghai}]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
return = "all"
all_down = "fail_open"
"""


class Hammer:
    """Queries www every few ms in a thread; records failures and every distinct answer."""

    def __init__(self, port):
        self.port, self.stop_ = port, False
        self.failures, self.answers, self.count = [], [], 0

    def run(self):
        while not self.stop_:
            try:
                m = ht.query(self.port, "www.example.test.", timeout=1.0)
                if m.rcode() != dns.rcode.NOERROR:
                    self.failures.append(dns.rcode.to_text(m.rcode()))
                self.answers.append(frozenset(ht.addresses(m)))
            except Exception as e:  # a timeout is a failure to serve
                self.failures.append(repr(e))
            self.count += 1
            time.sleep(0.003)

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_ = True
        self.thread.join(timeout=5)
        return False


def test_reload(c, binary):
    """SIGHUP with an address added keeps serving and keeps the dead address down; a broken
    config or probe file keeps the old answers and logs event=reload-failed."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3", "127.0.0.4"])
    probes = {"gw": ht.probe_toml(port)}
    one, two = '"127.0.0.3"', '"127.0.0.3", "127.0.0.4"'
    with ht.Gateways() as gws:
        gws.add("127.0.0.3", port)
        g4 = gws.add("127.0.0.4", port)
        # 127.0.0.2 has no gateway: hangzhou is down and www is served by shanghai.
        with ht.Server(binary, RELOAD.format(shanghai=one), probes) as srv:
            _, t = ht.poll_until(lambda: ht.answer_set(srv.port, "www.example.test.") == {"127.0.0.3"}, 3.0)
            c.check(t is not None, "www fails over to shanghai at start", srv.log_text())

            with Hammer(srv.port) as h:
                time.sleep(0.1)
                srv.write_config(srv.config_text(RELOAD.format(shanghai=two)))
                srv.hup()
                ev = srv.wait_event("reloaded", 5.0)
                c.check(ev is not None and ev.get("targets") == "3", "event=reloaded targets=3",
                        srv.log_text())
                _, t = ht.poll_until(lambda: h.answers and h.answers[-1] == {"127.0.0.3", "127.0.0.4"}, 3.0)
                c.check(t is not None, "the added address is answered after the reload",
                        str(h.answers[-1:] if h.answers else None))
                time.sleep(2 * 0.2 + 0.2)  # a couple of checks under the new config
            c.eq(h.failures, [], f"no query failed across the reload ({h.count} queries)")
            c.check(not any("127.0.0.2" in a for a in h.answers),
                    "the dead hangzhou address stayed down across the reload (health adopted)",
                    str(sorted({tuple(sorted(a)) for a in h.answers})))
            c.eq(srv.events("failback"), [], "no failback to the dead pool on reload")

            # A broken config: TOML syntax error.
            n_failed = len(srv.events("reload-failed"))
            with Hammer(srv.port) as h:
                srv.write_config(srv.config_text(RELOAD.format(shanghai=one)) + "\n[[pool]\nname = \n")
                srv.hup()
                _, t = ht.poll_until(lambda: len(srv.events("reload-failed")) > n_failed, 5.0)
                c.check(t is not None, "syntax error: event=reload-failed logged", srv.log_text())
                time.sleep(0.3)
            c.eq(h.failures, [], f"syntax error: no query failed ({h.count} queries)")
            c.eq(set(h.answers), {frozenset({"127.0.0.3", "127.0.0.4"})},
                 "syntax error: the old answers keep being served")
            c.check("gslbd.toml:" in srv.log_text(), "syntax error: reported with file:line:col",
                    srv.log_text())

            # A broken config: a name pointing at a pool that does not exist.
            n_failed = len(srv.events("reload-failed"))
            srv.write_config(srv.config_text(RELOAD.format(shanghai=one).replace(
                'pools = ["hangzhou", "shanghai"]', 'pools = ["hangzhou", "nowhere"]')))
            srv.hup()
            _, t = ht.poll_until(lambda: len(srv.events("reload-failed")) > n_failed, 5.0)
            c.check(t is not None, "unknown pool: event=reload-failed logged", srv.log_text())
            c.check('no pool named \\"nowhere\\"' in srv.log_text() or 'no pool named "nowhere"' in srv.log_text(),
                    "unknown pool: the error is logged", srv.log_text())

            # A broken probe file (timeout longer than interval), config itself fine.
            n_failed = len(srv.events("reload-failed"))
            srv.write_config(srv.config_text(RELOAD.format(shanghai=one)))
            with open(os.path.join(srv.dir, "probes", "gw.toml"), "w") as f:
                f.write(ht.probe_toml(port, "200ms", "300ms"))
            srv.hup()
            _, t = ht.poll_until(lambda: len(srv.events("reload-failed")) > n_failed, 5.0)
            c.check(t is not None, "broken probe file: event=reload-failed logged", srv.log_text())
            c.eq(ht.answer_set(srv.port, "www.example.test."), {"127.0.0.3", "127.0.0.4"},
                 "broken probe file: the old answers keep being served")

            # The old configuration still health-checks: 127.0.0.4 dying still takes it out.
            g4.kill()
            _, t = ht.poll_until(lambda: ht.answer_set(srv.port, "www.example.test.") == {"127.0.0.3"}, 3.0)
            c.check(t is not None, "after failed reloads the old config still checks its gateways",
                    srv.log_text())

            # Fixed again: reload succeeds, back to one shanghai address.
            with open(os.path.join(srv.dir, "probes", "gw.toml"), "w") as f:
                f.write(ht.probe_toml(port))
            n_ok = len(srv.events("reloaded"))
            srv.hup()
            _, t = ht.poll_until(lambda: len(srv.events("reloaded")) > n_ok, 5.0)
            c.check(t is not None, "a fixed config reloads", srv.log_text())
            c.eq(ht.answer_set(srv.port, "www.example.test."), {"127.0.0.3"},
                 "after the fixed reload: shanghai's one address")
            c.check(srv.proc.poll() is None, "gslbd is still running")


def test_reload_changed_thresholds(c, binary):
    """SIGHUP after changing the probe's fall from 2 to 3: a gateway known to be down must stay
    out of the answers (the state is kept; only the counting changes), not be re-admitted as
    unknown (= up) until its next check."""
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
    with ht.Gateways() as gws:
        # A hanging gateway: a re-check takes a whole timeout, so a wrongly re-admitted address
        # stays visible for ~200 ms rather than a few.
        gws.add("127.0.0.2", port, "hang-accept")
        gws.add("127.0.0.3", port)
        with ht.Server(binary, RELOAD.format(shanghai='"127.0.0.3"'),
                       {"gw": ht.probe_toml(port)}) as srv:
            _, t = ht.poll_until(lambda: ht.answer_set(srv.port, "www.example.test.") == {"127.0.0.3"}, 3.0)
            c.check(t is not None, "www fails over to shanghai at start", srv.log_text())
            time.sleep(0.3)
            n_failover = len(srv.events("failover"))
            with open(os.path.join(srv.dir, "probes", "gw.toml"), "w") as f:
                f.write(ht.probe_toml(port, fall=3))
            with Hammer(srv.port) as h:
                time.sleep(0.05)
                srv.hup()
                c.check(srv.wait_event("reloaded", 5.0) is not None, "event=reloaded", srv.log_text())
                time.sleep(1.0)
            bad = sum(1 for a in h.answers if "127.0.0.2" in a)
            c.check(bad == 0, "the dead hangzhou address stays out across a reload that changes fall",
                    f"{bad} of {len(h.answers)} answers had it: "
                    f"{sorted({tuple(sorted(a)) for a in h.answers})}")
            c.eq(h.failures, [], "no query failed across the reload")
            c.eq([e["_line"] for e in srv.events("failover")[n_failover:]], [],
                 "no second failover event (there was no failback)")


if __name__ == "__main__":
    sys.exit(ht.main([test_unknown_up, test_unknown_down, test_reload, test_reload_changed_thresholds]))
