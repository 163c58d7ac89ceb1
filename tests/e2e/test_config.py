#!/usr/bin/env python3
"""Configuration and zone errors: `--check-config` reports every problem as `file:line` and
exits non-zero; the server refuses to start on a bad zone; a good config checks clean."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gslbtest as g  # noqa: E402
import zones  # noqa: E402

BAD_ZONE = """\
$ORIGIN bad.test.
$TTL 60
@       IN SOA  ns1 hostmaster 1 3600 600 86400 300
@       IN NS   ns1
ns1     IN A    192.0.2.300
www     IN AAAA not-an-address
ok      IN A    192.0.2.1
outside.example. IN A 192.0.2.1
dup     IN CNAME ok
dup     IN A    192.0.2.2
"""
# Lines 5, 6 and 9 or 10 are wrong; every one of them must be reported. Line 8 (out-of-zone
# data) is skipped with a warning, as BIND does.
BAD_LINES = [5, 6]

NO_SOA = """\
$ORIGIN nosoa.test.
$TTL 60
@       IN NS   ns1.nosoa.test.
"""


def write(directory, name, text):
    path = os.path.join(directory, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def config_text(port, zone_lines):
    return (f'[server]\nlisten = ["127.0.0.1:{port}"]\nworkers = 1\n\n' + zone_lines)


def zone_block(name, file):
    return f'[[zone]]\nname = "{name}"\nfile = "{file}"\n\n'


def run(binary, *args, timeout=10):
    r = subprocess.run([binary, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout


def test_check_bad_zone(c, binary, d):
    port = g.free_port()
    write(d, "zones/bad.zone", BAD_ZONE)
    write(d, "zones/nosoa.zone", NO_SOA)
    cfg = write(d, "bad.toml", config_text(port, zone_block("bad.test.", "zones/bad.zone") +
                                           zone_block("nosoa.test.", "zones/nosoa.zone")))
    code, out = run(binary, "--check-config", "--config", cfg)
    c.check(code != 0, "--check-config exits non-zero on a bad zone", out)
    for line in BAD_LINES:
        c.check(f"bad.zone:{line}:" in out, f"reports bad.zone:{line}", out)
    c.check("bad.zone:9:" in out or "bad.zone:10:" in out, "reports CNAME and other data", out)
    c.check("bad.zone:8 reason=\"ignoring out-of-zone data (outside.example.)\"" in out,
            "warns about the out-of-zone record on line 8", out)
    c.check("nosoa.zone" in out and "SOA" in out, "reports the zone without SOA as well", out)


def test_check_bad_config(c, binary, d):
    text = ('[server]\nlisten = ["127.0.0.1:99999"]\nworkers = 1\nbogus = 3\n\n'
            '[[zone]]\nname = "e2e.test."\n')
    cfg = write(d, "badconf.toml", text)
    code, out = run(binary, "--check-config", "--config", cfg)
    c.check(code != 0, "--check-config exits non-zero on a bad config", out)
    c.check("badconf.toml:2:" in out, "reports the bad listen address with its line", out)
    c.check("badconf.toml:4:" in out, "reports the unknown key with its line", out)
    c.check("file" in out, "reports the zone without a file", out)
    code, out = run(binary, "--check-config", "--config", os.path.join(d, "missing.toml"))
    c.check(code != 0 and "missing.toml" in out, "a missing config file is reported", out)


def test_check_good(c, binary, d):
    port = g.free_port()
    write(d, "zones/e2e.zone", zones.E2E)
    cfg = write(d, "good.toml", config_text(port, zone_block("e2e.test.", "zones/e2e.zone")))
    code, out = run(binary, "--check-config", "--config", cfg)
    c.eq(code, 0, "--check-config accepts a good config")


def test_refuses_to_start(c, binary, d):
    port = g.free_port()
    write(d, "zones/bad.zone", BAD_ZONE)
    cfg = write(d, "start.toml", config_text(port, zone_block("bad.test.", "zones/bad.zone")))
    proc = subprocess.Popen([binary, "--config", cfg], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    try:
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            out = ""
        c.check(proc.returncode is not None and proc.returncode != 0,
                "gslbd exits non-zero instead of serving a bad zone", out)
        c.check("bad.zone:5:" in out, "and says where the error is", out)
    finally:
        g.stop_process(proc, "gslbd")
    c.check(not g.wait_for_answer(port, "bad.test.", timeout=0.5), "nothing answers on its port")


def main():
    rc = g.preflight(tools=())
    if rc is not None:
        return rc
    d = tempfile.mkdtemp(prefix="gslbd-config-")
    try:
        return g.run_tests([test_check_bad_zone, test_check_bad_config, test_check_good,
                            test_refuses_to_start], sys.argv[1], d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
