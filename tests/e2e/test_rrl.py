#!/usr/bin/env python3
"""Hostile clients, end to end: response rate limiting under a bounded flood from many
127.0.N.M sources (limited, slipped at the configured ratio, one log line per netblock, and a
well-behaved client still answered: from another /24, by retrying over TCP on TC=1, or with a
valid cookie), log_only dropping nothing, and DNS cookies with dig and kdig (a server cookie
returned and accepted back, a shared secret across two servers, BADCOOKIE with require)."""

import os
import re
import sys
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402
import zones  # noqa: E402
import flood as fl  # noqa: E402

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

RATE = 5
NETS, HOSTS = 5, 4         # the flood: 20 sources in 5 /24 netblocks
SECONDS, QPS = 2.0, 1500   # bounded: 3000 queries
SECRET = "e5e973e5a6b2a43f48e7dc849e37bfcf"
NAME = "www.e2e.test."


def metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as r:
        text = r.read().decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def server(binary, rrl, cookies, mport):
    extra = (f"\n[rrl]\n{rrl}\n\n[cookies]\n{cookies}\n\n[metrics]\n"
             f'listen = "127.0.0.1:{mport}"\n\n[log]\ntargets = ["stderr"]')
    return g.Gslbd(binary, zones.ALL, server_extra=extra)


def test_flood(c, srv, mport):
    good = fl.GoodClient(srv.port, "127.0.200.1", NAME)
    good.start()
    r = fl.flood(srv.port, fl.sources(NETS, HOSTS), SECONDS, QPS, NAME)
    good.stop.set()
    good.join(5)
    m = metrics(mport)
    print(f"    flood {r}; good client {good.answered}/{good.lookups}; server dropped "
          f"{m['gslbd_rrl_dropped_total']:.0f} slipped {m['gslbd_rrl_slipped_total']:.0f}")
    c.check(r["sent"] >= SECONDS * QPS * 0.9, "the flood was sent", str(r))
    # Each /24 earns RATE a second, and 1 s of credit to start with.
    c.check(r["answered"] <= NETS * RATE * (SECONDS + 1), "the flood was limited", str(r))
    c.check(r["truncated"] > 0, "limited responses slipped as TC=1", str(r))
    dropped, slipped = m["gslbd_rrl_dropped_total"], m["gslbd_rrl_slipped_total"]
    # slip = 2: every second limited response goes out truncated, per bucket.
    c.check(abs(slipped - dropped) <= NETS, "slip 2: as many slipped as dropped",
            f"slipped {slipped} dropped {dropped}")
    c.check(slipped >= r["truncated"] >= 0.9 * slipped, "the client saw the slipped replies",
            f"client {r['truncated']} server {slipped}")
    c.eq(m["gslbd_rrl_log_only_total"], 0, "nothing counted as log-only")
    c.check(good.lookups >= 5 and good.answered == good.lookups,
            "a client in another /24 is answered during the flood", f"{good.answered}/{good.lookups}")
    lines = [ln for ln in srv.log_text().splitlines() if "event=rrl-limit" in ln]
    c.check(1 <= len(lines) <= NETS, "one log line per limited netblock, not one per drop",
            "\n".join(lines))
    c.check(any("client=127.0.10.0/24" in ln and "action=drop+slip" in ln for ln in lines),
            "the log names the netblock", "\n".join(lines))


def test_tc_retry(c, srv, mport):
    # Inside a flooded /24: half the limited replies are TC=1, and TCP is not limited.
    good = fl.GoodClient(srv.port, "127.0.10.250", NAME, tries=6, timeout=0.3, interval=0.1)
    good.start()
    fl.flood(srv.port, fl.sources(NETS, HOSTS), SECONDS, QPS, NAME)
    good.stop.set()
    good.join(5)
    print(f"    in-flood client: {good.answered}/{good.lookups}, {good.via_tcp} via TCP")
    c.check(good.lookups >= 3 and good.answered >= 0.8 * good.lookups,
            "a client in the flooded /24 gets through by retrying over TCP on TC=1",
            f"{good.answered}/{good.lookups}")
    c.check(good.via_tcp > 0, "it did get TC=1 and retry over TCP")


def test_cookie_exempt(c, srv, mport):
    before = metrics(mport)
    good = fl.GoodClient(srv.port, "127.0.10.251", NAME, cookie=True, interval=0.1)
    good.start()
    fl.flood(srv.port, fl.sources(NETS, HOSTS), SECONDS, QPS, NAME)
    good.stop.set()
    good.join(5)
    after = metrics(mport)
    print(f"    cookie client: {good.answered}/{good.lookups}, {good.first_try} on the first try")
    c.check(good.server_cookie is not None and len(good.server_cookie) == 16,
            "the client learned a 16-byte server cookie")
    c.check(good.lookups >= 5 and good.answered == good.lookups and good.via_tcp == 0,
            "a client with a valid server cookie is never limited",
            f"{good.answered}/{good.lookups}, {good.via_tcp} via TCP")
    key = 'gslbd_cookies_total{result="valid"}'
    c.check(after[key] - before[key] >= good.lookups, "valid cookies counted")


def test_log_only(c, binary):
    mport = g.free_port()
    with server(binary, f"responses_per_second = {RATE}\nlog_only = true", "", mport) as srv:
        # Paced so that loopback loses nothing: every query must be answered.
        r = fl.flood(srv.port, fl.sources(2, 2), 1.0, 400, NAME)
        m = metrics(mport)
        c.eq(r["answered"], r["sent"], "log_only: every query answered")
        c.eq(r["truncated"], 0, "log_only: nothing slipped")
        c.eq(m["gslbd_rrl_dropped_total"] + m["gslbd_rrl_slipped_total"], 0, "log_only: none dropped")
        c.check(m["gslbd_rrl_log_only_total"] >= r["sent"] - 2 * 2 * RATE * 2,
                "log_only: what would have been limited is counted", str(m["gslbd_rrl_log_only_total"]))
        c.check("action=log-only" in srv.log_text(), "log_only: logged as such")


def cookie_of(text):
    m = re.search(r"COOKIE: ([0-9a-fA-F]+)", text)
    return m.group(1).lower() if m else None


def test_cookies(c, srv, mport, binary):
    rc, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(srv.port), "+time=2", "+tries=1",
                          "+cookie", NAME])
    ck = cookie_of(out)
    c.check(rc == 0 and ck and len(ck) == 48 and "(good)" in out, "dig +cookie: a server cookie", out)
    if not ck:
        return
    c.eq(ck[16:18], "01", "RFC 9018: version 1")
    rc, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(srv.port), "+time=2", "+tries=1",
                          f"+cookie={ck}", NAME])
    c.check("(good)" in out and cookie_of(out) == ck and "status: NOERROR" in out,
            "dig: our cookie sent back is valid and kept", out)
    rc, out = g.run_tool(["kdig", "@127.0.0.1", "-p", str(srv.port), "+time=2", "+retry=0",
                          "+cookie", NAME])
    c.check(rc == 0 and cookie_of(out) and len(cookie_of(out)) == 48, "kdig +cookie: a server cookie", out)

    # A malformed COOKIE (3 bytes) is FORMERR (RFC 7873 §5.2.2).
    q = dns.message.make_query(NAME, "A", use_edns=0, options=[dns.edns.GenericOption(10, b"abc")])
    c.eq(dns.rcode.to_text(g.udp(q, srv.port).rcode()), "FORMERR", "malformed COOKIE: FORMERR")

    # A second server with the same secret and require = true.
    mport2 = g.free_port()
    with server(binary, "", f'secret = "{SECRET}"\nrequire = true', mport2) as strict:
        rc, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(strict.port), "+time=2", "+tries=1",
                              f"+cookie={ck}", NAME])
        c.check("status: NOERROR" in out and "ANSWER: 2" in out,
                "shared secret: a cookie of the first server is valid on the second", out)
        bad = ck[:16] + "01000000" + "00" * 12
        rc, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(strict.port), "+time=2", "+tries=1",
                              "+nobadcookie", f"+cookie={bad}", NAME])
        flags = re.search(r"flags: ([a-z ]*);", out)
        c.check("status: BADCOOKIE" in out and "ANSWER: 0" in out, "require: a bad cookie gets BADCOOKIE", out)
        c.check(flags and "tc" not in flags.group(1).split(), "BADCOOKIE without TC", out)
        fresh = cookie_of(out)
        c.check(fresh and fresh != bad and fresh[:16] == bad[:16], "BADCOOKIE carries a new cookie", out)
        rc, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(strict.port), "+time=2", "+tries=1",
                              f"+cookie={fresh}", NAME])
        c.check("status: NOERROR" in out, "retrying with the new cookie is answered", out)
        rc, out = g.run_tool(["kdig", "@127.0.0.1", "-p", str(strict.port), "+time=2", "+retry=0",
                              "+cookie", NAME])
        c.check("BADCOOKIE" in out, "kdig: a client cookie alone gets BADCOOKIE under require", out)
        rc, out = g.run_tool(["kdig", "@127.0.0.1", "-p", str(strict.port), "+time=2", "+retry=0",
                              "+tcp", "+cookie", NAME])
        c.check("NOERROR" in out, "kdig +tcp: answered, TCP proves the address", out)
        rc, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(strict.port), "+time=2", "+tries=1",
                              "+nocookie", NAME])
        c.check("status: NOERROR" in out, "a client that does not do cookies is answered", out)
        m = metrics(mport2)
        c.check(m['gslbd_cookies_total{result="badcookie"}'] >= 2, "BADCOOKIE counted")


def main():
    rc = g.preflight()
    if rc is not None:
        return rc
    binary = sys.argv[1]
    mport = g.free_port()
    rrl = f"responses_per_second = {RATE}\nslip = 2\nwindow = \"15s\""
    with server(binary, rrl, f'secret = "{SECRET}"', mport) as srv:
        rc = g.run_tests([test_flood, test_tc_retry, test_cookie_exempt], srv, mport)
        rc |= g.run_tests([test_cookies], srv, mport, binary)
    rc |= g.run_tests([test_log_only], binary)
    return rc


if __name__ == "__main__":
    sys.exit(main())
