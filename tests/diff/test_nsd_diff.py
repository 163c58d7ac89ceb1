#!/usr/bin/env python3
"""Differential test: gslbd against NSD, both serving tests/diff/zones/ on loopback.

Every query of a generated corpus goes to both servers as the same wire message (UDP or TCP,
with or without EDNS). The responses must agree on RCODE, AA and TC, the question (byte for
byte, so the client's case) and the answer and authority sections compared as RRsets (owner
names case-insensitively, order of RRsets and records irrelevant).

Some differences are legitimate and are reported (printed and counted) rather than failed:
  * the additional section: which addresses a server adds beyond required glue is its choice
    (RFC 1034 §4.3.2 step 6; RFC 9471 only requires in-bailiwick glue of referrals, which is
    checked);
  * the apex NS RRset in the authority section of a positive answer (RFC 2181 §6.1 lets a
    server add it; NSD does, gslbd sends minimal responses).
Known differences where gslbd follows the RFCs and NSD 4.6 does something else are listed in
KNOWN with the reason; each is still checked against what gslbd must send.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import gslbtest as g  # noqa: E402

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONES = [("diff.test.", "diff.test.zone"), ("other.test.", "other.test.zone"),
         ("child.diff.test.", "child.diff.test.zone"), ("nottl.test.", "nottl.test.zone")]
EXTRA = ["huge.inc"]
# Zones NSD is given in BIND's canonical form (named-compilezone's output), because NSD 4.6
# reads them differently from BIND, whose reading gslbd follows (README, "Zone files").
BIND_CANONICAL = {"nottl.test.zone"}

TYPES = ["A", "AAAA", "NS", "SOA", "MX", "TXT", "CNAME", "SRV", "DS", "ANY"]

# Owner names relative to diff.test. (and a few absolute), chosen to reach every lookup branch.
NAMES = [
    "@", "www", "WwW", "mixedcase", "MIXEDCASE", "MixedCase", "ns1", "ns2", "mail",
    "alias", "chain1", "chain3", "towild", "tonx", "toout", "toother", "tootherfx", "loop1",
    "self", "tosub", "toent", "foo.wild", "Foo.Bar.WILD", "exists.wild", "a.exists.wild", "wild",
    "x.cw", "ent", "c.ent", "b.c.ent", "a.b.c.ent", "z.ent", "q.b.c.ent", "y.wildent",
    "z.wildent", "w.y.wildent", "sub", "ns1.sub", "foo.sub", "a.b.SUB", "outside", "x.outside",
    "mixed", "ns.mixed", "child", "host.child", "ns1.child", "nope.child", "nonexistent",
    "a.nonexistent", "mx", "_sip._udp", "_ldap._tcp", "_tcp", "4.2.0.192.in-addr", "in-addr",
    "caa", "hinfo", "unknown", "unknown2", "bigtxt", "huge",
    "other.test.", "www.other.test.", "back.other.test.", "a.star.other.test.",
    "nx.other.test.", "ns.other.test.", "example.com.", "test.", "diff.test.example.",
    "tochild", "tochildnx", "a.cwx", "*.wild", "*.cw", "bigdeleg", "x.ns01.bigdeleg",
    "nottl.test.", "a.nottl.test.", "b.nottl.test.", "C.nottl.test.", "d.nottl.test.",
    "dn", "a.dn", "B.a.Dn", "dnlong", "a.dnlong", "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm.dnlong",
    "mmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmmm.a.dnlong",
]
EXTRA_QUERIES = [("www", "RRSIG"), ("www", "NSEC"), ("@", "DNSKEY"), ("www", "TYPE0"),
                 ("www", "MAILB"), ("www", "TYPE65535"), ("4.2.0.192.in-addr", "PTR"), ("caa", "CAA"), ("@", "CAA"), ("hinfo", "HINFO"),
                 ("dn", "DNAME"), ("a.dn", "DNAME"),
                 ("unknown", "TYPE65280"), ("unknown2", "TYPE731"), ("unknown", "TYPE65281")]

# (transport, EDNS payload or None): a query's variant is picked round-robin so that every
# combination meets every kind of name; the truncation-prone names get all of them.
VARIANTS = [("udp", None), ("udp", 512), ("udp", 1232), ("udp", 4096),
            ("tcp", None), ("tcp", 1232)]
ALL_VARIANT_NAMES = {"bigtxt", "huge", "@", "mx", "sub", "_sip._udp", "mixed", "bigdeleg"}

# Long question names move every compression pointer of a compiled answer by up to 200 bytes.
L63 = "a" * 63
LONG = [f"{L63}.{L63.upper()}.{'b' * 60}.wild", f"{L63}.{L63}.{'c' * 61}.x.sub",
        f"{L63}.{L63}.{'d' * 62}.nonexistent", f"{L63}.{L63}.{'e' * 57}.host.child",
        f"{L63}.{L63}.{'f' * 55}.cwx", f"{L63}.{L63}.{'g' * 61}.bigdeleg"]


def absolute(name):
    if name == "@":
        return "diff.test."
    return name if name.endswith(".") else name + ".diff.test."


def corpus():
    queries = []
    i = 0
    for name in NAMES:
        for qtype in TYPES:
            variants = VARIANTS if name in ALL_VARIANT_NAMES else [VARIANTS[i % len(VARIANTS)]]
            for v in variants:
                queries.append((absolute(name), qtype) + v + (i % 3 == 0,))
                i += 1
    for name in LONG:
        assert len(dns.name.from_text(absolute(name)).to_wire()) <= 255, name
        for qtype in ("A", "MX", "TXT", "NS", "CNAME", "ANY"):
            for v in VARIANTS[::2]:
                queries.append((absolute(name), qtype) + v + (False,))
    for name, qtype in EXTRA_QUERIES:
        for v in VARIANTS:
            queries.append((absolute(name), qtype) + v + (False,))
    return queries


def make(name, qtype, edns, rd):
    q = dns.message.make_query(name, qtype, use_edns=(0 if edns else False),
                               payload=edns or 1232)
    q.flags = dns.flags.RD if rd else 0
    # Every fourth query also carries CD and AD. AD must not come back from a server that does
    # not validate (RFC 6840 §5.7 makes it a signal in queries only). CD: see KNOWN below.
    if zlib.crc32(f"{name}{qtype}{edns}".encode()) % 4 == 0:
        q.flags |= dns.flags.CD | dns.flags.AD
    return q


def send(msg, port, transport):
    if transport == "udp":
        return dns.query.udp(msg, "127.0.0.1", port=port, timeout=2.0)
    return dns.query.tcp(msg, "127.0.0.1", port=port, timeout=3.0)


def rrsets(section):
    """A section as {(owner lower-cased, type): (ttl, frozenset of canonical rdata)}."""
    out = {}
    for rrset in section:
        key = (rrset.name.to_text().lower(), dns.rdatatype.to_text(rrset.rdtype))
        out[key] = (rrset.ttl, frozenset(rd.to_digestable() for rd in rrset))
    return out


def fmt_section(section):
    return "; ".join(f"{r.name} {r.ttl} {dns.rdatatype.to_text(r.rdtype)} "
                     f"{','.join(sorted(x.to_text() for x in r))}" for r in section) or "-"


def describe(m):
    return (f"rcode={dns.rcode.to_text(m.rcode())} flags={dns.flags.to_text(m.flags)} "
            f"edns={m.edns}\n        AN: {fmt_section(m.answer)}\n"
            f"        NS: {fmt_section(m.authority)}\n        AR: {fmt_section(m.additional)}")


ZONE_APEXES = {z for z, _ in ZONES}


def apex_ns_only(diff_keys):
    return diff_keys and all(t == "NS" and n in ZONE_APEXES for n, t in diff_keys)


def in_bailiwick_glue(m):
    """The addresses in `m`'s additional section below the cut its authority NS set names."""
    cuts = [r.name for r in m.authority
            if r.rdtype == dns.rdatatype.NS and r.name.to_text().lower() not in ZONE_APEXES]
    return {(r.name.to_text().lower(), r.rdtype) for r in m.additional
            if r.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA)
            and any(r.name.is_subdomain(c) for c in cuts)}


def dropped_glue(udp_reply, tcp_reply):
    """True if NSD's UDP referral lacks in-bailiwick glue that its TCP referral has."""
    if tcp_reply is None or udp_reply.flags & dns.flags.AA:
        return False
    full = in_bailiwick_glue(tcp_reply)
    return bool(full) and not full <= in_bailiwick_glue(udp_reply)


def compare(q, ours, theirs, query, nsd_full=None):
    """Returns (failures, reported, known) as lists of strings."""
    name, qtype, transport, edns, rd = query
    failures, reported, known = [], [], []

    def fail(what):
        failures.append(what)

    if (ours.flags & dns.flags.TC and not theirs.flags & dns.flags.TC and transport == "udp"
            and dropped_glue(theirs, nsd_full)):
        # KNOWN: RFC 9471 §3: when the in-bailiwick glue of a referral does not fit, the server
        # MUST set TC. gslbd does (and sends the question only, RFC 2181 §9); NSD 4.6 predates
        # RFC 9471 and sends the referral with part of the glue and no TC.
        if ours.answer or ours.authority or ours.rcode() != theirs.rcode():
            fail("a truncated referral carries records")
        else:
            known.append("referral glue does not fit: TC (RFC 9471 §3)")
        return failures, reported, known

    if ours.rcode() != theirs.rcode():
        fail(f"rcode {dns.rcode.to_text(ours.rcode())} vs {dns.rcode.to_text(theirs.rcode())}")
    if q.flags & dns.flags.CD and ours.rcode() != dns.rcode.FORMERR:
        # KNOWN: gslbd copies CD into the response as RFC 4035 §3.1.6 requires of a server
        # that serves DNSSEC data (we serve DS), like BIND and Knot; NSD 4.6 clears it.
        if not ours.flags & dns.flags.CD:
            fail("CD not copied")
        elif not theirs.flags & dns.flags.CD:
            known.append("CD copied (RFC 4035 §3.1.6)")
    for flag in (dns.flags.AA, dns.flags.TC, dns.flags.QR, dns.flags.RD, dns.flags.RA,
                 dns.flags.AD):
        if (ours.flags & flag) != (theirs.flags & flag):
            fail(f"flag {dns.flags.to_text(flag)} ours={bool(ours.flags & flag)} "
                 f"nsd={bool(theirs.flags & flag)}")
    if [r.to_text() for r in ours.question] != [r.to_text() for r in theirs.question]:
        fail("question differs")
    if (ours.edns >= 0) != (theirs.edns >= 0):
        fail(f"OPT presence ours={ours.edns} nsd={theirs.edns}")
    if ours.flags & dns.flags.TC and theirs.flags & dns.flags.TC:
        # RFC 2181 §9: a truncated response is only a signal to retry over TCP.
        return failures, reported, known

    oa, ta = rrsets(ours.answer), rrsets(theirs.answer)
    if qtype == "ANY" and transport == "udp" and oa != ta:
        # KNOWN: RFC 8482 §4.2 lets a server answer ANY with one RRset (or a subset) rather than
        # the whole node; gslbd does that over UDP to curb amplification, NSD 4.6 sends all.
        if oa and all(k in ta and ta[k] == v for k, v in oa.items()):
            known.append("ANY over UDP: one RRset (RFC 8482 §4.2)")
        else:
            fail(f"ANY answer is not a non-empty subset of NSD's")
    elif qtype == "ANY" and transport == "tcp" and oa != ta:
        # KNOWN: NSD 4.6 answers ANY with one RRset on every transport. gslbd sends the whole
        # node over TCP, where the source address is verified: RFC 8482 §4 lets a responder
        # give a conventional ANY response over TCP and a minimal one over UDP.
        if ta and all(k in oa and oa[k] == v for k, v in ta.items()) and \
                len(oa) == len({(r.name, r.rdtype) for r in ours.answer}):
            known.append("ANY over TCP: the whole node (RFC 8482 §4)")
        else:
            fail("ANY answer over TCP does not contain NSD's")
    elif oa != ta:
        fail("answer section differs")

    on, tn = rrsets(ours.authority), rrsets(theirs.authority)
    if on != tn:
        diff = set(on.items()) ^ set(tn.items())
        keys = {k for k, _ in diff}
        if ours.answer and apex_ns_only(keys):
            reported.append("apex NS in authority of a positive answer")
        else:
            fail("authority section differs")

    oad, tad = rrsets(ours.additional), rrsets(theirs.additional)
    if oad != tad:
        # In-bailiwick glue of a referral is required (RFC 9471), also when a CNAME chain ends
        # in the referral: missing it is a failure, whatever the AA flag.
        cuts = [r.name for r in ours.authority
                if r.rdtype == dns.rdatatype.NS and r.name.to_text().lower() not in ZONE_APEXES]
        missing_glue = [k for k in tad if k not in oad
                        and any(dns.name.from_text(k[0]).is_subdomain(c) for c in cuts)]
        if missing_glue:
            fail(f"referral glue missing: {missing_glue}")
        else:
            reported.append("additional section")
    return failures, reported, known


def nsd_config(d, port, zones_dir):
    zone_blocks = "".join(f"zone:\n  name: \"{z}\"\n  zonefile: \"{f}\"\n" for z, f in ZONES)
    return g.nsd_config(d, port, zones_dir, zone_blocks,
                        "  verbosity: 1\n  rrl-ratelimit: 0\n  minimal-responses: no\n"
                        "  refuse-any: no\n")


def run(gslbd, nsd):
    texts = {}
    for _, f in ZONES:
        with open(os.path.join(HERE, "zones", f)) as fh:
            texts[f] = fh.read()
    extra = {}
    for f in EXTRA:
        with open(os.path.join(HERE, "zones", f)) as fh:
            extra[f] = fh.read()
    tmp = tempfile.mkdtemp(prefix="gslbd-diff-")
    proc = None
    try:
        zones_dir = os.path.join(tmp, "zones")
        os.makedirs(zones_dir)
        os.makedirs(os.path.join(tmp, "xfr"))
        for f, t in list(texts.items()) + list(extra.items()):
            with open(os.path.join(zones_dir, f), "w") as fh:
                fh.write(t)
        for origin, f in ZONES:
            if f not in BIND_CANONICAL:
                continue
            src = os.path.join(zones_dir, f)
            os.rename(src, src + ".orig")
            r = subprocess.run(["named-compilezone", "-q", "-o", src, origin, src + ".orig"],
                               cwd=zones_dir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
            if r.returncode != 0:
                print(f"FAIL: named-compilezone {f}: {r.stdout}")
                return 1
        nsd_port = g.free_port()
        conf = os.path.join(tmp, "nsd.conf")
        with open(conf, "w") as fh:
            fh.write(nsd_config(tmp, nsd_port, zones_dir))
        proc = subprocess.Popen([nsd, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=open(os.path.join(tmp, "nsd.stderr"), "w"),
                                stdin=subprocess.DEVNULL, cwd=tmp)
        if not g.wait_for_answer(nsd_port, "diff.test.", proc=proc):
            for f in ("nsd.stderr", "nsd.log"):
                p = os.path.join(tmp, f)
                if os.path.exists(p):
                    print(open(p).read())
            print("FAIL: NSD did not start")
            return 1
        with g.Gslbd(gslbd, [(z, texts[f]) for z, f in ZONES], extra_files=extra) as srv:
            return compare_all(srv.port, nsd_port)
    finally:
        g.stop_process(proc, "nsd")
        shutil.rmtree(tmp, ignore_errors=True)


def compare_all(ours_port, nsd_port):
    queries = corpus()
    stats = {"identical": 0, "reported": 0, "known": 0, "failed": 0}
    reasons = {}
    deadline = time.monotonic() + 120
    for query in queries:
        if time.monotonic() > deadline:
            print("FAIL: corpus did not finish within 120s")
            stats["failed"] += 1
            break
        name, qtype, transport, edns, rd = query
        label = f"{name} {qtype} {transport} edns={edns} rd={int(rd)}"
        q = make(name, qtype, edns, rd)
        try:
            ours = send(q, ours_port, transport)
        except Exception as e:
            stats["failed"] += 1
            print(f"FAIL {label}: gslbd: {e!r}")
            continue
        try:
            theirs = send(q, nsd_port, transport)
        except Exception as e:
            stats["failed"] += 1
            print(f"FAIL {label}: nsd: {e!r}")
            continue
        nsd_full = None
        if ours.flags & dns.flags.TC and not theirs.flags & dns.flags.TC:
            try:
                nsd_full = send(q, nsd_port, "tcp")  # what NSD's referral holds in full
            except Exception as e:
                print(f"note {label}: NSD over TCP: {e!r}")
        failures, reported, known = compare(q, ours, theirs, query, nsd_full)
        if failures:
            stats["failed"] += 1
            print(f"FAIL {label}: {'; '.join(failures)}\n  gslbd: {describe(ours)}\n"
                  f"  nsd:   {describe(theirs)}")
        elif known:
            stats["known"] += 1
            for k in known:
                reasons[k] = reasons.get(k, 0) + 1
        elif reported:
            stats["reported"] += 1
            for r in reported:
                reasons[r] = reasons.get(r, 0) + 1
            if os.environ.get("DIFF_VERBOSE"):
                print(f"reported {label}: {', '.join(reported)}\n  gslbd: {describe(ours)}\n"
                      f"  nsd:   {describe(theirs)}")
        else:
            stats["identical"] += 1
    print(f"summary: {len(queries)} queries, {stats['identical']} identical, "
          f"{stats['known']} known differences, {stats['reported']} reported differences, "
          f"{stats['failed']} failures")
    for r, n in sorted(reasons.items()):
        print(f"  {n:4d} x {r}")
    if len(queries) < 300:
        print("FAIL: the corpus has fewer than 300 queries")
        return 1
    passed = len(queries) - stats["failed"]
    print(f"{passed} passed, {stats['failed']} failed")
    return 1 if stats["failed"] else 0


def main():
    if len(sys.argv) < 2:
        print("usage: test_nsd_diff.py PATH/TO/gslbd")
        return 2
    nsd = shutil.which("nsd") or ("/usr/sbin/nsd" if os.access("/usr/sbin/nsd", os.X_OK) else None)
    if nsd is None:
        print("SKIP: the nsd binary is not installed (Debian package nsd); no reference server")
        return g.SKIP
    return run(sys.argv[1], nsd)


if __name__ == "__main__":
    sys.exit(main())
