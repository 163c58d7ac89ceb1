#!/usr/bin/env python3
"""Privilege drop: started as root with [server] user = "nobody", group = "nogroup" on a high
loopback port, gslbd runs as nobody:nogroup (every Uid/Gid in /proc/PID/status, no
supplementary groups) and still answers, checks gateways, serves metrics and gslbctl (socket
owned by nobody:nogroup, mode 0660), reloads (the files are readable by nobody) and keeps drains
in a state directory nobody owns. Skipped (77) when not run as root or without those accounts.

  test_privdrop.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import grp
import json
import os
import pwd
import stat
import sys
import time

import opstest as ot


def proc_ids(pid):
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = v.split()
    return ids


def test_drop_to_nobody(c, gslbd, gslbctl):
    uid = pwd.getpwnam("nobody").pw_uid
    gid = grp.getgrnam("nogroup").gr_gid
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    with ot.Gateways() as gws:
        for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
            gws.add(a, port)
        probes = {"gw": ot.probe_toml(port, "200ms", "200ms")}
        # mode 0755: nobody must read the config, zone and probes to reload them
        srv = ot.Ops(gslbd, gslbctl, ot.body(), probes, mode=0o755,
                     server_extra='user = "nobody"\ngroup = "nogroup"')
        with srv:
            pid = srv.proc.pid
            ids = proc_ids(pid)
            print(f"  /proc/{pid}/status: Uid {' '.join(ids['Uid'])}, Gid {' '.join(ids['Gid'])}, "
                  f"Groups {' '.join(ids.get('Groups', [])) or '-'}")
            c.eq(ids["Uid"], [str(uid)] * 4, "Uid: real, effective, saved, fs are nobody's")
            c.eq(ids["Gid"], [str(gid)] * 4, "Gid: real, effective, saved, fs are nogroup's")
            c.check(ids.get("Groups", []) in ([], [str(gid)]),
                    "no supplementary groups but nogroup", str(ids.get("Groups")))
            c.check(srv.proc.poll() is None, "still running after the drop")

            m = ot.query(srv.port, "example.test.", "SOA")
            c.check(len(m.answer) == 1, "answers SOA as nobody", str(m))
            c.eq(srv.answers(), {"127.0.0.2", "127.0.0.4"}, "answers www as nobody")

            st = os.stat(srv.socket)
            c.eq((st.st_uid, st.st_gid), (uid, gid), "control socket owned by nobody:nogroup")
            c.eq(oct(stat.S_IMODE(st.st_mode)), oct(0o660), "control socket mode 0660")

            # The health checks run as nobody too: a gateway dies, the address goes down.
            def checked():
                r = srv.ctl("status", "--json")
                return r.returncode == 0 and all(a["checks"] > 0 for a in json.loads(r.stdout)["addresses"])
            c.check(ot.poll_until(checked, 3.0, step=0.05)[1] is not None,
                    "every address checked as nobody")
            gws.all[0].kill()
            c.check(srv.wait_event("address-down", timeout=3, address="127.0.0.2") is not None,
                    "a dead gateway goes down (checks work after the drop)")
            code, text = srv.scrape()
            c.check(code == 200 and "gslbd_address_up" in text, "metrics served as nobody",
                    f"{code}")

            # Reload as nobody: the files are world-readable.
            srv.write_config(srv.config_text(ot.body(("127.0.0.4", "127.0.0.5"))))
            r = srv.ctl("reload")
            c.check(r.returncode == 0, "reload works as nobody", f"{r.returncode} {r.stderr!r}")
            os.kill(pid, 1)  # SIGHUP
            c.check(srv.wait_event("reloaded", timeout=3, count=2) is not None,
                    "SIGHUP reload works as nobody", srv.log_text()[-1500:])

            # Drains need a state directory nobody can write. Until now it could not: the
            # reloads above could not save the served serials beside it (and said so).
            state = os.path.join(srv.dir, "state", "drains")
            c.check(f'event=state-not-saved file={state}.serials reason="Permission denied"'
                    in srv.log_text(),
                    "served serials not saved while the state directory is root's",
                    srv.log_text()[-1000:])
            os.chown(os.path.join(srv.dir, "state"), uid, gid)
            before = len(srv.log_text())
            r = srv.ctl("drain", "127.0.0.4")
            c.eq(r.returncode, 0, "drain as nobody")
            time.sleep(0.1)
            c.check("event=state-not-saved" not in srv.log_text()[before:], "the drain was saved",
                    srv.log_text()[-1000:])
            c.check(os.path.exists(state) and os.stat(state).st_uid == uid,
                    "state file written by nobody")
            code, _ = srv.stop()
            c.eq(code, 0, "exits 0 on SIGTERM as nobody")
            c.check("event=stopped" in srv.log_text(), "logs event=stopped")


def main():
    if os.geteuid() != 0:
        print("SKIP: not running as root (the privilege drop needs root)")
        return ot.SKIP
    try:
        pwd.getpwnam("nobody")
        grp.getgrnam("nogroup")
    except KeyError:
        print("SKIP: no user nobody or group nogroup")
        return ot.SKIP
    return ot.main([test_drop_to_nobody], tools=())


if __name__ == "__main__":
    sys.exit(main())
