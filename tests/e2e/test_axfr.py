#!/usr/bin/env python3
"""Zone transfers: AXFR with dig from an allowed address returns exactly the zone's records,
SOA first and last; a client outside allow_transfer gets REFUSED; UDP gets no transfer."""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402
import zones  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.name  # noqa: E402
import dns.rdata  # noqa: E402
import dns.rdatatype  # noqa: E402
import dns.zone  # noqa: E402


def zone_records(origin, text):
    """The zone as a set of (owner, ttl, type, canonical rdata text), parsed by dnspython."""
    z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)
    out = set()
    for name, ttl, rd in z.iterate_rdatas():
        out.add((name.to_text().lower(), ttl, dns.rdatatype.to_text(rd.rdtype),
                 rd.to_digestable(dns.name.from_text(origin)).hex()))
    return out


def tool_records(lines, origin):
    out = set()
    for owner, ttl, rtype, rdata in lines:
        rd = dns.rdata.from_text("IN", rtype, rdata, origin=dns.name.from_text(origin))
        out.add((owner.lower(), ttl, rtype, rd.to_digestable(dns.name.from_text(origin)).hex()))
    return out


def axfr_lines(text):
    """dig's AXFR output: every non-comment line is a record."""
    lines = []
    for line in text.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        parts = line.split(None, 4)
        if len(parts) >= 4:
            lines.append((parts[0], int(parts[1]), parts[3], parts[4] if len(parts) > 4 else ""))
    return lines


def test_axfr_allowed(c, binary):
    with g.Gslbd(binary, zones.ALL, v6=True) as srv:
        hosts = ["127.0.0.1"] + (["::1"] if srv.v6 else [])
        for host in hosts:
            for origin, text in zones.ALL:
                code, out = g.dig(srv.port, "AXFR", origin, host=host)
                lines = axfr_lines(out)
                if not c.check(len(lines) >= 2, f"{host} {origin}: dig AXFR returned records",
                               out[-500:]):
                    continue
                c.eq((lines[0][2], lines[-1][2]), ("SOA", "SOA"),
                     f"{host} {origin}: AXFR starts and ends with the SOA")
                got = tool_records(lines[:-1], origin)
                want = zone_records(origin, text)
                c.check(got == want, f"{host} {origin}: AXFR holds exactly the zone's records",
                        f"missing {sorted(want - got)[:5]}, extra {sorted(got - want)[:5]}")
                c.eq(len(lines) - 1, len(want), f"{host} {origin}: no duplicates")
        # kdig too, over TCP as AXFR requires.
        code, out = g.kdig(srv.port, "AXFR", "neg.test.")
        c.check(code == 0 and "neg.test." in out and "SOA" in out, "kdig AXFR neg.test.", out)
        # A name that is not an apex, and AXFR over UDP, transfer nothing.
        q = dns.message.make_query("www.e2e.test.", "AXFR")
        r = dns.query.tcp(q, "127.0.0.1", port=srv.port, timeout=3)
        c.check(r.rcode() != dns.rcode.NOERROR or not r.answer,
                "AXFR of a non-apex name transfers nothing", r.to_text())
        q = dns.message.make_query("e2e.test.", "AXFR")
        r = g.udp(q, srv.port)
        c.check(r.rcode() != dns.rcode.NOERROR and not r.answer, "no AXFR over UDP", r.to_text())


def test_axfr_refused(c, binary):
    # 192.0.2.0/24 (TEST-NET-1) is only ACL content here: nothing is ever sent there.
    with g.Gslbd(binary, zones.ALL, v6=True, allow_transfer=("192.0.2.0/24",)) as srv:
        hosts = ["127.0.0.1"] + (["::1"] if srv.v6 else [])
        for host in hosts:
            q = dns.message.make_query("e2e.test.", "AXFR")
            r = dns.query.tcp(q, host, port=srv.port, timeout=3)
            c.eq((r.rcode(), len(r.answer)), (dns.rcode.REFUSED, 0),
                 f"{host}: AXFR outside allow_transfer is REFUSED")
            code, out = g.dig(srv.port, "AXFR", "e2e.test.", host=host)
            c.check("SOA" not in "".join(l[2] for l in axfr_lines(out)),
                    f"{host}: dig AXFR gets no records", out)
            c.check("REFUSED" in out or "failed" in out.lower(), f"{host}: dig reports it", out)
        # Ordinary queries from the same client are still answered.
        r = g.udp(dns.message.make_query("www.e2e.test.", "A"), srv.port)
        c.eq(len(r.answer), 1, "queries are not affected by the transfer ACL")


def main():
    rc = g.preflight()
    if rc is not None:
        return rc
    return g.run_tests([test_axfr_allowed, test_axfr_refused], sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
