#!/usr/bin/env python3
"""TCP behaviour (RFC 7766): pipelined queries on one connection, frames split across
writes, the idle timeout, and the per-worker connection limit (the quietest client makes room).
Hostile clients are in test_hostile.py."""

import os
import socket
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402
import zones  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

IDLE = 1.0  # tcp_idle_timeout in the server's config, seconds
MAX_CONN = 3


def framed(msg):
    w = msg.to_wire()
    return len(w).to_bytes(2, "big") + w


def connect(port, host="127.0.0.1"):
    return socket.create_connection((host, port), timeout=3)


def closed_within(sock, seconds):
    """True if the peer closes (EOF or reset) within `seconds`; the moment it did, else None."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            return None
        except (ConnectionResetError, BrokenPipeError):
            return time.monotonic()
        if not data:
            return time.monotonic()
    return None


def test_pipelining(c, srv):
    names = [("www.e2e.test.", "A", 0), ("nx.e2e.test.", "A", 3), ("alias.e2e.test.", "A", 0),
             ("big.e2e.test.", "TXT", 0), ("sub.e2e.test.", "NS", 0), ("example.com.", "A", 5)]
    queries = []
    for i in range(30):
        name, qtype, rcode = names[i % len(names)]
        q = dns.message.make_query(name, qtype)
        q.id = 1000 + i
        queries.append((q, rcode))
    with connect(srv.port) as s:
        s.sendall(b"".join(framed(q) for q, _ in queries))  # one write, thirty queries
        deadline = time.monotonic() + 5
        got = {}
        for _ in queries:
            wire = g.tcp_read_message(s, deadline)
            if wire is None:
                break
            m = dns.message.from_wire(wire)
            got[m.id] = m
    c.eq(len(got), len(queries), "every pipelined query answered")
    for q, rcode in queries:
        m = got.get(q.id)
        if c.check(m is not None, f"answer for id {q.id}"):
            c.eq((m.rcode(), m.question[0].name, m.question[0].rdtype),
                 (rcode, q.question[0].name, q.question[0].rdtype), f"id {q.id} matches its query")


def test_half_close(c, srv):
    # Forty big answers (~2 KB each) overflow the socket buffer, so some go out through
    # queued writes; the client's FIN must not cut them off (RFC 7766 §6.2.4 answers what
    # was asked before closing).
    queries = []
    for i in range(40):
        q = dns.message.make_query("big.e2e.test.", "TXT")
        q.id = 2000 + i
        queries.append(q)
    with connect(srv.port) as s:
        s.sendall(b"".join(framed(q) for q in queries))
        s.shutdown(socket.SHUT_WR)
        time.sleep(0.3)  # let the server see the FIN while its writes are still queued
        deadline = time.monotonic() + 5
        ids = set()
        for _ in queries:
            wire = g.tcp_read_message(s, deadline)
            if wire is None:
                break
            m = dns.message.from_wire(wire)
            if sum(len(r) for r in m.answer) == 10:
                ids.add(m.id)
        c.eq(len(ids), len(queries), "every answer arrives in full after the client's FIN")
        c.check(closed_within(s, 3) is not None, "then the server closes the connection")


def test_split_frames(c, srv):
    q1 = dns.message.make_query("www.e2e.test.", "A")
    q2 = dns.message.make_query("www.e2e.test.", "AAAA")
    data = framed(q1) + framed(q2)
    with connect(srv.port) as s:
        # Byte by byte for the first frame's length, then the rest in two uneven pieces.
        s.sendall(data[:1])
        time.sleep(0.05)
        s.sendall(data[1:7])
        time.sleep(0.05)
        s.sendall(data[7:len(data) - 3])
        time.sleep(0.05)
        s.sendall(data[len(data) - 3:])
        deadline = time.monotonic() + 3
        ids = set()
        for _ in range(2):
            wire = g.tcp_read_message(s, deadline)
            if wire is not None:
                ids.add(dns.message.from_wire(wire).id)
    c.eq(ids, {q1.id, q2.id}, "queries split across writes are reassembled and answered")


def test_idle_timeout(c, srv):
    with connect(srv.port) as s:
        start = time.monotonic()
        when = closed_within(s, IDLE + 4)
        if c.check(when is not None, "an idle connection is closed by the server"):
            c.check(IDLE - 0.3 <= when - start <= IDLE + 2,
                    f"closed after about {IDLE}s (took {when - start:.2f}s)")
    # Activity restarts the timer: a query at 0.6 s keeps the connection past the first 1 s.
    with connect(srv.port) as s:
        start = time.monotonic()
        time.sleep(IDLE * 0.6)
        s.sendall(framed(dns.message.make_query("www.e2e.test.", "A")))
        c.check(g.tcp_read_message(s, time.monotonic() + 2) is not None, "answer before idling")
        when = closed_within(s, IDLE + 4)
        if c.check(when is not None, "closed once idle again"):
            c.check(when - start >= IDLE * 1.4,
                    f"the query restarted the idle timer (closed at {when - start:.2f}s)")


def test_connection_limit(c, srv):
    # Every slot taken by a client that asked once and went quiet: a new client still gets in,
    # and the one quiet longest is closed to make room (RFC 7766 §6.2.3).
    socks = []
    try:
        for i in range(MAX_CONN):
            s = connect(srv.port)
            socks.append(s)
            s.sendall(framed(dns.message.make_query("www.e2e.test.", "A")))
            c.check(g.tcp_read_message(s, time.monotonic() + 2) is not None,
                    f"connection {i + 1} of {MAX_CONN} is served")
            time.sleep(0.05)
        time.sleep(0.2)
        extra = connect(srv.port)
        socks.append(extra)
        extra.sendall(framed(dns.message.make_query("www.e2e.test.", "A")))
        c.check(g.tcp_read_message(extra, time.monotonic() + 2) is not None,
                f"connection {MAX_CONN + 1} is served")
        c.check(closed_within(socks[0], 1) is not None, "the first, quiet longest, was closed")
        for i, s in enumerate(socks[1:MAX_CONN], start=2):
            c.check(closed_within(s, 0.05) is None, f"connection {i} is still open")
    finally:
        for s in socks:
            s.close()


def main():
    rc = g.preflight()
    if rc is not None:
        return rc
    extra = f'tcp_idle_timeout = "{int(IDLE)}s"\ntcp_max_connections = {MAX_CONN}'
    with g.Gslbd(sys.argv[1], zones.ALL, server_extra=extra) as srv:
        return g.run_tests([test_pipelining, test_half_close, test_split_frames, test_idle_timeout,
                            test_connection_limit], srv)


if __name__ == "__main__":
    sys.exit(main())
