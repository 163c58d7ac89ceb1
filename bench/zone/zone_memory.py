#!/usr/bin/env python3
"""Memory per static record and the reload peak.

Generates a zone of N records (a third each A, TXT and MX, one owner name per record), starts
gslbd on it (loopback, a private control socket, no pools), and reads /proc/PID/status:

  bytes per record = (VmRSS with the zone - VmRSS with a 3-record zone) / N
  reload peak      = VmHWM during a reload that re-reads the zone / VmRSS before it

The zone's serial is bumped before the reload so the zone really is re-read (an unchanged zone
is taken over as it is). The peak counter is reset through /proc/PID/clear_refs first, so the
start-up peak does not count. Also times the start-up load and the reload.

With --transfer-dynamic MODE the config also has a pool and a dynamic name www in the zone, and
the zone's `transfer_dynamic = MODE`: with "fail_open" gslbd keeps a transfer view of the zone
(what secondaries get), so the two runs give what that view costs per record. The baseline run
has the same pool and name.

  bench/zone/zone_memory.py [--records N] [--transfer-dynamic fail_open|omit]
                            [--gslbd build/src/daemon/gslbd] [--gslbctl ...]
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

HEAD = """$ORIGIN example.test.
$TTL 300
@ IN SOA ns1 hostmaster {serial} 3600 600 86400 300
@ IN NS ns1
ns1 IN A 127.0.0.1
"""


def write_zone(path, records, serial):
    with open(path, "w") as f:
        f.write(HEAD.format(serial=serial))
        lines = []
        for i in range(records):
            k = i % 3
            if k == 0:
                lines.append(f"h{i} IN A 10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n")
            elif k == 1:
                lines.append(f'h{i} IN TXT "v=record {i}"\n')
            else:
                lines.append(f"h{i} IN MX 10 mail{i % 100}\n")
            if len(lines) >= 100000:
                f.writelines(lines)
                lines = []
        f.writelines(lines)


def status(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
    return out


def free_port():
    """A port free for both UDP and TCP on 127.0.0.1 (gslbd binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


def ctl(gslbctl, sock, *args, timeout=600):
    return subprocess.run([gslbctl, "--socket", sock, *args], capture_output=True, text=True,
                          timeout=timeout)


def start(gslbd, d, records, serial=1, transfer_dynamic=None):
    zone = os.path.join(d, "example.test.zone")
    write_zone(zone, records, serial)
    port = free_port()
    dynamic = ""
    if transfer_dynamic:
        # A pool checked on a port nothing listens on: what a secondary gets does not depend on
        # health.
        os.makedirs(os.path.join(d, "probes"), exist_ok=True)
        with open(os.path.join(d, "probes", "gw.toml"), "w") as f:
            f.write('type = "tcp"\nport = 1\ninterval = "10s"\ntimeout = "200ms"\n')
        dynamic = (f'transfer_dynamic = "{transfer_dynamic}"\n\n'
                   '[[pool]]\nname = "a"\nregion = "a"\nprobe = "gw"\n'
                   'addresses = [{ ip = "192.0.2.10" }, { ip = "192.0.2.11" }]\n\n'
                   '[[name]]\nfqdn = "www.example.test."\npools = ["a"]\n')
    with open(os.path.join(d, "gslbd.toml"), "w") as f:
        f.write(f'[server]\nlisten = ["127.0.0.1:{port}"]\nworkers = 1\nprobes_dir = "probes"\n\n'
                '[log]\ntargets = ["stderr"]\n\n'
                '[control]\nsocket = "ctl.sock"\nstate_file = ""\n\n'
                '[[zone]]\nname = "example.test."\nfile = "example.test.zone"\n' + dynamic)
    log = open(os.path.join(d, "gslbd.log"), "w")
    t0 = time.monotonic()
    proc = subprocess.Popen([gslbd, "--config", os.path.join(d, "gslbd.toml")], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    sock = os.path.join(d, "ctl.sock")
    deadline = time.monotonic() + 600
    while not os.path.exists(sock):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("gslbd did not start:\n" + open(log.name).read())
        time.sleep(0.02)
    return proc, time.monotonic() - t0, zone, port


def poke(port):
    """One SOA query over UDP: a UDP thread lets go of an old snapshot on its next query."""
    q = bytes.fromhex("beef01000001000000000000") + b"\x07example\x04test\x00" + b"\x00\x06\x00\x01"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(q, ("127.0.0.1", port))
        s.recv(4096)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def settle(pid):
    time.sleep(1.0)  # the workers take the first snapshot; RSS stops moving
    return status(pid)["VmRSS"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--transfer-dynamic", choices=("fail_open", "omit"), default=None)
    ap.add_argument("--gslbd", default=os.path.join(ROOT, "build/src/daemon/gslbd"))
    ap.add_argument("--gslbctl", default=os.path.join(ROOT, "build/src/ctl/gslbctl"))
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="gslbd-zonemem-")
    try:
        proc, _, _, _ = start(a.gslbd, d, 3, transfer_dynamic=a.transfer_dynamic)
        base = settle(proc.pid)
        stop(proc)
        proc, load_s, zone, port = start(a.gslbd, d, a.records, transfer_dynamic=a.transfer_dynamic)
        try:
            steady = settle(proc.pid)
            with open(f"/proc/{proc.pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            write_zone(zone, a.records, 2)
            t0 = time.monotonic()
            r = ctl(a.gslbctl, os.path.join(d, "ctl.sock"), "reload")
            reload_s = time.monotonic() - t0
            if r.returncode != 0:
                raise SystemExit("reload failed: " + r.stdout + r.stderr)
            peak = status(proc.pid)["VmHWM"]
            poke(port)
            time.sleep(1.5)  # gslbd trims the heap 1 s after a reload
            after = settle(proc.pid)
            t0 = time.monotonic()
            r = ctl(a.gslbctl, os.path.join(d, "ctl.sock"), "reload")
            same_s = time.monotonic() - t0
        finally:
            stop(proc)
        zone_bytes = os.path.getsize(zone)
        print(f"records                 {a.records:,} ({zone_bytes / a.records:.1f} bytes of zone text each)"
              + (f", transfer_dynamic = {a.transfer_dynamic}" if a.transfer_dynamic else ""))
        print(f"start-up (load+compile) {load_s:.2f} s")
        print(f"RSS baseline            {base / 2**20:.1f} MiB")
        print(f"RSS with the zone       {steady / 2**20:.1f} MiB")
        print(f"bytes per record        {(steady - base) / a.records:.0f}")
        print(f"reload (zone changed)   {reload_s:.2f} s, peak {peak / 2**20:.1f} MiB = "
              f"{peak / steady:.2f} x steady; RSS after {after / 2**20:.1f} MiB")
        print(f"reload (zone unchanged) {same_s:.2f} s")
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
