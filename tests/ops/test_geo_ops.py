#!/usr/bin/env python3
"""Source maps for operators: `gslbctl explain NAME --client IP [--ecs PREFIX]` shows the rule,
the client's region order, the scope and the answer; gslbd_map_answers_total counts answers per
map rule; a reload with a broken map keeps the old map serving.

  test_geo_ops.py PATH/TO/gslbd PATH/TO/gslbctl
"""
import json
import sys

import dns.edns
import dns.message
import dns.query

import opstest as ot

MAPPED = """
[[pool]]
name = "hangzhou"
region = "cn-hangzhou"
probe = "gw"
addresses = ["127.0.0.2"]

[[pool]]
name = "shanghai"
region = "cn-shanghai"
probe = "gw"
addresses = ["127.0.0.3"]

[[map]]
name = "by-source"
default = ["cn-hangzhou", "cn-shanghai"]
nets = [
  {{ cidr = "198.51.100.0/24", regions = ["cn-shanghai", "cn-hangzhou"] }},
  {{ cidr = "10.0.0.0/8", regions = ["cn-shanghai", "cn-hangzhou"] }},
  {{ cidr = "10.1.0.0/16", regions = ["cn-hangzhou", "cn-shanghai"] }},{extra}
]

[[name]]
fqdn = "www.example.test."
ttl = 10
mode = "failover"
pools = ["hangzhou", "shanghai"]
map = "by-source"
"""


def ecs_answer(port, subnet):
    addr, bits = subnet.split("/")
    q = dns.message.make_query("www.example.test.", "A", use_edns=0,
                               options=[dns.edns.ECSOption(addr, int(bits))])
    m = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
    return {rd.to_text() for rrset in m.answer for rd in rrset}


def test_explain_metrics_reload(c, gslbd, gslbctl):
    port = ot.gateway_port(["127.0.0.2", "127.0.0.3"])
    probes = {"gw": ot.probe_toml(port, "200ms", "200ms")}
    with ot.Gateways() as gws:
        for a in ("127.0.0.2", "127.0.0.3"):
            gws.add(a, port)
        with ot.Ops(gslbd, gslbctl, MAPPED.format(extra=""), probes) as srv:
            _, t = ot.poll_until(lambda: ecs_answer(srv.port, "198.51.100.0/24") == {"127.0.0.3"}, 3.0)
            c.check(t is not None, "the mapped name answers", srv.log_text())

            r = srv.ctl("explain", "www.example.test", "--client", "192.0.2.1", "--ecs", "10.2.3.4/24")
            c.eq(r.returncode, 0, "explain --client --ecs exits 0")
            c.check("client (ECS 10.2.3.0/24): map by-source rule 10.0.0.0/8, scope /15, "
                    "regions cn-shanghai, cn-hangzhou" in r.stdout,
                    "explain: the ECS prefix decides; rule, scope and order", r.stdout)
            lines = r.stdout.splitlines()
            pools = [l.split()[1] for l in lines if l.startswith("  pool ")]
            c.eq(pools, ["shanghai", "hangzhou"], "explain lists the pools in the client's order")
            c.check("answer now: NOERROR" in r.stdout and "127.0.0.3" in r.stdout.split("answer now:")[1],
                    "explain's answer is the client's", r.stdout)

            r = srv.ctl("explain", "www.example.test", "--client", "192.0.2.1")
            c.check("client (source 192.0.2.1): map by-source rule default, scope /6, "
                    "regions cn-hangzhou, cn-shanghai" in r.stdout,
                    "explain --client: the source decides, default rule", r.stdout)
            r = srv.ctl("--json", "explain", "www.example.test", "--client", "10.1.2.3")
            j = json.loads(r.stdout)
            c.eq(j.get("client"), {"map": "by-source", "rule": "10.1.0.0/16", "scope": 16,
                                   "regions": ["cn-hangzhou", "cn-shanghai"]}, "explain --json: client")
            r = srv.ctl("explain", "www.example.test", "--ecs", "nonsense")
            c.eq(r.returncode, 1, "explain --ecs with a bad prefix exits 1")

            # Metrics: each answer counted under the rule that chose it.
            for _ in range(3):
                ecs_answer(srv.port, "198.51.100.0/24")
            ecs_answer(srv.port, "203.0.113.0/24")
            s = srv.samples()
            c.check(s is not None, "metrics scrape")
            if s is not None:
                got = ot.value(s, "gslbd_map_answers_total", map="by-source", rule="198.51.100.0/24")
                c.check(isinstance(got, float) and got >= 3, "198.51.100.0/24 counted", str(got))
                got = ot.value(s, "gslbd_map_answers_total", map="by-source", rule="default")
                c.check(isinstance(got, float) and got >= 1, "default counted", str(got))
                c.eq(ot.value(s, "gslbd_map_answers_total", map="by-source", rule="10.1.0.0/16"), 0.0,
                     "an unused rule is 0")

            # A broken map: the reload fails with file:line:col and the old map keeps serving.
            srv.write_config(srv.config_text(MAPPED.format(
                extra='\n  { cidr = "10.0.0.1/8", regions = ["cn-shanghai"] },')))
            r = srv.ctl("reload")
            c.eq(r.returncode, 1, "reload with a broken map fails")
            c.check("nets[3].cidr: has bits set beyond /8" in (r.stdout + r.stderr),
                    "the error names the net", r.stdout + r.stderr)
            c.eq(ecs_answer(srv.port, "198.51.100.0/24"), {"127.0.0.3"}, "the old map still answers")
            # A good change: 198.51.100/24 now prefers hangzhou.
            srv.write_config(srv.config_text(MAPPED.format(extra="").replace(
                '"198.51.100.0/24", regions = ["cn-shanghai", "cn-hangzhou"]',
                '"198.51.100.0/24", regions = ["cn-hangzhou"]')))
            r = srv.ctl("reload")
            c.check(r.returncode == 0, "reload with a changed map", r.stdout + r.stderr)
            c.eq(ecs_answer(srv.port, "198.51.100.0/24"), {"127.0.0.2"}, "the new map answers")


if __name__ == "__main__":
    sys.exit(ot.main([test_explain_metrics_reload]))
