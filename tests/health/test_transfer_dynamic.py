#!/usr/bin/env python3
"""What secondaries get at dynamic names (`transfer_dynamic`): with "fail_open" (the default)
each dynamic name is in the AXFR with the addresses gslbd answers when nothing can be checked
(its first pool, the name's TTL), beside what the zone file holds there; with "omit" only the
zone file. NSD as a secondary then answers www with those addresses; a signed zone's AXFR
(dynamic RRsets with their RRSIGs, the NSEC chain gslbd serves) passes ldns-verify-zone and
dnssec-verify; a reload that changes the addresses without a serial change is logged.

  test_transfer_dynamic.py PATH/TO/gslbd
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

import healthtest as ht
from test_failover import TWO_POOLS

gslbtest = ht.gslbtest
ORIGIN = "example.test."

# test_failover's two pools and www, with more addresses in the first pool (both families),
# a return-one name and one that fails closed.
HANGZHOU = 'addresses = [{ ip = "127.0.0.2", weight = 1 }]'
assert HANGZHOU in TWO_POOLS
MORE_NAMES = """
[[name]]
fqdn = "one.example.test."
ttl = 20
pools = ["hangzhou"]
return = "one"

[[name]]
fqdn = "sf.example.test."
pools = ["shanghai"]
all_down = "servfail"
"""


def body(more=""):
    return TWO_POOLS.replace(HANGZHOU, 'addresses = [{ ip = "127.0.0.2" }, { ip = "127.0.0.4" }, '
                                       f'{{ ip = "2001:db8::2" }}{more}]') + MORE_NAMES


class Primary(ht.Server):
    """ht.Server whose zone allows AXFR from loopback, with `zone_lines` added to its table."""

    def __init__(self, binary, zone_lines="", more="", zone=ht.ZONE):
        # The probe checks a port nothing listens on; what a secondary gets does not depend
        # on health, and [health] unknown = "up" keeps the answers from the first pool.
        super().__init__(binary, body(more), {"gw": ht.probe_toml(1)}, zone=zone)
        self.zone_lines = zone_lines

    def config_text(self, body=None):
        text = super().config_text(body)
        return text.replace('file = "example.test.zone"\n',
                            'file = "example.test.zone"\nallow_transfer = ["127.0.0.0/8"]\n' +
                            self.zone_lines, 1)


def axfr_records(port):
    """(owner, ttl, type, rdata) of every record of the AXFR, but the closing SOA."""
    _, out = gslbtest.dig(port, "+onesoa", "AXFR", ORIGIN)
    recs = []
    for line in out.splitlines():
        if not line.strip() or line.startswith(";"):
            continue
        f = line.split(None, 4)
        recs.append((f[0].lower(), int(f[1]), f[3], f[4] if len(f) > 4 else ""))
    return recs, out


def soa_serial(port):
    """The serial of the SOA gslbd serves, or None."""
    _, out = gslbtest.dig(port, "+short", "SOA", ORIGIN)
    f = out.split()
    return int(f[2]) if len(f) >= 7 and f[2].isdigit() else None


def at(recs, owner, rtype):
    return sorted((ttl, rdata) for o, ttl, t, rdata in recs if o == owner and t == rtype)


def test_fail_open_is_the_default(c, binary):
    with Primary(binary) as srv:
        recs, out = axfr_records(srv.port)
        c.eq(at(recs, "www.example.test.", "A"), [(10, "127.0.0.2"), (10, "127.0.0.4")],
             "www: the first pool's IPv4 addresses, at the name's TTL (not shanghai's)")
        c.eq(at(recs, "www.example.test.", "AAAA"), [(10, "2001:db8::2")], "www: and its IPv6 one")
        c.eq(at(recs, "www.example.test.", "TXT"), [(3600, '"answered from pools"')],
             "www: the zone file's TXT beside them, as gslbd answers it")
        c.eq(at(recs, "one.example.test.", "A"), [(20, "127.0.0.2"), (20, "127.0.0.4")],
             "return one: every address a query may get")
        c.eq([r for r in recs if r[0] == "sf.example.test."], [],
             "all_down servfail: nothing to transfer")
        c.eq(sum(1 for r in recs if r[2] == "SOA"), 1, "one SOA (dig +onesoa)")
        # The served answers are unchanged: the pools as health has them (once the first
        # checks are in: until then the name is not published).
        ans = ""

        def answered():
            nonlocal ans
            ans = gslbtest.dig(srv.port, "+short", "A", "www." + ORIGIN)[1]
            return bool(ans.split())
        ht.poll_until(answered, 5)
        c.check(ans.split() and set(ans.split()) <= {"127.0.0.2", "127.0.0.4"},
                "gslbd itself still answers from the pools", ans)


def test_omit(c, binary):
    with Primary(binary, 'transfer_dynamic = "omit"\n') as srv:
        recs, out = axfr_records(srv.port)
        c.eq(at(recs, "www.example.test.", "A"), [], "omit: no A at www")
        c.eq([r for r in recs if r[0] == "one.example.test."], [], "omit: one is not there")
        c.eq(len(at(recs, "www.example.test.", "TXT")), 1, "omit: the zone file's TXT stays")


def test_bad_value_is_a_config_error(c, binary):
    d = tempfile.mkdtemp(prefix="gslbd-xfrdyn-")
    try:
        with open(os.path.join(d, "z.zone"), "w") as f:
            f.write(ht.ZONE)
        conf = os.path.join(d, "gslbd.toml")
        with open(conf, "w") as f:
            f.write('[[zone]]\nname = "example.test."\nfile = "z.zone"\n'
                    'transfer_dynamic = "failopen"\n')
        r = subprocess.run([binary, "--check-config", "--config", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30, stdin=subprocess.DEVNULL)
        c.check(r.returncode == 1 and 'gslbd.toml:4:20: zone[0].transfer_dynamic: must be '
                '"fail_open" or "omit"' in r.stdout, "a bad value is an error at its position",
                r.stdout)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_nsd_secondary_answers_fail_open(c, binary):
    nsd = gslbtest.find_server("nsd")
    if not nsd:
        print("note: nsd missing; not run")
        return
    tmp = tempfile.mkdtemp(prefix="gslbd-xfrdyn-nsd-")
    proc = None
    try:
        os.makedirs(os.path.join(tmp, "xfr"))
        with Primary(binary) as srv:
            port = gslbtest.free_port()
            conf = os.path.join(tmp, "nsd.conf")
            with open(conf, "w") as f:
                f.write(gslbtest.nsd_config(tmp, port, tmp, f"""zone:
  name: "{ORIGIN}"
  zonefile: "example.test.zone"
  request-xfr: AXFR 127.0.0.1@{srv.port} NOKEY
"""))
            proc = subprocess.Popen([nsd, "-d", "-c", conf], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=tmp)

            def www():
                try:
                    return sorted(ht.addresses(ht.query(port, "www." + ORIGIN, "A", 0.5)))
                except Exception:  # noqa: BLE001 - not serving yet
                    return None
            got = ht.poll_until(lambda: www() == ["127.0.0.2", "127.0.0.4"], 15)
            c.check(got, "NSD, a secondary of gslbd, answers www with the fail-open addresses",
                    f"{www()}\n" + (open(os.path.join(tmp, "nsd.log")).read()[-1500:]
                                    if os.path.exists(os.path.join(tmp, "nsd.log")) else ""))
            msg = ht.query(port, "www." + ORIGIN, "A")
            c.eq(msg.answer[0].ttl if msg.answer else None, 10, "with the name's TTL")
            _, out = gslbtest.dig(port, "+short", "TXT", "www." + ORIGIN)
            c.check("answered from pools" in out, "and the zone file's TXT there", out)
    finally:
        gslbtest.stop_process(proc, "nsd")
        shutil.rmtree(tmp, ignore_errors=True)


def keygen(directory, *args):
    r = subprocess.run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", *args, "-n", "ZONE",
                        ORIGIN.rstrip(".")], cwd=directory, capture_output=True, text=True,
                       timeout=30, check=True)
    return r.stdout.strip()


def test_signed_zone_axfr_verifies(c, binary):
    if not shutil.which("dnssec-keygen") or not shutil.which("ldns-verify-zone"):
        print("note: dnssec-keygen or ldns-verify-zone missing; not run")
        return
    keydir = tempfile.mkdtemp(prefix="gslbd-xfrdyn-keys-")
    try:
        keys = [os.path.join(keydir, keygen(keydir, "-f", "KSK")), os.path.join(keydir, keygen(keydir))]
        dnssec = "dnssec = {{ keys = [{}] }}\n".format(", ".join(f'"{k}"' for k in keys))
        with Primary(binary, dnssec) as srv:
            recs, out = axfr_records(srv.port)
            c.eq(at(recs, "www.example.test.", "A"), [(10, "127.0.0.2"), (10, "127.0.0.4")],
                 "signed: www's fail-open addresses")
            sigs = [r for r in recs if r[0] == "www.example.test." and r[2] == "RRSIG"]
            covered = sorted(r[3].split()[0] for r in sigs)
            c.check({"A", "AAAA", "TXT", "NSEC"} <= set(covered),
                    "signed: RRSIGs over A, AAAA, TXT and NSEC at www", str(sigs))
            c.check(all(r[1] == 10 for r in sigs if r[3].split()[0] in ("A", "AAAA")),
                    "each RRSIG with the TTL of the RRset it covers", str(sigs))
            nsec = [r[3] for r in recs if r[0] == "www.example.test." and r[2] == "NSEC"]
            c.check(nsec and {"A", "AAAA", "TXT"} <= set(nsec[0].split()[1:]),
                    "www's NSEC lists A, AAAA and TXT (what gslbd serves there)", str(nsec))
            # The NSEC gslbd itself serves at www is the one transferred.
            _, served = gslbtest.dig(srv.port, "+dnssec", "+short", "NSEC", "www." + ORIGIN)
            c.check(nsec and nsec[0].split()[0].lower() in served.lower(),
                    "the same NSEC chain as gslbd serves", served + str(nsec))
            d = tempfile.mkdtemp(prefix="gslbd-xfrdyn-")
            try:
                path = os.path.join(d, "axfr.zone")
                with open(path, "w") as f:
                    f.write("\n".join(l for l in out.splitlines()
                                      if l.strip() and not l.startswith(";")) + "\n")
                code, text = gslbtest.run_tool(["ldns-verify-zone", path], timeout=60)
                c.check(code == 0, "ldns-verify-zone accepts the AXFR with fail-open names", text[-800:])
                if shutil.which("dnssec-verify"):
                    code, text = gslbtest.run_tool(["dnssec-verify", "-o", ORIGIN, path], timeout=60)
                    c.check(code == 0, "dnssec-verify accepts it too", text[-800:])
            finally:
                shutil.rmtree(d, ignore_errors=True)
    finally:
        shutil.rmtree(keydir, ignore_errors=True)


def test_changed_without_serial_is_logged(c, binary):
    """Pools edited, the zone file's serial unchanged: what secondaries get changed, so gslbd
    serves the next serial (its serial policy) and says so; an unchanged reload keeps it."""
    with Primary(binary) as srv:
        before = soa_serial(srv.port)
        srv.write_config(srv.config_text(body(more=', { ip = "127.0.0.5" }')))
        srv.hup()
        ev = srv.wait_event("zone-serial-kept", timeout=10)
        c.check(ev is not None and ev.get("zone") == ORIGIN and before is not None and
                ev.get("serial") == str(before + 1),
                "pools edited, serial unchanged in the file: the next serial is served, and logged",
                srv.log_text()[-1500:])
        c.eq(soa_serial(srv.port), None if before is None else before + 1, "the SOA has the next serial")
        recs, _ = axfr_records(srv.port)
        c.eq(at(recs, "www.example.test.", "A"), [(10, "127.0.0.2"), (10, "127.0.0.4"),
                                                  (10, "127.0.0.5")],
             "the AXFR has the new address")
        # A reload that changes nothing for secondaries keeps the serial and warns nothing.
        n = len(srv.events("reloaded"))
        srv.hup()
        ht.poll_until(lambda: len(srv.events("reloaded")) > n, 10)
        time.sleep(0.2)
        c.eq(len(srv.events("zone-serial-kept")), 1, "an unchanged reload adds no warning")
        c.eq(soa_serial(srv.port), None if before is None else before + 1, "and keeps the serial")


if __name__ == "__main__":
    sys.exit(ht.main([test_fail_open_is_the_default, test_omit, test_bad_value_is_a_config_error,
                      test_nsd_secondary_answers_fail_open, test_signed_zone_axfr_verifies,
                      test_changed_without_serial_is_logged]))
