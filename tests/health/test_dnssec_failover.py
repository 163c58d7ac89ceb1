#!/usr/bin/env python3
"""Signed dynamic answers: a signed zone with a dynamic name served through a validating Unbound
(trust anchor from `gslbctl ds`) while a region's gateway dies and comes back, across a reload
and a pre-publish ZSK rollover. Every answer Unbound gives must be secure (AD); none may be
SERVFAIL (bogus).

  test_dnssec_failover.py PATH/TO/gslbd
"""
import os
import shutil
import subprocess
import sys
import time

import healthtest as ht
from dnssectest import Unbound, ds_anchors, gslbctl, secure, status
from test_failover import TWO_POOLS

ORIGIN = "example.test."



def keygen(directory, *args):
    r = subprocess.run(["dnssec-keygen", "-q", "-a", "ECDSAP256SHA256", *args, "-n", "ZONE",
                        ORIGIN.rstrip(".")], cwd=directory, capture_output=True, text=True,
                       timeout=30, check=True)
    return r.stdout.strip()


# The DNSKEY RRset takes the SOA's TTL: 2 s here, so that the resolver's key cache follows a
# rollover within the test (RFC 6781 §4.1.1.1: wait the DNSKEY TTL after publishing).
DNSKEY_TTL = 2
ZONE = ht.ZONE.replace("@               IN SOA", f"@ {DNSKEY_TTL} IN SOA", 1)


class SignedServer(ht.Server):
    """ht.Server whose zone is signed with a KSK and a ZSK made in its directory."""

    keys = None

    def __init__(self, binary, body, probes):
        super().__init__(binary, body, probes, zone=ZONE)

    def config_text(self, body=None):
        text = super().config_text(body)
        if self.keys is None:
            self.keys = [keygen(self.dir, "-f", "KSK"), keygen(self.dir)]
        keys = ", ".join(f'"{k}"' for k in self.keys)
        return text.replace('file = "example.test.zone"\n',
                            f'file = "example.test.zone"\ndnssec = {{ keys = [{keys}] }}\n'
                            '[control]\nsocket = "ctl.sock"\nstate_file = "drains"\n', 1) \
            if "[control]" not in text else text

    def reload(self, c, what):
        n = len(self.events("reload"))
        code, out = gslbctl(self.binary, self.dir, "reload")
        c.check(code == 0, f"{what}: gslbctl reload", out + self.log_text()[-1500:])
        return n


def check_secure(c, ub, what, want_a=None):
    ok = True
    for qtype, name, want in (("A", "www.example.test.", "NOERROR"),
                              ("AAAA", "www.example.test.", "NOERROR"),  # dynamic NODATA
                              ("TXT", "www.example.test.", "NOERROR"),
                              ("A", "api.example.test.", "NOERROR"),     # CNAME chain to it
                              ("A", "nothing.example.test.", "NXDOMAIN")):
        out = ub.ask(qtype, name)
        good = status(out) == want and secure(out)
        if want_a and qtype == "A" and name == "www.example.test.":
            good = good and f"\tA\t{want_a}" in out
        ok = c.check(good, f"{what}: {qtype} {name} {want} and secure", out[-600:] + ub.log()) and ok
    return ok


def rrsig_keytags(srv, name="www.example.test.", qtype="A"):
    _, out = ht.gslbtest.dig(srv.port, "+dnssec", qtype, name)
    tags = set()
    for line in out.splitlines():
        f = line.split()
        if len(f) > 10 and f[3] == "RRSIG" and f[4] == qtype:
            tags.add(int(f[10]))
    return tags


def keytag(base):
    return int(base.rsplit("+", 1)[1])


def test_failover_reload_rollover(c, binary):
    if not shutil.which("unbound") or not shutil.which("dnssec-keygen"):
        print("note: unbound or dnssec-keygen missing; not run")
        return
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
    probes = {"gw": ht.probe_toml(port, "200ms", "200ms", 2, 2)}
    with ht.Gateways() as gws:
        g2 = gws.add("127.0.0.2", port)
        gws.add("127.0.0.3", port)
        with SignedServer(binary, TWO_POOLS, probes) as srv:
            code, ds = gslbctl(binary, srv.dir, "ds", ORIGIN)
            anchors = ds_anchors(ds)
            c.check(code == 0 and len(anchors) == 1, "gslbctl ds prints the KSK's DS", ds)
            with Unbound(srv.port, ORIGIN, anchors) as ub:
                _, t = ht.poll_until(lambda: ht.answer_set(srv.port, "www.example.test.") == {"127.0.0.2"}, 5.0)
                check_secure(c, ub, "before", "127.0.0.2")

                # During the failover every answer Unbound gives is secure, whichever pool.
                g2.kill()
                seen, insecure = set(), []
                deadline = time.monotonic() + 5.0
                while time.monotonic() < deadline:
                    out = ub.ask("A", "www.example.test.")
                    addr = [l.split()[4] for l in out.splitlines() if "\tA\t" in l and not l.startswith(";")]
                    seen.update(addr)
                    if not (status(out) == "NOERROR" and secure(out)):
                        insecure.append(out[-400:])
                    if "127.0.0.3" in addr:
                        break
                c.check("127.0.0.3" in seen, "failover: Unbound sees shanghai's address", str(seen))
                c.eq(insecure[:1], [], "failover: every answer during it secure")
                check_secure(c, ub, "after failover", "127.0.0.3")

                g2.start()
                _, t = ht.poll_until(lambda: ht.answer_set(srv.port, "www.example.test.") == {"127.0.0.2"}, 5.0)
                c.check(t is not None, "failback to hangzhou")
                check_secure(c, ub, "after failback", "127.0.0.2")

                srv.reload(c, "reload")
                check_secure(c, ub, "after a reload", "127.0.0.2")

                # Pre-publish ZSK rollover (RFC 6781 §4.1.1.1): the new ZSK is published first
                # (Activate in the future), then used while the old one is retired, then removed.
                ksk, zsk1 = srv.keys
                zsk2 = keygen(srv.dir, "-P", "now", "-A", "+1y")
                srv.keys = [ksk, zsk1, zsk2]
                srv.write_config()
                srv.reload(c, "rollover publish")
                time.sleep(DNSKEY_TTL + 0.5)  # every cached DNSKEY RRset now has the new ZSK
                _, out = ht.gslbtest.dig(srv.port, "DNSKEY", ORIGIN)
                c.eq(out.count("\tDNSKEY\t"), 3, "rollover publish: three DNSKEYs")
                c.eq(rrsig_keytags(srv), {keytag(zsk1)}, "rollover publish: signed by the old ZSK only")
                check_secure(c, ub, "rollover publish")

                subprocess.run(["dnssec-settime", "-A", "now", zsk2], cwd=srv.dir, check=True,
                               capture_output=True, timeout=30)
                subprocess.run(["dnssec-settime", "-I", "now", zsk1], cwd=srv.dir, check=True,
                               capture_output=True, timeout=30)
                srv.reload(c, "rollover switch")
                time.sleep(DNSKEY_TTL + 0.5)  # the old ZSK's signatures age out of caches
                c.eq(rrsig_keytags(srv), {keytag(zsk2)}, "rollover switch: signed by the new ZSK only")
                check_secure(c, ub, "rollover switch")

                srv.keys = [ksk, zsk2]
                srv.write_config()
                srv.reload(c, "rollover remove")
                _, out = ht.gslbtest.dig(srv.port, "DNSKEY", ORIGIN)
                c.eq(out.count("\tDNSKEY\t"), 2, "rollover remove: two DNSKEYs")
                check_secure(c, ub, "rollover remove", "127.0.0.2")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(f"usage: {sys.argv[0]} PATH/TO/gslbd")
        sys.exit(2)
    sys.exit(ht.run_tests([test_failover_reload_rollover], sys.argv[1]))
