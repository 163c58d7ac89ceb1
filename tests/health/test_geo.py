#!/usr/bin/env python3
"""Source maps and EDNS Client Subnet end to end: real gateways on 127.0.0.2 (hangzhou) and
127.0.0.3 (shanghai), a real gslbd with a [[map]], queried with dnspython and `dig +subnet`.
Checks which region each client gets first, the SCOPE PREFIX-LENGTH sent back (RFC 7871
§7.2.1), FORMERR for malformed options, and that a dead preferred region moves only its own
clients to their next region.

  test_geo.py PATH/TO/gslbd
"""
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

import dns.edns
import dns.message
import dns.rcode

import healthtest as ht

INTERVAL, TIMEOUT, RISE, FALL = 0.2, 0.2, 2, 2
DOWN_BOUND = FALL * INTERVAL + TIMEOUT + 0.1

BODY = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = [{ ip = "127.0.0.2", weight = 1 }]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = [{ ip = "127.0.0.3", weight = 1 }]

[[map]]
name = "by-source"
default = ["cn-hangzhou", "cn-shanghai"]
nets = [
  { cidr = "198.51.100.0/24", regions = ["cn-shanghai", "cn-hangzhou"] },
  { cidr = "2001:db8:1::/48", regions = ["cn-shanghai"] },
  { cidr = "10.0.0.0/8", regions = ["cn-shanghai", "cn-hangzhou"] },
  { cidr = "10.1.0.0/16", regions = ["cn-hangzhou", "cn-shanghai"] },
  { cidr = "127.0.0.0/8", regions = ["cn-shanghai", "cn-hangzhou"] },
]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
return = "all"
all_down = "fail_open"
map = "by-source"

[[name]]
fqdn = "plain.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
"""

ZONE = ht.ZONE + 'plain           IN TXT   "pools"\n'
HZ, SH = {"127.0.0.2"}, {"127.0.0.3"}


def ecs_query(port, qname, subnet, rdtype="A"):
    """(addresses, ECS option of the reply or None, rcode) for a query with ECS `subnet`."""
    net = ipaddress.ip_network(subnet)
    q = dns.message.make_query(qname, rdtype, use_edns=0,
                               options=[dns.edns.ECSOption(str(net.network_address), net.prefixlen)])
    m = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
    ecs = next((o for o in m.options if o.otype == dns.edns.ECS), None)
    return ht.addresses(m, rdtype), ecs, m.rcode()


def check_ecs(c, port, qname, subnet, want, scope, what):
    got, ecs, rcode = ecs_query(port, qname, subnet)
    c.eq(rcode, dns.rcode.NOERROR, f"{what}: rcode")
    c.eq(got, want, f"{what}: answer")
    c.check(ecs is not None, f"{what}: ECS echoed")
    if ecs is not None:
        net = ipaddress.ip_network(subnet)
        c.eq((ecs.address, ecs.srclen), (str(net.network_address), net.prefixlen),
             f"{what}: address and source prefix as sent")
        c.eq(ecs.scopelen, scope, f"{what}: scope")


def raw_ecs(port, family, source, address, scope=0):
    """RCODE of a query for www.example.test/A carrying one hand-made ECS option."""
    q = dns.message.make_query("www.example.test.", "A", use_edns=0)
    wire = bytearray(q.to_wire())
    data = struct.pack("!HBB", family, source, scope) + address
    opt = struct.pack("!HH", 8, len(data)) + data
    # The OPT record is last: bump its RDLENGTH and append the option.
    rdlen_at = len(wire) - 2
    wire[rdlen_at:] = struct.pack("!H", len(opt))
    wire += opt
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        s.sendto(bytes(wire), ("127.0.0.1", port))
        reply = s.recv(4096)
    finally:
        s.close()
    return reply[3] & 0xF


def test_geo(c, binary):
    port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
    probes = {"gw": ht.probe_toml(port, "200ms", "200ms", RISE, FALL)}
    with ht.Gateways() as gws:
        gws.add("127.0.0.2", port)
        sh = gws.add("127.0.0.3", port)
        with ht.Server(binary, BODY, probes, zone=ZONE) as srv:
            _, t = ht.poll_until(
                lambda: ecs_query(srv.port, "www.example.test.", "198.51.100.0/24")[0] == SH, 3.0)
            c.check(t is not None, "gslbd answers the mapped name", srv.log_text())
            check_ecs(c, srv.port, "www.example.test.", "198.51.100.0/24", SH, 24,
                      "198.51.100.0/24 prefers shanghai")
            # Longer than the rule: the rule's /24 still holds the client alone.
            check_ecs(c, srv.port, "www.example.test.", "198.51.100.7/32", SH, 24,
                      "198.51.100.7/32 (scope shorter than source)")
            # 203 and 198 share 4 bits; the 5th splits them, so 200.0.0.0/5 touches no rule.
            check_ecs(c, srv.port, "www.example.test.", "203.0.113.0/24", HZ, 5,
                      "203.0.113.0/24 matches nothing: default order")
            check_ecs(c, srv.port, "www.example.test.", "10.2.0.0/16", SH, 15,
                      "10.2/16 inside 10/8 beside 10.1/16")
            check_ecs(c, srv.port, "www.example.test.", "10.1.2.0/24", HZ, 16,
                      "10.1.2/24 inside 10.1/16")
            check_ecs(c, srv.port, "www.example.test.", "2001:db8:1:2::/64", SH, 48,
                      "2001:db8:1:2::/64 inside 2001:db8:1::/48")
            check_ecs(c, srv.port, "www.example.test.", "2001:db9::/32", HZ, 32,
                      "2001:db9::/32: default, scope where it leaves 2001:db8:1::/48's path")
            # Source /0: the resolver tells nothing about its client (RFC 7871 §7.1.2).
            check_ecs(c, srv.port, "www.example.test.", "0.0.0.0/0", HZ, 0, "source /0")
            # Answers that do not depend on the client: scope 0.
            check_ecs(c, srv.port, "plain.example.test.", "198.51.100.0/24", HZ, 0,
                      "a name without a map")
            got, ecs, rcode = ecs_query(srv.port, "www.example.test.", "198.51.100.0/24", "AAAA")
            c.eq((rcode, ecs.scopelen if ecs else None), (dns.rcode.NOERROR, 0),
                 "NODATA (no AAAA) has scope 0")
            got, ecs, rcode = ecs_query(srv.port, "nope.example.test.", "198.51.100.0/24")
            c.eq((rcode, ecs.scopelen if ecs else None), (dns.rcode.NXDOMAIN, 0),
                 "NXDOMAIN has scope 0")
            # No ECS: the packet's source (127.0.0.1, in 127/8: shanghai) decides, no option back.
            m = ht.query(srv.port, "www.example.test.", "A")
            c.eq(ht.addresses(m, "A"), SH, "no ECS: the source address decides")
            q = dns.message.make_query("www.example.test.", "A", use_edns=0)
            m = dns.query.udp(q, "127.0.0.1", port=srv.port, timeout=1.0)
            c.check(not any(o.otype == dns.edns.ECS for o in m.options),
                    "no ECS in the query, none in the reply")
            # dig, as the "Done when" says it.
            _, out = ht.gslbtest.run_tool(["dig", "@127.0.0.1", "-p", str(srv.port),
                                        "+subnet=198.51.100.7/24", "www.example.test", "A"])
            c.check("CLIENT-SUBNET: 198.51.100.0/24/24" in out and "127.0.0.3" in out,
                    "dig +subnet=198.51.100.7/24: shanghai with scope 24", out)
            # Malformed options: FORMERR (RFC 7871 §7.2.1).
            F = dns.rcode.FORMERR
            c.eq(raw_ecs(srv.port, 3, 0, b""), F, "unknown family")
            c.eq(raw_ecs(srv.port, 1, 33, bytes(5)), F, "IPv4 source prefix 33")
            c.eq(raw_ecs(srv.port, 2, 129, bytes(17)), F, "IPv6 source prefix 129")
            c.eq(raw_ecs(srv.port, 1, 24, bytes([198, 51, 100, 0])), F, "address longer than /24")
            c.eq(raw_ecs(srv.port, 1, 24, bytes([198, 51])), F, "address shorter than /24")
            c.eq(raw_ecs(srv.port, 1, 23, bytes([198, 51, 101])), F, "bits beyond /23")
            c.eq(raw_ecs(srv.port, 1, 24, bytes([198, 51, 100])), dns.rcode.NOERROR,
                 "a well-formed hand-made option")

            # The preferred region of 198.51.100/24 dies: its clients move to hangzhou within
            # one check interval's bound; the default's clients never see a change.
            sh.kill()
            _, t = ht.poll_until(
                lambda: ecs_query(srv.port, "www.example.test.", "198.51.100.0/24")[0] == HZ,
                DOWN_BOUND + 2.0, step=0.01)
            c.check(t is not None, "shanghai down: 198.51.100/24 fails over to hangzhou",
                    srv.log_text())
            check_ecs(c, srv.port, "www.example.test.", "198.51.100.0/24", HZ, 24,
                      "after failover, scope still 24")
            check_ecs(c, srv.port, "www.example.test.", "203.0.113.0/24", HZ, 5,
                      "default clients unchanged")
            got, ecs, _ = ecs_query(srv.port, "www.example.test.", "2001:db8:1::/48")
            c.eq(got, HZ, "2001:db8:1::/48 lists only shanghai: unlisted hangzhou follows it")


GEOIP_BODY = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = [{{ ip = "127.0.0.2", weight = 1 }}]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = [{{ ip = "127.0.0.3", weight = 1 }}]

[[map]]
name = "geo"
default = ["cn-hangzhou", "cn-shanghai"]
nets = [{{ cidr = "192.0.2.128/25", regions = ["cn-shanghai"] }}]
geoip = "{db}"
geo = [
  {{ location = "AS", regions = ["cn-shanghai", "cn-hangzhou"] }},
  {{ location = "JP", regions = ["cn-hangzhou", "cn-shanghai"] }},
  {{ location = "CN-31", regions = ["cn-hangzhou", "cn-shanghai"] }},
]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
map = "geo"
"""


def test_geoip(c, binary):
    """A GeoIP2 DB built here with Debian's libmaxmind-db-writer-perl (nothing downloaded)."""
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        print("  skipped: libmaxmind-db-writer-perl is not installed (scripts/deps.sh --test)")
        return
    d = tempfile.mkdtemp(prefix="gslbd-geoip-")
    try:
        db = os.path.join(d, "test.mmdb")
        subprocess.run(["perl", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "make_geoip_db.pl"), db,
                        "192.0.2.0/24=AS,JP", "100.64.0.0/16=AS,CN,31", "100.65.0.0/16=AS,CN",
                        "2001:db8:2::/48=EU,DE"], check=True, timeout=60)
        port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
        probes = {"gw": ht.probe_toml(port, "200ms", "200ms", RISE, FALL)}
        with ht.Gateways() as gws:
            gws.add("127.0.0.2", port)
            gws.add("127.0.0.3", port)
            with ht.Server(binary, GEOIP_BODY.format(db=db), probes, zone=ZONE) as srv:
                _, t = ht.poll_until(
                    lambda: ecs_query(srv.port, "www.example.test.", "100.65.0.0/24")[0] == SH, 3.0)
                c.check(t is not None, "gslbd answers from the GeoIP2 map", srv.log_text())
                check_ecs(c, srv.port, "www.example.test.", "100.65.0.0/24", SH, 16,
                          "CN without a listed subdivision: continent AS")
                check_ecs(c, srv.port, "www.example.test.", "100.64.5.0/24", HZ, 16,
                          "CN-31 (subdivision) beats AS")
                check_ecs(c, srv.port, "www.example.test.", "192.0.2.0/25", HZ, 25,
                          "JP, narrowed to /25 by the net inside the DB's /24")
                check_ecs(c, srv.port, "www.example.test.", "192.0.2.200/32", SH, 25,
                          "a net beats the DB")
                check_ecs(c, srv.port, "www.example.test.", "2001:db8:2::/56", HZ, 48,
                          "DE (EU): no geo rule, the default, with the DB network's scope")
                got, ecs, _ = ecs_query(srv.port, "www.example.test.", "203.0.113.0/24")
                c.eq(got, HZ, "outside the DB: the default")
    finally:
        shutil.rmtree(d, ignore_errors=True)


NEAREST_BODY = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = [{{ ip = "127.0.0.2", weight = 1 }}]
location = {{ lat = 30.27, lon = 120.16 }}

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = [{{ ip = "127.0.0.3", weight = 1 }}]
location = {{ lat = 31.23, lon = 121.47 }}

[[map]]
name = "near"
default = ["cn-hangzhou", "cn-shanghai"]
geoip = "{db}"
geo = [{{ location = "JP", regions = ["cn-shanghai", "cn-hangzhou"] }}]
nearest = true

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
map = "near"
"""


def test_nearest(c, binary):
    """nearest = true: clients no rule matches get the regions by distance from the DB's
    coordinates to each pool's location; health still decides within that order."""
    if subprocess.run(["perl", "-MMaxMind::DB::Writer::Tree", "-e", "1"],
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        print("  skipped: libmaxmind-db-writer-perl is not installed (scripts/deps.sh --test)")
        return
    d = tempfile.mkdtemp(prefix="gslbd-nearest-")
    try:
        db = os.path.join(d, "test.mmdb")
        # Suzhou is nearer Shanghai, Ningbo nearer Hangzhou; Tokyo has a geo rule; the
        # Dutch network has no coordinates.
        subprocess.run(["perl", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                              "make_geoip_db.pl"), db,
                        "198.18.0.0/16=AS,CN@31.30,120.62", "198.19.0.0/16=AS,CN@29.87,121.54",
                        "192.0.2.0/24=AS,JP@35.68,139.69", "100.64.0.0/16=EU,NL"],
                       check=True, timeout=60)
        port = ht.gateway_port(["127.0.0.2", "127.0.0.3"])
        probes = {"gw": ht.probe_toml(port, "200ms", "200ms", RISE, FALL)}
        with ht.Gateways() as gws:
            gws.add("127.0.0.2", port)
            sh = gws.add("127.0.0.3", port)
            with ht.Server(binary, NEAREST_BODY.format(db=db), probes, zone=ZONE) as srv:
                _, t = ht.poll_until(
                    lambda: ecs_query(srv.port, "www.example.test.", "198.18.0.0/24")[0] == SH, 3.0)
                c.check(t is not None, "Suzhou's clients: shanghai, the nearer region", srv.log_text())
                check_ecs(c, srv.port, "www.example.test.", "198.18.0.0/24", SH, 16,
                          "nearest: shanghai first, the DB network's scope")
                check_ecs(c, srv.port, "www.example.test.", "198.19.7.0/24", HZ, 16,
                          "Ningbo's clients: hangzhou first")
                check_ecs(c, srv.port, "www.example.test.", "192.0.2.0/24", SH, 24,
                          "a geo rule (JP) comes before nearest")
                check_ecs(c, srv.port, "www.example.test.", "100.64.1.0/24", HZ, 16,
                          "no coordinates: the default")
                sh.kill()
                _, t = ht.poll_until(
                    lambda: ecs_query(srv.port, "www.example.test.", "198.18.0.0/24")[0] == HZ,
                    DOWN_BOUND + 2.0, step=0.01)
                c.check(t is not None, "shanghai down: its nearest clients fail over to hangzhou",
                        srv.log_text())
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(ht.run_tests([test_geo, test_geoip, test_nearest], sys.argv[1]))
