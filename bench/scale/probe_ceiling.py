#!/usr/bin/python3
"""The probe engine's ceiling: how many HTTP (or TCP) checks a second gslbd's control loop runs
on one core with every target's schedule kept, against a local nginx.

  bench/scale/probe_ceiling.py [--gslbd build-release/src/daemon/gslbd] [--type http|tcp]
                               [--rates 2000,5000,10000] [--interval 1] [--seconds 10]

For each rate R: R targets (addresses 127.3.x.y, all served by one nginx listening on
0.0.0.0:18080, `nginx-light` from Debian, started here in the foreground with its own config),
each checked every --interval seconds (HTTP GET /health, no keep-alive, or a TCP connect).
After a warm-up, for --seconds: checks done per second (from /metrics), the share of targets
whose number of checks is within 10% of seconds / interval (the schedule kept), gslbd's CPU
(% of one core: the checks run on its control loop) and nginx's.

Loopback only; every process is started here and stopped by its PID; every wait is bounded.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PORT = 18080


def addr(i):
    i += 1
    return f"127.3.{i // 250}.{i % 250 + 1}"


def cpu_ticks(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def children_ticks(pid):
    """CPU of nginx's master and its workers."""
    total = cpu_ticks(pid)
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                stat = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
                if int(stat[1]) == pid:
                    total += int(stat[11]) + int(stat[12])
            except OSError:
                pass
    return total


def stop(proc, sig):
    """Stops `proc` by its PID: `sig`, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(d):
    conf = f"""
worker_processes 1;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log;
events {{ worker_connections 16384; multi_accept on; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  server {{
    listen 0.0.0.0:{PORT} backlog=8192;
    keepalive_timeout 10s;  # the checker closes first, as with most gateways
    location /health {{ return 200 "ok\\n"; }}
  }}
}}
"""
    with open(f"{d}/nginx.conf", "w") as f:
        f.write(conf)
    return subprocess.Popen(["nginx", "-c", f"{d}/nginx.conf", "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)


def write_gslbd(d, a, n):
    metrics = free_port()
    os.makedirs(f"{d}/probes", exist_ok=True)
    probe = [f'type = "{a.type}"', f"port = {PORT}", f'interval = "{a.interval}s"',
             f'timeout = "{a.timeout}"', "rise = 1", "fall = 1"]
    if a.type == "http":
        probe += ['path = "/health"', 'expect_status = ["2xx"]']
    with open(f"{d}/probes/p.toml", "w") as f:
        f.write("\n".join(probe) + "\n")
    with open(f"{d}/z.zone", "w") as f:
        f.write("$ORIGIN c.test.\n$TTL 300\n@ IN SOA ns1 h 1 7200 3600 1209600 60\n@ IN NS ns1\n"
                "ns1 IN A 127.0.0.1\n")
    cfg = ["[server]", f'listen = ["127.0.0.1:{free_port()}"]', "tcp_max_connections = 16",
           "[log]", 'targets = ["stderr"]', "[control]", 'socket = ""', 'state_file = ""',
           "[metrics]", f'listen = "127.0.0.1:{metrics}"',
           "[[zone]]", 'name = "c.test."', 'file = "z.zone"']
    # Pools of 100 addresses, one name each: the checks are what is measured.
    for p in range(0, n, 100):
        ips = ", ".join(f'"{addr(i)}"' for i in range(p, min(n, p + 100)))
        cfg += ["[[pool]]", f'name = "p{p}"', 'probe = "p"', f"addresses = [{ips}]",
                "[[name]]", f'fqdn = "n{p}.c.test."', f'pools = ["p{p}"]']
    with open(f"{d}/gslbd.toml", "w") as f:
        f.write("\n".join(cfg) + "\n")
    return metrics


def latency_buckets(text):
    """Checks so far by latency bucket (upper bound in seconds), summed over the addresses."""
    out = {}
    for le, n in re.findall(r'gslbd_probe_latency_seconds_bucket\{[^}]*le="([^"]+)"\} (\d+)', text):
        out[le] = out.get(le, 0) + int(n)
    return out


def median_latency(b0, b1):
    """The bucket bound under which half the checks between two scrapes finished."""
    total = b1.get("+Inf", 0) - b0.get("+Inf", 0)
    for le in sorted((k for k in b1 if k != "+Inf"), key=float):
        if b1[le] - b0.get(le, 0) >= total / 2:
            return f"<= {float(le) * 1000:g} ms"
    return "> 1 s"


def scrape(metrics):
    with urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics", timeout=10) as r:
        return r.read().decode()


def counts(metrics, text=None):
    """Checks so far per address, from gslbd_probe_results_total."""
    text = text or scrape(metrics)
    out = {}
    for ip, n in re.findall(r'gslbd_probe_results_total\{address="([^"]+)",[^}]*\} (\d+)', text):
        out[ip] = out.get(ip, 0) + int(n)
    return out


def run(a, n, nginx_pid):
    d = tempfile.mkdtemp(prefix="probe-ceiling-")
    metrics = write_gslbd(d, a, n)
    log = open(f"{d}/gslbd.log", "w")
    g = subprocess.Popen([os.path.abspath(a.gslbd), "--config", f"{d}/gslbd.toml"], cwd=d,
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if len(counts(metrics)) >= n:
                    break
            except OSError:
                pass
            if g.poll() is not None:
                print(open(f"{d}/gslbd.log").read()[-1000:])
                return None
            time.sleep(0.5)
        time.sleep(2 * a.interval)  # warm-up
        if g.poll() is not None:
            print(open(f"{d}/gslbd.log").read()[-1000:])
            return None
        m0 = scrape(metrics)
        c0, g0, n0, t0 = counts(metrics, m0), cpu_ticks(g.pid), children_ticks(nginx_pid), time.monotonic()
        time.sleep(a.seconds)
        m1 = scrape(metrics)
        c1, g1, n1, t1 = counts(metrics, m1), cpu_ticks(g.pid), children_ticks(nginx_pid), time.monotonic()
        hz = os.sysconf("SC_CLK_TCK")
        done = sum(c1.values()) - sum(c0.values())
        want = (t1 - t0) / a.interval
        kept = sum(1 for ip in c1 if abs((c1[ip] - c0.get(ip, 0)) - want) <= 0.1 * want + 1)
        logtext = open(f"{d}/gslbd.log").read()
        fails = len(re.findall(r"event=address-down", logtext))
        reasons = sorted(set(re.findall(r'event=address-down .*?reason="([^"]*)"', logtext)))[:3]
        return (f"{a.type} checks, {n} targets every {a.interval} s: {done / (t1 - t0):.0f} checks/s, "
                f"schedule kept for {100.0 * kept / max(1, len(c1)):.1f}% of targets, "
                f"gslbd CPU {100.0 * (g1 - g0) / hz / (t1 - t0):.0f}% of a core, "
                f"nginx {100.0 * (n1 - n0) / hz / (t1 - t0):.0f}%, "
                f"median check {median_latency(latency_buckets(m0), latency_buckets(m1))}, "
                f"address-down events {fails}"
                + (f" ({', '.join(reasons)})" if reasons else ""))
    finally:
        stop(g, signal.SIGTERM)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gslbd", default="build-release/src/daemon/gslbd")
    ap.add_argument("--type", choices=["http", "tcp"], default="http")
    ap.add_argument("--rates", default="2000,5000,10000")
    ap.add_argument("--interval", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--timeout", default="500ms", help="each check's timeout")
    a = ap.parse_args()
    if not shutil.which("nginx"):
        print("nginx is not installed (Debian: nginx-light)")
        return 2
    d = tempfile.mkdtemp(prefix="probe-ceiling-nginx-")
    nginx = start_nginx(d)
    try:
        time.sleep(0.5)
        if nginx.poll() is not None:
            print(open(f"{d}/nginx-error.log").read()[-1000:])
            return 1
        for n in (int(x) * a.interval for x in a.rates.split(",")):
            line = run(a, n, nginx.pid)
            print(line or f"{n} targets: gslbd did not start", flush=True)
        errors = open(f"{d}/nginx-error.log").read().strip().splitlines()
        if errors:
            print(f"nginx logged {len(errors)} errors; the last: {errors[-1]}")
    finally:
        stop(nginx, signal.SIGQUIT)
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
