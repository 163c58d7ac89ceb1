#!/usr/bin/env python3
"""gslbd as a primary that a standard secondary follows: Debian's NSD, on loopback, transfers
the zone by AXFR at start; a reload of gslbd that bumps the serial sends NOTIFY (RFC 1996) to
the zone's also_notify, NSD asks for the zone again and serves the new record. The SOA refresh
is an hour, so only the NOTIFY explains NSD catching up; the time it took is printed (a figure,
not an assertion)."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

ZONE = """$ORIGIN sec.test.
$TTL 300
@    IN SOA ns1 hostmaster {serial} 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   127.0.0.1
{extra}"""


def nsd_conf(d, port, primary_port):
    return g.nsd_config(d, port, d, f"""zone:
  name: "sec.test."
  zonefile: "sec.test.zone"
  allow-notify: 127.0.0.1 NOKEY
  request-xfr: AXFR 127.0.0.1@{primary_port} NOKEY
""", "  verbosity: 2\n")


def soa_serial(port):
    try:
        r = g.udp(dns.message.make_query("sec.test.", "SOA"), port, timeout=0.5)
    except Exception:  # noqa: BLE001 - not answering yet
        return None
    if r.rcode() != dns.rcode.NOERROR or not r.answer:
        return None
    return r.answer[0][0].serial


def wait(pred, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_nsd_follows_notify(c, binary, nsd):
    nsd_port = g.free_port()
    tmp = tempfile.mkdtemp(prefix="gslbd-secondary-")
    proc = None
    try:
        os.makedirs(os.path.join(tmp, "xfr"))
        extra = {"sec.test.": f'also_notify = ["127.0.0.1:{nsd_port}"]'}
        with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=""))],
                     zone_extra=extra, server_extra='\n[log]\ntargets = ["stderr"]') as srv:
            conf = os.path.join(tmp, "nsd.conf")
            with open(conf, "w") as f:
                f.write(nsd_conf(tmp, nsd_port, srv.port))
            proc = subprocess.Popen([nsd, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(tmp, "nsd.stderr"), "w"),
                                    stdin=subprocess.DEVNULL, cwd=tmp)
            if not c.check(wait(lambda: soa_serial(nsd_port) == 1, 15),
                           "NSD transfers the zone from gslbd at start (serial 1)",
                           open(os.path.join(tmp, "nsd.log")).read()[-2000:]
                           if os.path.exists(os.path.join(tmp, "nsd.log")) else ""):
                return
            nsd_log = os.path.join(tmp, "nsd.log")
            zone_file = os.path.join(srv.dir, "zones", "sec.test.zone")
            with open(zone_file, "w") as f:
                f.write(ZONE.format(serial=2, extra="new  IN A   192.0.2.77\n"))
            start = time.monotonic()
            srv.proc.send_signal(signal.SIGHUP)

            def has_new():
                try:
                    r = g.udp(dns.message.make_query("new.sec.test.", "A"), nsd_port, timeout=0.5)
                except Exception:  # noqa: BLE001
                    return False
                return bool(r.answer) and r.answer[0][0].address == "192.0.2.77"
            followed = wait(has_new, 10)
            took = time.monotonic() - start
            c.check(followed, "after the reload NSD serves the new record (NOTIFY, then a transfer)",
                    srv.log_text()[-2000:])
            if followed:
                print(f"figure: reload to NSD serving the new serial: {took * 1000:.0f} ms")
            else:
                print("gslbd's log:", srv.log_text()[-2000:])
                if os.path.exists(nsd_log):
                    print("NSD's log:", open(nsd_log).read()[-3000:])
            c.eq(soa_serial(nsd_port), 2, "NSD has serial 2")
            log = srv.log_text()
            c.check(f"event=notify-sent zone=sec.test. serial=2 to=127.0.0.1:{nsd_port}" in log,
                    "gslbd logs the NOTIFY it sent", log[-2000:])
            c.check(wait(lambda: "event=notify-acked zone=sec.test. serial=2" in srv.log_text(), 5),
                    "and NSD's answer to it", srv.log_text()[-2000:])
            # A reload that does not change the serial sends nothing.
            srv.proc.send_signal(signal.SIGHUP)
            wait(lambda: srv.log_text().count("event=reloaded") >= 2, 10)
            time.sleep(0.3)
            c.eq(srv.log_text().count("event=notify-sent"), 1, "an unchanged serial is not announced")
    finally:
        g.stop_process(proc, "nsd")
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    rc = g.preflight(tools=("dig",))
    if rc is not None:
        return rc
    nsd = shutil.which("nsd") or ("/usr/sbin/nsd" if os.access("/usr/sbin/nsd", os.X_OK) else None)
    if nsd is None:
        print("SKIP: nsd is not installed")
        return g.SKIP
    return g.run_tests([test_nsd_follows_notify], sys.argv[1], nsd)


if __name__ == "__main__":
    sys.exit(main())
