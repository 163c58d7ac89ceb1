#!/usr/bin/env python3
"""Gateways that fail in ways scripts/gateway.py cannot, for the health tests:

  fakegw.py hang-accept ADDRESS PORT   accepts, reads the request, never answers
  fakegw.py hang-listen ADDRESS PORT   listens, never accepts (the kernel completes handshakes)
  fakegw.py reset ADDRESS PORT         accepts, then closes with SO_LINGER 0 (RST)

Prints "ready" once listening. Stopped by its parent with a signal.
"""
import socket
import struct
import sys
import time


def main():
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(1024)
    print("ready", flush=True)
    held = []
    while True:
        if mode == "hang-listen":
            time.sleep(3600)
            continue
        c, _ = s.accept()
        if mode == "reset":
            # Let the request arrive first, so the prober sees the reset on its read.
            c.settimeout(0.5)
            try:
                c.recv(4096)
            except OSError:
                pass
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
        else:
            held.append(c)  # never answered, never closed
            if len(held) > 512:
                held.pop(0).close()


if __name__ == "__main__":
    main()
