#!/usr/bin/env python3
"""Lookup semantics seen through real clients: dig and kdig, UDP and TCP, 127.0.0.1 and ::1.

Each case runs through every client/transport/address combination and checks the header
(AA set, RA clear, RD copied), the question echoed in the client's case, and the sections.
"""

import itertools
import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402
import zones  # noqa: E402


def clients(srv):
    hosts = ["127.0.0.1"] + (["::1"] if srv.v6 else [])
    for tool, tcp, host in itertools.product(("dig", "kdig"), (False, True), hosts):
        yield f"{tool}/{'tcp' if tcp else 'udp'}/{host}", tool, tcp, host


def ask(srv, tool, tcp, host, name, qtype, rd=False, extra=()):
    fn = g.dig if tool == "dig" else g.kdig
    rdflag = ("+recurse" if rd else "+norecurse") if tool == "dig" else ("+rec" if rd else "+norec")
    code, out = fn(srv.port, name, qtype, rdflag, *extra, host=host, tcp=tcp)
    r = g.parse_tool_output(out)
    r.exit = code
    return r


def header_ok(c, r, ctx, name, qtype, rd):
    # kdig lower-cases the name it sends (seen on the wire), so only dig tests the case echo.
    if ctx.startswith("kdig"):
        name = name.lower()
    c.check(r.rcode is not None, f"{ctx}: got a response", r.text)
    c.check("qr" in r.flags, f"{ctx}: QR set", r.text)
    c.check("ra" not in r.flags, f"{ctx}: RA clear (we never recurse)", r.text)
    c.eq("rd" in r.flags, rd, f"{ctx}: RD copied from the query")
    c.eq(r.question, [(name, qtype)], f"{ctx}: question echoed in the client's case")


def test_positive_and_case(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        for rd in (False, True):
            r = ask(srv, tool, tcp, host, "wWw.E2e.TEst.", "A", rd=rd)
            header_ok(c, r, ctx, "wWw.E2e.TEst.", "A", rd)
            c.eq(r.rcode, "NOERROR", f"{ctx}: www A rcode")
            c.check("aa" in r.flags, f"{ctx}: AA set on an authoritative answer", r.text)
            c.eq(sorted(x[3] for x in r.rrs("ANSWER", "A")), ["192.0.2.1", "192.0.2.2"],
                 f"{ctx}: www A records")
            c.eq({x[1] for x in r.rrs("ANSWER")}, {60}, f"{ctx}: www A TTL")


def test_negative(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        r = ask(srv, tool, tcp, host, "NoPe.e2e.test.", "A")
        header_ok(c, r, ctx, "NoPe.e2e.test.", "A", False)
        c.eq(r.rcode, "NXDOMAIN", f"{ctx}: nonexistent name")
        c.check("aa" in r.flags, f"{ctx}: AA on NXDOMAIN", r.text)
        c.eq(r.rrs("ANSWER"), [], f"{ctx}: NXDOMAIN has no answer")
        soa = r.rrs("AUTHORITY", "SOA")
        c.eq([(x[0], x[1]) for x in soa], [("e2e.test.", 300)],
             f"{ctx}: NXDOMAIN SOA in authority with TTL min(3600, 300)")

        r = ask(srv, tool, tcp, host, "www.e2e.test.", "MX")
        c.eq((r.rcode, r.rrs("ANSWER")), ("NOERROR", []), f"{ctx}: NODATA is NOERROR, empty")
        c.eq([(x[0], x[1]) for x in r.rrs("AUTHORITY", "SOA")], [("e2e.test.", 300)],
             f"{ctx}: NODATA SOA in authority")

        r = ask(srv, tool, tcp, host, "missing.neg.test.", "A")
        c.eq([(x[0], x[1]) for x in r.rrs("AUTHORITY", "SOA")], [("neg.test.", 120)],
             f"{ctx}: negative TTL is the SOA TTL when it is below MINIMUM")


def test_cname(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        r = ask(srv, tool, tcp, host, "ALIAS.e2e.test.", "A")
        c.eq(r.rcode, "NOERROR", f"{ctx}: CNAME chain rcode")
        c.check("aa" in r.flags, f"{ctx}: AA on CNAME chain", r.text)
        ans = [(x[0], x[2], x[3].lower()) for x in r.rrs("ANSWER")]
        c.eq(ans[:2], [("alias.e2e.test.", "CNAME", "alias2.e2e.test."),
                       ("alias2.e2e.test.", "CNAME", "www.e2e.test.")], f"{ctx}: chain in order")
        c.eq(sorted(x[2] for x in ans[2:]), ["192.0.2.1", "192.0.2.2"], f"{ctx}: chain target")

        r = ask(srv, tool, tcp, host, "alias.e2e.test.", "CNAME")
        c.eq([(x[2], x[3]) for x in r.rrs("ANSWER")], [("CNAME", "alias2.e2e.test.")],
             f"{ctx}: qtype CNAME is not followed")

        r = ask(srv, tool, tcp, host, "dangling.e2e.test.", "A")
        c.eq(r.rcode, "NXDOMAIN", f"{ctx}: CNAME to a missing name (RFC 6604: last name's rcode)")
        c.eq([x[2] for x in r.rrs("ANSWER")], ["CNAME"], f"{ctx}: dangling CNAME in answer")
        c.eq([x[2] for x in r.rrs("AUTHORITY")], ["SOA"], f"{ctx}: dangling CNAME SOA")


def test_wildcard(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        r = ask(srv, tool, tcp, host, "Any.Thing.WILD.e2e.test.", "A")
        c.eq(r.rcode, "NOERROR", f"{ctx}: wildcard rcode")
        c.eq([(x[0], x[3]) for x in r.rrs("ANSWER")], [("any.thing.wild.e2e.test.", "192.0.2.80")],
             f"{ctx}: wildcard synthesised with the query name as owner")
        r = ask(srv, tool, tcp, host, "x.wild.e2e.test.", "AAAA")
        c.eq((r.rcode, r.rrs("ANSWER"), [x[2] for x in r.rrs("AUTHORITY")]),
             ("NOERROR", [], ["SOA"]), f"{ctx}: wildcard NODATA")
        # RFC 4592 §2.2.2: b.ent is an empty non-terminal, so it exists and is not synthesised.
        r = ask(srv, tool, tcp, host, "b.ent.e2e.test.", "TXT")
        c.eq((r.rcode, r.rrs("ANSWER")), ("NOERROR", []), f"{ctx}: ENT is NODATA, not wildcard")
        r = ask(srv, tool, tcp, host, "other.ent.e2e.test.", "TXT")
        c.eq([x[3] for x in r.rrs("ANSWER")], ['"ent wildcard"'],
             f"{ctx}: sibling of the ENT matches *.ent")
        # Closest encloser of x.b.ent is b.ent, which has no wildcard child.
        r = ask(srv, tool, tcp, host, "x.b.ent.e2e.test.", "TXT")
        c.eq(r.rcode, "NXDOMAIN", f"{ctx}: below the ENT the wildcard does not apply")
        r = ask(srv, tool, tcp, host, "ent.e2e.test.", "TXT")
        c.eq((r.rcode, r.rrs("ANSWER")), ("NOERROR", []), f"{ctx}: ENT parent of wildcard")


def test_referral(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        for name in ("sub.e2e.test.", "deep.www.SUB.e2e.test.", "ns.sub.e2e.test."):
            r = ask(srv, tool, tcp, host, name, "A")
            c.eq(r.rcode, "NOERROR", f"{ctx}: referral rcode for {name}")
            c.check("aa" not in r.flags, f"{ctx}: AA clear on a referral for {name}", r.text)
            c.eq(r.rrs("ANSWER"), [], f"{ctx}: referral answer empty for {name}")
            # Names compare case-insensitively: a target compressed against the question name
            # takes the client's case (RFC 1035 §4.1.4 allows any suffix to be pointed at).
            c.eq(sorted((x[0], x[2], x[3].lower()) for x in r.rrs("AUTHORITY")),
                 [("sub.e2e.test.", "NS", "ns.outside.example."),
                  ("sub.e2e.test.", "NS", "ns.sub.e2e.test.")], f"{ctx}: referral NS for {name}")
            c.check(("ns.sub.e2e.test.", "A", "192.0.2.53") in
                    [(x[0].lower(), x[2], x[3]) for x in r.rrs("ADDITIONAL")],
                    f"{ctx}: glue for {name}", r.text)
        r = ask(srv, tool, tcp, host, "sub.e2e.test.", "DS")
        c.check("aa" in r.flags, f"{ctx}: DS at the cut is answered by the parent with AA", r.text)
        c.eq([(x[0], x[2]) for x in r.rrs("ANSWER")], [("sub.e2e.test.", "DS")],
             f"{ctx}: DS at the cut from the parent side")


def test_refused(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        for name in ("example.com.", "test.", "."):
            r = ask(srv, tool, tcp, host, name, "A")
            c.eq(r.rcode, "REFUSED", f"{ctx}: {name} is outside our zones")
            c.check("aa" not in r.flags, f"{ctx}: no AA on REFUSED for {name}", r.text)


def test_edns_from_tools(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        if tool == "dig":
            r = ask(srv, tool, tcp, host, "www.e2e.test.", "A", extra=("+edns=0", "+bufsize=4096"))
            c.check(r.has_opt and "udp: 1232" in r.text, f"{ctx}: OPT echoed with 1232", r.text)
            r = ask(srv, tool, tcp, host, "www.e2e.test.", "A", extra=("+noedns",))
            c.check(not r.has_opt, f"{ctx}: no OPT when the query had none", r.text)
            r = ask(srv, tool, tcp, host, "www.e2e.test.", "A", extra=("+edns=1", "+noednsneg"))
            c.eq(r.rcode, "BADVERS", f"{ctx}: EDNS version 1 gets BADVERS")
        else:
            r = ask(srv, tool, tcp, host, "www.e2e.test.", "A", extra=("+edns=0", "+bufsize=4096"))
            c.check(r.has_opt and "UDP size: 1232" in r.text, f"{ctx}: OPT echoed with 1232",
                    r.text)
            r = ask(srv, tool, tcp, host, "www.e2e.test.", "A", extra=("+noedns",))
            c.check(not r.has_opt, f"{ctx}: no OPT when the query had none", r.text)


def test_opcode_status(c, srv):
    for ctx, tool, tcp, host in clients(srv):
        if tool != "dig":
            continue
        r = ask(srv, tool, tcp, host, "www.e2e.test.", "A", extra=("+opcode=status",))
        c.eq(r.rcode, "NOTIMP", f"{ctx}: opcode STATUS is not implemented")


def main():
    rc = g.preflight()
    if rc is not None:
        return rc
    tests = [test_positive_and_case, test_negative, test_cname, test_wildcard, test_referral,
             test_refused, test_edns_from_tools, test_opcode_status]
    with g.Gslbd(sys.argv[1], zones.ALL, v6=True) as srv:
        if not srv.v6:
            print("note: ::1 is not available here; IPv6 cases are left out")
        return g.run_tests(tests, srv)


if __name__ == "__main__":
    sys.exit(main())
