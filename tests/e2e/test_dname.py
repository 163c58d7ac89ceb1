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

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

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


def main():
    knotd = g.find_server("knotd")
    if knotd is None:
        print("SKIP: knotd (Debian's knot) is not installed")
        return g.SKIP
    return g.preflight(tools=("dig",)) or g.run_tests([test_dname_like_knot], sys.argv[1], knotd)


if __name__ == "__main__":
    sys.exit(main())
