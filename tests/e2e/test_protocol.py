#!/usr/bin/env python3
"""Protocol edges with raw packets and dnspython: opcodes, malformed queries, responses that
must be dropped, EDNS sizes and versions, truncation over UDP and the full answer over TCP,
ANY (RFC 8482), and the question echoed byte for byte (0x20 mixed case)."""

import os
import struct
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402
import zones  # noqa: E402

import dns.edns  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402


def header(qid=0x1234, flags=0, qd=1, an=0, ns=0, ar=0):
    return struct.pack("!6H", qid, flags, qd, an, ns, ar)


def qname(text):
    out = b""
    for label in text.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(name="www.e2e.test.", qtype=1, qclass=1):
    return qname(name) + struct.pack("!HH", qtype, qclass)


def opt(size=1232, version=0, rdata=b""):
    return b"\0" + struct.pack("!HHBBHH", 41, size, 0, version, 0, len(rdata)) + rdata


def parse_header(resp):
    qid, flags, qd, an, ns, ar = struct.unpack("!6H", resp[:12])
    return {"id": qid, "qr": bool(flags & 0x8000), "opcode": (flags >> 11) & 0xF,
            "aa": bool(flags & 0x0400), "tc": bool(flags & 0x0200), "rd": bool(flags & 0x0100),
            "ra": bool(flags & 0x0080), "rcode": flags & 0xF, "qd": qd, "an": an, "ns": ns,
            "ar": ar}


def test_opcodes(c, srv):
    for opcode in (1, 2, 4, 5, 6, 15):  # IQUERY, STATUS, NOTIFY, UPDATE, DSO, unassigned
        resp = g.raw_udp(header(flags=opcode << 11) + question(), srv.port)
        if not c.check(resp is not None, f"opcode {opcode}: answered"):
            continue
        h = parse_header(resp)
        c.eq((h["qr"], h["rcode"], h["opcode"], h["id"]), (True, 4, opcode, 0x1234),
             f"opcode {opcode}: NOTIMP with the opcode and ID copied")


def test_formerr(c, srv):
    cases = {
        "question cut short": header() + qname("www.e2e.test.")[:6],
        "no QTYPE/QCLASS": header() + qname("www.e2e.test."),
        "QDCOUNT 0": header(qd=0),
        "QDCOUNT 2": header(qd=2) + question() + question(),
        "ANCOUNT 1": header(an=1) + question() + b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4)
        + bytes(4),
        "trailing garbage": header() + question() + b"\x00\x01",
        "ARCOUNT without records": header(ar=1) + question(),
        "two OPT records": header(ar=2) + question() + opt() + opt(),
        "OPT not owned by the root": header(ar=1) + question() + qname("x.") +
        struct.pack("!HHBBHH", 41, 1232, 0, 0, 0, 0),
        "OPT option overruns": header(ar=1) + question() + opt(rdata=b"\x00\x0a\x00\x08ab"),
        "compression pointer in the question": header() + b"\xc0\x0c" + struct.pack("!HH", 1, 1),
        "label longer than the packet": header() + b"\x3fabc",
    }
    for what, pkt in cases.items():
        resp = g.raw_udp(pkt, srv.port)
        if not c.check(resp is not None, f"{what}: answered"):
            continue
        h = parse_header(resp)
        c.eq((h["qr"], h["rcode"], h["id"]), (True, 1, 0x1234), f"{what}: FORMERR")
        c.eq((h["an"], h["ns"]), (0, 0), f"{what}: FORMERR carries no records")


def test_silence(c, srv):
    cases = {
        "a response (QR=1)": header(flags=0x8000) + question(),
        "a response with an answer": header(flags=0x8400, an=1) + question() + b"\xc0\x0c" +
        struct.pack("!HHIH", 1, 1, 60, 4) + bytes(4),
        "shorter than a header": b"\x12\x34\x00",
        "empty datagram": b"",
    }
    for what, pkt in cases.items():
        c.check(g.raw_udp(pkt, srv.port, timeout=0.5) is None, f"{what}: no reply at all")
    # And the server still answers afterwards.
    c.check(g.raw_udp(header() + question(), srv.port) is not None, "still answering")


def test_edns(c, srv):
    for size in (512, 1232, 4096):
        q = dns.message.make_query("www.e2e.test.", "A", use_edns=0, payload=size)
        r = g.udp(q, srv.port)
        c.eq((r.edns, r.payload), (0, 1232), f"EDNS {size}: OPT echoed, version 0, size 1232")
        c.eq(len(r.answer), 1, f"EDNS {size}: answer")
    q = dns.message.make_query("www.e2e.test.", "A", use_edns=False)
    r = g.udp(q, srv.port)
    c.eq(r.edns, -1, "no OPT in the response when the query had none")
    # dnspython's make_query turns use_edns=1 into version 0, so this one is built by hand.
    for version in (1, 255):
        resp = g.raw_udp(header(ar=1) + question() + opt(version=version), srv.port)
        if not c.check(resp is not None, f"EDNS version {version}: answered"):
            continue
        r = dns.message.from_wire(resp)
        c.eq((r.rcode(), r.edns, len(r.answer)), (dns.rcode.BADVERS, 0, 0),
             f"EDNS version {version}: BADVERS, our OPT says version 0, no answer "
             "(RFC 6891 §6.1.3)")
    # DO is copied back (RFC 3225 §3); unknown options are ignored (RFC 6891 §6.1.2).
    q = dns.message.make_query("www.e2e.test.", "A", use_edns=0, want_dnssec=True,
                               options=[dns.edns.GenericOption(65001, b"hello")])
    r = g.udp(q, srv.port)
    c.check(r.ednsflags & dns.flags.DO, "DO bit copied")
    c.eq((r.rcode(), len(r.answer), len(r.options)), (0, 1, 0),
         "unknown option ignored, not echoed")


def test_truncation(c, srv):
    # medium: four TXT of about 195 bytes (~800 bytes): over 512, under 1232.
    # big: ten of them (~1950 bytes): over the 1232 we ever send over UDP.
    for name, payload, want_tc in (("medium", None, True), ("medium", 512, True),
                                   ("medium", 1232, False), ("medium", 4096, False),
                                   ("big", 1232, True), ("big", 4096, True), ("big", None, True)):
        q = dns.message.make_query(f"{name}.e2e.test.", "TXT", use_edns=payload is not None,
                                   payload=payload or 512)
        wire = q.to_wire()
        resp = g.raw_udp(wire, srv.port)
        if not c.check(resp is not None, f"{name}/{payload}: answered"):
            continue
        limit = 512 if payload is None else min(max(payload, 512), 1232)
        c.check(len(resp) <= limit, f"{name}/{payload}: {len(resp)} bytes within {limit}")
        h = parse_header(resp)
        c.eq(h["tc"], want_tc, f"{name}/{payload}: TC")
        if want_tc:
            c.eq((h["qd"], h["an"], h["ns"], h["ar"]), (1, 0, 0, 1 if payload else 0),
                 f"{name}/{payload}: a truncated reply holds the question (and OPT) only")
            c.eq(resp[12:12 + len(wire) - 12 - (11 if payload else 0)],
                 wire[12:len(wire) - (11 if payload else 0)], f"{name}/{payload}: question")
        else:
            c.eq(h["an"], 4, f"{name}/{payload}: whole RRset")
    for name, count in (("medium", 4), ("big", 10)):
        q = dns.message.make_query(f"{name}.e2e.test.", "TXT")
        r = g.tcp(q, srv.port)
        c.check(not r.flags & dns.flags.TC, f"{name} over TCP: no TC")
        c.eq(sum(len(s) for s in r.answer), count, f"{name} over TCP: every record")
    # dig retries over TCP by itself on TC.
    code, out = g.dig(srv.port, "big.e2e.test.", "TXT", "+noedns", "+norecurse")
    r = g.parse_tool_output(out)
    c.eq(len(r.rrs("ANSWER", "TXT")), 10, "dig falls back to TCP on TC and gets all 10")


def test_any(c, srv):
    q = dns.message.make_query("www.e2e.test.", "ANY")
    r = g.udp(q, srv.port)
    c.eq((r.rcode(), len(r.answer)), (0, 1), "ANY over UDP: one RRset (RFC 8482 §4.2)")
    r = g.tcp(q, srv.port)
    c.eq(sorted(dns.rdatatype.to_text(s.rdtype) for s in r.answer), ["A", "AAAA"],
         "ANY over TCP: the whole node")
    q = dns.message.make_query("e2e.test.", "ANY")
    r = g.tcp(q, srv.port)
    c.eq(sorted(dns.rdatatype.to_text(s.rdtype) for s in r.answer), ["MX", "NS", "SOA"],
         "ANY at the apex over TCP")
    q = dns.message.make_query("b.ent.e2e.test.", "ANY")
    r = g.udp(q, srv.port)
    c.eq((r.rcode(), len(r.answer), [s.rdtype for s in r.authority]), (0, 0, [6]),
         "ANY at an empty non-terminal: NODATA")
    q = dns.message.make_query("nx.e2e.test.", "ANY")
    c.eq(g.udp(q, srv.port).rcode(), dns.rcode.NXDOMAIN, "ANY at a missing name: NXDOMAIN")


def test_case_echo(c, srv):
    names = ["WwW.E2E.tEsT.", "aNy.ThInG.wIlD.e2e.TEST.", "NX.e2e.test.", "SUB.E2E.TEST.",
             "deep.Below.SuB.e2e.test.", "ExAmPlE.CoM."]
    for name in names:
        for transport in ("udp", "tcp"):
            q = dns.message.make_query(name, "A")
            wire = q.to_wire()
            qlen = len(wire) - 12
            if transport == "udp":
                resp = g.raw_udp(wire, srv.port)
            else:
                resp = tcp_raw(wire, srv.port)
            if not c.check(resp is not None, f"{name} {transport}: answered"):
                continue
            c.eq(resp[12:12 + qlen], wire[12:], f"{name} {transport}: question byte for byte")
            h = parse_header(resp)
            c.eq((h["id"], h["ra"]), (q.id, False), f"{name} {transport}: ID copied, RA clear")


def tcp_raw(wire, port):
    import socket
    import time
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(len(wire).to_bytes(2, "big") + wire)
        return g.tcp_read_message(s, time.monotonic() + 2)


def test_class(c, srv):
    q = dns.message.make_query("www.e2e.test.", "A", rdclass="CH")
    c.eq(g.udp(q, srv.port).rcode(), dns.rcode.REFUSED, "class CH: REFUSED")


def main():
    rc = g.preflight()
    if rc is not None:
        return rc
    tests = [test_opcodes, test_formerr, test_silence, test_edns, test_truncation, test_any,
             test_case_echo, test_class]
    with g.Gslbd(sys.argv[1], zones.ALL) as srv:
        return g.run_tests(tests, srv)


if __name__ == "__main__":
    sys.exit(main())
