#!/usr/bin/env python3
"""DNSSEC: a zone with `dnssec = { keys = [...] }` is signed at load. Keys are made by the
real key generators (ldns-keygen: a CSK, algorithm 13; dnssec-keygen: a KSK of algorithm 15
and its ZSK), the AXFR is checked by ldns-verify-zone and dnssec-verify, and a validating
Unbound started here (trust anchor: the DS that `gslbctl ds` prints) must call positive,
NXDOMAIN, NODATA, wildcard and empty-non-terminal answers secure (AD)."""

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
from dnssectest import Unbound, ds_anchors, gslbctl, secure, status  # noqa: E402
import zones  # noqa: E402

ORIGIN = "e2e.test."


def keygen(directory, tool, origin=ORIGIN, algorithm="ED25519"):
    """Key pairs for `origin` in `directory`: "ldns" makes an algorithm 13 CSK, "bind" a KSK
    and a ZSK of `algorithm` (dnssec-keygen's name; 15 by default). Returns their base names
    (relative)."""
    if tool == "ldns":
        r = subprocess.run(["ldns-keygen", "-a", "ECDSAP256SHA256", "-k", origin.rstrip(".")],
                           cwd=directory, capture_output=True, text=True, timeout=30, check=True)
        return [r.stdout.strip()]
    bases = []
    for args in (["-a", algorithm, "-f", "KSK"], ["-a", algorithm]):
        r = subprocess.run(["dnssec-keygen", "-q", *args, "-n", "ZONE", origin.rstrip(".")],
                           cwd=directory, capture_output=True, text=True, timeout=30, check=True)
        bases.append(r.stdout.strip())
    return bases


def key_files(directory, bases):
    files = {}
    for b in bases:
        for ext in (".key", ".private"):
            with open(os.path.join(directory, b + ext)) as f:
                files[b + ext] = f.read()
    return files


def signed_server(binary, bases, keydir, validity="14d", extra="", zone=zones.E2E):
    keys = ", ".join(f'"zones/{b}"' for b in bases)
    # A DNAME onto the zone itself: its synthesised CNAME is followed (RFC 6672 §3.1).
    return g.Gslbd(binary, [(ORIGIN, zone + "self IN DNAME e2e.test.\n")],
                   extra_files=key_files(keydir, bases),
                   zone_extra={ORIGIN: f"dnssec = {{ keys = [{keys}], validity = \"{validity}\"{extra} }}"})


def rrtypes(out, section="ANSWER"):
    """Record types dig printed in a section."""
    types, on = [], False
    for line in out.splitlines():
        if line.startswith(";; ") and "SECTION:" in line:
            on = line.startswith(f";; {section} SECTION")
            continue
        if on and line.strip() and not line.startswith(";"):
            types.append(line.split()[3])
    return types


def check_signed_answers(c, srv, what):
    _, out = g.dig(srv.port, "+dnssec", "DNSKEY", ORIGIN)
    c.check("DNSKEY" in rrtypes(out) and "RRSIG" in rrtypes(out), f"{what}: DNSKEY signed", out)
    for t in ("CDS", "CDNSKEY"):
        _, out = g.dig(srv.port, "+dnssec", t, ORIGIN)
        c.check(t in rrtypes(out) and "RRSIG" in rrtypes(out), f"{what}: {t} at the apex", out)
    _, out = g.dig(srv.port, "+nodnssec", "A", "www." + ORIGIN)
    c.check("A" in rrtypes(out) and "RRSIG" not in out, f"{what}: DO=0 gets no RRSIG", out)
    _, out = g.dig(srv.port, "+dnssec", "A", "www." + ORIGIN)
    c.check("RRSIG" in rrtypes(out), f"{what}: DO=1 gets the RRSIG", out)
    _, out = g.dig(srv.port, "+dnssec", "A", "nothing." + ORIGIN)
    c.check("NXDOMAIN" in out and "NSEC" in rrtypes(out, "AUTHORITY"),
            f"{what}: NXDOMAIN with NSEC", out)
    _, out = g.dig(srv.port, "+nodnssec", "A", "nothing." + ORIGIN)
    c.check("NSEC" not in rrtypes(out, "AUTHORITY"), f"{what}: DO=0 NXDOMAIN without NSEC", out)
    _, out = g.dig(srv.port, "+dnssec", "A", "www.self." + ORIGIN)
    c.check(set(rrtypes(out)) == {"A", "CNAME", "DNAME", "RRSIG"} and rrtypes(out).count("RRSIG") == 2,
            f"{what}: below the DNAME, DO=1: the signed DNAME, its CNAME, the signed target A", out)


def verify_axfr(c, srv, what, csk):
    _, out = g.dig(srv.port, "+onesoa", "AXFR", ORIGIN)
    d = tempfile.mkdtemp(prefix="gslbd-dnssec-")
    try:
        path = os.path.join(d, "axfr.zone")
        with open(path, "w") as f:
            f.write("\n".join(l for l in out.splitlines() if l.strip() and not l.startswith(";")) + "\n")
        code, text = g.run_tool(["ldns-verify-zone", path], timeout=60)
        c.check(code == 0, f"{what}: ldns-verify-zone accepts the AXFR", text[-800:])
        if shutil.which("dnssec-verify"):
            # -z: a CSK (SEP flag) signs everything, which dnssec-verify checks only when told.
            code, text = g.run_tool(["dnssec-verify", *(["-z"] if csk else []), "-o", ORIGIN, path],
                                    timeout=60)
            c.check(code == 0, f"{what}: dnssec-verify accepts the AXFR", text[-800:])
    finally:
        shutil.rmtree(d, ignore_errors=True)


# (qtype, name, expected status): what a validator must find secure.
VALIDATED = [
    ("A", "www.e2e.test.", "NOERROR"),
    ("AAAA", "www.e2e.test.", "NOERROR"),
    ("MX", "e2e.test.", "NOERROR"),
    ("TXT", "www.e2e.test.", "NOERROR"),      # NODATA
    ("A", "nothing.e2e.test.", "NXDOMAIN"),
    ("A", "x.y.nothing.e2e.test.", "NXDOMAIN"),
    ("A", "host.wild.e2e.test.", "NOERROR"),  # wildcard
    ("MX", "host.wild.e2e.test.", "NOERROR"), # wildcard NODATA
    ("A", "b.ent.e2e.test.", "NOERROR"),      # empty non-terminal
    ("TXT", "q.ent.e2e.test.", "NOERROR"),    # wildcard below an ENT's parent
    ("A", "alias.e2e.test.", "NOERROR"),      # CNAME chain
    ("TXT", "alias.e2e.test.", "NOERROR"),    # CNAME chain ending in NODATA
    ("A", "dangling.e2e.test.", "NXDOMAIN"),  # CNAME chain ending in NXDOMAIN
    ("DS", "sub.e2e.test.", "NOERROR"),
    ("A", "www.self.e2e.test.", "NOERROR"),   # DNAME, its CNAME, then the target's A
    ("TXT", "www.self.e2e.test.", "NOERROR"), # ... then the target's NODATA
    ("A", "nothing.self.e2e.test.", "NXDOMAIN"),  # not followed (signed NXDOMAIN): the resolver does
]


def check_validated(c, ub, what):
    for qtype, name, want in VALIDATED:
        out = ub.ask(qtype, name)
        c.check(status(out) == want and secure(out), f"{what}: {qtype} {name} is {want} and secure",
                out[-700:] + "\n" + ub.log())


def run_case(c, binary, tool):
    keydir = tempfile.mkdtemp(prefix="gslbd-keys-")
    try:
        bases = keygen(keydir, tool)
        with signed_server(binary, bases, keydir) as srv:
            check_signed_answers(c, srv, tool)
            verify_axfr(c, srv, tool, csk=tool == "ldns")
            code, ds = gslbctl(srv.binary, srv.dir, "ds", ORIGIN)
            anchors = ds_anchors(ds)
            c.check(code == 0 and anchors, f"{tool}: gslbctl ds prints the DS", ds)
            c.eq(len(anchors), 1, f"{tool}: one DS (the SEP key's)")
            if shutil.which("unbound") and anchors:
                with Unbound(srv.port, ORIGIN, anchors) as ub:
                    check_validated(c, ub, f"{tool}/unbound")
    finally:
        shutil.rmtree(keydir, ignore_errors=True)


def test_csk_ldns_keygen(c, binary):
    run_case(c, binary, "ldns")


def test_ksk_zsk_dnssec_keygen(c, binary):
    if not shutil.which("dnssec-keygen"):
        print("note: dnssec-keygen missing; KSK+ZSK case not run")
        return
    run_case(c, binary, "bind")


def rrsig_expiration(srv, qtype, name):
    _, out = g.dig(srv.port, "+dnssec", qtype, name)
    for line in out.splitlines():
        f = line.split()
        if len(f) > 9 and f[3] == "RRSIG" and f[4] == qtype:
            return f[8]
    return None


def soa_serial(srv):
    _, out = g.dig(srv.port, "+short", "SOA", ORIGIN)
    f = out.split()
    return int(f[2]) if len(f) >= 7 and f[2].isdigit() else None


def test_resign_before_expiry(c, binary):
    """validity 1h, refresh 3590s: the signatures are due ten seconds after signing, and gslbd
    signs the zone again by itself; answers stay signed and valid meanwhile. (The zone's TTLs
    are at most 600 s here: refresh must cover them.) A reload before then changes nothing,
    serial included; the re-signing gives the zone a new serial, so that secondaries fetch the
    new signatures, by IXFR from the old one."""
    keydir = tempfile.mkdtemp(prefix="gslbd-keys-")
    try:
        bases = keygen(keydir, "ldns")
        with signed_server(binary, bases, keydir, validity="1h", extra=', refresh = "3590s"',
                           zone=zones.E2E.replace("$TTL 3600", "$TTL 600")) as srv:
            first = rrsig_expiration(srv, "A", "www." + ORIGIN)
            c.check(first is not None, "resign: www A is signed", str(first))
            serial = soa_serial(srv)
            c.check(serial is not None, "resign: the SOA answers", str(serial))
            srv.proc.send_signal(signal.SIGHUP)
            time.sleep(1)
            c.eq((soa_serial(srv), rrsig_expiration(srv, "A", "www." + ORIGIN)), (serial, first),
                 "resign: a reload that changes nothing keeps the serial and the signatures")
            later, deadline = first, time.monotonic() + 30
            while later == first and time.monotonic() < deadline:
                time.sleep(0.5)
                later = rrsig_expiration(srv, "A", "www." + ORIGIN)
            c.check(later is not None and first is not None and later > first,
                    "resign: the RRSIG's expiration moves forward without a reload", f"{first} -> {later}")
            now_serial = soa_serial(srv)
            c.check(serial is not None and now_serial is not None and now_serial > serial,
                    "resign: the serial moves forward with the signatures", f"{serial} -> {now_serial}")
            if serial is not None:
                _, out = g.kdig(srv.port, ORIGIN, f"IXFR={serial}", tcp=True)
                recs = [l.split() for l in out.splitlines() if l.strip() and not l.startswith(";")]
                types = [r[3] for r in recs if len(r) > 4]
                c.check(types[:2] == ["SOA", "SOA"] and types[-1] == "SOA" and "RRSIG" in types and
                        "A" not in types, "resign: IXFR from the old serial: the signatures only",
                        out[-1500:])
            verify_axfr(c, srv, "resign", csk=True)
    finally:
        shutil.rmtree(keydir, ignore_errors=True)


def check_config(binary, d, dnssec):
    """--check-config on a config whose zone has `dnssec`; returns (exit code, output)."""
    with open(os.path.join(d, "gslbd.toml"), "w") as f:
        f.write(f'[[zone]]\nname = "{ORIGIN}"\nfile = "e2e.zone"\ndnssec = {dnssec}\n')
    r = subprocess.run([binary, "--check-config", "--config", os.path.join(d, "gslbd.toml")],
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def test_bad_keys(c, binary):
    """A missing key or a key of another zone is a config error at the key's position."""
    d = tempfile.mkdtemp(prefix="gslbd-keys-")
    try:
        subprocess.run(["ldns-keygen", "-a", "ED25519", "other.test"], cwd=d, capture_output=True,
                       check=True, timeout=30)
        other = [f for f in os.listdir(d) if f.endswith(".key")][0][:-4]
        with open(os.path.join(d, "e2e.zone"), "w") as f:
            f.write(zones.E2E)
        code, out = check_config(binary, d, f'{{ keys = ["Kmissing", "{other}"], validity = "2w" }}')
        c.check(code == 1, "bad keys: --check-config fails", out)
        c.check("gslbd.toml:4:" in out and "zone[0].dnssec.validity: must be" in out,
                "bad validity reported at its key", out)
        code, out = check_config(binary, d, f'{{ keys = ["Kmissing", "{other}"] }}')
        c.check(code == 1 and "gslbd.toml:4:20: key" in out and "Kmissing.key" in out,
                "missing key file reported where it is named", out)
        c.check("not this zone" in out, "key of another zone refused", out)
        code, out = check_config(binary, d, '{ validity = "14d" }')
        c.check(code == 1 and "zone[0].dnssec: needs keys" in out, "dnssec without keys refused", out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_refresh_covers_ttl(c, binary):
    """A signature is served with at least `refresh` left, and a resolver may keep an RRset and
    its RRSIG for the RRset's TTL: a refresh shorter than the zone's longest TTL (3600 s, the SOA
    and most records of zones.E2E) would let an RRSIG expire in caches (DNSViz reported
    TTL_BEYOND_EXPIRATION for validity 1h). Written, it is an error at it; by default (half of
    validity) it is raised to that TTL, and a validity not above it is an error at validity."""
    d = tempfile.mkdtemp(prefix="gslbd-keys-")
    try:
        key = keygen(d, "ldns")[0]
        with open(os.path.join(d, "e2e.zone"), "w") as f:
            f.write(zones.E2E)
        code, out = check_config(binary, d, f'{{ keys = ["{key}"], validity = "14d", refresh = "30m" }}')
        c.check(code == 1 and "gslbd.toml:4:" in out and "zone[0].dnssec.refresh: 1800s is shorter "
                "than the longest TTL of a signed RRset" in out and "(TTL 3600)" in out,
                "refresh below the longest TTL: an error at refresh", out)
        code, out = check_config(binary, d, f'{{ keys = ["{key}"], validity = "1h" }}')
        c.check(code == 1 and "zone[0].dnssec.validity: 3600s is not longer than the longest TTL"
                in out, "validity not above the longest TTL: an error at validity", out)
        code, out = check_config(binary, d, f'{{ keys = ["{key}"], validity = "5400s" }}')
        c.check(code == 0, "validity 1.5h: the default refresh (45m) is raised to the TTL", out)
        code, out = check_config(binary, d, f'{{ keys = ["{key}"], validity = "1h", refresh = "30m" }}')
        c.check(code == 1 and "zone[0].dnssec.refresh:" in out, "explicit refresh reported first", out)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    rc = g.preflight(("dig", "ldns-keygen", "ldns-verify-zone"))
    if rc is not None:
        sys.exit(rc)
    sys.exit(g.run_tests([test_bad_keys, test_csk_ldns_keygen, test_ksk_zsk_dnssec_keygen,
                          test_resign_before_expiry, test_refresh_covers_ttl],
                         sys.argv[1]))
