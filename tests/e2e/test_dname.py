#!/usr/bin/env python3
"""DNAME (RFC 6672) answers compared with Knot's (Debian's knotd, started on loopback as a
primary of the same zone): the DNAME and the synthesised CNAME, the query name's case, the
DNAME owner itself, and YXDOMAIN when the new name would be too long. NSD is compared in
tests/diff/ as well."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE = """$ORIGIN dn.test.
$TTL 60
@    SOA ns1 h 1 3600 600 86400 60
@    NS ns1
ns1  A 192.0.2.1
d 30 DNAME Example.NET.
long DNAME {long}.example.
""".format(long=".".join(["l" * 60] * 3))

QUERIES = ["a.d.dn.test.", "B.c.D.dn.test.", "d.dn.test.", "x.long.dn.test.",
           "m" * 63 + ".a.long.dn.test."]


def test_dname_like_knot(c, binary, knotd):
    tmp = tempfile.mkdtemp(prefix="gslbd-dname-")
    proc = None
    try:
        with open(os.path.join(tmp, "dn.test.zone"), "w") as f:
            f.write(ZONE)
        port = g.free_port()
        conf = os.path.join(tmp, "knot.conf")
        with open(conf, "w") as f:
            f.write(f'server:\n  listen: 127.0.0.1@{port}\n  rundir: "{tmp}"\n'
                    f'database:\n  storage: "{tmp}"\n'
                    f'template:\n  - id: default\n    storage: "{tmp}"\n    file: "%s.zone"\n'
                    'zone:\n  - domain: dn.test.\n')
        proc = subprocess.Popen([knotd, "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=tmp)
        if not c.check(g.wait_for_answer(port, "dn.test.", proc=proc), "Knot started"):
            return
        with g.Gslbd(binary, [("dn.test.", ZONE)]) as srv:
            for qname in QUERIES:
                for qtype in ["A", "DNAME", "TXT"]:
                    m = dns.message.make_query(qname, qtype)
                    ours, knots = g.udp(m, srv.port), g.udp(m, port)
                    got = (dns.rcode.to_text(ours.rcode()), sorted(r.to_text().lower() for r in ours.answer))
                    want = (dns.rcode.to_text(knots.rcode()), sorted(r.to_text().lower() for r in knots.answer))
                    c.eq(got, want, f"{qname} {qtype}: as Knot answers")
            r = g.udp(dns.message.make_query(QUERIES[-1], "A"), srv.port)
            c.eq(dns.rcode.to_text(r.rcode()), "YXDOMAIN", "a name made too long is YXDOMAIN")
            r = g.udp(dns.message.make_query(QUERIES[0], "A"), srv.port)
            c.eq(len(r.answer), 2, "below the DNAME: the DNAME and a CNAME")
    finally:
        g.stop_process(proc, "knotd")
        shutil.rmtree(tmp, ignore_errors=True)


# RFC 6672 §3.1: the synthesised CNAME followed into a zone the same server holds.
CHASE_FROM = """$ORIGIN from.test.
$TTL 60
@    SOA ns1 h 1 3600 600 86400 60
@    NS ns1
ns1  A 192.0.2.1
d 30 DNAME to.test.
s    DNAME sub.to.test.
out  DNAME elsewhere.example.
"""
CHASE_TO = """$ORIGIN to.test.
$TTL 120
@    SOA ns1 h 7 3600 600 86400 90
@    NS ns1
ns1  A 192.0.2.1
www  A 192.0.2.80
www  AAAA 2001:db8::80
mx   MX 10 www
chain CNAME www
txt  TXT "only text"
sub.x A 192.0.2.81
deleg NS ns.elsewhere.example.
"""
CHASE_QUERIES = [("www.d.from.test.", "A"), ("WwW.D.From.test.", "AAAA"), ("mx.d.from.test.", "MX"),
                 ("chain.d.from.test.", "A"), ("txt.d.from.test.", "A"), ("missing.d.from.test.", "A"),
                 ("www.d.from.test.", "TXT"), ("www.d.from.test.", "CNAME"), ("x.s.from.test.", "A"),
                 ("y.s.from.test.", "A"), ("a.out.from.test.", "A"), ("ns1.d.from.test.", "A"),
                 ("deleg.d.from.test.", "A"), ("h.deleg.d.from.test.", "A")]


def section(m, name):
    return sorted(r.to_text().lower() for r in getattr(m, name))


def test_dname_chased_like_knot_and_nsd(c, binary, knotd):
    """The CNAME a DNAME synthesises is followed into our own zones, as NSD does: the same
    answer section and RCODE (and the SOA of a negative answer), for a target that exists, one
    reached through a CNAME chain, NODATA and NXDOMAIN at the target; not followed out of our
    zones or for qtype CNAME. Knot stops at the CNAME when the target is in another zone: its
    answer section must be the start of ours."""
    tmp = tempfile.mkdtemp(prefix="gslbd-dname-chase-")
    procs = []
    try:
        for name, text in (("from.test.zone", CHASE_FROM), ("to.test.zone", CHASE_TO)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        refs = []
        kport = g.free_port()
        with open(os.path.join(tmp, "knot.conf"), "w") as f:
            f.write(f'server:\n  listen: 127.0.0.1@{kport}\n  rundir: "{tmp}"\n'
                    f'database:\n  storage: "{tmp}"\n'
                    f'template:\n  - id: default\n    storage: "{tmp}"\n    file: "%s.zone"\n'
                    'zone:\n  - domain: from.test.\n  - domain: to.test.\n')
        procs.append(subprocess.Popen([knotd, "-c", os.path.join(tmp, "knot.conf")],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                      stdin=subprocess.DEVNULL, cwd=tmp))
        refs.append(("Knot", kport, procs[-1]))
        nsd = g.find_server("nsd")
        if nsd:
            nport = g.free_port()
            os.makedirs(os.path.join(tmp, "nsd"))
            with open(os.path.join(tmp, "nsd.conf"), "w") as f:
                f.write(g.nsd_config(os.path.join(tmp, "nsd"), nport, tmp,
                                     'zone:\n  name: "from.test."\n  zonefile: "from.test.zone"\n'
                                     'zone:\n  name: "to.test."\n  zonefile: "to.test.zone"\n'))
            procs.append(subprocess.Popen([nsd, "-d", "-c", os.path.join(tmp, "nsd.conf")],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          stdin=subprocess.DEVNULL, cwd=tmp))
            refs.append(("NSD", nport, procs[-1]))
        for who, port, proc in refs:
            c.check(g.wait_for_answer(port, "to.test.", proc=proc), f"{who} started")
        with g.Gslbd(binary, [("from.test.", CHASE_FROM), ("to.test.", CHASE_TO)]) as srv:
            for qname, qtype in CHASE_QUERIES:
                m = dns.message.make_query(qname, qtype)
                ours = g.udp(m, srv.port)
                got = (dns.rcode.to_text(ours.rcode()), section(ours, "answer"))
                neg = ours.rcode() != dns.rcode.NOERROR or not any(
                    r.rdtype == dns.rdatatype.from_text(qtype) for r in ours.answer)
                for who, port, _ in refs:
                    theirs = g.udp(m, port)
                    want = (dns.rcode.to_text(theirs.rcode()), section(theirs, "answer"))
                    if who == "Knot":
                        # Knot (3.2) stops at the synthesised CNAME when its target is in
                        # another zone: its answer is the start of ours.
                        c.check(set(want[1]) <= set(got[1]) and (want[0] == got[0] or
                                                                 want[0] == "NOERROR"),
                                f"{qname} {qtype}: Knot's DNAME and CNAME are ours", f"{got} {want}")
                        continue
                    c.eq(got, want, f"{qname} {qtype}: as {who} answers")
                    c.eq(bool(ours.flags & dns.flags.AA), bool(theirs.flags & dns.flags.AA),
                         f"{qname} {qtype}: AA as {who} sets it")
                    if neg:
                        c.eq(section(ours, "authority"), section(theirs, "authority"),
                             f"{qname} {qtype}: the target zone's SOA, as {who}")
            r = g.udp(dns.message.make_query("www.d.from.test.", "A"), srv.port)
            c.eq([x.rdtype for x in r.answer], [dns.rdatatype.DNAME, dns.rdatatype.CNAME, dns.rdatatype.A],
                 "DNAME, the CNAME it makes, then the target's A")
            # Over TCP and with DO=1 (unsigned zones: the same records).
            r = g.tcp(dns.message.make_query("chain.d.from.test.", "A", want_dnssec=True), srv.port)
            c.eq(len(r.answer), 4, "over TCP with DO=1: DNAME, CNAME, the chain's CNAME and A")
    finally:
        for p in procs:
            g.stop_process(p, "reference server")
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    knotd = g.find_server("knotd")
    if knotd is None:
        print("SKIP: knotd (Debian's knot) is not installed")
        return g.SKIP
    return g.preflight(tools=("dig",)) or g.run_tests(
        [test_dname_like_knot, test_dname_chased_like_knot_and_nsd], sys.argv[1], knotd)


if __name__ == "__main__":
    sys.exit(main())
