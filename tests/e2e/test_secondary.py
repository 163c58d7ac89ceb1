#!/usr/bin/env python3
"""gslbd as a primary that standard secondaries follow: Debian's NSD and Knot, on loopback,
each without and with TSIG, transfer the zone at start; a reload of gslbd that bumps the serial
sends NOTIFY (RFC 1996) to the zone's also_notify, the secondary asks for the zone again (Knot,
and NSD with a key, by IXFR) and serves the new record. The SOA refresh is an hour, so only the
NOTIFY explains the secondary catching up; the time it took is printed (a figure, not an
assertion). dig -y checks signed transfers and refusals; a missing key is a config error."""

import base64
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

KNOTD = g.find_server("knotd")

ZONE = """$ORIGIN sec.test.
$TTL 300
@    IN SOA ns1 hostmaster {serial} 3600 600 86400 300
@    IN NS  ns1
ns1  IN A   127.0.0.1
{extra}"""


def nsd_conf(d, port, primary_port, key=None):
    """NSD as a secondary of gslbd; with `key` (name, secret) the transfers are TSIG-signed and
    NSD asks by IXFR first (gslbd answers with the whole zone, RFC 1995 §4), else by AXFR."""
    key_block = (f'key:\n  name: "{key[0]}"\n  algorithm: hmac-sha256\n  secret: "{key[1]}"\n'
                 if key else "")
    return key_block + g.nsd_config(d, port, d, f"""zone:
  name: "sec.test."
  zonefile: "sec.test.zone"
  allow-notify: 127.0.0.1 NOKEY
  request-xfr: {"" if key else "AXFR "}127.0.0.1@{primary_port} {key[0] if key else "NOKEY"}
""", "  verbosity: 2\n")


def knot_conf(d, port, primary_port, key=None):
    """Knot as a secondary of gslbd (it asks by IXFR first); with `key` the transfers are signed."""
    key_block = (f"key:\n  - id: {key[0]}\n    algorithm: hmac-sha256\n    secret: {key[1]}\n"
                 if key else "")
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
            conf = os.path.join(tmp, f"{kind}.conf")
            with open(conf, "w") as f:
                f.write((nsd_conf if kind == "nsd" else knot_conf)(tmp, sec_port, srv.port, key))
            args = [server, "-d", "-c", conf] if kind == "nsd" else [server, "-c", conf]
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(tmp, "server.stderr"), "w"),
                                    stdin=subprocess.DEVNULL, cwd=tmp)
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

            def has_new():
                try:
                    r = g.udp(dns.message.make_query("new.sec.test.", "A"), sec_port, timeout=0.5)
                except Exception:  # noqa: BLE001
                    return False
                return bool(r.answer) and r.answer[0][0].address == "192.0.2.77"
            followed = wait(has_new, 10)
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
        def ixfr(serial):
            code, out = g.run_tool(["dig", "@127.0.0.1", "-p", str(srv.port), "+time=3", "+tries=1",
                                    "sec.test.", f"ixfr={serial}", "-y", f"hmac-sha256:{name}:{secret}"])
            return out, [l for l in out.splitlines() if not l.startswith(";") and "\tSOA\t" in l]
        out, soas = ixfr(1)
        c.check(len(soas) == 1 and "ns1.sec.test.\tA" not in out.replace(" ", "\t") and
                "TSIG" in out and "tsig verify failure" not in out.lower(),
                "IXFR from the current serial: the SOA alone, signed", out[-1500:])
        out, soas = ixfr(0)
        c.check(len(soas) == 2 and "ns1.sec.test.\t" in out.replace(" ", "\t") and
                "tsig verify failure" not in out.lower(),
                "IXFR from a serial no history holds: the whole zone (AXFR form)", out[-1500:])
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


def test_unknown_key_is_a_config_error(c, binary, nsd):
    """A zone naming a key that no key file holds: --check-config says where."""
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
                    '[[zone]]\nname = "sec.test."\nfile = "z.zone"\n'
                    'allow_transfer = ["key real-key", "key typo-key"]\n')
        r = subprocess.run([binary, "--check-config", "--config", conf], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=30, stdin=subprocess.DEVNULL)
        c.check(r.returncode == 1 and "gslbd.toml:10:35: zone sec.test.: allow_transfer: no TSIG key "
                "named typo-key in [tsig] key_files" in r.stdout,
                "an unknown key name is an error at its position", r.stdout)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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
                        test_knot_follows_with_tsig, test_tsig_with_dig,
                        test_unknown_key_is_a_config_error], sys.argv[1], nsd)


if __name__ == "__main__":
    sys.exit(main())
