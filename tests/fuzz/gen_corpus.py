#!/usr/bin/env python3
"""Writes the seed corpus: well-formed queries for every kind of answer, plus a few malformed
ones. Run once; the files are kept in tests/fuzz/corpus."""
import os
import struct
import sys

def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"

def query(qname, qtype, edns=None, flags=0x0100, qid=0x4242, options=b""):
    msg = struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    msg += name(qname) + struct.pack(">HH", qtype, 1)
    if edns:
        msg += b"\0" + struct.pack(">HHIH", 41, edns, 0, len(options)) + options
    return msg

def cookie(data):
    return struct.pack(">HH", 10, len(data)) + data

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)
cases = []
for qn in ["www.example.test", "WwW.ExAmPlE.tEsT", "nope.example.test", "b.ent.example.test",
           "alias.example.test", "loop1.example.test", "x.y.wild.example.test", "wc.example.test",
           "host.sub.example.test", "sub.example.test", "example.test", "big.example.test",
           "_sip._tcp.example.test", "www.example.org", "."]:
    for qt in [1, 28, 2, 6, 15, 16, 5, 33, 43, 255, 252]:
        cases.append(query(qn, qt))
        cases.append(query(qn, qt, edns=1232))
cases.append(query("www.example.test", 1, edns=512)[:-3])
cases.append(b"\x00\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01")
cases.append(query("www.example.test", 1, flags=0x1000))
# DNS cookies (RFC 7873): a client cookie, one with a version-1 server cookie, malformed lengths,
# two COOKIE options.
cc = bytes(range(1, 9))
for data in [cc, cc + bytes.fromhex("010000005cf79f111f8130c3eee29480"), cc[:5], cc + cc[:3],
             cc * 6]:
    cases.append(query("www.example.test", 1, edns=1232, options=cookie(data)))
cases.append(query("nope.example.test", 1, edns=1232, options=cookie(cc) + cookie(cc + cc)))
# EDNS Client Subnet (RFC 7871): IPv4 /24, IPv6 /48, /0, then malformed: unknown family, too
# long a prefix, bits past the prefix, a short address, two options; and ECS beside a cookie.
def ecs(family, source, address, scope=0):
    return struct.pack(">HHHBB", 8, 4 + len(address), family, source, scope) + address
for opt in [ecs(1, 24, bytes([198, 51, 100])), ecs(2, 48, bytes.fromhex("20010db80001")),
            ecs(1, 0, b""), ecs(3, 0, b""), ecs(1, 33, bytes(5)), ecs(1, 23, bytes([198, 51, 101])),
            ecs(1, 24, bytes([198, 51])), ecs(1, 24, bytes([1, 2, 3])) * 2,
            cookie(cc) + ecs(1, 32, bytes([203, 0, 113, 7]))]:
    cases.append(query("www.example.test", 1, edns=1232, options=opt))
for i, c in enumerate(cases):
    with open(os.path.join(out, f"seed-{i:03d}"), "wb") as f:
        f.write(c)
print(f"{len(cases)} seeds in {out}")
