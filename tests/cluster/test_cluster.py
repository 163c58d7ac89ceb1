#!/usr/bin/env python3
"""Three gslbd, one verdict: a real etcd on loopback and three gslbd (probe sources 127.0.0.11,
.12, .13) sharing votes on two gateways (127.0.0.2 in pool a, 127.0.0.3 in pool b).

  test_cluster.py PATH/TO/gslbd
"""

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import clustertest as ct  # noqa: E402

SOURCES = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


def CTL(binary):
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), "ctl", "gslbctl")
A, B = {"127.0.0.2"}, {"127.0.0.3"}


@contextlib.contextmanager
def cluster(binary, members=1, refuse_a=(), refuse_b=(), down_when="majority", lease="2s"):
    """etcd, both gateways and three nodes; yields (etcd, nodes, gw_a, gw_b)."""
    port = ct.healthtest.gateway_port(["127.0.0.2", "127.0.0.3"])
    prefix = "/gslbd/test-" + uuid.uuid4().hex[:8]
    with contextlib.ExitStack() as stack:
        etcd = stack.enter_context(ct.Etcd(members))
        gw_a = ct.Gateway("127.0.0.2", port, refuse_a)
        stack.callback(gw_a.stop)
        gw_b = ct.Gateway("127.0.0.3", port, refuse_b)
        stack.callback(gw_b.stop)
        nodes = [stack.enter_context(ct.Node(binary, f"n{i + 1}", SOURCES[i], etcd.endpoints, port,
                                             prefix, down_when, lease))
                 for i in range(3)]
        for n in nodes:
            if not n.wait_event("cluster-joined", timeout=10):
                raise RuntimeError(f"{n.node} did not join:\n" + n.log_text())
        yield etcd, nodes, gw_a, gw_b


def no_unanswered(c, q, what):
    for node, n in q.unanswered.items():
        c.eq(n, 0, f"{what}: unanswered queries at {node} (of {q.asked[node]})")


def test_gateway_dies_all_drop_it(c, binary):
    with cluster(binary) as (etcd, nodes, gw_a, gw_b):
        c.check(ct.all_answer(nodes, A), "all three answer pool a at first")
        with ct.Querier(nodes) as q:
            gw_a.kill()
            c.check(ct.all_answer(nodes, B, timeout=5), "after the gateway died, all three answer pool b")
        no_unanswered(c, q, "gateway died")
        for n in nodes:
            e = n.wait_event("address-down", address="127.0.0.2", timeout=2)
            c.check(e and e.get("votes", "").endswith("/3") and int(e["votes"].split("/")[0]) >= 2,
                    f"{n.node}: address-down with votes=k/3, k >= 2", e and e["_line"])
        # gslbctl status shows every node's vote.
        ctl = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), "ctl", "gslbctl")
        sock = os.path.join(nodes[1].dir, "ctl.sock")

        def status(*extra):
            return subprocess.run([ctl, "--socket", sock, *extra, "status"], capture_output=True,
                                  text=True, timeout=5).stdout
        text, _ = ct.poll_until(lambda: "n1=down n2=down n3=down" in status() and status(), 3)
        c.check(text and "cluster: node n2, joined, down_when majority, live 3 (n1 n2 n3)" in text,
                "status: the cluster line", text)
        c.check(text and any(l.split()[:4] == ["127.0.0.2", "gw", "down", "3/3"] for l in text.splitlines()),
                "status: 127.0.0.2 down 3/3", text)
        doc = json.loads(status("--json"))
        row = [t for t in doc["cluster"]["targets"] if t["address"] == "127.0.0.3"]
        c.eq(row and row[0]["votes"], {"n1": "up", "n2": "up", "n3": "up"}, "status --json: votes by node")


def test_one_source_refused_nothing_fails_over(c, binary):
    # 127.0.0.2 refuses n1's checks: n1 votes down, n2 and n3 up; with majority, nobody moves.
    with cluster(binary, refuse_a=[SOURCES[0]]) as (etcd, nodes, gw_a, gw_b):
        c.check(nodes[0].wait_event("vote", address="127.0.0.2", vote="down", timeout=5),
                "n1 votes 127.0.0.2 down", nodes[0].log_text()[-2000:])
        # Until the others joined, n1 was alone and decided alone; from here on, 1/3.
        c.check(ct.all_answer(nodes, A), "with all three live, all answer pool a")
        before = [len(n.events("failover")) for n in nodes]
        with ct.Querier(nodes) as q:
            time.sleep(1.5)  # several check intervals
            for n in nodes:
                c.eq(ct.answer_set(n.port, "www.example.test."), A, f"{n.node} still answers pool a")
        no_unanswered(c, q, "one source refused")
        for n, count in zip(nodes, before):
            c.eq(n.events("failover")[count:], [], f"{n.node}: no failover")
        # The verdict stream gives what answers follow: n1's own vote is down, the verdict up.
        out = subprocess.run([CTL(binary), "--socket", os.path.join(nodes[0].dir, "ctl.sock"), "verdicts"],
                             capture_output=True, text=True, timeout=5).stdout
        states = {d["address"]: d["state"] for d in map(json.loads, out.splitlines()) if d["type"] == "state"}
        c.eq(states.get("127.0.0.2"), "up", "n1's verdict stream: 127.0.0.2 up by the cluster")


def test_node_whose_checks_all_fail(c, binary):
    # Both gateways refuse n3 (its probe source is blackholed): n3 keeps answering pool a.
    with cluster(binary, refuse_a=[SOURCES[2]], refuse_b=[SOURCES[2]]) as (etcd, nodes, gw_a, gw_b):
        c.check(nodes[2].wait_event("vote", address="127.0.0.3", vote="down", timeout=5), "n3 votes both down")
        c.check(ct.all_answer(nodes, A), "with all three live, all answer pool a")
        before = [len(n.events("failover") + n.events("all-down")) for n in nodes]
        with ct.Querier(nodes) as q:
            time.sleep(1.5)
            for n in nodes:
                c.eq(ct.answer_set(n.port, "www.example.test."), A, f"{n.node} answers pool a")
        no_unanswered(c, q, "blackholed node")
        for n, count in zip(nodes, before):
            c.eq((n.events("failover") + n.events("all-down"))[count:], [], f"{n.node}: nothing failed over")


def test_etcd_killed_and_restarted(c, binary):
    with cluster(binary) as (etcd, nodes, gw_a, gw_b):
        with ct.Querier(nodes) as q:
            etcd.kill(0)
            for n in nodes:
                c.check(n.wait_event("cluster-degraded", timeout=5), f"{n.node}: cluster-degraded")
            c.eq(ct.answer_set(nodes[0].port, "www.example.test."), A, "degraded: still answering")
            etcd.start_member(0)
            c.check(etcd.wait_healthy(0), "etcd is back")
            for n in nodes:
                c.check(n.wait_event("cluster-joined", count=2, timeout=10), f"{n.node}: joined again")
            gw_a.kill()
            c.check(ct.all_answer(nodes, B, timeout=5), "after rejoining, a dead gateway leaves all three")
        no_unanswered(c, q, "etcd killed and restarted")
        e = nodes[1].wait_event("address-down", address="127.0.0.2", timeout=2)
        c.check(e and e.get("votes", "").endswith("/3"), "votes counted over the three nodes again",
                e and e["_line"])


def test_gslbd_killed_votes_expire(c, binary):
    # down_when = all: n1 and n2 cannot reach 127.0.0.2, n3 can. Once n3 dies and its lease
    # (2 s) runs out, its "up" vote is gone and the two left take the address down.
    with cluster(binary, refuse_a=SOURCES[:2], down_when="all") as (etcd, nodes, gw_a, gw_b):
        c.check(ct.all_answer(nodes, A), "2 of 3 down is not all: all answer pool a")
        with ct.Querier(nodes[:2]) as q:
            t = time.monotonic()
            nodes[2].kill()
            done = ct.all_answer(nodes[:2], B, timeout=8)
            c.check(done, "after n3's lease expired, n1 and n2 fail over")
            c.check(done and done - t >= 1.0, "not before the lease could expire",
                    f"after {done and done - t:.2f}s")
        no_unanswered(c, q, "gslbd killed")
        downs = nodes[0].events("address-down", address="127.0.0.2")
        c.check(downs and downs[-1].get("votes") == "2/2", "votes=2/2 once n3 is gone",
                downs and downs[-1]["_line"])


def test_drains_are_cluster_wide(c, binary):
    with cluster(binary) as (etcd, nodes, gw_a, gw_b):
        c.check(ct.all_answer(nodes, A), "all three answer pool a at first")
        ctl = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(binary))), "ctl", "gslbctl")

        def gslbctl(node, *args):
            return subprocess.run([ctl, "--socket", os.path.join(node.dir, "ctl.sock"), *args],
                                  capture_output=True, text=True, timeout=5)
        with ct.Querier(nodes) as q:
            r = gslbctl(nodes[0], "drain", "127.0.0.2")
            c.check(r.returncode == 0, "drain on n1", r.stdout + r.stderr)
            c.check(ct.all_answer(nodes, B, timeout=3), "drained on n1: out of every node's answers")
            c.check(nodes[2].wait_event("drain", address="127.0.0.2", by="cluster", timeout=2),
                    "n3 logs the drain, by the cluster")
            r = gslbctl(nodes[1], "undrain", "127.0.0.2")
            c.check(r.returncode == 0, "undrain on n2", r.stdout + r.stderr)
            c.check(ct.all_answer(nodes, A, timeout=3), "undrained on n2: back on every node")
            t = time.monotonic()
            gslbctl(nodes[2], "drain", "127.0.0.2", "--for", "2s")
            c.check(ct.all_answer(nodes, B, timeout=3), "a timed drain on n3: out everywhere")
            back = ct.all_answer(nodes, A, timeout=6)
            c.check(back and back - t >= 1.5, "and back everywhere when it ends",
                    f"after {back and back - t:.2f}s")
        no_unanswered(c, q, "drains")
        # [cluster] is read at start: a reload that changes it says a restart is needed.
        nodes[0].params["down_when"] = "all"
        nodes[0].write_config()
        nodes[0].hup()
        e = nodes[0].wait_event("restart-needed", timeout=5)
        c.check(e and "cluster" in e.get("keys", ""), "reload with a new [cluster]: restart-needed",
                e and e["_line"])


def test_etcd_member_killed(c, binary):
    with cluster(binary, members=3) as (etcd, nodes, gw_a, gw_b):
        with ct.Querier(nodes) as q:
            etcd.kill(0)
            time.sleep(0.5)

            def joined(n):
                out = subprocess.run([CTL(binary), "--socket", os.path.join(n.dir, "ctl.sock"), "status"],
                                     capture_output=True, text=True, timeout=5).stdout
                return f"node {n.node}, joined," in out
            c.check(ct.poll_until(lambda: all(joined(n) for n in nodes), 10)[1],
                    "every node is joined through the members left")
            gw_a.kill()
            c.check(ct.all_answer(nodes, B, timeout=8), "with one etcd member dead, all three drop the gateway")
        no_unanswered(c, q, "etcd member killed")
        e = nodes[2].wait_event("address-down", address="127.0.0.2", timeout=2)
        c.check(e and e.get("votes", "").endswith("/3"), "votes over three nodes",
                "\n".join(l for l in nodes[2].log_text().splitlines() if "cluster" in l or "127.0.0.2" in l))


if __name__ == "__main__":
    sys.exit(ct.main([test_gateway_dies_all_drop_it, test_one_source_refused_nothing_fails_over,
                      test_node_whose_checks_all_fail, test_etcd_killed_and_restarted,
                      test_gslbd_killed_votes_expire, test_drains_are_cluster_wide,
                      test_etcd_member_killed]))
