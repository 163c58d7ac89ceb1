#!/usr/bin/python3
"""Memory of gslbd while TCP clients pipeline queries and never read the answers.

  bench/hostile/tcp_unread.py PATH/TO/gslbd [SECONDS]

One client from 127.0.0.1 sends fat TXT queries (ten 200-byte strings each) as fast as the
kernel takes them, for SECONDS (default 20), without reading; then another does the same with
AXFR requests for a 1,200-name zone. Prints the bytes of queries sent and gslbd's RSS before
and at its peak. Loopback only; gslbd is started and stopped here by its PID.
"""
import os
import sys
import time

sys.dont_write_bytecode = True
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import gslbtest as g  # noqa: E402
import test_hostile as h  # noqa: E402

import dns.message  # noqa: E402


def main():
    binary = sys.argv[1]
    secs = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
    extra = 'tcp_idle_timeout = "60s"'  # longer than the run: memory, not the timeout, is measured
    with g.Gslbd(binary, [("big.test.", h.ZONE)], server_extra=extra,
                 allow_transfer=("127.0.0.1",)) as srv:
        pid = srv.proc.pid
        before = h.rss_kb(pid)
        for kind, q in (("TXT", dns.message.make_query("fat.big.test.", "TXT")),
                        ("AXFR", dns.message.make_query("big.test.", "AXFR"))):
            s = h.connect(srv.port, "127.0.0.1")
            s.setblocking(False)
            blob = h.framed(q) * 500
            sent = peak = 0
            end = time.monotonic() + secs
            while time.monotonic() < end:
                try:
                    sent += s.send(blob)
                except BlockingIOError:
                    time.sleep(0.005)
                except OSError:
                    break
                peak = max(peak, h.rss_kb(pid))
            print(f"{kind}: {secs:.0f} s of pipelined queries, never read: {sent / 1e6:.1f} MB of "
                  f"queries taken, gslbd RSS {before / 1024:.0f} MB -> peak {peak / 1024:.0f} MB",
                  flush=True)
            s.close()
            time.sleep(0.5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
