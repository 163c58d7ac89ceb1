#!/usr/bin/env python3
"""Hostile clients on the control socket and /metrics (issue 8), with gslbd held to 256 file
descriptors:

- 300 idle connections to /metrics (from 20 source addresses) and 300 to the control socket:
  at most max_connections of each are held, the rest are closed at once; meanwhile no gateway
  goes down, answers stay right, no probe fails for a local reason, refusals log once per burst;
- the held ones are closed after idle_timeout, even when they trickle a byte every 250 ms;
- the per-source cap of /metrics; requests over 4 KiB get 400 / "request too long";
- with no descriptor left (soft limit lowered under the running gslbd), probes fail locally:
  event=probe-error kind=local once, counted, and no gateway goes down;
- a never-reading `events --follow` client is dropped (event=follower-dropped, counted) while
  gslbd's RSS stays bounded;
- a configuration that cannot fit RLIMIT_NOFILE is refused at start and by --check-config,
  with the numbers and the key to lower, and so is a reload that adds too many probe targets;
- drain/undrain with an unwritable state file exit 1 with the reason;
- server.group = "root" is a config error with its position.

  test_hostile.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import os
import resource
import select
import shutil
import socket
import subprocess
import sys
import time

import opstest as ot

NOFILE = 256
IDLE = 2.0  # idle_timeout of both listeners in these tests, seconds
# 1 worker x 64 + 6 + 17 + 17 + 3 probes + 64 reserve = 171 <= 256
FITS = "tcp_max_connections = 64"
LIMITS = dict(control_extra=f'max_connections = 16\nidle_timeout = "{int(IDLE)}s"',
              metrics_extra=f'max_connections = 16\nmax_connections_per_source = 4\n'
                            f'idle_timeout = "{int(IDLE)}s"')


def start(gws, gslbd, gslbctl, **kw):
    port = ot.gateway_port(ot.GATEWAY_ADDRS)
    for a in ("127.0.0.2", "127.0.0.3", "127.0.0.4"):
        gws.add(a, port)
    probes = {"gw": ot.probe_toml(port, "200ms", "200ms")}
    args = dict(server_extra=FITS, nofile=NOFILE, **LIMITS)
    args.update(kw)
    return ot.Ops(gslbd, gslbctl, ot.body(), probes, **args)


def wait_all_up(srv, timeout=3.0):
    def up():
        ups = [v for n, _, v in srv.samples() or [] if n == "gslbd_address_up"]
        return ups if ups and all(v == 1 for v in ups) else None
    return ot.poll_until(up, timeout, step=0.05)[0] is not None


def tcp_conns(port, n, sources):
    """n connections to 127.0.0.1:port, round-robin over the source addresses."""
    out = []
    for i in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(3)
        s.bind((sources[i % len(sources)], 0))
        s.connect(("127.0.0.1", port))
        out.append(s)
    return out


def unix_conns(path, n):
    """n connections to the control socket. A Unix socket's connect fails with EAGAIN while the
    backlog is full (gslbd accepts and closes, but we connect faster): retry, as gslbctl's
    users would, for at most 5 s in all."""
    out = []
    deadline = time.monotonic() + 5
    while len(out) < n:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(3)
        try:
            s.connect(path)
        except BlockingIOError:
            s.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.001)
            continue
        out.append(s)
    return out


def closed_by_peer(s):
    """True when gslbd closed the connection (EOF or reset), False while it is held open."""
    p = select.poll()  # not select(): descriptors past 1024 are likely with 600 sockets open
    p.register(s, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        return s.recv(65536, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def held(conns):
    return [s for s in conns if not closed_by_peer(s)]


def close_all(conns):
    for s in conns:
        s.close()


def metric(srv, name, **labels):
    s = srv.samples()
    return None if s is None else ot.value(s, name, **labels)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


def test_idle_flood(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        c.check(wait_all_up(srv), "every address is up before the flood")
        with open(f"/proc/{srv.proc.pid}/limits") as f:
            c.check(any(l.startswith("Max open files") and f" {NOFILE} " in l for l in f),
                    f"gslbd runs with RLIMIT_NOFILE {NOFILE}")

        # One source gets max_connections_per_source (4) and no more.
        one = tcp_conns(srv.metrics_port, 10, ["127.0.0.50"])
        time.sleep(0.3)
        c.eq(len(held(one)), 4, "one source address: 4 of 10 connections held")
        close_all(one)
        time.sleep(0.2)

        t0 = time.monotonic()
        sources = [f"127.0.0.{i}" for i in range(10, 30)]
        scrapes = tcp_conns(srv.metrics_port, 300, sources)
        ctls = unix_conns(srv.socket, 300)
        opened = time.monotonic() - t0
        print(f"  opened 300 + 300 connections in {opened:.2f}s")
        time.sleep(0.5)
        c.eq(len(held(scrapes)), 16, "/metrics: 16 of 300 idle connections held, the rest closed")
        c.eq(len(held(ctls)), 16, "control socket: 16 of 300 idle connections held, the rest closed")

        # The probes still have descriptors: a second and a half of 200 ms checks, no verdict
        # changes, answers as before.
        time.sleep(1.0)
        for _ in range(5):
            c.eq(srv.answers(), {"127.0.0.2", "127.0.0.4"}, "www answers both hangzhou gateways")
        c.eq(srv.events("address-down"), [], "no address-down during the flood")
        c.eq(srv.events("probe-error"), [], "no probe failed for a local reason")
        refusals = srv.events("connection-refused")
        c.check(1 <= len(refusals) <= 4, "refusals logged once per burst per listener",
                f"{len(refusals)} lines")
        c.check(any(e.get("listener") == "metrics" for e in refusals)
                and any(e.get("listener") == "control" for e in refusals),
                "both listeners logged their refusals")

        # Held connections are closed at idle_timeout from connect (2 s), not before. (On a
        # loaded machine opening 600 connections can take a while: times count from the first.)
        left = held(scrapes) + held(ctls)
        gone = ot.poll_until(lambda: not held(left), IDLE + opened + 1.5, step=0.05)[0]
        after = time.monotonic() - t0
        c.check(gone, "every held connection is closed after idle_timeout", f"{after:.2f}s")
        c.check(after >= IDLE - 0.2, "not before idle_timeout", f"{after:.2f}s")
        print(f"  idle connections closed {after:.2f}s after the first connect (idle_timeout {IDLE}s)")
        close_all(scrapes + ctls)

        # Everything works again; the counters tell what happened.
        c.eq(srv.ctl("status").returncode, 0, "gslbctl status after the flood")
        refused = metric(srv, "gslbd_connections_total", listener="metrics", outcome="refused")
        # 300 - 16 held, less a few that connected after the first held ones timed out
        c.check(refused is not None and refused >= 250, "metrics: refused connections counted",
                str(refused))
        timed = metric(srv, "gslbd_connections_total", listener="metrics", outcome="timed_out")
        c.check(timed is not None and timed >= 16, "metrics: timed-out connections counted", str(timed))
        c.check((metric(srv, "gslbd_connections_total", listener="control", outcome="refused") or 0) >= 250,
                "control: refused connections counted")
        c.eq(metric(srv, "gslbd_probe_local_errors_total"), 0.0, "no local probe errors")
        c.check(wait_all_up(srv, 1.0), "every address still up")


def test_trickle_and_size(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        c.check(wait_all_up(srv), "every address is up")
        t0 = time.monotonic()
        scrapes = tcp_conns(srv.metrics_port, 3, ["127.0.0.60", "127.0.0.61", "127.0.0.62"])
        ctls = unix_conns(srv.socket, 3)
        request = {id(s): b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: " for s in scrapes}
        request.update({id(s): b"status" + b"x" * 100 for s in ctls})
        closed_at = {}
        i = 0
        # One byte per 250 ms on each: never a whole request, always "active".
        while len(closed_at) < 6 and time.monotonic() - t0 < IDLE + 3:
            for s in scrapes + ctls:
                if id(s) in closed_at:
                    continue
                if closed_by_peer(s):
                    closed_at[id(s)] = time.monotonic() - t0
                    continue
                try:
                    s.send(request[id(s)][i % len(request[id(s)]):][:1])
                except OSError:
                    closed_at[id(s)] = time.monotonic() - t0
            i += 1
            time.sleep(0.25)
        times = sorted(closed_at.values())
        print(f"  trickling clients closed after {', '.join(f'{t:.2f}' for t in times)} s")
        c.eq(len(times), 6, "every trickling client is closed")
        c.check(times and min(times) >= IDLE - 0.3 and max(times) <= IDLE + 1.0,
                "closed at idle_timeout from connect, bytes or not", str(times))
        close_all(scrapes + ctls)

        # Over 4 KiB of request: 400 on /metrics, "request too long" on the control socket.
        with socket.create_connection(("127.0.0.1", srv.metrics_port), timeout=3) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\n" + b"X-Pad: " + b"a" * 5000 + b"\r\n\r\n")
            reply = s.recv(4096)
            c.check(reply.startswith(b"HTTP/1.1 400 "), "/metrics: 5 KiB of headers get 400", reply[:40])
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(3)
            s.connect(srv.socket)
            s.sendall(b"x" * 5000)
            reply = s.recv(4096)
            c.eq(reply, b"1\nrequest too long\n", "control: 5 KiB without a newline is refused")
        c.eq(metric(srv, "gslbd_connections_total", listener="metrics", outcome="too_large"), 1.0,
             "metrics: too_large counted")
        code, _ = srv.scrape()
        c.eq(code, 200, "a normal scrape still works")


def under_asan(pid):
    """True when the process runs with AddressSanitizer's runtime mapped in."""
    with open(f"/proc/{pid}/maps") as f:
        return "libasan" in f.read()


def test_follower_dropped(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl, server_extra=FITS) as srv:
        c.check(wait_all_up(srv), "every address is up")
        # A reading follower, to see the stream goes on for the well-behaved.
        good = subprocess.Popen([srv.gslbctl, "--socket", srv.socket, "events", "--follow"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL)
        bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        bad.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        bad.connect(srv.socket)
        bad.sendall(b"events\t--follow\n")
        try:
            time.sleep(0.3)
            rss0 = rss_kib(srv.proc.pid)
            cmd = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sent = 0
            t0 = time.monotonic()
            # Each drain/undrain of a pool is several event lines (~600 bytes): a few hundred
            # fill the kernel's buffers and the 256 KiB queue.
            while time.monotonic() - t0 < 30 and not srv.events("follower-dropped"):
                for verb in ("drain", "undrain"):
                    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                        s.settimeout(3)
                        s.connect(srv.socket)
                        s.sendall(f"{verb}\thangzhou\n".encode())
                        while s.recv(4096):
                            pass
                    sent += 1
            cmd.close()
            rss1 = rss_kib(srv.proc.pid)
            dropped = srv.events("follower-dropped")
            print(f"  {sent} drain/undrain commands in {time.monotonic() - t0:.1f}s; "
                  f"RSS {rss0} -> {rss1} KiB")
            c.eq(len(dropped), 1, "one event=follower-dropped line")
            if dropped:
                c.eq(dropped[0].get("bound"), str(256 * 1024), "the line names the bound")
            if under_asan(srv.proc.pid):
                # ASan's quarantine keeps what thousands of commands freed: RSS says nothing.
                print("  (ASan build: the RSS bound is not checked)")
            else:
                c.check(rss1 - rss0 < 16 * 1024, "RSS grew less than 16 MiB", f"{rss1 - rss0} KiB")
            c.eq(metric(srv, "gslbd_followers_dropped_total"), 1.0, "gslbd_followers_dropped_total 1")
            # The dropped client finds what the kernel still held, then EOF: gslbd's queue was
            # freed, not kept for it.
            bad.settimeout(5)
            got, chunk = 0, b"x"
            while chunk:
                chunk = bad.recv(65536)
                got += len(chunk)
            c.check(0 < got < 256 * 1024, "the dropped follower reads what the kernel held, then EOF",
                    str(got))
            c.check(good.poll() is None, "the reading follower is still connected")
            c.eq(srv.ctl("status").returncode, 0, "status works")
        finally:
            bad.close()
            good.kill()
            good.wait(timeout=5)


def test_local_probe_errors(c, gslbd, gslbctl):
    """Out of descriptors, probes fail on gslbd's side: that must not take gateways down."""
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        c.check(wait_all_up(srv), "every address is up")
        pid = srv.proc.pid
        # Soft limit 3: the descriptors gslbd holds stay valid, every new one fails with EMFILE
        # (stderr, where it logs, is fd 2). The same as a gslbd that clients starved.
        hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)[1]
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (3, hard))
        try:
            # 2 s of 200 ms checks: 10 rounds, fall = 2 would have taken every address down.
            time.sleep(2.0)
            for _ in range(3):
                c.eq(srv.answers(), {"127.0.0.2", "127.0.0.4"}, "answers unchanged while starved")
        finally:
            resource.prlimit(pid, resource.RLIMIT_NOFILE, (NOFILE, hard))
        errors = srv.events("probe-error")
        c.check(len(errors) >= 1, "event=probe-error logged", srv.log_text()[-2000:])
        c.check(len(errors) <= 2, "once per burst, not once per target and check", str(len(errors)))
        if errors:
            c.eq(errors[0].get("kind"), "local", "kind=local")
            c.eq(errors[0].get("reason"), "too many open files", "reason names EMFILE")
            print(f"  {errors[0]}")
        c.eq(srv.events("address-down"), [], "no address-down")
        c.check(wait_all_up(srv, 2.0), "every address up once descriptors are back")
        n = metric(srv, "gslbd_probe_local_errors_total")
        c.check(n is not None and n >= 10, "gslbd_probe_local_errors_total counts them", str(n))
        s = srv.samples() or []
        c.check(not [l for name, l, _ in s if name == "gslbd_probe_results_total"
                     and "open files" in l.get("result", "")],
                "no local error among the verdicts (gslbd_probe_results_total)")


def test_fd_limit_refused(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        srv.stop()
        srv.server_extra = ""  # server.tcp_max_connections 1024 cannot fit 256 descriptors
        srv.write_config()
        srv.start(wait=False)
        try:
            code = srv.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        c.eq(code, 1, "gslbd refuses to start: exit 1")
        log = srv.log_text()
        c.check("RLIMIT_NOFILE is 256" in log and "server.tcp_max_connections 1024" in log
                and "lower server.tcp_max_connections to at most" in log,
                "the error names the limit, the figures and the key to lower", log)
        r = subprocess.run([srv.gslbd, "--config", srv.config, "--check-config"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10,
                           preexec_fn=srv.limit_nofile)
        c.eq(r.returncode, 1, "--check-config exits 1 too")
        c.check("RLIMIT_NOFILE is 256" in r.stderr, "--check-config says why", r.stderr)
        if r.stderr.strip():
            print("  " + r.stderr.strip().splitlines()[-1])


def test_reload_over_budget(c, gslbd, gslbctl):
    """A reload that adds more probe targets than the descriptors left is refused."""
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        c.check(wait_all_up(srv), "every address is up")
        many = ", ".join(f'"127.0.1.{i}"' for i in range(1, 121))
        srv.body = ot.body() + f'\n[[pool]]\nname = "big"\nprobe = "gw"\naddresses = [{many}]\n'
        srv.write_config()
        r = srv.ctl("check-config")
        c.eq(r.returncode, 1, "gslbctl check-config: 120 more targets do not fit 256 descriptors")
        c.check("probes 123 (one per target)" in r.stderr, "check-config names the figures", r.stderr)
        r = srv.ctl("reload")
        c.eq(r.returncode, 1, "gslbctl reload is refused")
        c.check("RLIMIT_NOFILE is 256" in r.stderr, "reload says why", r.stderr)
        c.check(srv.wait_event("reload-failed", timeout=2) is not None, "event=reload-failed")
        c.eq(srv.answers(), {"127.0.0.2", "127.0.0.4"}, "the previous configuration keeps serving")
        # With a cap on the checks in flight, the same targets fit: the budget counts the cap.
        srv.server_extra = FITS + "\nmax_checks_in_flight = 8"
        srv.write_config()
        r = srv.ctl("reload")
        c.check(r.returncode == 0, "with server.max_checks_in_flight = 8 the reload is accepted", r.stderr)
        c.eq(srv.answers(), {"127.0.0.2", "127.0.0.4"}, "and the old addresses still answer")


def test_drain_unwritable(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        c.check(wait_all_up(srv), "every address is up")
        # A file where the state directory was: even root cannot create state/drains.tmp.
        state = os.path.join(srv.dir, "state")
        shutil.rmtree(state)
        with open(state, "w") as f:
            f.write("not a directory\n")
        r = srv.ctl("drain", "127.0.0.4")
        c.eq(r.returncode, 1, "drain with an unwritable state file: exit 1")
        c.check("cannot write" in r.stderr and "state/drains" in r.stderr and "Not a directory" in r.stderr,
                "the reason names the file and the error", r.stderr)
        c.check("in effect now" in r.stderr and "lost when gslbd restarts" in r.stderr,
                "and says the drain applies until a restart", r.stderr)
        c.eq(srv.answers(), {"127.0.0.2"}, "the drain is in effect")
        r = srv.ctl("undrain", "127.0.0.4")
        c.eq(r.returncode, 1, "undrain: exit 1 as well")
        c.eq(srv.answers(), {"127.0.0.2", "127.0.0.4"}, "the undrain is in effect")
        os.unlink(state)
        os.makedirs(state)
        r = srv.ctl("drain", "127.0.0.4")
        c.eq(r.returncode, 0, "once the directory is back, drain succeeds")
        with open(os.path.join(state, "drains")) as f:
            c.check(f.read().startswith("127.0.0.4 "), "and the state file holds it")
        c.check(not os.path.exists(os.path.join(state, "drains.tmp")), "no temporary file left")


def test_root_group_refused(c, gslbd, gslbctl):
    with ot.Gateways() as gws, start(gws, gslbd, gslbctl) as srv:
        for extra, key in (('user = "nobody"\ngroup = "root"', "server.group"),
                           ('user = "root"', "server.user")):
            srv.server_extra = FITS + "\n" + extra
            srv.write_config()
            r = subprocess.run([srv.gslbd, "--config", srv.config, "--check-config"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=10)
            c.eq(r.returncode, 1, f"{extra.splitlines()[-1]}: --check-config exits 1")
            line = [l for l in srv.config_text().splitlines()].index(extra.splitlines()[-1]) + 1
            c.check(f"gslbd.toml:{line}:" in r.stderr and f"{key}: must not be root" in r.stderr,
                    f"{key} = root is an error at its line", r.stderr)


if __name__ == "__main__":
    sys.exit(ot.main([test_idle_flood, test_trickle_and_size, test_follower_dropped,
                      test_local_probe_errors, test_fd_limit_refused, test_reload_over_budget, test_drain_unwritable, test_root_group_refused],
                     tools=("curl",)))
