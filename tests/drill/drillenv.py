"""gslbd with two failover pools and two gateway.py processes on loopback, for the drill tests.

Every process started here is stopped by its PID; every wait is bounded. Only 127.0.0.0/8.
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
ZONE = """$ORIGIN example.test.
$TTL 300
@   IN SOA ns1 hostmaster 1 3600 600 86400 60
    IN NS  ns1
ns1 IN A   127.0.0.1
"""


def free_udp_tcp_port(host="127.0.0.1"):
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind((host, 0))
            port = u.getsockname()[1]
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind((host, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port")


def free_tcp_port_on(hosts):
    """A TCP port free on every host in `hosts`."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((hosts[0], 0))
            port = s.getsockname()[1]
        ok = True
        for h in hosts:
            try:
                with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                    t.bind((h, port))
            except OSError:
                ok = False
        if ok:
            return port
    raise RuntimeError("no free port")


def query_a(port, name, timeout=0.3, sock=None):
    """One A query over UDP; returns (rcode, [addresses], ttl) or None on timeout."""
    own = sock is None
    if own:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        qid = int.from_bytes(os.urandom(2), "big")
        q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        for label in name.rstrip(".").split("."):
            q += bytes([len(label)]) + label.encode()
        q += b"\x00" + struct.pack(">HH", 1, 1)
        sock.settimeout(timeout)
        sock.sendto(q, ("127.0.0.1", port))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            sock.settimeout(left)
            try:
                data = sock.recv(4096)
            except (socket.timeout, ConnectionRefusedError):
                return None
            if len(data) >= 12 and struct.unpack(">H", data[:2])[0] == qid:
                break
        rcode = data[3] & 0x0F
        an = struct.unpack(">H", data[6:8])[0]
        pos = 12
        pos = _skip_name(data, pos) + 4
        addrs, ttl = [], None
        for _ in range(an):
            pos = _skip_name(data, pos)
            typ, _cls, rttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
            pos += 10
            if typ == 1 and rdlen == 4:
                addrs.append(socket.inet_ntoa(data[pos:pos + 4]))
                ttl = rttl if ttl is None else min(ttl, rttl)
            pos += rdlen
        return rcode, addrs, ttl
    finally:
        if own:
            sock.close()


def _skip_name(data, pos):
    while True:
        n = data[pos]
        if n & 0xC0 == 0xC0:
            return pos + 2
        if n == 0:
            return pos + 1
        pos += 1 + n


class Env:
    """A temp dir with gslbd.toml, the zone and the probe; gateways on 127.0.0.2/.3."""

    def __init__(self, gslbd, gateway_py, interval="200ms", timeout="200ms", fall=2, rise=2,
                 ttl=1, ips=("127.0.0.2", "127.0.0.3"), log_file=None):
        self.gslbd, self.gateway_py = gslbd, gateway_py
        self.ips = list(ips)
        self.dir = tempfile.mkdtemp(prefix="gslb-drill-")
        self.dns_port = free_udp_tcp_port()
        self.http_port = free_tcp_port_on(self.ips)
        self.gateways = {}
        self.proc = None
        self.log_file = log_file
        os.makedirs(os.path.join(self.dir, "probes"))
        with open(os.path.join(self.dir, "example.test.zone"), "w") as f:
            f.write(ZONE)
        with open(os.path.join(self.dir, "probes", "gw.toml"), "w") as f:
            f.write(f'type = "http"\nport = {self.http_port}\npath = "/health"\n'
                    f'host = "www.example.test"\nexpect_status = ["2xx"]\n'
                    f'interval = "{interval}"\ntimeout = "{timeout}"\nrise = {rise}\nfall = {fall}\n')
        pools = "".join(
            f'[[pool]]\nname = "p{i}"\nregion = "r{i}"\nprobe = "gw"\n'
            f'addresses = [{{ ip = "{ip}", weight = 1 }}]\n\n' for i, ip in enumerate(self.ips))
        names = ", ".join(f'"p{i}"' for i in range(len(self.ips)))
        with open(os.path.join(self.dir, "gslbd.toml"), "w") as f:
            f.write(f'[server]\nlisten = ["127.0.0.1:{self.dns_port}"]\nworkers = 1\n'
                    f'probes_dir = "probes"\n\n[log]\ntargets = ["stderr"]\n\n'
                    f'[[zone]]\nname = "example.test."\nfile = "example.test.zone"\n\n{pools}'
                    f'[[name]]\nfqdn = "www.example.test."\nttl = {ttl}\nmode = "failover"\n'
                    f'pools = [{names}]\nreturn = "all"\nall_down = "fail_open"\n')

    def start_gateway(self, ip):
        p = subprocess.Popen([sys.executable, self.gateway_py, ip, str(self.http_port)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.gateways[ip] = p
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((ip, self.http_port), timeout=0.2):
                    return p
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"gateway on {ip}:{self.http_port} did not start")

    def kill_gateway(self, ip):
        p = self.gateways.pop(ip, None)
        if p:
            p.kill()
            p.wait()

    def start(self, stderr=None):
        for ip in self.ips:
            self.start_gateway(ip)
        self.proc = subprocess.Popen([self.gslbd, "--config", os.path.join(self.dir, "gslbd.toml")],
                                     stdout=subprocess.DEVNULL,
                                     stderr=stderr if stderr is not None else subprocess.DEVNULL,
                                     bufsize=0)

    def wait_answer(self, want, timeout=15.0, stable=0.5):
        """Until www answers exactly `want` (a list) for `stable` seconds; bounded."""
        deadline = time.monotonic() + timeout
        since = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            r = query_a(self.dns_port, "www.example.test")
            if r and r[0] == 0 and r[1] == want:
                since = since or time.monotonic()
                if time.monotonic() - since >= stable:
                    return True
            else:
                since = None
            time.sleep(0.02)
        return False

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for ip in list(self.gateways):
            self.kill_gateway(ip)
        shutil.rmtree(self.dir, ignore_errors=True)
