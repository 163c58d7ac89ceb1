#!/usr/bin/env python3
"""Zone files as BIND reads them: each case is loaded by `named-compilezone` (bind9-utils) and
by gslbd, and gslbd's AXFR must hold exactly BIND's canonical records (owner spelling, TTL,
type, RDATA; the AXFR is written in RFC 3597 form and read back by named-compilezone, so both
sides are in BIND's presentation and a duplicate BIND would fold counts). Cases BIND rejects must be rejected by `gslbd --check-config` too, and what BIND
loads with a warning (out-of-zone data) loads with gslbd's `event=zone-warning`."""

import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402

import dns.message  # noqa: E402
import dns.rdatatype  # noqa: E402

SOA = "@ IN SOA ns1 hostmaster 1 3600 600 86400 55\n@ IN NS ns1\nns1 A 192.0.2.1\n"

# name -> (zone text, {included file: text}); each zone's origin is NAME.test.
CASES = {
    # RFC 1035/2308 TTLs without $TTL: an SOA without TTL takes its MINIMUM, which then stands
    # in for $TTL; an explicit TTL before any default is carried to later records.
    "ttlsoa": ("@ IN SOA ns1 h 1 2 3 4 55\n  IN NS ns1\nns1 A 192.0.2.1\nx 77 A 192.0.2.2\n"
               "y A 192.0.2.3\n", {}),
    "ttl1035": ("@ 100 IN SOA ns1 h 1 2 3 4 55\n  IN NS ns1\nns1 A 192.0.2.1\n"
                "x 3 A 192.0.2.2\ny A 192.0.2.3\n$TTL 1h30m\nz A 192.0.2.4\nw 1W IN A 192.0.2.5\n",
                {}),
    # $ORIGIN relative to the current one, $INCLUDE with an origin, a quoted name, a comment;
    # the includer's origin is back after the include; $TTL set inside an include stays.
    "origin": ("$TTL 60\n" + SOA + "$ORIGIN sub\nz A 192.0.2.4\n"
               "$INCLUDE \"inc.db\" ; a comment\n$INCLUDE inc.db other.origin.test.\n"
               "$INCLUDE inc2.db deeper\nw A 192.0.2.5\n",
               {"inc.db": "i A 192.0.2.9\n", "inc2.db": "$TTL 7\nj TXT \"in inc2\"\n"}),
    # Case kept as written (RFC 4343), per RRset, in owners and RDATA.
    "case": ("$TTL 60\n" + SOA + "Ns1 AAAA 2001:db8::1\nMiXed CNAME Target.Example.\n"
             "lower MX 10 MAIL.case.test.\n", {}),
    # $GENERATE with BIND's modifiers.
    "gen": ("$TTL 60\n" + SOA +
            "$GENERATE 1024-1026 ${0,3,n} AAAA 2001:db8::${0,4,x}\n"
            "$GENERATE 10-11 ${0,0,N}.r TXT \"v$ \\$ $$\"\n"
            "$GENERATE 1-2 ${0,7,n}.q CNAME x${-1,2,o}.Y\n"
            "$GENERATE 30-31 ${0,1,X}.s PTR ${0,2,X}$\n"
            "$GENERATE 1-5/2 a$ 300 IN A 10.0.0.$ ; comment\n"
            # A plain $ keeps the offset of the ${...} before it; "+1" is an offset.
            "$GENERATE 5-6 o${1}-$-${0}-$ TXT \"${+2}-$\"\n", {}),
    # RFC 3597 generic RDATA: an unknown type, a known type written generically, and a record
    # of 48 KB (longer than any line ldns reads).
    "generic": ("$TTL 60\n" + SOA + "u TYPE65280 \\# 6 ABCDEF 123456\nk A \\# 4 C0000205\n"
                "e TYPE65281 \\# 0\n"
                "big TYPE65282 \\# 49152 ( " + " ".join(["00112233445566778899AABBCCDDEEFF"] * 3072)
                + " )\n", {}),
    # RFC 4035 §2.5: a CNAME with its RRSIG and NSEC.
    "signed": ("$TTL 60\n" + SOA + "a CNAME b\n"
               "a RRSIG CNAME 8 3 60 20300101000000 20200101000000 12345 signed.test. "
               "AwEAAcMnWBKLuvG/LwnPVykcmpvnntwxfshHlHRhlY0F3oz8AMcuF8gw\n"
               "a NSEC b.signed.test. CNAME RRSIG NSEC\nb A 192.0.2.7\n", {}),
    # SVCB/HTTPS presentation (RFC 9460 Appendix A.1): `alpn="h1\,h2"` is two IDs.
    "svcb": ("$TTL 60\n" + SOA + 'a SVCB 1 . alpn="h1\\,h2" port=8443\n'
             'b HTTPS 1 svc.example. alpn=h2,h3 ipv4hint=192.0.2.1,192.0.2.2\n'
             'c HTTPS 0 d.svcb.test.\n'
             'd SVCB 16 foo.example.org. mandatory=alpn alpn="a\\\\,b,h2" ipv6hint=2001:db8::1 '
             'key65333="x y"\n'
             # key1= is the generic form: its bytes are the wire form (RFC 9460 §2.1).
             'e SVCB 1 . key1="\\002h2\\002h3"\n', {}),
    # RRSIGs keep each covered type's TTL.
    "rrsig": ("$TTL 60\n" + SOA + "a 100 A 192.0.2.1\na 200 TXT \"t\"\n"
              "a 100 RRSIG A 8 3 100 20300101000000 20200101000000 12345 rrsig.test. "
              "AwEAAcMnWBKLuvG/LwnPVykcmpvnntwxfshHlHRhlY0F3oz8AMcuF8gw\n"
              "a 200 RRSIG TXT 8 3 200 20300101000000 20200101000000 12345 rrsig.test. "
              "AwEAAcMnWBKLuvG/LwnPVykcmpvnntwxfshHlHRhlY0F3oz8AMcuF8gw\n"
              "a 100 RRSIG A 8 3 100 20300101000000 20200101000000 54321 rrsig.test. "
              "AwEAAcMnWBKLuvG/LwnPVykcmpvnntwxfshHlHRhlY0F3oz8AMcuF8gw\n", {}),
    # DNAME (RFC 6672), with data below it that BIND keeps (and transfers) but never answers.
    "dname": ("$TTL 60\n" + SOA + "d 30 DNAME Example.NET.\nx.d A 192.0.2.2\n", {}),
    # An included file starts with the includer's current owner (with or without an origin
    # on the $INCLUDE line).
    "inherit": ("$TTL 60\n" + SOA + "x A 192.0.2.1\n$INCLUDE inh1.db\n$INCLUDE inh2.db sub\n",
                {"inh1.db": "  TXT \"inherited\"\n",
                 "inh2.db": "\tTXT \"inherited too\"\ny A 192.0.2.2\n"}),
    # Records that differ only in the case of a name in their RDATA are one record: within a
    # run of records with the owner spelled alike the later one stays, else the earlier one.
    # Duplicate CNAMEs are one CNAME.
    "dupcase": ("$TTL 60\n" + SOA + "x MX 10 a.b\nx MX 10 A.B\nx MX 20 c\ny MX 10 Some.Name\n"
                "Y MX 10 sOMe.nAME\nz NS p.q\nw A 192.0.2.1\nz NS P.Q\nv CNAME T\nv CNAME t\n"
                "v CNAME T\n", {}),
    # An RRset's TTL, as BIND gives it: within a run of records whose owner is spelled alike
    # the first one's, and a later run's replaces an earlier one's (for RRSIGs per covered
    # type too).
    "setttl": ("$TTL 60\n" + SOA + "x 100 A 192.0.2.1\nx 200 A 192.0.2.2\ny A 192.0.2.3\n"
               "x 300 A 192.0.2.4\nz 100 TXT \"a\"\nZ 50 TXT \"b\"\nw 100 MX 10 a\nv A 192.0.2.5\n"
               "w 200 MX 10 A\n"
               # $GENERATE's records leave the run around them whole.
               "u 100 A 192.0.2.6\n$GENERATE 1-2 g$ A 192.0.2.$\nu 200 A 192.0.2.7\n"
               # An $INCLUDE (here of an empty file) ends one.
               "t 100 A 192.0.2.8\n$INCLUDE empty.db\nt 200 A 192.0.2.9\n", {"empty.db": ""}),
    # BIND allows the KEY of RFC 2535 §2.3.5 beside a CNAME (and SIG, which dnspython
    # cannot read to compare).
    "keycname": ("$TTL 60\n" + SOA + "k CNAME ns1\nk KEY 0 3 8 AwEAAcMnWBKLuvG/LwnPVykcmpvnntwx\n",
                 {}),
    # Types ldns reads differently from BIND: NSEC3's next hashed owner name in base32hex of
    # any length and no padding (RFC 5155 §3.3), NXT (RFC 2535 §5.2), NSAP (RFC 1706 §5).
    "oddtypes": ("$TTL 60\n" + SOA + "abcdefghijklmnopqrstuv0123456789 NSEC3 2 1 5 beef 012345g A RRSIG\n"
                 "0123456789abcdefghijklmnopqrstuv NSEC3 1 0 0 - 0123456789abcdefghijklmnopqrstuv NS\n"
                 "n NXT z.oddtypes.test. A NS SIG KEY NXT\nm NXT Other. MX\n"
                 "p NSAP 0x47.0005.80.005a00.0000.0001.e133.ffffff000162.00\n", {}),
    # Character-strings split where BIND's lexer splits them: a quote inside a token; a CAA
    # value without quotes.
    "strings": ("$TTL 60\n" + SOA + 'a TXT x"y"z\nb TXT "p""q" r"s t"\nc HINFO "cpu"os\n'
                'd CAA 0 issue ca.example\ne TXT"glued"\n', {}),
    # Types BIND reads and this ldns does not know: TXT-shaped NINFO, AVC, RESINFO and WALLET,
    # DS-shaped TA, AMTRELAY (RFC 8777); and MINFO, whose names AXFR may compress.
    "moretypes": ("$TTL 60\n" + SOA + 'n NINFO "a b" c\nv AVC app:1|id:2\n'
                  "r RESINFO qnamemin exterr=15,16\nw WALLET \"ETH 0x01\"\n"
                  "t TA 30795 1 1 310D27F4D82C1FC2400704EA9939FE6E1CEAA3B9\n"
                  "m0 AMTRELAY 10 0 0 .\nm1 AMTRELAY 20 1 1 192.0.2.15\n"
                  "m2 AMTRELAY 30 0 2 2001:db8::15\nm3 AMTRELAY 40 1 3 Relay.Example.\n"
                  "mi MINFO rm em.moretypes.test.\n"
                  # KEY/DNSKEY flags as RFC 2535 §7.1 mnemonics, or in hex.
                  "k1 DNSKEY ZONE|KSK 3 8 AwEAAcMnWBKLuvG/LwnPVykcmpvnntwx\n"
                  "k2 KEY NOCONF|HOST|SIG3 3 8 AwEAAcMnWBKLuvG/LwnPVykcmpvnntwx\n"
                  "k3 DNSKEY 0x100 3 8 AwEAAcMnWBKLuvG/LwnPVykcmpvnntwx\n"
                  # The edges of what is allowed stay allowed.
                  "l1 LOC 90 0 0 N 180 0 0 W 0m\nl2 LOC 89 59 59.999 S 179 59 59.999 E 0m\n"
                  "a1 APL 1:0.0.0.0/0 !2:2001:db8::/128\n"
                  "d NS ns1\nd DS 1 8 1 0123456789012345678901234567890123456789\n", {}),
    # Out-of-zone data: skipped with a warning, as BIND does.
    "outside": ("$TTL 60\n" + SOA + "in A 192.0.2.8\nfoo.example. A 192.0.2.9\n", {}),
}

# Cases BIND refuses: gslbd must refuse them as well.
REJECTED = {
    "badhex": ("$TTL 60\n" + SOA + "x TYPE65280 \\# 6 ABCDEZ123456\n", {}),
    "shorthex": ("$TTL 60\n" + SOA + "x TYPE65280 \\# 6 ABCDEF12\n", {}),
    "nottl": ("@ IN NS ns1\n@ IN SOA ns1 h 1 2 3 4 55\nns1 A 192.0.2.1\n", {}),
    "cnameplus": ("$TTL 60\n" + SOA + "a CNAME b\na TXT \"x\"\n", {}),
    "badgen": ("$TTL 60\n" + SOA + "$GENERATE 1-2 x${0,2,q} A 10.0.0.$\n", {}),
    # NSEC3 hashes: padded, or not the 20 bytes of SHA-1.
    "n3pad": ("$TTL 60\n" + SOA + "0123456789abcdefghijklmnopqrstuv NSEC3 2 0 0 - 01234=== A\n", {}),
    "n3len": ("$TTL 60\n" + SOA + "0123456789abcdefghijklmnopqrstuv NSEC3 1 0 0 - 01234567 A\n", {}),
    # RFC 9460 §8: a key that mandatory lists must be present.
    "svcbmand": ("$TTL 60\n" + SOA + "s SVCB 1 . mandatory=alpn port=443\n", {}),
    "nsapnone": ("$TTL 60\n" + SOA + "p NSAP 0x\n", {}),
    # Once a TTL uses units every number has one: "1h30" is no TTL (and no type).
    "ttlunit": ("$TTL 60\n" + SOA + "x 1h30 A 192.0.2.1\n", {}),
    "svcbkey1": ("$TTL 60\n" + SOA + "s SVCB 1 . key1=h2\n", {}),
    # Numbers beyond their field's width (ldns wrapped them: MX 65536 became 0).
    "mxwide": ("$TTL 60\n" + SOA + "m MX 65536 mail\n", {}),
    "srvwide": ("$TTL 60\n" + SOA + "_s._tcp SRV 0 0 65536 host\n", {}),
    "caawide": ("$TTL 60\n" + SOA + "c CAA 256 issue \"ca.example\"\n", {}),
    "tlsawide": ("$TTL 60\n" + SOA + "_443._tcp TLSA 256 1 1 AB\n", {}),
    "soawide": ("$TTL 60\n@ IN SOA ns1 h 1 4294967296 600 86400 55\n@ IN NS ns1\nns1 A 192.0.2.1\n",
                {}),
    # Hex of half a byte; a SHA-256 digest that is not 32 bytes (RFC 4509).
    "oddhex": ("$TTL 60\n" + SOA + "s SSHFP 1 1 ABC\n", {}),
    "dsshort": ("$TTL 60\n" + SOA + "d NS ns1\nd DS 1 8 2 ABCD\n", {}),
    # LOC past 90 degrees of latitude or 59 minutes (RFC 1876), APL past /32 (RFC 3123).
    "locfar": ("$TTL 60\n" + SOA + "l LOC 90 1 0 N 0 E 0m\n", {}),
    "locmin": ("$TTL 60\n" + SOA + "l LOC 10 60 N 0 E 0m\n", {}),
    "aplwide": ("$TTL 60\n" + SOA + "a APL 1:10.0.0.0/33\n", {}),
    "amtzero": ("$TTL 60\n" + SOA + "m AMTRELAY 10 0 0 relay.example.\n", {}),
    # RFC 3597 data too short for its (known) type.
    "shortrd": ("$TTL 60\n" + SOA + "x NSEC3PARAM \\# 2 0100\n", {}),
}


def write_case(directory, name, case):
    text, extra = case
    path = os.path.join(directory, f"{name}.zone")
    with open(path, "w") as f:
        f.write(text)
    for fname, body in extra.items():
        with open(os.path.join(directory, fname), "w") as f:
            f.write(body)
    return path


def bind_records(directory, name, case):
    """named-compilezone's canonical form: (exit code, records, stderr)."""
    path = write_case(directory, name, case)
    r = subprocess.run(["named-compilezone", "-q", "-o", "-", f"{name}.test", path], cwd=directory,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    return r.returncode, sorted(g.bind_records(r.stdout)), r.stderr


def gslbd_records(directory, port, origin):
    """gslbd's AXFR, as BIND prints it (gslbtest.bind_render)."""
    return sorted(g.bind_render(directory, origin, g.axfr_records(port, origin)) or [])


def test_same_as_bind(c, binary):
    tmp = tempfile.mkdtemp(prefix="gslbd-bind-")
    try:
        want = {}
        zones = []
        extra = {}
        for name, case in CASES.items():
            code, recs, err = bind_records(tmp, name, case)
            if not c.check(code == 0, f"{name}: named-compilezone loads it", err):
                continue
            want[name] = recs
            zones.append((f"{name}.test.", case[0]))
            extra.update(case[1])
        with g.Gslbd(binary, zones, extra_files=extra) as srv:
            for name, recs in want.items():
                got = gslbd_records(tmp, srv.port, f"{name}.test.")
                c.check(got == recs, f"{name}: gslbd's AXFR holds exactly BIND's records",
                        f"missing {sorted(set(recs) - set(got))[:4]}\n"
                        f"extra {sorted(set(got) - set(recs))[:4]}")
            # The RRSIGs of one name are an RRset per covered type, answered together.
            if "rrsig" in want:
                r = g.tcp(dns.message.make_query("a.rrsig.test.", "RRSIG"), srv.port)
                got = sorted((rs.ttl, rd.type_covered, rd.key_tag) for rs in r.answer for rd in rs)
                c.eq(got, [(100, 1, 12345), (100, 1, 54321), (200, 16, 12345)],
                     "an RRSIG query answers every covered type's RRSIGs, each with its TTL")
            # Below a DNAME: the DNAME, then the CNAME made from the query name, even where the
            # zone holds occluded data.
            if "dname" in want:
                for qname in ("x.d.dname.test.", "Y.Z.d.dname.test."):
                    r = g.udp(dns.message.make_query(qname, "A"), srv.port)
                    got = [(rs.name.to_text().lower(), rs.ttl, dns.rdatatype.to_text(rs.rdtype),
                            rs[0].to_text().lower()) for rs in r.answer]
                    prefix = qname[: -len("d.dname.test.")].lower()
                    c.eq(got, [("d.dname.test.", 30, "DNAME", "example.net."),
                               (qname.lower(), 30, "CNAME", prefix + "example.net.")],
                         f"{qname}: DNAME and the CNAME it synthesises")
            log = srv.log_text()
            c.check("event=zone-warning zone=outside.test." in log and
                    'reason="ignoring out-of-zone data (foo.example.)"' in log,
                    "out-of-zone data is logged as a warning", log[-2000:])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_rejected_like_bind(c, binary):
    tmp = tempfile.mkdtemp(prefix="gslbd-bind-")
    try:
        for name, case in REJECTED.items():
            code, _recs, _err = bind_records(tmp, name, case)
            c.check(code != 0, f"{name}: named-compilezone rejects it")
            conf = os.path.join(tmp, f"{name}.toml")
            with open(conf, "w") as f:
                f.write(f'[server]\nlisten = ["127.0.0.1:1"]\n\n[[zone]]\nname = "{name}.test."\n'
                        f'file = "{name}.zone"\n')
            r = subprocess.run([binary, "--check-config", "--config", conf], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
            c.check(r.returncode == 1 and f"{name}.zone:" in r.stdout,
                    f"{name}: gslbd --check-config rejects it with the file and line", r.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    rc = g.preflight(tools=("named-compilezone",))
    if rc is not None:
        return rc
    return g.run_tests([test_same_as_bind, test_rejected_like_bind], sys.argv[1])


if __name__ == "__main__":
    sys.exit(main())
