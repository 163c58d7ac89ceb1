#!/usr/bin/env python3
"""Reloads never stop the health checks, and zone loading is bounded.

1. A reload that takes a while (a zone whose $INCLUDEs fan out: 2 per file, 8 levels, 1M
   records parsed, all within the default limits) is in progress while a gateway dies: the
   dead address must leave the answers within the usual bound, `gslbctl status` must answer
   during the load, and the reload must then succeed. Before reloads moved to a loader thread
   the control loop was frozen for the whole load.
2. Zone files that must be refused, each with a `file:line: reason` by `gslbd --check-config`
   and by `gslbctl reload` (after which the old zone still answers): $INCLUDE of /dev/zero, a
   FIFO, a directory; $INCLUDE nesting over limits.include_depth; more includes than
   limits.includes; a 102 KB TXT record (RDATA cannot exceed 65535 bytes); more records than
   limits.zone_records.
3. A second reload during a load is queued (one more load), not lost; SIGTERM during a load
   stops gslbd promptly.
4. A reload keeps zones whose files did not change, and re-reads one that did.

  test_reload_limits.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import contextlib
import os
import re
import subprocess
import threading
import time

import opstest as ot

FANOUT_LEVELS = 8      # l0 .. l8: 1 + 2 + ... + 256 = 511 includes, depth 9
LEAF_RECORDS = 4000    # 256 leaves x 4000 = 1,024,000 records parsed (4000 distinct)
DOWN_BOUND = 3.0       # probe every 200 ms, fall 2: ~0.5 s; generous for a loaded machine


@contextlib.contextmanager
def running(gslbd, gslbctl):
    """gslbd (ot.Ops) with gateways 127.0.0.2 and .4 (hangzhou) and .3 (shanghai), probed
    every 200 ms."""
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    with ot.Gateways() as gws:
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            gws.add(a, port)
        with ot.Ops(gslbd, gslbctl, ot.body(), {"gw": ot.probe_toml(port, "200ms", "200ms")}) as srv:
            yield gws, srv


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def fanout(srv, levels=FANOUT_LEVELS, leaf=LEAF_RECORDS, sub="fan"):
    """Writes sub/l0.inc .. l{levels}.inc, each including the next twice; returns the include
    line for the zone file."""
    d = os.path.join(srv.dir, sub)
    os.makedirs(d, exist_ok=True)
    for lv in range(levels + 1):
        if lv < levels:
            text = f"$INCLUDE l{lv + 1}.inc\n$INCLUDE l{lv + 1}.inc\n"
        else:
            text = "".join(f"r{i} IN A 10.9.{(i >> 8) & 255}.{i & 255}\n" for i in range(leaf))
        write(os.path.join(d, f"l{lv}.inc"), text)
    return f"$INCLUDE {sub}/l0.inc\n"


def zone_path(srv):
    return os.path.join(srv.dir, "example.test.zone")


def ctl_async(srv, *args, timeout=60):
    """Runs gslbctl in a thread; returns (thread, result dict)."""
    out = {}

    def run():
        t0 = time.monotonic()
        out["r"] = srv.ctl(*args, timeout=timeout)
        out["at"] = time.monotonic()
        out["took"] = out["at"] - t0

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_checks_go_on_during_a_slow_reload(c, gslbd, gslbctl):
    with running(gslbd, gslbctl) as (gws, srv):
        got, _ = ot.poll_until(lambda: srv.answers() == {"127.0.0.2", "127.0.0.4"}, 5.0)
        c.check(got, "both hangzhou gateways answer before the reload", srv.answers())
        write(zone_path(srv), ot.ZONE + fanout(srv))
        t, res = ctl_async(srv, "reload", timeout=120)
        started = srv.wait_event("reload-started", timeout=5.0)
        c.check(started is not None, "the reload started", srv.log_text()[-2000:])
        t_kill = time.monotonic()
        gws.all[2].kill()  # 127.0.0.4
        _, gone_at = ot.poll_until(lambda: "127.0.0.4" not in (srv.answers() or {"127.0.0.4"}),
                                   DOWN_BOUND)
        c.check(gone_at is not None,
                f"the dead 127.0.0.4 left the answers within {DOWN_BOUND} s during the reload",
                f"answers {srv.answers()}")
        t0 = time.monotonic()
        st = srv.ctl("status", timeout=5)
        status_s = time.monotonic() - t0
        c.check(st.returncode == 0 and "127.0.0.4" in st.stdout and status_s < 1.0,
                "gslbctl status answers during the reload, at once",
                f"rc={st.returncode} took {status_s:.2f} s")
        still_loading = t.is_alive() and not srv.events("reloaded")
        c.check(still_loading,
                "the reload was still in progress when the address went down and status "
                "answered (else this test shows nothing: make the zone slower)",
                f"reload took {res.get('took')}")
        t.join(120)
        r = res.get("r")
        c.check(r is not None and r.returncode == 0 and "reloaded" in r.stdout,
                "the slow reload succeeds and gslbctl hears it",
                r and (r.stdout + r.stderr)[-500:])
        down = srv.events("address-down", address="127.0.0.4")
        c.check(bool(down), "address-down for 127.0.0.4 logged")
        print(f"  reload took {res.get('took', 0):.2f} s; 127.0.0.4 left the answers "
              f"{(gone_at or t_kill) - t_kill:.2f} s after the kill; status took {status_s * 1000:.0f} ms")
        c.check(ot.addresses(ot.query(srv.port, "r7.example.test.")) == {"10.9.0.7"},
                "the new zone's records answer after the reload")


def bad_zones(srv):
    """(description, zone text, expected file:line pattern and reason) for refused zones."""
    fifo = os.path.join(srv.dir, "pipe")
    if not os.path.exists(fifo):
        os.mkfifo(fifo)
    os.makedirs(os.path.join(srv.dir, "adir"), exist_ok=True)
    txt = " ".join('"' + "t" * 250 + '"' for _ in range(410))  # 102,910 bytes of RDATA
    zone = "example.test.zone"
    inc_at = len(ot.ZONE.splitlines()) + 1  # the line of the appended $INCLUDE
    return [
        ("$INCLUDE /dev/zero", ot.ZONE + "$INCLUDE /dev/zero\n",
         rf"{zone}:{inc_at}: /dev/zero: is a character device, not a regular file"),
        ("$INCLUDE of a FIFO", ot.ZONE + "$INCLUDE pipe\n",
         rf"{zone}:{inc_at}: .*pipe: is a FIFO, not a regular file"),
        ("$INCLUDE of a directory", ot.ZONE + "$INCLUDE adir\n",
         rf"{zone}:{inc_at}: .*adir: is a directory, not a regular file"),
        ("$INCLUDE nested over include_depth", ot.ZONE + fanout(srv, levels=12, leaf=1, sub="deep"),
         r"deep/l9\.inc:1: \$INCLUDE l10\.inc: nested more than 10 deep \(limits\.include_depth\)"),
        ("$INCLUDE fan-out over includes", ot.ZONE + fanout(srv, levels=9, leaf=1, sub="wide"),
         r"wide/l\d\.inc:\d: \$INCLUDE l\d+\.inc: more than 1000 includes in the zone \(limits\.includes\)"),
        ("102 KB TXT record", ot.ZONE + f"big IN TXT ( {txt} )\n",
         rf"{zone}:{inc_at}: record is \d+ characters long; .*RDATA cannot exceed 65535 bytes"),
    ]


def test_bad_zones_refused(c, gslbd, gslbctl):
    with running(gslbd, gslbctl) as (gws, srv):
        good_zone = ot.ZONE
        for what, text, pattern in bad_zones(srv):
            write(zone_path(srv), text)
            t0 = time.monotonic()
            chk = subprocess.run([gslbd, "--check-config", "--config", srv.config],
                                 capture_output=True, text=True, timeout=30)
            took = time.monotonic() - t0
            c.check(chk.returncode == 1 and re.search(pattern, chk.stderr) and took < 10,
                    f"{what}: gslbd --check-config refuses it with file:line: reason",
                    f"rc={chk.returncode} took {took:.1f} s, want /{pattern}/ in:\n{chk.stderr[-600:]}")
            r = srv.ctl("reload", timeout=30)
            c.check(r.returncode == 1 and re.search(pattern, r.stderr)
                    and "the running configuration is unchanged" in r.stderr,
                    f"{what}: gslbctl reload refuses it with file:line: reason",
                    f"rc={r.returncode} {r.stderr[-600:]}")
            c.check(ot.addresses(ot.query(srv.port, "www.example.test.")) >= {"127.0.0.2"},
                    f"{what}: the old configuration keeps answering")
        # A smaller zone_records limit, through gslbd.toml's [limits].
        write(zone_path(srv), good_zone + "".join(f"n{i} IN A 10.0.0.{i}\n" for i in range(20)))
        srv.write_config(srv.config_text(extra_top="\n[limits]\nzone_records = 10\n"))
        r = srv.ctl("reload", timeout=30)
        c.check(r.returncode == 1 and re.search(r"example\.test\.zone:\d+: more than 10 records "
                                                r"in the zone \(limits\.zone_records\)", r.stderr),
                "limits.zone_records: a reload over it fails with file:line", r.stderr[-500:])
        srv.write_config(srv.config_text(extra_top="\n[limits]\nzone_bytes = 100\n"))
        r = srv.ctl("reload", timeout=30)
        c.check(r.returncode == 1 and "limits.zone_bytes = 100 " in r.stderr,
                "limits.zone_bytes: a zone over it fails", r.stderr[-500:])
        srv.write_config(srv.config_text(extra_top="\n[limits]\nincludes = -1\n"))
        r = srv.ctl("check-config", timeout=30)
        c.check(r.returncode == 1 and re.search(r"gslbd\.toml:\d+:\d+: limits\.includes: must be", r.stderr),
                "a bad [limits] value is a config error with its position", r.stderr[-500:])
        srv.write_config()
        r = srv.ctl("reload", timeout=30)
        c.check(r.returncode == 0, "a good reload after all that succeeds", r.stdout[-500:])


def test_coalesce_and_stop(c, gslbd, gslbctl):
    with running(gslbd, gslbctl) as (gws, srv):
        write(zone_path(srv), ot.ZONE + fanout(srv))
        t1, r1 = ctl_async(srv, "reload", timeout=120)
        srv.wait_event("reload-started", timeout=5.0)
        t2, r2 = ctl_async(srv, "reload", timeout=120)
        t3, r3 = ctl_async(srv, "check-config", timeout=120)
        queued = srv.wait_event("reload-queued", timeout=5.0)
        c.check(queued is not None, "a reload during a load is queued")
        for t in (t1, t2, t3):
            t.join(120)
        ok = [x.get("r") is not None and x["r"].returncode == 0 for x in (r1, r2, r3)]
        c.check(all(ok), "every caller hears its load's outcome",
                [(x["r"].returncode, x["r"].stdout[-200:]) if x.get("r") else None for x in (r1, r2, r3)])
        c.check(len(srv.events("reloaded")) == 2,
                "two requests during a load make exactly one more reload",
                f"{len(srv.events('reloaded'))} reloaded events")
        c.check("configuration ok" in (r3.get("r").stdout if r3.get("r") else ""),
                "check-config queued behind a reload says configuration ok")
        # SIGTERM while a load is in progress: gslbd stops promptly.
        write(zone_path(srv), ot.ZONE + fanout(srv) + "; changed\n")
        srv.hup()
        c.check(srv.wait_event("reload-started", timeout=5.0, count=3) is not None,
                "SIGHUP started a load")
        code, took = srv.stop()
        c.check(code == 0 and took < 4.0, "SIGTERM during a load: gslbd exits 0 within 4 s",
                f"code={code} took {took:.2f} s")


def test_unchanged_zones_are_kept(c, gslbd, gslbctl):
    with running(gslbd, gslbctl) as (gws, srv):
        r = srv.ctl("reload", timeout=30)
        first = srv.wait_event("reloaded", timeout=5.0)
        c.check(r.returncode == 0 and first is not None and "zones-unchanged=yes" in first["_line"],
                "a reload with no zone file changed keeps the compiled zones",
                first and first["_line"])
        with open(zone_path(srv), "a") as f:
            f.write("added IN A 10.7.7.7\n")
        r = srv.ctl("reload", timeout=60)
        # Bounded waits rather than one try: under ASan, beside other suites, a turn of the
        # loop can take a while.
        second = srv.wait_event("reloaded", timeout=20.0, count=2)
        c.check(r.returncode == 0 and second is not None and "zones-unchanged" not in second["_line"],
                "a changed zone file is read again", (second and second["_line"]) or r.stdout + r.stderr)

        def added():
            try:
                return ot.addresses(ot.query(srv.port, "added.example.test.")) == {"10.7.7.7"}
            except Exception:  # a timeout: try again until the bound
                return False
        _, t = ot.poll_until(added, 10.0, step=0.1)
        c.check(t is not None, "the record added to the zone file answers after the reload")


if __name__ == "__main__":
    raise SystemExit(ot.main([test_checks_go_on_during_a_slow_reload, test_bad_zones_refused,
                              test_coalesce_and_stop, test_unchanged_zones_are_kept]))
