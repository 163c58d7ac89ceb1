#!/usr/bin/python3
"""Per-core DNS throughput, CPU per query and memory of gslbd beside NSD, Knot and gdnsd.

Every server gets one worker and serves the same generated static zone on its own free port
on 127.0.0.1, pinned to one CPU (--server-cpu, default 1, all threads re-pinned after start
because Knot sets its own affinity); dnsperf runs pinned to the other (--client-cpu, default 0).
Each round visits every server in turn (the order rotating from round to round, so a drift in
the machine's load hits all of them alike) and measures on it:

  UDP qps         dnsperf -m udp -c 1 -T 1 -q 100 -l DURATION
  TCP qps         dnsperf -m tcp -c 8 -T 1 -q 100 -l DURATION
  CPU per query   dnsperf -m udp -c 1 -T 1 -q 100 -Q RATE -l DURATION; the server's
                  utime+stime (/proc/PID/stat, summed over its processes) over the run,
                  divided by the queries answered
  RSS             VmRSS summed over the server's processes after that round's load

and prints the median of the rounds with the min-max, then gslbd's ratio to each peer. A
benchmark, not a test: it asserts nothing about speed. It stops only when a server does not
start or answers the same questions differently from gslbd (then the figures would compare
different work). Every process is started by this script, stopped by its PID, and all state
lives under one temporary directory that is removed at the end.

  bench/dns/bench_qps.py --gslbd build-release/src/daemon/gslbd [--rounds 3] [--duration 10]
      [--rate 50000] [--servers gslbd,nsd,knot,gdnsd]

Use bench/dns/bench_qps.sh, which installs the tools and builds the release gslbd first.
"""
import argparse
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import gslbtest  # noqa: E402  (exits 77 when dnspython is missing: scripts/deps.sh --test)
import dns.message  # noqa: E402

ORIGIN = "bench.test"
HOST = "127.0.0.1"
TOOL_TIMEOUT = 20       # seconds for taskset, version queries and the like
START_TIMEOUT = 30      # seconds for a server to answer its SOA


# ----------------------------------------------------------------------------- the zone

def zone_text(names):
    """A zone of `names` hosts: every host has an A record, every second one an AAAA record and
    every tenth one two MX records pointing at in-zone mail hosts. gslbd and Knot add the mail
    hosts' addresses to an MX answer; NSD (minimal-responses) and gdnsd 3 do not, so their MX
    replies are smaller: the table's reply size shows it."""
    out = [f"$ORIGIN {ORIGIN}.", "$TTL 300",
           f"@ IN SOA ns1 hostmaster 2026112801 3600 900 604800 300",
           "@ IN NS ns1", "@ IN NS ns2", "ns1 IN A 127.0.0.1", "ns2 IN A 127.0.0.2",
           "mx1 IN A 192.0.2.25", "mx1 IN AAAA 2001:db8::25", "mx2 IN A 192.0.2.26"]
    for i in range(names):
        out.append(f"h{i} IN A 10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
        if i % 2 == 0:
            out.append(f"h{i} IN AAAA 2001:db8:1::{i:x}")
        if i % 10 == 0:
            out.append(f"h{i} IN MX 10 mx1")
            out.append(f"h{i} IN MX 20 mx2")
    return "\n".join(out) + "\n"


def query_lines(names, count, seed=2026):
    """`count` dnsperf lines over the zone: 55% A, 20% AAAA, 10% MX on names that have those
    records, 15% A on names that do not exist (NXDOMAIN). Shuffled with a fixed seed, so every
    run asks the same questions in the same order."""
    rnd = random.Random(seed)
    mix = [("A", 55), ("AAAA", 20), ("MX", 10), ("NX", 15)]
    lines = []
    for kind, pct in mix:
        for _ in range(count * pct // 100):
            if kind == "A":
                lines.append(f"h{rnd.randrange(names)}.{ORIGIN} A")
            elif kind == "AAAA":
                lines.append(f"h{rnd.randrange(0, names, 2)}.{ORIGIN} AAAA")
            elif kind == "MX":
                lines.append(f"h{rnd.randrange(0, names, 10)}.{ORIGIN} MX")
            else:
                lines.append(f"nx{rnd.randrange(10 * names)}.{ORIGIN} A")
    rnd.shuffle(lines)
    return lines


# ----------------------------------------------------------------------------- processes

def stat_fields(pid):
    """Fields of /proc/PID/stat after the command name (which may hold spaces)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()


def process_tree(root):
    """root and all its descendants that are alive (NSD forks its server and xfrd)."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                children.setdefault(int(stat_fields(d)[1]), []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        if os.path.exists(f"/proc/{p}"):
            out.append(p)
            todo += children.get(p, [])
    return out


def cpu_ticks(pids):
    """utime+stime, in clock ticks, of the processes (each with all its threads)."""
    total = 0
    for p in pids:
        try:
            f = stat_fields(p)
            total += int(f[11]) + int(f[12])
        except (OSError, ValueError, IndexError):
            pass
    return total


def rss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as f:
                m = re.search(r"^VmRSS:\s+(\d+)", f.read(), re.M)
            total += int(m.group(1)) if m else 0
        except OSError:
            pass
    return total


def run(args, timeout=TOOL_TIMEOUT):
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


def package_version(pkg):
    try:
        v = run(["dpkg-query", "-W", "-f=${Version}", pkg]).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return re.sub(r"-[^-]*$", "", v) or "?"   # the upstream version, without Debian's revision


class Server:
    """One DNS server started by us in its own directory under the run's temporary directory."""
    label = "?"

    def __init__(self, name, tmp, zone, cpu):
        self.name, self.cpu = name, cpu
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        self.port = gslbtest.free_port()
        self.proc = None
        self.log = None
        for sub in self.subdirs:
            os.makedirs(os.path.join(self.dir, sub))
        if self.zone_file:
            self.write(self.zone_file, zone)

    package = program = None   # a peer's Debian package and the binary it installs
    subdirs = ()               # directories the peer wants beside its config
    zone_file = None           # where the peer reads the zone, in its directory

    def options(self):
        raise NotImplementedError

    def argv(self):
        return [gslbtest.find_server(self.program)] + self.options()

    def version(self):
        return package_version(self.package)

    def write(self, name, text):
        """A file of the server's directory; returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self):
        self.log = open(os.path.join(self.dir, "server.log"), "w+")
        self.proc = subprocess.Popen(["taskset", "-c", self.cpu] + self.argv(), cwd=self.dir,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        if not gslbtest.wait_for_answer(self.port, ORIGIN + ".", proc=self.proc,
                                        timeout=START_TIMEOUT):
            self.stop()
            with open(self.log.name, errors="replace") as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"{self.name} did not answer on port {self.port}:\n{tail}")
        # Knot pins its workers itself; put every thread of every process back on our CPU.
        for p in self.pids():
            run(["taskset", "-a", "-p", "-c", self.cpu, str(p)])

    def pids(self):
        return process_tree(self.proc.pid) if self.proc else []

    def threads_off_cpu(self):
        """Threads of the server allowed to run anywhere but our CPU (should be none)."""
        n = 0
        for p in self.pids():
            try:
                for t in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{t}/status") as f:
                        m = re.search(r"^Cpus_allowed_list:\s+(\S+)", f.read(), re.M)
                    n += bool(m and m.group(1) != self.cpu)
            except OSError:
                pass
        return n

    def stop(self):
        if self.proc is None:
            return
        family = self.pids()
        gslbtest.stop_process(self.proc, self.name)
        # Children that outlived their parent (an NSD server process) go by their own PID.
        deadline = time.monotonic() + 5
        for p in family[1:]:
            while os.path.exists(f"/proc/{p}") and time.monotonic() < deadline:
                time.sleep(0.05)
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc = None
        if self.log:
            self.log.close()


class Gslbd(Server):
    label = "gslbd"

    def __init__(self, name, tmp, zone, cpu, binary):
        super().__init__(name, tmp, zone, cpu)
        self.binary = os.path.abspath(binary)
        # The e2e harness writes the config: one worker, a private control socket.
        conf = gslbtest.Gslbd(self.binary, [(ORIGIN + ".", zone)], workers=1)
        conf.port = self.port
        self.config = conf.write_config(self.dir)

    def argv(self):
        return [self.binary, "--config", self.config]

    def version(self):
        try:
            out = run([self.binary, "--version"]).stdout.split()
        except (OSError, subprocess.TimeoutExpired):
            return "?"
        return out[1] if len(out) > 1 else "?"


class Nsd(Server):
    label, package, program = "NSD", "nsd", "nsd"
    subdirs, zone_file = ("xfr",), f"{ORIGIN}.zone"

    def __init__(self, *a):
        super().__init__(*a)
        # Debian's NSD limits responses to 200 a second per source by default (RRL): off, or
        # the benchmark measures the limiter. minimal-responses: no NS records in authority on
        # every answer, as the others answer (it also leaves out an MX target's addresses).
        extra = "  rrl-ratelimit: 0\n  minimal-responses: yes\n  tcp-count: 256\n"
        blocks = f'zone:\n  name: "{ORIGIN}"\n  zonefile: "{ORIGIN}.zone"\n'
        self.config = self.write("nsd.conf",
                                 gslbtest.nsd_config(self.dir, self.port, self.dir, blocks, extra))

    def options(self):
        return ["-d", "-c", self.config]


class Knot(Server):
    label, package, program = "Knot", "knot", "knotd"
    subdirs, zone_file = ("db",), f"{ORIGIN}.zone"

    def __init__(self, *a):
        super().__init__(*a)
        self.config = self.write("knot.conf", f"""server:
    rundir: "{self.dir}"
    listen: {HOST}@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.dir}/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{self.dir}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ORIGIN}
""")

    def options(self):
        return ["-c", self.config]


class Gdnsd(Server):
    label, package, program = "gdnsd", "gdnsd", "gdnsd"
    # gdnsd takes a whole directory (config, zones/) and keeps its lock and control socket in
    # run_dir: all of it ours, or it collides with a packaged gdnsd.
    subdirs, zone_file = ("zones", "run", "state"), f"zones/{ORIGIN}"

    def __init__(self, *a):
        super().__init__(*a)
        self.write("config", f"""options => {{
  listen => [ {HOST}:{self.port} ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => {self.dir}/run
  state_dir => {self.dir}/state
}}
""")

    def options(self):
        return ["-c", self.dir, "start"]


PEERS = {"nsd": Nsd, "knot": Knot, "gdnsd": Gdnsd}


# ----------------------------------------------------------------------------- dnsperf

def dnsperf(cpu, port, qfile, duration, mode="udp", clients=1, rate=None):
    args = ["taskset", "-c", cpu, "dnsperf", "-s", HOST, "-p", str(port), "-d", qfile,
            "-m", mode, "-c", str(clients), "-T", "1", "-q", "100", "-l", str(duration)]
    if rate:
        args += ["-Q", str(rate)]
    out = run(args, timeout=duration + 30).stdout

    def grab(pattern, cast=float):
        m = re.search(pattern, out)
        return cast(m.group(1)) if m else None
    r = {"qps": grab(r"Queries per second:\s+([\d.]+)"),
         "completed": grab(r"Queries completed:\s+(\d+)", int),
         "lost": grab(r"Queries lost:\s+(\d+)", int),
         "rcodes": grab(r"Response codes:\s+(.*)", str) or "",
         "resp_bytes": grab(r"Average packet size:.*response (\d+)", int)}
    if r["qps"] is None or not r["completed"]:
        raise RuntimeError(f"dnsperf against port {port} answered nothing:\n{out[-1500:]}")
    return r


def rcode_shares(text):
    """'NOERROR 8500 (85.00%), NXDOMAIN 1500 (15.00%)' -> 'NOERROR 85%, NXDOMAIN 15%'."""
    shares = re.findall(r"(\w+) \d+ \(([\d.]+)%\)", text)
    return ", ".join(f"{code} {float(pct):.0f}%" for code, pct in shares)


def same_answers(servers, lines, sample=60):
    """The answer sections (and rcodes) of a sample of the questions, compared to gslbd's."""
    ref = servers[0]
    for line in lines[:sample]:
        qname, qtype = line.split()
        got = {}
        for s in servers:
            m = gslbtest.udp(dns.message.make_query(qname, qtype), s.port)
            got[s.name] = (m.rcode(), sorted(r.to_text().lower() for r in m.answer))
        for s in servers[1:]:
            if got[s.name] != got[ref.name]:
                raise RuntimeError(f"{qname} {qtype}: {ref.name} answers {got[ref.name]}, "
                                   f"{s.name} answers {got[s.name]}")


# ----------------------------------------------------------------------------- report

def spread(xs, fmt):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "-"
    med = fmt(statistics.median(xs))
    return med if len(xs) == 1 else f"{med} ({fmt(min(xs))}-{fmt(max(xs))})"


def ratio(a, b):
    a = [x for x in a if x is not None]
    b = [x for x in b if x is not None]
    if not a or not b or statistics.median(b) == 0:
        return "-"
    return f"{statistics.median(a) / statistics.median(b):.2f}"


def report(servers, results, args, load_before):
    qps = lambda x: f"{x:,.0f}"  # noqa: E731
    print()
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs ({cpu_model()}), "
          f"kernel {os.uname().release}; servers on CPU {args.server_cpu}, dnsperf on CPU "
          f"{args.client_cpu}; load average {load_before} before, {load_average()} after")
    print(f"dnsperf {package_version('dnsperf')}; {args.rounds} rounds of {args.duration} s per "
          f"measure; {args.names} names, "
          f"{args.queries} questions (55% A, 20% AAAA, 10% MX, 15% NXDOMAIN)")
    print(f"UDP: dnsperf -c 1 -T 1 -q 100; TCP: dnsperf -m tcp -c 8 -T 1 -q 100; "
          f"CPU: server utime+stime per answer at dnsperf -Q {args.rate}")
    print("median of the rounds (min-max)")
    print()
    print(f"| server | UDP qps | TCP qps | CPU µs/query at {args.rate:,} qps "
          "| RSS after load, MiB | reply bytes | answers |")
    print("|---|---|---|---|---|---|---|")
    for s in servers:
        r = results[s.name]
        print(f"| {s.label} {r['version']} | {spread(r['udp'], qps)} | {spread(r['tcp'], qps)} "
              f"| {spread(r['cpu_us'], lambda x: f'{x:.2f}')} "
              f"| {spread(r['rss_kib'], lambda x: f'{x / 1024:.1f}')} "
              f"| {r['resp_bytes']} | {r['rcodes']} |")
    ref = results[servers[0].name]
    print()
    print("gslbd / peer (median against median; qps: higher is better, CPU and RSS: lower is "
          "better)")
    print()
    print("| peer | UDP qps | TCP qps | CPU per query | RSS |")
    print("|---|---|---|---|---|")
    for s in servers[1:]:
        r = results[s.name]
        print(f"| {s.label} | {ratio(ref['udp'], r['udp'])} | {ratio(ref['tcp'], r['tcp'])} "
              f"| {ratio(ref['cpu_us'], r['cpu_us'])} | {ratio(ref['rss_kib'], r['rss_kib'])} |")
    saturated = [f"{s.label} {statistics.median(results[s.name]['udp_cpu_pct']):.0f}%"
                 for s in servers if results[s.name]["udp_cpu_pct"]]
    print()
    print("server CPU during the UDP runs (median; below ~95% dnsperf, not the server, was the "
          "limit): " + ", ".join(saturated))


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.M)
        return m.group(1).strip() if m else "?"
    except OSError:
        return "?"


def load_average():
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


# ----------------------------------------------------------------------------- main

def measure(s, args, qfile, r, hz):
    """One round on one server: warm-up, UDP, TCP, CPU per query at a fixed rate, RSS."""
    cpu = args.client_cpu
    if args.warmup:
        dnsperf(cpu, s.port, qfile, args.warmup)
    t0, c0 = time.monotonic(), cpu_ticks(s.pids())
    u = dnsperf(cpu, s.port, qfile, args.duration)
    r["udp_cpu_pct"].append(100.0 * (cpu_ticks(s.pids()) - c0) / hz / (time.monotonic() - t0))
    t = dnsperf(cpu, s.port, qfile, args.duration, mode="tcp", clients=8)
    c0 = cpu_ticks(s.pids())
    f = dnsperf(cpu, s.port, qfile, args.duration, rate=args.rate)
    cpu_us = 1e6 * (cpu_ticks(s.pids()) - c0) / hz / f["completed"]
    rss = rss_kib(s.pids())
    r["udp"].append(u["qps"])
    r["tcp"].append(t["qps"])
    r["cpu_us"].append(cpu_us)
    r["rss_kib"].append(rss)
    r["resp_bytes"] = u["resp_bytes"]
    r["rcodes"] = rcode_shares(u["rcodes"])
    print(f"  {s.name:6} UDP {u['qps']:>9,.0f} qps (lost {u['lost']}), TCP {t['qps']:>9,.0f} qps "
          f"(lost {t['lost']}), {f['qps']:,.0f} qps at -Q {args.rate}: {cpu_us:.2f} µs CPU/query, "
          f"RSS {rss / 1024:.1f} MiB", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gslbd", default=os.path.join(ROOT, "build-release/src/daemon/gslbd"))
    ap.add_argument("--servers", default="gslbd,nsd,knot,gdnsd",
                    help="comma-separated; gslbd first and always (default gslbd,nsd,knot,gdnsd)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per dnsperf run")
    ap.add_argument("--warmup", type=int, default=1, help="seconds of unrecorded UDP load first")
    ap.add_argument("--rate", type=int, default=50000, help="dnsperf -Q of the CPU-per-query run")
    ap.add_argument("--names", type=int, default=2000, help="hosts in the zone")
    ap.add_argument("--queries", type=int, default=4000, help="lines of the dnsperf input")
    ap.add_argument("--server-cpu", default="1")
    ap.add_argument("--client-cpu", default="0")
    args = ap.parse_args()
    peers = [p for p in args.servers.split(",") if p and p != "gslbd"]
    unknown = [p for p in peers if p not in PEERS]
    if unknown or args.rounds < 1 or args.duration < 1:
        ap.error(f"servers are gslbd and {', '.join(PEERS)}; rounds and duration at least 1")
    if not os.access(args.gslbd, os.X_OK):
        ap.error(f"no gslbd at {args.gslbd} (bench/dns/bench_qps.sh builds it)")
    for tool in ["dnsperf", "taskset"] + [PEERS[p].program for p in peers]:
        if not (shutil.which(tool) or gslbtest.find_server(tool)):
            sys.exit(f"{tool} is not installed (scripts/deps.sh --test)")

    # SIGTERM/SIGINT unwind through the finally below, so the servers stop and tmp goes.
    def interrupted(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)

    load_before = load_average()
    hz = os.sysconf("SC_CLK_TCK")
    tmp = tempfile.mkdtemp(prefix="gslbd-bench-qps-")
    servers = []
    try:
        zone = zone_text(args.names)
        lines = query_lines(args.names, args.queries)
        qfile = os.path.join(tmp, "queries.txt")
        with open(qfile, "w") as f:
            f.write("\n".join(lines) + "\n")
        servers.append(Gslbd("gslbd", tmp, zone, args.server_cpu, args.gslbd))
        servers += [PEERS[p](p, tmp, zone, args.server_cpu) for p in peers]
        results = {}
        for s in servers:
            s.start()
            results[s.name] = {"version": s.version(), "udp": [], "tcp": [], "cpu_us": [],
                               "rss_kib": [], "udp_cpu_pct": [], "resp_bytes": None, "rcodes": ""}
            print(f"{s.label} {results[s.name]['version']} on 127.0.0.1:{s.port}, pid "
                  f"{s.proc.pid}", flush=True)
            if s.threads_off_cpu():
                print(f"  warning: {s.threads_off_cpu()} threads of {s.name} not on CPU {s.cpu}")
        same_answers(servers, lines)
        for rnd in range(args.rounds):
            print(f"round {rnd + 1}/{args.rounds}", flush=True)
            k = rnd % len(servers)
            for s in servers[k:] + servers[:k]:
                measure(s, args, qfile, results[s.name], hz)
        report(servers, results, args, load_before)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
