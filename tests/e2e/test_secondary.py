#!/usr/bin/env python3
"""gslbd as a primary that standard secondaries follow: Debian's NSD and Knot, on loopback,
each without and with TSIG, transfer the zone at start; a reload of gslbd that bumps the serial
sends NOTIFY (RFC 1996) to the zone's also_notify, the secondary asks by IXFR (RFC 1995) and
gets the difference from gslbd's journal (its log line `event=ixfr ... from=1 to=2` proves it),
then a deleted record is followed the same way. The SOA refresh is an hour, so only the NOTIFY
explains the secondary catching up; the time it took is printed (a figure, not an assertion).
Knot, back after gslbd's history moved past its serial, gets the zone in AXFR form. kdig and
dig check the exact IXFR sequence over TCP and UDP; dig -y checks signed transfers and
refusals; a missing key is a config error.
Signed NOTIFY: NSD and Knot accepting NOTIFY only with a key refuse an unsigned one and one
signed with a wrong secret, and follow one signed with the key; a reply that is not signed over
the NOTIFY's MAC is not an ack."""

import base64
import os
import re
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

KNOTD = g.find_server("knotd")

ZONE = """$ORIGIN sec.test.
$TTL 300
@    IN SOA ns1 hostmaster {serial} 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   127.0.0.1
{extra}"""


def nsd_conf(d, port, primary_port, key=None, notify_key=None):
    """NSD as a secondary of gslbd; with `key` (name, secret) the transfers are TSIG-signed. NSD
    asks by IXFR once it holds the zone. With `notify_key` it accepts a NOTIFY only when signed
    with that key."""
    key_block = "".join(f'key:\n  name: "{k[0]}"\n  algorithm: hmac-sha256\n  secret: "{k[1]}"\n'
                        for k in (key, notify_key) if k)
    return key_block + g.nsd_config(d, port, d, f"""zone:
  name: "sec.test."
  zonefile: "sec.test.zone"
  allow-notify: 127.0.0.1 {notify_key[0] if notify_key else "NOKEY"}
  request-xfr: 127.0.0.1@{primary_port} {key[0] if key else "NOKEY"}
""", "  verbosity: 2\n")


def knot_conf(d, port, primary_port, key=None, notify_key=None):
    """Knot as a secondary of gslbd (it asks by IXFR first); with `key` the transfers are signed;
    with `notify_key` its ACL accepts a NOTIFY only when signed with that key."""
    keys = [k for k in (key, notify_key) if k]
    key_block = ("key:\n" + "".join(f"  - id: {k[0]}\n    algorithm: hmac-sha256\n    secret: {k[1]}\n"
                                     for k in keys) if keys else "")
    return f"""server:
  listen: 127.0.0.1@{port}
  rundir: "{d}"
log:
  - target: {d}/knot.log
    any: info
{key_block}database:
  storage: "{d}"
remote:
  - id: primary
    address: 127.0.0.1@{primary_port}
{"    key: " + key[0] if key else ""}
acl:
  - id: notify
    address: 127.0.0.1
{"    key: " + notify_key[0] if notify_key else ""}
    action: notify
template:
  - id: default
    storage: "{d}"
zone:
  - domain: sec.test.
    master: primary
    acl: notify
"""


def tsig_keygen(name):
    """(name, secret, key file text) as BIND's tsig-keygen writes them: its output when BIND's
    `bind9` package is installed, else the same text made here (a random 256-bit secret)."""
    if shutil.which("tsig-keygen"):
        text = subprocess.run(["tsig-keygen", "-a", "hmac-sha256", name], stdout=subprocess.PIPE,
                              text=True, check=True, timeout=10).stdout
    else:
        secret = base64.b64encode(os.urandom(32)).decode()
        text = f'key "{name}" {{\n\talgorithm hmac-sha256;\n\tsecret "{secret}";\n}};\n'
    secret = text.split('secret "', 1)[1].split('"', 1)[0]
    return name, secret, text


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


def start_secondary(kind, server, tmp, sec_port, primary_port, key=None):
    """NSD or Knot as a secondary of gslbd on `sec_port`, its state in `tmp`."""
    conf = os.path.join(tmp, f"{kind}.conf")
    with open(conf, "w") as f:
        f.write((nsd_conf if kind == "nsd" else knot_conf)(tmp, sec_port, primary_port, key))
    args = [server, "-d", "-c", conf] if kind == "nsd" else [server, "-c", conf]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(tmp, "server.stderr"), "a"),
                            stdin=subprocess.DEVNULL, cwd=tmp)


def ixfr_logged(log, frm, to, key=None):
    """Whether gslbd logged an IXFR answered from its journal, frm to `to`."""
    pattern = rf"event=ixfr zone=sec\.test\. client=127\.0\.0\.1 from={frm} to={to}"
    if key:
        pattern += rf" key={re.escape(key[0])}\.?"
    return re.search(pattern + r"(\s|$)", log) is not None


def answers(port, name, rtype="A"):
    """The addresses `name` has at the server on `port`; None when it does not answer."""
    try:
        r = g.udp(dns.message.make_query(name, rtype), port, timeout=0.5)
    except Exception:  # noqa: BLE001 - not answering yet
        return None
    return sorted(rr.address for rrset in r.answer for rr in rrset if hasattr(rr, "address"))


def follows(c, binary, server, key=None, kind="nsd"):
    sec_port = g.free_port()
    who = "NSD" if kind == "nsd" else "Knot"
    sec_log = "nsd.log" if kind == "nsd" else "knot.log"
    tmp = tempfile.mkdtemp(prefix="gslbd-secondary-")
    proc = None
    try:
        os.makedirs(os.path.join(tmp, "xfr"))
        extra = {"sec.test.": f'also_notify = ["127.0.0.1:{sec_port}"]'}
        server_extra = '\n[log]\ntargets = ["stderr"]'
        files = {}
        allow = ("127.0.0.0/8", "::1")
        if key:
            # Only the key allows the transfer: loopback is not on the address list.
            files = {"xfr.key": key[2]}
            server_extra += '\n\n[tsig]\nkey_files = ["zones/xfr.key"]'
            allow = ("192.0.2.0/24", f"key {key[0]}")
        with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=""))], zone_extra=extra,
                     server_extra=server_extra, extra_files=files, allow_transfer=allow) as srv:
            proc = start_secondary(kind, server, tmp, sec_port, srv.port, key)
            if not c.check(wait(lambda: soa_serial(sec_port) == 1, 15),
                           f"{who} transfers the zone from gslbd at start (serial 1)",
                           open(os.path.join(tmp, sec_log)).read()[-2000:]
                           if os.path.exists(os.path.join(tmp, sec_log)) else ""):
                return
            nsd_log = os.path.join(tmp, sec_log)
            zone_file = os.path.join(srv.dir, "zones", "sec.test.zone")
            with open(zone_file, "w") as f:
                f.write(ZONE.format(serial=2, extra="new  IN A   192.0.2.77\n"))
            start = time.monotonic()
            srv.proc.send_signal(signal.SIGHUP)

            followed = wait(lambda: answers(sec_port, "new.sec.test.") == ["192.0.2.77"], 10)
            took = time.monotonic() - start
            c.check(followed, f"after the reload {who} serves the new record (NOTIFY, then a transfer)",
                    srv.log_text()[-2000:])
            if followed:
                print(f"figure: reload to {who} serving the new serial: {took * 1000:.0f} ms")
            else:
                print("gslbd's log:", srv.log_text()[-2000:])
                if os.path.exists(nsd_log):
                    print(f"{who}'s log:", open(nsd_log).read()[-3000:])
            c.eq(soa_serial(sec_port), 2, f"{who} has serial 2")
            log = srv.log_text()
            c.check(f"event=notify-sent zone=sec.test. serial=2 to=127.0.0.1:{sec_port}" in log,
                    "gslbd logs the NOTIFY it sent", log[-2000:])
            c.check(wait(lambda: "event=notify-acked zone=sec.test. serial=2" in srv.log_text(), 5),
                    f"and {who}'s answer to it", srv.log_text()[-2000:])
            # A reload that does not change the serial sends nothing.
            srv.proc.send_signal(signal.SIGHUP)
            wait(lambda: srv.log_text().count("event=reloaded") >= 2, 10)
            time.sleep(0.3)
            c.eq(srv.log_text().count("event=notify-sent"), 1, "an unchanged serial is not announced")
            c.check(ixfr_logged(log, 1, 2, key),
                    f"{who} got serial 2 by IXFR from gslbd's journal (event=ixfr from=1 to=2)",
                    log[-2000:])
            # A record deleted (and another added): followed by IXFR too.
            with open(zone_file, "w") as f:
                f.write(ZONE.format(serial=3, extra="newer  IN A   192.0.2.78\n"))
            srv.proc.send_signal(signal.SIGHUP)
            c.check(wait(lambda: answers(sec_port, "newer.sec.test.") == ["192.0.2.78"] and
                         answers(sec_port, "new.sec.test.") == [], 10),
                    f"{who} drops the deleted record and serves the added one",
                    srv.log_text()[-2000:])
            c.eq(soa_serial(sec_port), 3, f"{who} has serial 3")
            c.check(ixfr_logged(srv.log_text(), 2, 3, key), f"{who} got serial 3 by IXFR",
                    srv.log_text()[-2000:])
            if key:
                c.check(f"event=axfr zone=sec.test. client=127.0.0.1 key={key[0]}" in log,
                        "the transfers were signed with the key", log[-2000:])
    finally:
        g.stop_process(proc, kind)
        shutil.rmtree(tmp, ignore_errors=True)


def test_nsd_follows_notify(c, binary, nsd):
    follows(c, binary, nsd)


def test_nsd_follows_with_tsig(c, binary, nsd):
    follows(c, binary, nsd, tsig_keygen("xfr-key"))


def test_knot_follows_notify(c, binary, nsd):
    if KNOTD:
        follows(c, binary, KNOTD, kind="knot")


def test_knot_follows_with_tsig(c, binary, nsd):
    if KNOTD:
        follows(c, binary, KNOTD, tsig_keygen("xfr-key"), kind="knot")


def test_tsig_with_dig(c, binary, nsd):
    """dig -y: the right key gets a transfer whose signatures dig checks; a wrong secret, an
    unknown key and no key at all are refused, the first two logged."""
    name, secret, text = tsig_keygen("dig-key")
    _, other, _ = tsig_keygen("dig-key")
    with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=""))],
                 server_extra='\n[log]\ntargets = ["stderr"]\n\n[tsig]\nkey_files = ["zones/k.key"]',
                 extra_files={"k.key": text}, allow_transfer=("192.0.2.0/24", f"key {name}")) as srv:
        def axfr(*extra):
            return g.run_tool(["dig", "@127.0.0.1", "-p", str(srv.port), "+time=3", "+tries=1",
                               "AXFR", "sec.test.", *extra])
        code, out = axfr("-y", f"hmac-sha256:{name}:{secret}")
        soas = [l for l in out.splitlines() if not l.startswith(";") and "\tSOA\t" in l]
        c.check(len(soas) == 2 and "tsig verify failure" not in out.lower() and
                "TSIG" in out, "signed AXFR: the zone, signed, and dig verifies it", out[-1500:])
        # IXFR from the serial gslbd serves: the SOA alone (RFC 1995 §2), signed; from an
        # older one that no history holds: the whole zone (AXFR form, §4), signed.
        def ixfr(serial, *extra):
            code, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(srv.port), "+time=3", "+tries=1",
                                    "sec.test.", f"ixfr={serial}", "-y", f"hmac-sha256:{name}:{secret}",
                                    *extra])
            return out, [l for l in out.splitlines() if not l.startswith(";") and "\tSOA\t" in l]
        out, soas = ixfr(1)
        c.check(len(soas) == 1 and "ns1.sec.test.\tA" not in out.replace(" ", "\t") and
                "TSIG" in out and "tsig verify failure" not in out.lower(),
                "IXFR from the current serial: the SOA alone, signed", out[-1500:])
        out, soas = ixfr(0)
        c.check(len(soas) == 2 and "ns1.sec.test.\t" in out.replace(" ", "\t") and
                "tsig verify failure" not in out.lower(),
                "IXFR from a serial no history holds: the whole zone (AXFR form)", out[-1500:])
        # Over UDP, signed too (the TSIG after our OPT, which it covers), and dig verifies it.
        out, soas = ixfr(0, "+notcp")
        c.check(len(soas) == 2 and "TSIG" in out and "tsig verify failure" not in out.lower() and
                "(UDP)" in out, "signed IXFR over UDP: one message, dig verifies its TSIG", out[-1500:])
        r = g.udp(dns.message.make_query("sec.test.", "IXFR"), srv.port)
        c.eq((dns.rcode.to_text(r.rcode()), len(r.answer)), ("REFUSED", 0),
             "unsigned IXFR over UDP, not on the list: REFUSED")
        code, out = axfr("-y", f"hmac-sha256:{name}:{other}")
        c.check("SOA" not in "".join(l for l in out.splitlines() if not l.startswith(";")),
                "a wrong secret gets no zone", out[-800:])
        code, out = axfr("-y", f"hmac-sha256:nobody:{secret}")
        c.check("SOA" not in "".join(l for l in out.splitlines() if not l.startswith(";")),
                "an unknown key gets no zone", out[-800:])
        code, out = axfr()
        c.check("REFUSED" in out or "failed" in out.lower(), "no key, not on the list: refused",
                out[-800:])
        log = srv.log_text()
        c.check(f"event=axfr-refused zone=sec.test. client=127.0.0.1 tsig=bad-signature key={name}."
                in log, "the wrong secret is logged", log[-1500:])
        c.check("event=axfr-refused zone=sec.test. client=127.0.0.1 tsig=unknown-key key=nobody."
                in log, "the unknown key is logged", log[-1500:])


def test_out_of_history_gets_axfr(c, binary, nsd):
    """ixfr_history = 1: Knot, stopped at serial 1 while gslbd goes to 2 and then 3, asks by IXFR
    from 1 when it is back; the journal only reaches back to 2, so gslbd answers in AXFR form
    (logged `event=axfr ... ixfr-from=1`) and Knot serves serial 3."""
    if not KNOTD:
        return
    sec_port = g.free_port()
    tmp = tempfile.mkdtemp(prefix="gslbd-secondary-")
    proc = None
    try:
        with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra="a IN A 192.0.2.1\n"))],
                     zone_extra={"sec.test.": "ixfr_history = 1"},
                     server_extra='\n[log]\ntargets = ["stderr"]') as srv:
            proc = start_secondary("knot", KNOTD, tmp, sec_port, srv.port)
            if not c.check(wait(lambda: soa_serial(sec_port) == 1, 15), "Knot starts at serial 1"):
                return
            g.stop_process(proc, "knot")
            zone_file = os.path.join(srv.dir, "zones", "sec.test.zone")
            for n, serial in enumerate((2, 3), start=2):
                with open(zone_file, "w") as f:
                    f.write(ZONE.format(serial=serial, extra=f"a IN A 192.0.2.{serial}\n"))
                srv.proc.send_signal(signal.SIGHUP)
                wait(lambda: srv.log_text().count("event=reloaded") >= n - 1 and
                     soa_serial(srv.port) == serial, 10)
            c.eq(soa_serial(srv.port), 3, "gslbd serves serial 3")
            proc = start_secondary("knot", KNOTD, tmp, sec_port, srv.port)
            conf = os.path.join(tmp, "knot.conf")
            wait(lambda: soa_serial(sec_port) is not None, 10)
            if soa_serial(sec_port) != 3:
                # Knot keeps its refresh timer across restarts: ask it to look now.
                g.run_tool(["knotc", "-c", conf, "zone-refresh", "sec.test."])
            c.check(wait(lambda: soa_serial(sec_port) == 3, 10) and
                    answers(sec_port, "a.sec.test.") == ["192.0.2.3"],
                    "Knot, back at serial 1, catches up to serial 3", srv.log_text()[-2000:])
            log = srv.log_text()
            c.check("event=axfr zone=sec.test. client=127.0.0.1 ixfr-from=1" in log,
                    "its IXFR from 1, beyond the history, got the zone in AXFR form", log[-2000:])
            c.check(not ixfr_logged(log, 1, 3), "and no incremental answer from 1", log[-2000:])
    finally:
        g.stop_process(proc, "knot")
        shutil.rmtree(tmp, ignore_errors=True)


def records(out):
    """The records of dig's or kdig's text output, in order, as "name TYPE rdata"."""
    recs = []
    for line in out.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        parts = line.split()
        if len(parts) >= 5 and parts[2] == "IN":
            recs.append(" ".join([parts[0], parts[3]] + parts[4:]))
    return recs


def test_ixfr_sequence(c, binary, nsd):
    """The exact IXFR answer (RFC 1995 §4): kdig over TCP from each serial of the history, dig
    over UDP the same in one message (§2), the SOA alone when it does not fit, and the zone in
    AXFR form from a serial no history holds."""
    def soa(n):
        return f"sec.test. SOA ns1.sec.test. hostmaster.sec.test. {n} 3600 600 86400 300"

    def a(name, i):
        return f"{name}.sec.test. A 192.0.2.{i}"
    versions = {1: "a IN A 192.0.2.1\nb IN A 192.0.2.2\n", 2: "b IN A 192.0.2.2\nc IN A 192.0.2.3\n",
                3: "c IN A 192.0.2.3\nd IN A 192.0.2.4\n"}
    with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=versions[1]))],
                 server_extra='\n[log]\ntargets = ["stderr"]') as srv:
        zone_file = os.path.join(srv.dir, "zones", "sec.test.zone")

        def reload_to(serial, extra, served=None):
            served = served or serial
            with open(zone_file, "w") as f:
                f.write(ZONE.format(serial=serial, extra=extra))
            srv.proc.send_signal(signal.SIGHUP)
            return c.check(wait(lambda: soa_serial(srv.port) == served, 10), f"gslbd serves serial {served}",
                           srv.log_text()[-1500:])
        if not (reload_to(2, versions[2]) and reload_to(3, versions[3])):
            return
        code, out = g.kdig(srv.port, "sec.test.", "IXFR=1", tcp=True)
        c.eq(records(out), [soa(3), soa(1), a("a", 1), soa(2), a("c", 3), soa(2), a("b", 2), soa(3),
                            a("d", 4), soa(3)], "kdig IXFR=1: current SOA, each delta, current SOA")
        code, out = g.kdig(srv.port, "sec.test.", "IXFR=2", tcp=True)
        c.eq(records(out), [soa(3), soa(2), a("b", 2), soa(3), a("d", 4), soa(3)], "kdig IXFR=2: the last delta")
        code, out = g.kdig(srv.port, "sec.test.", "IXFR=3", tcp=True)
        c.eq(records(out), [soa(3)], "kdig IXFR=3 (up to date): the SOA alone")
        log = srv.log_text()
        c.check(ixfr_logged(log, 1, 3) and ixfr_logged(log, 2, 3), "each logged as event=ixfr", log[-1500:])
        # UDP: the same answer in one message.
        code, out = g.dig(srv.port, "sec.test.", "ixfr=2", "+notcp")
        c.eq(records(out), [soa(3), soa(2), a("b", 2), soa(3), a("d", 4), soa(3)],
             "dig +notcp ixfr=2: the whole sequence over UDP")
        c.check("transport=udp" in srv.log_text(), "logged with transport=udp", srv.log_text()[-1500:])
        # A version whose difference does not fit a UDP message: the SOA alone there (the
        # client retries over TCP), everything over TCP.
        big = "".join(f"t{i} IN TXT \"{'x' * 200}\"\n" for i in range(40))
        if not reload_to(4, versions[3] + big):
            return
        code, out = g.dig(srv.port, "sec.test.", "ixfr=3", "+notcp", "+ignore")
        c.eq(records(out), [soa(4)], "dig +notcp ixfr=3 (too big for UDP): the SOA alone")
        code, out = g.kdig(srv.port, "sec.test.", "IXFR=3", tcp=True)
        recs = records(out)
        c.check(len(recs) == 4 + 40 and recs[0] == soa(4) and recs[-1] == soa(4),
                "kdig IXFR=3 over TCP: the 40 added records", out[-1500:])
        # A serial no history holds: the zone in AXFR form, SOA first and last.
        code, out = g.kdig(srv.port, "sec.test.", "IXFR=0", tcp=True)
        recs = records(out)
        c.check(len(recs) == 2 + 2 + 2 + 40 and recs[0] == soa(4) and recs[-1] == soa(4) and
                a("d", 4) in recs, "kdig IXFR=0: the whole zone in AXFR form", out[-1500:])
        c.check("event=axfr zone=sec.test. client=127.0.0.1 ixfr-from=0" in srv.log_text(),
                "logged as event=axfr with ixfr-from", srv.log_text()[-1500:])
        # Changed but the file's serial was not raised: served as 5 so that secondaries
        # follow, with a warning.
        if not reload_to(4, versions[3] + big + "e IN A 192.0.2.5\n", served=5):
            return
        c.check("event=zone-serial-kept zone=sec.test. file-serial=4 served=4 serial=5" in srv.log_text(),
                "the unchanged serial is logged", srv.log_text()[-1500:])
        code, out = g.kdig(srv.port, "sec.test.", "IXFR=4", tcp=True)
        c.eq(records(out), [soa(5), soa(4), soa(5), a("e", 5), soa(5)], "kdig IXFR=4: the added record")


def test_serial_survives_restart(c, binary, nsd):
    """A serial gslbd made (records changed under the file's serial 1: served as 2) is kept
    beside the state file, and gslbd goes on from it after a restart instead of going back to
    the file's 1, which secondaries holding 2 would never fetch."""
    with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=""))],
                 server_extra='\n[log]\ntargets = ["stderr"]') as srv:
        zone_file = os.path.join(srv.dir, "zones", "sec.test.zone")
        with open(zone_file, "w") as f:
            f.write(ZONE.format(serial=1, extra="new IN A 192.0.2.77\n"))
        srv.proc.send_signal(signal.SIGHUP)
        if not c.check(wait(lambda: soa_serial(srv.port) == 2, 10), "served as 2", srv.log_text()[-1500:]):
            return
        with open(os.path.join(srv.dir, "drains.serials")) as f:
            c.eq(f.read(), "sec.test. 2 1\n", "the serial served and the file's, beside the state file")
        g.stop_process(srv.proc, "gslbd")
        srv.proc = subprocess.Popen([srv.binary, "--config", srv.config], stdout=srv.log,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        c.check(g.wait_for_answer(srv.port, "sec.test.", proc=srv.proc), "gslbd restarts", srv.log_text()[-1500:])
        c.eq(soa_serial(srv.port), 2, "after the restart: serial 2 still, not the file's 1")


def check_config_errors(binary, zone_keys):
    """gslbd --check-config on a zone sec.test. whose table ends with `zone_keys` (a key file
    holds real-key only): (exit status, output)."""
    name, secret, text = tsig_keygen("real-key")
    tmp = tempfile.mkdtemp(prefix="gslbd-tsig-")
    try:
        with open(os.path.join(tmp, "k.key"), "w") as f:
            f.write(text)
        with open(os.path.join(tmp, "z.zone"), "w") as f:
            f.write(ZONE.format(serial=1, extra=""))
        conf = os.path.join(tmp, "gslbd.toml")
        with open(conf, "w") as f:
            f.write('[server]\nlisten = ["127.0.0.1:1"]\n\n[tsig]\nkey_files = ["k.key"]\n\n'
                    '[[zone]]\nname = "sec.test."\nfile = "z.zone"\n' + zone_keys + "\n")
        r = subprocess.run([binary, "--check-config", "--config", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30, stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_unknown_key_is_a_config_error(c, binary, nsd):
    """A zone naming a key that no key file holds: --check-config says where."""
    code, out = check_config_errors(binary, 'allow_transfer = ["key real-key", "key typo-key"]')
    c.check(code == 1 and "gslbd.toml:10:35: zone sec.test.: allow_transfer: no TSIG key "
            "named typo-key in [tsig] key_files" in out,
            "an unknown key name is an error at its position", out)

# Signed NOTIFY (RFC 1996 + RFC 8945): secondaries that accept a NOTIFY only with a key.

def notify_needs_key(c, binary, server, kind):
    """Unsigned, then signed with a wrong secret, then with the right key: the secondary refuses
    the first two (gslbd logs its answer and it stays on serial 1), and follows the third."""
    who = "NSD" if kind == "nsd" else "Knot"
    sec_port = g.free_port()
    xfr = tsig_keygen("xfr-key")
    notify = tsig_keygen("notify-key")
    wrong = tsig_keygen("notify-key")
    tmp = tempfile.mkdtemp(prefix="gslbd-notify-key-")
    proc = None
    try:
        os.makedirs(os.path.join(tmp, "xfr"))
        extra = {"sec.test.": f'also_notify = ["127.0.0.1:{sec_port}"]'}
        server_extra = ('\n[log]\ntargets = ["stderr"]\n\n[tsig]\n'
                        'key_files = ["zones/xfr.key", "zones/notify.key"]')
        files = {"xfr.key": xfr[2], "notify.key": wrong[2]}
        with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=""))], zone_extra=extra,
                     server_extra=server_extra, extra_files=files,
                     allow_transfer=("192.0.2.0/24", f"key {xfr[0]}")) as srv:
            conf = os.path.join(tmp, f"{kind}.conf")
            with open(conf, "w") as f:
                f.write((nsd_conf if kind == "nsd" else knot_conf)(tmp, sec_port, srv.port, xfr, notify))
            args = [server, "-d", "-c", conf] if kind == "nsd" else [server, "-c", conf]
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(tmp, "server.stderr"), "w"),
                                    stdin=subprocess.DEVNULL, cwd=tmp)
            sec_log = os.path.join(tmp, "nsd.log" if kind == "nsd" else "knot.log")

            def sec_tail():
                return open(sec_log).read()[-2000:] if os.path.exists(sec_log) else ""
            if not c.check(wait(lambda: soa_serial(sec_port) == 1, 15),
                           f"{who} transfers the zone with the xfr key (serial 1)", sec_tail()):
                return
            zones = os.path.join(srv.dir, "zones")

            def reload(serial, notify_entry, key_text):
                with open(os.path.join(zones, "notify.key"), "w") as f:
                    f.write(key_text)
                with open(srv.config) as f:
                    text = f.read()
                start = text.index("also_notify = ")
                end = text.index("\n", start)
                with open(srv.config, "w") as f:
                    f.write(text[:start] + f'also_notify = ["{notify_entry}"]' + text[end:])
                with open(os.path.join(zones, "sec.test.zone"), "w") as f:
                    f.write(ZONE.format(serial=serial, extra=f"s{serial} IN A 192.0.2.{serial}\n"))
                before = srv.log_text().count("event=reloaded")
                srv.proc.send_signal(signal.SIGHUP)
                c.check(wait(lambda: srv.log_text().count("event=reloaded") > before, 10),
                        f"gslbd reloads (serial {serial})", srv.log_text()[-1500:])

            to = f"127.0.0.1:{sec_port}"
            # 1. Unsigned: the secondary answers with a refusal, which gslbd logs.
            reload(2, to, wrong[2])
            c.check(wait(lambda: f"event=notify-refused zone=sec.test. serial=2 to={to} rcode="
                         in srv.log_text(), 5),
                    f"{who} refuses an unsigned NOTIFY and gslbd logs its rcode", srv.log_text()[-1500:])
            refused = [l for l in srv.log_text().splitlines() if "event=notify-refused" in l]
            if refused:
                print(f"{who}, unsigned NOTIFY:", refused[-1])
            # 2. Signed with a secret the secondary does not share: NOTAUTH (BADSIG), never an ack.
            reload(3, f"{to} key notify-key", wrong[2])
            c.check(wait(lambda: "event=notify-failed zone=sec.test. serial=3" in srv.log_text() and
                         "tsig-error=BADSIG" in srv.log_text(), 5),
                    f"{who} answers a NOTIFY signed with the wrong secret with BADSIG; not an ack",
                    srv.log_text()[-1500:])
            c.check("event=notify-acked zone=sec.test. serial=3" not in srv.log_text(),
                    "the unsigned refusal is not taken as the answer", srv.log_text()[-1500:])
            failed = [l for l in srv.log_text().splitlines() if "event=notify-failed" in l]
            if failed:
                print(f"{who}, wrong secret:", failed[0])
            time.sleep(1.0)
            c.eq(soa_serial(sec_port), 1, f"{who} is still on serial 1 (refused NOTIFYs, refresh 1 h)")
            # 3. The right key: the secondary follows at once.
            start = time.monotonic()
            reload(4, f"{to} key notify-key", notify[2])
            followed = wait(lambda: soa_serial(sec_port) == 4, 10)
            c.check(followed, f"{who} follows a NOTIFY signed with the key it accepts", sec_tail())
            if followed:
                print(f"figure: {who}, signed NOTIFY, reload to serial 4 served: "
                      f"{(time.monotonic() - start) * 1000:.0f} ms")
            c.check(wait(lambda: "event=notify-acked zone=sec.test. serial=4 to=" + to +
                         " rcode=NOERROR key=notify-key" in srv.log_text(), 5),
                    f"{who}'s signed answer is verified and logged", srv.log_text()[-1500:])
    finally:
        g.stop_process(proc, kind)
        shutil.rmtree(tmp, ignore_errors=True)


def test_nsd_notify_needs_key(c, binary, nsd):
    notify_needs_key(c, binary, nsd, "nsd")


def test_knot_notify_needs_key(c, binary, nsd):
    if KNOTD:
        notify_needs_key(c, binary, KNOTD, "knot")


def test_signed_notify_reply_must_verify(c, binary, nsd):
    """A stand-in secondary (dnspython) checks the NOTIFY's TSIG with the key, answers the first
    one unsigned (a forger could send that: not an ack, sent again) and the retry signed over the
    NOTIFY's MAC (the ack)."""
    import socket
    import dns.exception
    import dns.flags
    import dns.opcode
    import dns.tsigkeyring
    name, secret, text = tsig_keygen("notify-key")
    keyring = dns.tsigkeyring.from_text({name: ("hmac-sha256", secret)})
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    port = None
    for _ in range(50):
        try:
            port = g.candidate_port()
            sock.bind(("127.0.0.1", port))
            break
        except OSError:
            port = None
    if not c.check(port is not None, "a port for the stand-in secondary"):
        return
    sock.settimeout(0.2)
    try:
        with g.Gslbd(binary, [("sec.test.", ZONE.format(serial=1, extra=""))],
                     zone_extra={"sec.test.": f'also_notify = ["127.0.0.1:{port} key {name}"]'},
                     server_extra='\n[log]\ntargets = ["stderr"]\n\n[tsig]\nkey_files = ["zones/n.key"]',
                     extra_files={"n.key": text}) as srv:
            with open(os.path.join(srv.dir, "zones", "sec.test.zone"), "w") as f:
                f.write(ZONE.format(serial=2, extra=""))
            srv.proc.send_signal(signal.SIGHUP)
            got = []
            end = time.monotonic() + 8
            while time.monotonic() < end and len(got) < 2:
                try:
                    data, peer = sock.recvfrom(4096)
                except socket.timeout:
                    continue
                try:
                    m = dns.message.from_wire(data, keyring=keyring)
                except dns.exception.DNSException as e:
                    c.check(False, "the NOTIFY's TSIG verifies with dnspython", repr(e))
                    return
                got.append(m)
                if len(got) == 1:
                    # Unsigned: what anyone on the path could send; not an answer to a signed NOTIFY.
                    r = dns.message.Message(id=m.id)
                    r.flags = dns.flags.QR | dns.flags.AA
                    r.set_opcode(dns.opcode.NOTIFY)
                    r.question = m.question
                else:
                    r = dns.message.make_response(m)  # signed over the NOTIFY's MAC
                sock.sendto(r.to_wire(), peer)
            c.eq(len(got), 2, "the NOTIFY is sent again after an unsigned reply")
            if got:
                c.check(got[0].opcode() == dns.opcode.NOTIFY and got[0].had_tsig and
                        got[0].keyname == dns.name.from_text(name) and
                        got[0].answer and got[0].answer[0][0].serial == 2,
                        "a NOTIFY for serial 2, signed with the key, verified by dnspython", str(got[0]))
            c.check(wait(lambda: "event=notify-acked zone=sec.test. serial=2" in srv.log_text(), 3),
                    "the signed reply is the ack", srv.log_text()[-1500:])
            log = srv.log_text()
            c.check(f"event=notify-failed zone=sec.test. serial=2 to=127.0.0.1:{port} rcode=NOERROR "
                    f"tsig=unsigned-reply key={name} " in log, "the unsigned reply is logged", log[-1500:])
    finally:
        sock.close()


def test_unknown_notify_key_is_a_config_error(c, binary, nsd):
    """An also_notify entry naming a key that no key file holds: --check-config says where."""
    code, out = check_config_errors(
        binary, 'also_notify = ["192.0.2.1:53 key real-key", "192.0.2.2:53 key typo-key"]')
    c.check(code == 1 and "gslbd.toml:10:45: zone sec.test.: also_notify: no TSIG key "
            "named typo-key in [tsig] key_files" in out,
            "an unknown key name is an error at its position", out)

def main():
    rc = g.preflight(tools=("dig",))
    if rc is not None:
        return rc
    nsd = g.find_server("nsd")
    if nsd is None:
        print("SKIP: nsd is not installed")
        return g.SKIP
    if not KNOTD:
        print("note: knotd (Debian's knot) is not installed: the Knot secondary tests do not run")
    return g.run_tests([test_nsd_follows_notify, test_nsd_follows_with_tsig, test_knot_follows_notify,
                        test_knot_follows_with_tsig, test_tsig_with_dig, test_out_of_history_gets_axfr,
                        test_ixfr_sequence, test_serial_survives_restart,
                        test_unknown_key_is_a_config_error, test_nsd_notify_needs_key,
                        test_knot_notify_needs_key, test_signed_notify_reply_must_verify,
                        test_unknown_notify_key_is_a_config_error], sys.argv[1], nsd)


if __name__ == "__main__":
    sys.exit(main())
