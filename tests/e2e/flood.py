#!/usr/bin/env python3
"""A bounded UDP query flood from many loopback source addresses, with a well-behaved client
measured alongside it. Used by test_rrl.py and, from the command line, for the figures in the
README:

    python3 tests/e2e/flood.py --port 5353 --name www.example.test. --nets 20 --hosts 10 \\
        --seconds 5 --qps 4000 --good 127.0.200.1

Every socket is bound to 127.0.N.M (Linux routes all of 127.0.0.0/8 to lo), so the server sees
many clients in several /24 netblocks. Sends are paced to --qps in all and stop after --seconds:
nothing here can run away. It talks to nothing but 127.0.0.0/8.
"""

import argparse
import os
import socket
import sys
import threading
import time

import dns.edns
import dns.exception
import dns.flags
import dns.message
import dns.query


def sources(nets, hosts, first_net=10):
    return [f"127.0.{first_net + n}.{1 + h}" for n in range(nets) for h in range(hosts)]


class GoodClient(threading.Thread):
    """Looks a name up every `interval` seconds like a stub resolver with a retry policy: UDP
    with a short timeout, retried; TC=1 sends it over TCP. With `cookie`, it first learns a
    server cookie and sends it on every query."""

    def __init__(self, port, source, qname, interval=0.25, tries=4, timeout=0.4, cookie=False):
        super().__init__(daemon=True)
        self.port, self.source, self.qname = port, source, qname
        self.interval, self.tries, self.timeout, self.cookie = interval, tries, timeout, cookie
        self.stop = threading.Event()
        self.lookups = self.answered = self.first_try = self.via_tcp = 0
        self.server_cookie = None

    def query(self):
        opts = []
        if self.cookie:
            data = b"\x01\x02\x03\x04\x05\x06\x07\x08" + (self.server_cookie or b"")
            opts = [dns.edns.GenericOption(10, data)]
        return dns.message.make_query(self.qname, "A", use_edns=0, options=opts)

    def learn(self, m):
        for o in m.options:
            if o.otype == 10:
                data = o.to_wire()
                if len(data) > 8:
                    self.server_cookie = bytes(data[8:])

    def lookup(self):
        for attempt in range(self.tries):
            try:
                m = dns.query.udp(self.query(), "127.0.0.1", port=self.port, timeout=self.timeout,
                                  source=self.source, ignore_unexpected=True)
            except dns.exception.Timeout:
                continue
            if m.flags & dns.flags.TC:
                m = dns.query.tcp(self.query(), "127.0.0.1", port=self.port, timeout=2,
                                  source=self.source)
                self.via_tcp += 1
            self.learn(m)
            if m.rcode() == 0:
                self.first_try += attempt == 0
                return True
        return False

    def run(self):
        if self.cookie:  # learn the server cookie over TCP, as a resolver may
            self.learn(dns.query.tcp(self.query(), "127.0.0.1", port=self.port, timeout=2,
                                     source=self.source))
        while not self.stop.is_set():
            self.lookups += 1
            self.answered += self.lookup()
            self.stop.wait(self.interval)


def flood(port, srcs, seconds, qps, qname="www.e2e.test.", qtype="A"):
    """Sends `qname` from every address in `srcs` in turn, `qps` a second in all, for `seconds`.
    Returns counts: sent, answered (full replies), truncated (TC=1 replies)."""
    wire = bytearray(dns.message.make_query(qname, qtype, use_edns=0).to_wire())
    socks = []
    for ip in srcs:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        s.bind((ip, 0))
        s.setblocking(False)
        socks.append(s)
    sent = answered = truncated = 0

    def drain():
        nonlocal answered, truncated
        for s in socks:
            while True:
                try:
                    r = s.recv(4096)
                except (BlockingIOError, ConnectionRefusedError):
                    break
                if len(r) >= 12:
                    if r[2] & 0x02:
                        truncated += 1
                    else:
                        answered += 1

    start = time.monotonic()
    end = start + seconds
    try:
        i = 0
        while True:
            now = time.monotonic()
            if now >= end:
                break
            due = int((now - start) * qps)
            while sent < due:
                wire[0:2] = (sent & 0xFFFF).to_bytes(2, "big")
                try:
                    socks[i % len(socks)].sendto(wire, ("127.0.0.1", port))
                except (BlockingIOError, ConnectionRefusedError):
                    pass
                sent += 1
                i += 1
            drain()
            time.sleep(0.002)
        time.sleep(0.3)  # replies still in flight
        drain()
    finally:
        for s in socks:
            s.close()
    return {"sent": sent, "answered": answered, "truncated": truncated}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="www.example.test.")
    ap.add_argument("--nets", type=int, default=20, help="/24 netblocks 127.0.10.0/24 and up")
    ap.add_argument("--hosts", type=int, default=10, help="source addresses in each")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--qps", type=int, default=4000)
    ap.add_argument("--good", default="127.0.200.1", help="the well-behaved client's address")
    ap.add_argument("--good-in-flood", action="store_true",
                    help="put the well-behaved client inside the first flooded /24")
    ap.add_argument("--cookie", action="store_true", help="the well-behaved client uses cookies")
    a = ap.parse_args()
    if a.seconds > 60 or a.qps > 50000:
        sys.exit("keep it bounded: at most 60 s and 50000 q/s")
    good_ip = "127.0.10.250" if a.good_in_flood else a.good
    good = GoodClient(a.port, good_ip, a.name, cookie=a.cookie)
    good.start()
    r = flood(a.port, sources(a.nets, a.hosts), a.seconds, a.qps, a.name)
    good.stop.set()
    good.join(5)
    dropped = r["sent"] - r["answered"] - r["truncated"]
    print(f"flood: {a.nets * a.hosts} sources in {a.nets} /24s, {a.seconds:g} s at {a.qps} q/s")
    print(f"  sent {r['sent']}  answered {r['answered']}  truncated (slipped) {r['truncated']}  "
          f"unanswered {dropped}")
    print(f"well-behaved client {good_ip}{' (cookie)' if a.cookie else ''}: "
          f"{good.answered}/{good.lookups} lookups answered, {good.first_try} on the first try, "
          f"{good.via_tcp} via TCP after TC=1")


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
