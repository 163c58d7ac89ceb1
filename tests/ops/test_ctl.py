#!/usr/bin/env python3
"""gslbctl against a running gslbd: status (text and JSON), explain, drain/undrain of an address
and of a pool (answers change at once), drain --for expiry, drains across a restart and a
reload, reload good and bad, check-config, events and events --follow, an unreachable socket
and the socket's mode.

  test_ctl.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import json
import os
import pwd
import re
import select
import signal
import socket
import stat
import subprocess
import sys
import time

import opstest as ot

PROBES = None  # set per test: the gateways' port is only known then
HZ = {"127.0.0.2", "127.0.0.4"}


def setup(gws, addrs=("127.0.0.2", "127.0.0.3", "127.0.0.4")):
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    for a in addrs:
        gws.add(a, port)
    return {"gw": ot.probe_toml(port, "200ms", "200ms")}, port


def wait_checked(srv, c, timeout=3.0):
    """Until every address has had a check (status --json checks > 0)."""
    def checked():
        r = srv.ctl("status", "--json")
        if r.returncode != 0:
            return None
        st = json.loads(r.stdout)
        return st if all(a["checks"] > 0 for a in st["addresses"]) else None
    st, at = ot.poll_until(checked, timeout, step=0.05)
    c.check(at is not None, "every address checked within 3 s")
    return st


def test_status(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            st = wait_checked(srv, c)
            r = srv.ctl("status")
            c.eq(r.returncode, 0, "status exits 0")
            text = r.stdout
            c.check("NAME" in text and "ANSWER A / AAAA" in text, "status has the names table",
                    text)
            www = [l for l in text.splitlines() if l.startswith("www.example.test.")]
            c.check(len(www) == 1 and "failover" in www[0] and "hangzhou" in www[0]
                    and "127.0.0.2" in www[0] and "127.0.0.4" in www[0],
                    "status: www line shows mode, pool and its answer", text)
            split = [l for l in text.splitlines() if l.startswith("split.example.test.")]
            c.check(len(split) == 1 and "weighted" in split[0], "status: split line is weighted",
                    text)
            for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
                line = [l for l in text.splitlines() if l.startswith(a + " ")]
                c.check(len(line) == 1 and re.search(r"\bup\b", line[0]) and "HTTP 200" in line[0]
                        and re.search(r"\d+\.\dms", line[0]) and re.search(r"\d+ passed", line[0])
                        and re.search(r"\bno\b", line[0]),
                        f"status: {a} line shows up, not drained, HTTP 200, latency, passes",
                        text)
            for col in ("ADDRESS", "STATE", "DRAIN", "LAST RESULT", "LATENCY", "SINCE",
                        "CONSECUTIVE"):
                c.check(col in text, f"status has column {col}")

            # The documented form, `gslbctl [--socket PATH] [--json] COMMAND`.
            r = srv.ctl("--json", "status")
            c.check(r.returncode == 0 and r.stdout.startswith('{"names":'),
                    "gslbctl --json status (option before the command) works",
                    f"exit {r.returncode}, stdout {r.stdout[:60]!r}, stderr {r.stderr[:60]!r}")
            r = srv.ctl("status", "--json")
            c.eq(r.returncode, 0, "status --json exits 0")
            try:
                st = json.loads(r.stdout)
            except ValueError as e:
                c.check(False, "status --json is JSON", f"{e}: {r.stdout!r}")
                return
            c.eq(sorted(n["name"] for n in st["names"]), ["split.example.test.", "www.example.test."],
                 "json: names")
            for n in st["names"]:
                c.eq(sorted(n), ["a", "aaaa", "mode", "name", "pools"], f"json: keys of {n['name']}")
            www = [n for n in st["names"] if n["name"] == "www.example.test."][0]
            c.eq(www["mode"], "failover", "json: www mode")
            c.eq(www["pools"], ["hangzhou"], "json: www pools")
            c.eq(set(www["a"]), HZ, "json: www a")
            c.eq(www["aaaa"], [], "json: www aaaa")
            c.eq(sorted(a["address"] for a in st["addresses"]),
                 ["127.0.0.2", "127.0.0.3", "127.0.0.4"], "json: addresses")
            keys = ["address", "checks", "drained", "fails", "latency_ms", "passes", "pools",
                    "probe", "reason", "since_ms", "state"]
            for a in st["addresses"]:
                c.eq(sorted(a), keys, f"json: keys of {a['address']}")
                c.check(a["state"] == "up" and a["drained"] is False and a["reason"] == "HTTP 200"
                        and a["probe"] == "gw" and a["checks"] >= 1 and a["passes"] >= 1
                        and a["fails"] == 0 and isinstance(a["latency_ms"], (int, float))
                        and a["latency_ms"] > 0 and a["since_ms"] >= 0,
                        f"json: {a['address']} is up, checked, with a latency", json.dumps(a))
            pools = {a["address"]: a["pools"] for a in st["addresses"]}
            c.eq(pools, {"127.0.0.2": "hangzhou", "127.0.0.3": "shanghai", "127.0.0.4": "hangzhou"},
                 "json: pools of each address")


def test_explain(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        g2, _g3, g4 = gws.all
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            r = srv.ctl("explain", "www.example.test")
            c.eq(r.returncode, 0, "explain exits 0")
            t = r.stdout
            c.check(re.search(r"pool hangzhou.*2/2 healthy, min 1: chosen", t), "hangzhou chosen", t)
            c.check(re.search(r"pool shanghai.*: not needed", t), "shanghai not needed", t)
            c.check(re.search(r"127\.0\.0\.2\s+up\s+in the answer", t), ".2 in the answer", t)
            c.check(re.search(r"127\.0\.0\.3\s+up\s+skipped: its pool is not chosen", t),
                    ".3 skipped: its pool is not chosen", t)
            c.check(re.search(r"answer now: NOERROR.*127\.0\.0\.2", t), "answer now has .2", t)

            g2.kill()
            down = srv.wait_event("address-down", timeout=3, address="127.0.0.2")
            c.check(down is not None, "127.0.0.2 goes down after its gateway dies")
            t = srv.ctl("explain", "www.example.test.").stdout
            c.check(re.search(r"pool hangzhou.*1/2 healthy, min 1: chosen", t),
                    "hangzhou still chosen with 1/2", t)
            c.check(re.search(r"127\.0\.0\.2\s+down\s+skipped: down: connect refused \(\d+ failed\)", t),
                    ".2 skipped: down: connect refused (N failed)", t)
            c.check(re.search(r"answer now: NOERROR.*\[127\.0\.0\.4\]", t) and "127.0.0.2]" not in t,
                    "answer now: [127.0.0.4] only", t)

            g4.kill()
            c.check(srv.wait_event("failover", timeout=3, name="www.example.test.") is not None,
                    "www fails over when hangzhou has no healthy address")
            t = srv.ctl("explain", "www.example.test.").stdout
            c.check(re.search(r"pool hangzhou.*0/2 healthy, min 1: skipped: below min_healthy", t),
                    "hangzhou skipped: below min_healthy", t)
            c.check(re.search(r"pool shanghai.*1/1 healthy, min 1: chosen", t), "shanghai chosen", t)
            c.check(re.search(r"127\.0\.0\.3\s+up\s+in the answer", t), ".3 in the answer", t)
            c.check(re.search(r"answer now: NOERROR.*\[127\.0\.0\.3\]", t), "answer now: .3", t)
            c.eq(srv.answers(), {"127.0.0.3"}, "DNS agrees with explain")

            r = srv.ctl("explain", "www.example.test.", "--json")
            try:
                j = json.loads(r.stdout)
                verdicts = {p["pool"]: p["verdict"] for p in j["pools"]}
                c.eq(verdicts, {"hangzhou": "skipped: below min_healthy", "shanghai": "chosen"},
                     "explain --json verdicts")
                c.eq(j["answers"], ["[127.0.0.3]"], "explain --json answers")
            except (ValueError, KeyError) as e:
                c.check(False, "explain --json parses", f"{e}: {r.stdout!r}")

            t = srv.ctl("explain", "www.example.test.", "--type", "AAAA").stdout
            c.check(re.search(r"127\.0\.0\.3\s+up\s+skipped: not IPv6", t), "AAAA: skipped: not IPv6", t)
            c.check("answer now: NODATA" in t, "AAAA: answer now NODATA", t)
            t = srv.ctl("explain", "www.example.test.", "--client", "192.0.2.1").stdout
            c.check("client 192.0.2.1" in t, "--client is acknowledged", t)
            r = srv.ctl("explain", "www.example.test.", "--type", "BOGUS")
            c.eq(r.returncode, 1, "explain --type BOGUS: exit 1")


EXTRA_ZONE = """*.wild          IN TXT   "from the wildcard"
sub             IN NS    ns.sub
ns.sub          IN A     127.0.0.9
a.b.ent         IN TXT   "deep"
mx              IN MX    10 ns1
loop1           IN CNAME loop2
loop2           IN CNAME loop1
out             IN CNAME www.elsewhere.test.
wwwalias        IN CNAME x.wild
"""


def test_explain_every_name(c, gslbd, gslbctl):
    """explain for static answers, CNAME chains, wildcards, delegations, no data and no such
    name: the rule it names (with its RFC) and its verdict agree with what gslbd answers."""
    import dns.message
    import dns.query
    import dns.rcode
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            with open(os.path.join(srv.dir, "example.test.zone"), "a") as f:
                f.write(EXTRA_ZONE)
            c.eq(srv.ctl("reload").returncode, 0, "reload with the extra records")
            cases = [  # name, type, kinds of the steps after the zone's, rcode, rule words
                ("ns1.example.test.", "A", ["answer"], "NOERROR", "RFC 1034 §4.3.2 step 3a"),
                ("mx.example.test.", "MX", ["answer"], "NOERROR", "exact match"),
                ("x.y.wild.example.test.", "TXT", ["wildcard", "answer"], "NOERROR", "RFC 4592 §3.3.1"),
                ("wwwalias.example.test.", "TXT", ["cname", "wildcard", "answer"], "NOERROR", "§3.6.2"),
                ("deep.sub.example.test.", "A", ["delegation"], "NOERROR", "RFC 1034 §4.3.2 step 3b"),
                ("b.ent.example.test.", "TXT", ["nodata"], "NODATA", "RFC 8020"),
                ("ns1.example.test.", "MX", ["nodata"], "NODATA", "RFC 2308 §2.2"),
                ("nosuch.example.test.", "A", ["nxdomain"], "NXDOMAIN", "RFC 2308 §2.1"),
                ("loop1.example.test.", "A", ["cname", "cname", "loop"], "SERVFAIL", "a loop"),
                ("out.example.test.", "A", ["cname", "out-of-zone"], "NOERROR", "resolver follows"),
                ("api.example.test.", "A", ["cname", "cname", "dynamic"], "NOERROR", "health-checked pools"),
            ]
            for name, qtype, kinds, rcode, words in cases:
                r = srv.ctl("explain", name, "--type", qtype, "--json")
                what = f"explain {name} {qtype}"
                if not c.eq(r.returncode, 0, f"{what}: exit 0"):
                    continue
                j = json.loads(r.stdout)
                got = [s["kind"] for s in j["steps"]]
                c.check(got == ["zone"] + kinds, f"{what}: steps", r.stdout)
                c.eq(j["rcode"], rcode, f"{what}: rcode")
                c.check(any(words in s["rule"] for s in j["steps"]), f"{what}: names '{words}'", r.stdout)
                if kinds[-1] == "loop":
                    continue  # the resolver's business; gslbd sends the chain it has
                q = dns.message.make_query(name, qtype)
                resp = dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=2)
                real = dns.rcode.to_text(resp.rcode())
                if real == "NOERROR" and not resp.answer and kinds[-1] in ("nodata",):
                    real = "NODATA"
                c.eq(real, rcode, f"{what}: gslbd answers {rcode}")
                if kinds[-1] == "answer":
                    want = sorted(f"{qtype} {rd.to_text()}" for rrset in resp.answer
                                  if dns.rdatatype.to_text(rrset.rdtype) == qtype for rd in rrset)
                    c.eq(sorted(j["steps"][-1]["records"]), want, f"{what}: the records gslbd sends")
                if kinds[-1] == "delegation":
                    c.check(not resp.flags & dns.flags.AA and any(
                        rr.rdtype == dns.rdatatype.NS for rr in resp.authority),
                        f"{what}: gslbd sends a referral", str(resp))
            t = srv.ctl("explain", "x.y.wild.example.test.", "--type", "TXT").stdout
            c.check(re.search(r"synthesized from \*\.wild\.example\.test\., the wildcard at the closest "
                              r"encloser wild\.example\.test\.", t), "text: the wildcard and the closest encloser", t)
            c.check("answer now: NXDOMAIN" in srv.ctl("explain", "nosuch.example.test.").stdout,
                    "text: answer now: NXDOMAIN")
            t = srv.ctl("explain", "x.other.test.").stdout
            c.check("answer now: REFUSED" in t and "in no zone" in t, "a name in no zone: REFUSED", t)


def status_of(srv, addr):
    st = json.loads(srv.ctl("status", "--json").stdout)
    return [a for a in st["addresses"] if a["address"] == addr][0]


def test_drain_address_and_pool(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            c.eq(srv.answers(), HZ, "before: both hangzhou addresses")
            r = srv.ctl("drain", "127.0.0.4")
            c.check(r.returncode == 0 and "drained 1 address" in r.stdout, "drain .4: exit 0",
                    f"{r.returncode} {r.stdout!r} {r.stderr!r}")
            # "at once": the very next query, no polling
            c.eq(srv.answers(), {"127.0.0.2"}, "the query right after drain has no 127.0.0.4")
            seen = set()
            for _ in range(20):  # weighted 90/10 over hangzhou/shanghai, one address each
                seen |= srv.answers("split.example.test.") or {"(no answer)"}
            c.check(seen <= {"127.0.0.2", "127.0.0.3"} and "127.0.0.2" in seen,
                    "split: 20 answers, none 127.0.0.4", str(seen))
            e = srv.wait_event("drain", timeout=1, address="127.0.0.4")
            c.check(e is not None and e.get("probe") == "gw", "event=drain address=127.0.0.4 probe=gw",
                    srv.log_text()[-2000:])
            a = status_of(srv, "127.0.0.4")
            c.check(a["drained"] is True and a["state"] == "up", "status: .4 drained, still up",
                    json.dumps(a))
            text = srv.ctl("status").stdout
            line = [l for l in text.splitlines() if l.startswith("127.0.0.4 ")]
            c.check(line and re.search(r"\byes\b", line[0]), "status text: DRAIN yes", text)
            t = srv.ctl("explain", "www.example.test.").stdout
            c.check(re.search(r"127\.0\.0\.4\s+up\s+skipped: drained", t), "explain: skipped: drained", t)

            r = srv.ctl("undrain", "127.0.0.4")
            c.check(r.returncode == 0 and "undrained 1 address" in r.stdout, "undrain .4: exit 0",
                    f"{r.returncode} {r.stdout!r}")
            c.eq(srv.answers(), HZ, "the query right after undrain has 127.0.0.4 back")
            c.check(srv.wait_event("undrain", timeout=1, address="127.0.0.4") is not None,
                    "event=undrain address=127.0.0.4")

            r = srv.ctl("drain", "hangzhou")
            c.check(r.returncode == 0 and "drained 2 addresses" in r.stdout, "drain pool: exit 0",
                    f"{r.returncode} {r.stdout!r}")
            c.eq(srv.answers(), {"127.0.0.3"}, "pool hangzhou drained: www answers shanghai")
            seen = set()
            for _ in range(20):
                seen |= srv.answers("split.example.test.") or {"(no answer)"}
            c.eq(seen, {"127.0.0.3"}, "pool hangzhou drained: split answers shanghai (20 queries)")
            c.check(all(status_of(srv, a)["drained"] for a in HZ), "status: both drained")
            c.eq(len(srv.events("drain")), 3, "one drain event per drained address (1 + 2)")
            r = srv.ctl("undrain", "hangzhou")
            c.eq(r.returncode, 0, "undrain pool: exit 0")
            c.eq(srv.answers(), HZ, "undrain pool: www answers hangzhou again")

            r = srv.ctl("drain", "nosuchpool")
            c.check(r.returncode == 1 and "neither an address nor a pool" in r.stderr,
                    "drain of an unknown pool: exit 1 with a reason", f"{r.returncode} {r.stderr!r}")
            r = srv.ctl("drain", "127.0.0.4", "--for", "soon")
            c.check(r.returncode == 1 and "bad duration" in r.stderr, "drain --for soon: exit 1",
                    f"{r.returncode} {r.stderr!r}")
            c.eq(srv.answers(), HZ, "failed drains changed nothing")
            r = srv.ctl("frobnicate")
            c.check(r.returncode == 1 and "unknown command" in r.stderr, "unknown command: exit 1",
                    f"{r.returncode} {r.stderr!r}")


def test_drain_for_expires(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            t0 = time.monotonic()
            r = srv.ctl("drain", "127.0.0.4", "--for", "1s")
            c.eq(r.returncode, 0, "drain --for 1s: exit 0")
            c.eq(srv.answers(), {"127.0.0.2"}, "drained for 1s: .4 out at once")
            e = srv.wait_event("drain", timeout=1, address="127.0.0.4")
            c.check(e is not None and e.get("for") == "1s", "event=drain ... for=1s",
                    str(e and e["_line"]))
            got, at = ot.poll_until(lambda: srv.answers() == HZ, 3.0, step=0.02)
            c.check(at is not None, ".4 back in the answers after the drain expires")
            if at is not None:
                took = at - t0
                print(f"  drain --for 1s: back in the answers after {took:.2f}s")
                c.check(0.9 <= took <= 1.6, "expiry after about 1 s", f"{took:.2f}s")
            e = srv.wait_event("undrain", timeout=1, address="127.0.0.4")
            c.check(e is not None and e.get("reason") == "drain expired",
                    'event=undrain address=127.0.0.4 ... reason="drain expired"',
                    srv.log_text()[-2000:])
            c.check(status_of(srv, "127.0.0.4")["drained"] is False, "status: not drained any more")


def check_drain_notes(c, srv, me, when):
    """.4 drained by `me` with a reason, .3 by `me` for an hour: in status, text and JSON."""
    st = json.loads(srv.ctl("status", "--json").stdout)
    drains = {d["address"]: d for d in st.get("drains", [])}
    c.eq(drains.get("127.0.0.4"), {"address": "127.0.0.4", "by": me, "until": None,
                                   "reason": 'kernel upgrade, rack "4"'},
         f"{when}: status --json: .4 drained by {me}, with the reason")
    d3 = drains.get("127.0.0.3") or {}
    c.check(d3.get("by") == me and re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", d3.get("until") or ""),
            f"{when}: status --json: .3 drained by {me} until a time", repr(d3))
    text = srv.ctl("status").stdout
    c.check(re.search(r"^DRAINED\s+BY\s+UNTIL\s+REASON$", text, re.M), f"{when}: status: DRAINED table", text)
    c.check(re.search(rf'^127\.0\.0\.4\s+{re.escape(me)}\s+undrain\s+kernel upgrade, rack "4"$', text, re.M),
            f"{when}: status: .4 by {me}, until undrained, with the reason", text)
    if when == "after the drain":  # the event log starts over with a restart
        evs = [json.loads(l) for l in srv.ctl("events", "--json").stdout.splitlines()]
        ev = [e for e in evs if e["event"] == "drain" and e.get("address") == "127.0.0.4"]
        c.check(ev and ev[0].get("by") == me and ev[0].get("reason") == 'kernel upgrade, rack "4"',
                f"{when}: event=drain by= and reason=", repr(ev))


def test_drain_survives_restart_and_reload(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            c.eq(srv.ctl("drain", "127.0.0.4", "--reason", "kernel upgrade, rack \"4\"").returncode, 0,
                 "drain .4 --reason")
            c.eq(srv.ctl("drain", "127.0.0.3", "--for", "1h").returncode, 0, "drain .3 for 1h")
            state = os.path.join(srv.dir, "state", "drains")
            c.check(os.path.exists(state), "state file written")
            me = pwd.getpwuid(os.getuid()).pw_name
            check_drain_notes(c, srv, me, "after the drain")
            r = srv.ctl("reload")
            c.eq(r.returncode, 0, "reload: exit 0")
            c.eq(srv.answers(), {"127.0.0.2"}, "after reload: .4 still drained")
            c.check(status_of(srv, "127.0.0.3")["drained"], "after reload: .3 still drained")

            code, took = srv.stop()
            c.eq(code, 0, "gslbd exits 0 on SIGTERM")
            srv.start()
            first = srv.answers()
            c.eq(first, {"127.0.0.2"}, "the first answer after a restart has no drained .4")
            c.check(status_of(srv, "127.0.0.4")["drained"], "after restart: status .4 drained")
            c.check(status_of(srv, "127.0.0.3")["drained"], "after restart: timed drain of .3 kept")
            check_drain_notes(c, srv, me, "after a restart")
            c.eq(srv.ctl("undrain", "127.0.0.4").returncode, 0, "undrain .4")
            srv.stop()
            srv.start()
            c.eq(srv.answers(), HZ, "after undrain and a restart: .4 is back")
            c.check(not status_of(srv, "127.0.0.4")["drained"], "after restart: .4 not drained")

            # A timed drain that expires while gslbd is stopped does not come back.
            c.eq(srv.ctl("drain", "127.0.0.4", "--for", "500ms").returncode, 0, "drain .4 for 500ms")
            srv.stop()
            time.sleep(0.6)
            srv.start()
            c.eq(srv.answers(), HZ, "a drain that expired while stopped is gone after restart")


def test_reload_and_check_config(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws, ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"))
        with ot.Ops(gslbd, gslbctl, ot.body(("127.0.0.2",)), probes) as srv:
            wait_checked(srv, c)
            c.eq(srv.answers(), {"127.0.0.2"}, "before: hangzhou = .2")
            r = srv.ctl("check-config")
            c.check(r.returncode == 0 and "configuration ok" in r.stdout, "check-config ok: exit 0",
                    f"{r.returncode} {r.stdout!r} {r.stderr!r}")

            srv.write_config(srv.config_text(ot.body(("127.0.0.2", "127.0.0.5"))))
            r = srv.ctl("check-config")
            c.eq(r.returncode, 0, "check-config of the new file: exit 0")
            c.eq(srv.answers(), {"127.0.0.2"}, "check-config changes nothing")
            r = srv.ctl("reload")
            c.check(r.returncode == 0 and "reloaded" in r.stdout, "reload good: exit 0",
                    f"{r.returncode} {r.stdout!r} {r.stderr!r}")
            c.eq(srv.answers(), {"127.0.0.2", "127.0.0.5"}, "the added address is answered")
            e = srv.wait_event("reloaded", timeout=1)
            c.check(e is not None and e.get("targets") == "3" and e.get("names") == "2",
                    "event=reloaded zones=1 names=2 targets=3", str(e and e["_line"]))
            st = json.loads(srv.ctl("status", "--json").stdout)
            c.check("127.0.0.5" in [a["address"] for a in st["addresses"]], "status lists .5")

            # Broken: an unknown key and a pool with a probe that does not exist.
            good = srv.config_text(ot.body(("127.0.0.2", "127.0.0.5")))
            bad = good.replace('min_healthy = 1', 'min_healthy = 1\nbogus_key = 3', 1)
            srv.write_config(bad)
            bad_line = bad.splitlines().index("bogus_key = 3") + 1
            for cmd in ("check-config", "reload"):
                r = srv.ctl(cmd)
                c.eq(r.returncode, 1, f"{cmd} of a broken file: exit 1")
                m = re.search(r"gslbd\.toml:(\d+):(\d+): .*bogus_key", r.stderr)
                c.check(m is not None, f"{cmd}: the error is printed as file:line:col", repr(r.stderr))
                if m:
                    c.eq(int(m.group(1)), bad_line, f"{cmd}: the error's line")
                c.check("running configuration is unchanged" in r.stderr,
                        f"{cmd}: says the running configuration is unchanged", repr(r.stderr))
            c.eq(srv.answers(), {"127.0.0.2", "127.0.0.5"}, "after a bad reload: old answers served")
            e = srv.wait_event("reload-failed", timeout=1)
            c.check(e is not None and e.get("errors") == "1", "event=reload-failed errors=1",
                    srv.log_text()[-2000:])
            c.check(re.search(r"gslbd\.toml:\d+:\d+: .*bogus_key", srv.log_text()),
                    "the error is in the log too")

            # A broken probe file is a reload error as well.
            srv.write_config(good)
            srv.write_probe("gw", probes["gw"] + 'interval = "fast"\n')
            r = srv.ctl("reload")
            c.check(r.returncode == 1 and re.search(r"gw\.toml:\d+:\d+:", r.stderr),
                    "broken probe file: exit 1 with probes/gw.toml:line:col", repr(r.stderr))
            srv.write_probe("gw", probes["gw"])
            c.eq(srv.ctl("reload").returncode, 0, "fixed again: reload exit 0")
            c.eq(srv.answers(), {"127.0.0.2", "127.0.0.5"}, "answers after the fix")


def read_lines_until(proc, pred, timeout):
    """Reads proc.stdout lines (non-blocking, bounded) until pred(line); returns (line, all)."""
    deadline = time.monotonic() + timeout
    buf, lines = b"", []
    fd = proc.stdout.fileno()
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], max(0.0, min(0.1, deadline - time.monotonic())))
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            line = line.decode(errors="replace")
            lines.append(line)
            if pred(line):
                return line, lines
    return None, lines


def test_events(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        g2 = gws.all[0]
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            srv.ctl("drain", "127.0.0.4")
            srv.ctl("undrain", "127.0.0.4")
            r = srv.ctl("events")
            c.eq(r.returncode, 0, "events: exit 0")
            lines = r.stdout.splitlines()
            c.check(any("event=drain address=127.0.0.4" in l for l in lines)
                    and any("event=undrain address=127.0.0.4" in l for l in lines),
                    "events lists the drain and undrain", r.stdout)
            c.check(all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ event=", l) for l in lines),
                    "every event line is 'TIMESTAMP event=...'", r.stdout)

            r = srv.ctl("events", "--json")
            c.eq(r.returncode, 0, "events --json: exit 0")
            objs = [json.loads(l) for l in r.stdout.splitlines()]
            c.check(objs and all({"time", "level", "event"} <= set(o) for o in objs),
                    "events --json: one object per event, with time, level and event", r.stdout)
            c.check(any(o["event"] == "drain" and o.get("address") == "127.0.0.4" for o in objs),
                    "events --json: the drain's fields", r.stdout)
            c.eq(len(objs), len(lines), "events --json: as many events as the text")

            follows = [subprocess.Popen([srv.gslbctl, "--socket", srv.socket, "events", "--follow", *j],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        stdin=subprocess.DEVNULL) for j in ([], ["--json"])]
            try:
                # No replay: the first line a follower gets is an event made after it started
                # (drains of .3, repeated until both have one), never the older .4 ones.
                firsts = [None, None]
                deadline = time.monotonic() + 5
                while None in firsts and time.monotonic() < deadline:
                    srv.ctl("drain", "127.0.0.3")
                    srv.ctl("undrain", "127.0.0.3")
                    for i, f in enumerate(follows):
                        if firsts[i] is None:
                            line, _ = read_lines_until(f, lambda l: True, 0.2)
                            firsts[i] = line
                c.check(firsts[0] is not None and "address=127.0.0.3" in firsts[0]
                        and re.search(r"event=(un)?drain ", firsts[0]),
                        "events --follow starts with new events, no replay", repr(firsts[0]))
                first_json = json.loads(firsts[1]) if firsts[1] else {}
                c.check(first_json.get("event") in ("drain", "undrain")
                        and first_json.get("address") == "127.0.0.3",
                        "events --follow --json starts with new events, as JSON", repr(firsts[1]))
                t_kill = g2.kill()
                line, seen = read_lines_until(
                    follows[0], lambda l: "event=address-down" in l and "127.0.0.2" in l, 5)
                c.check(line is not None, "events --follow streams address-down for 127.0.0.2",
                        "\n".join(seen))
                if line:
                    print(f"  events --follow: address-down arrived {time.monotonic() - t_kill:.2f}s "
                          f"after the kill")
                line, seen = read_lines_until(
                    follows[1], lambda l: '"event":"address-down"' in l and "127.0.0.2" in l, 5)
                down = json.loads(line) if line else {}
                c.check(down.get("address") == "127.0.0.2" and down.get("pool") == "hangzhou"
                        and down.get("level") == "warning" and isinstance(down.get("reason"), str),
                        "events --follow --json: address-down with its fields", "\n".join(seen))
                c.check(all(f.poll() is None for f in follows), "events --follow keeps running")
            finally:
                for f in follows:
                    ot.stop_child(f)
            # gslbd is fine after its follower went away
            c.eq(srv.ctl("status").returncode, 0, "status after the follower left")
            c.eq(srv.answers(), {"127.0.0.4"}, "queries after the follower left (.2 is down)")


def test_zones(c, gslbd, gslbctl):
    import dns.query
    import dns.zone
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            wait_checked(srv, c)
            # Transfers to loopback, by a reload (an unchanged zone file: the zone is taken over).
            srv.write_config(srv.config_text().replace(
                'file = "example.test.zone"', 'file = "example.test.zone"\nallow_transfer = ["127.0.0.0/8"]'))
            c.eq(srv.ctl("reload").returncode, 0, "reload with allow_transfer")
            r = srv.ctl("zones")
            c.eq(r.returncode, 0, "zones: exit 0")
            zone = dns.zone.from_xfr(dns.query.xfr("127.0.0.1", "example.test.", port=srv.port, timeout=3))
            records = sum(len(rds) for _, rds in zone.iterate_rdatasets())
            j = json.loads(srv.ctl("zones", "--json").stdout)["zones"]
            c.eq(len(j), 1, "zones --json: one zone")
            z = j[0] if j else {}
            c.eq(z.get("zone"), "example.test.", "zones --json: the zone's name")
            c.eq(z.get("serial"), 2026112201, "zones --json: the SOA serial")
            c.check(z.get("records", 0) >= records - len(zone.nodes) and z.get("records", 0) > 5,
                    "zones --json: its static records", f"{z.get('records')} vs AXFR {records}")
            c.eq(z.get("transfers"), 1, "zones --json: the AXFR counted")
            c.eq(z.get("allow_transfer"), ["127.0.0.0/8"], "zones --json: who may transfer")
            c.check(z.get("file", "").endswith("example.test.zone"), "zones --json: the file")
            loaded = time.mktime(time.strptime(z.get("loaded", "1970-01-01T00:00:00Z"), "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
            c.check(abs(loaded - time.time()) < 120, "zones --json: loaded just now", z.get("loaded"))
            c.check(re.search(r"^example\.test\.\s+2026112201\s+\d+\s+\d{4}-\d\d-\d\dT[\d:]+Z\s+"
                              r"\d+ served; allowed to 127\.0\.0\.0/8$", r.stdout, re.M),
                    "zones: serial, records, loaded, transfers", r.stdout)
            c.eq((z.get("ixfr_from", "absent"), z.get("ixfr_versions")), (None, 0),
                 "zones --json: no IXFR history before a change")
            # A record more under a new serial: one version of history, from the old serial.
            path = os.path.join(srv.dir, "example.test.zone")
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("2026112201", "2026112202") + "ixfr-added IN A 192.0.2.200\n")
            c.eq(srv.ctl("reload").returncode, 0, "reload with a changed zone")
            z = json.loads(srv.ctl("zones", "--json").stdout)["zones"][0]
            c.eq((z.get("serial"), z.get("ixfr_from"), z.get("ixfr_versions")), (2026112202, 2026112201, 1),
                 "zones --json: IXFR from the previous serial")
            r = srv.ctl("zones")
            c.check("  ixfr from serial 2026112201 (1 version)" in r.stdout, "zones: the IXFR history",
                    r.stdout)


def test_unreachable_and_socket_mode(c, gslbd, gslbctl):
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            st = os.stat(srv.socket)
            c.check(stat.S_ISSOCK(st.st_mode), "the control socket is a socket")
            c.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o660), "the control socket's mode is 0660")

            missing = os.path.join(srv.dir, "nosuch.sock")
            r = srv.ctl("status", socket_path=missing)
            c.eq(r.returncode, 2, "no socket file: exit 2")
            c.check(f"cannot reach gslbd at {missing}" in r.stderr and r.stdout == "",
                    "no socket file: a clear message naming the path", repr(r.stderr))

            # A socket file nobody listens on (what a crashed daemon leaves).
            stale = os.path.join(srv.dir, "stale.sock")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(stale)
            s.close()
            r = srv.ctl("status", socket_path=stale)
            c.check(r.returncode == 2 and "cannot reach gslbd" in r.stderr,
                    "stale socket file: exit 2 with a clear message", f"{r.returncode} {r.stderr!r}")

            # A peer that accepts and closes without a reply.
            mute = os.path.join(srv.dir, "mute.sock")
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as ls:
                ls.bind(mute)
                ls.listen(1)
                p = subprocess.Popen([srv.gslbctl, "--socket", mute, "status"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
                try:
                    ls.settimeout(3)
                    conn, _ = ls.accept()
                    conn.settimeout(3)
                    conn.recv(4096)  # the request, then hang up without a reply
                    conn.close()
                    out, err = p.communicate(timeout=5)
                    c.check(p.returncode == 2 and "without a reply" in err,
                            "peer closes without a reply: exit 2", f"{p.returncode} {err!r}")
                finally:
                    ot.stop_child(p)

            # A request line longer than 4096 bytes is refused, and gslbd carries on.
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(3)
                s.connect(srv.socket)
                s.sendall(b"x" * 5000)
                reply = b""
                try:
                    while True:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        reply += chunk
                except OSError:
                    pass
            c.eq(reply, b"1\nrequest too long\n", "a 5000-byte request: 'request too long'")
            c.eq(srv.ctl("status").returncode, 0, "status after the long request")

            code, _ = srv.stop()
            c.eq(code, 0, "gslbd exits 0")
            c.check(not os.path.exists(srv.socket), "the control socket is removed on exit")
            r = srv.ctl("status")
            c.check(r.returncode == 2 and "cannot reach gslbd" in r.stderr,
                    "gslbd stopped: exit 2 with a clear message", f"{r.returncode} {r.stderr!r}")
            r = subprocess.run([srv.gslbctl, "--socket", srv.socket], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=5)
            c.check(r.returncode == 2 and "usage" in r.stderr, "no command: usage, exit 2",
                    f"{r.returncode} {r.stderr!r}")


def test_socket_taken_and_stale(c, gslbd, gslbctl):
    """A second gslbd configured with the same control socket must not steal it from the running
    one; a socket file left by a gslbd that was SIGKILLed is replaced on the next start."""
    with ot.Gateways() as gws:
        probes, _ = setup(gws)
        with ot.Ops(gslbd, gslbctl, ot.body(), probes) as srv:
            p2, m2 = ot.gslbtest.free_port(), ot.free_tcp_port()
            text = srv.config_text().replace(f"127.0.0.1:{srv.port}", f"127.0.0.1:{p2}").replace(
                f"127.0.0.1:{srv.metrics_port}", f"127.0.0.1:{m2}")
            second_cfg = os.path.join(srv.dir, "second.toml")
            with open(second_cfg, "w") as f:
                f.write(text)
            log2 = open(os.path.join(srv.dir, "second.log"), "w+")
            second = subprocess.Popen([srv.gslbd, "--config", second_cfg], stdout=log2,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            try:
                ok = ot.gslbtest.wait_for_answer(p2, "example.test.", proc=second, timeout=5)
                with open(log2.name) as f:
                    log_text = f.read()
                if ok:
                    c.check("event=control-unavailable" in log_text
                            and "another gslbd is listening" in log_text,
                            "second gslbd: event=control-unavailable ... another gslbd is listening",
                            log_text[-1000:])
                else:
                    c.check(second.poll() is not None, "second gslbd refuses to start or starts")
                # The first one still owns the socket: a drain through it changes *its* answers.
                r = srv.ctl("drain", "127.0.0.4")
                c.eq(r.returncode, 0, "drain through the socket")
                c.eq(srv.answers(), {"127.0.0.2"}, "the first gslbd got the drain")
                c.eq(srv.ctl("undrain", "127.0.0.4").returncode, 0, "undrain")
                c.check(os.path.exists(srv.socket), "the socket file is still there")
            finally:
                ot.stop_process(second, "second gslbd")
                log2.close()
            c.eq(srv.ctl("status").returncode, 0, "the second gslbd's exit left our socket alone")

            # SIGKILL leaves the socket file behind; the next start must take it over.
            srv.stop(sig=signal.SIGKILL)
            c.check(os.path.exists(srv.socket), "SIGKILL leaves the socket file")
            r = srv.ctl("status")
            c.eq(r.returncode, 2, "stale socket: gslbctl exit 2")
            srv.start()
            c.eq(srv.ctl("status").returncode, 0, "restarted gslbd took over the stale socket")
            c.check("event=control-unavailable" not in srv.log_text(),
                    "no control-unavailable on the restart")


if __name__ == "__main__":
    sys.exit(ot.main([test_status, test_explain, test_drain_address_and_pool,
                      test_drain_for_expires, test_drain_survives_restart_and_reload,
                      test_reload_and_check_config, test_events, test_zones, test_explain_every_name,
                      test_unreachable_and_socket_mode, test_socket_taken_and_stale],
                     tools=()))
