"""Gossip membership with real processes on loopback: hearsay agents joining by flag and by
HTTP, a kill -9 detected as failed, a graceful leave shown as left, and a stock Debian serf
agent in the same cluster (serf joining hearsay, and hearsay joining serf, whose replies come
LZW-compressed)."""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, Serf, free_port, wait_until  # noqa: E402

ALIVE, LEFT, FAILED = 1, 3, 4


def gossip_agent(name, join=None):
    args = ["-advertise", "127.0.0.1"]
    if join:
        args += ["-join", f"127.0.0.1:{join}"]
    return Agent(name, extra_args=args)


def statuses(agent):
    members, _ = agent.get_json("/v1/agent/members")
    return {m["Name"]: m["Status"] for m in members}


def hearsay_cluster(agents):
    a1, a2, a3 = agents
    names = {"g1", "g2", "g3"}
    for a in agents:
        wait_until(lambda a=a: {n for n, s in statuses(a).items() if s == ALIVE} == names, timeout=15,
                   what=f"{a.name} to list three alive members")
    m, _ = a1.get_json("/v1/agent/members")
    tags = {x["Name"]: x["Tags"] for x in m}
    assert tags["g2"]["hs"] == "1" and tags["g2"]["dc"] == "dc1", tags


def crash_detected(agents):
    a1, a2, a3 = agents
    start = time.monotonic()
    a3.kill9()
    for a in (a1, a2):
        wait_until(lambda a=a: statuses(a).get("g3") == FAILED, timeout=30, what=f"{a.name} to see g3 failed")
    print(f"  kill -9 seen as failed by both in {time.monotonic() - start:.1f}s")
    # The host (loopback) answered pings to the dead port with ICMP port unreachable, and the
    # agents read those reports (gossip/shell/icmp_errors_uv.h) to end their probes early.
    reports = {a.name: a.metric("hearsay.gossip.ports_unreachable") for a in (a1, a2)}
    assert sum(reports.values()) > 0, reports
    # A report also fails the next send on the socket once (Linux sets the socket's error);
    # that datagram must be sent again, not lost.
    failed_sends = {a.name: a.metric("hearsay.gossip.udp_send_failed") for a in (a1, a2)}
    assert sum(failed_sends.values()) == 0, failed_sends


def graceful_leave(agents):
    a1, a2, _ = agents
    assert a2.put("/v1/agent/leave")[0] == 200
    wait_until(lambda: statuses(a1).get("g2") == LEFT, timeout=15, what="g1 to see g2 left")
    a2.proc.wait(timeout=15)  # a leave also stops the agent


def serf_joins_hearsay(a1):
    serf = Serf("s1", join=a1.serf_port)
    try:
        wait_until(lambda: statuses(a1).get("s1") == ALIVE, timeout=15, what="hearsay to list serf alive")
        wait_until(lambda: (serf.members() or {}).get("g1", (None,))[0] == "alive", timeout=15,
                   what="serf to list hearsay alive")
        assert serf.members()["g1"][1].get("hs") == "1"  # serf decodes our tags
        time.sleep(6)  # a few probe rounds each way: nobody turns suspect
        assert statuses(a1).get("s1") == ALIVE and serf.members()["g1"][0] == "alive"
        # A hearsay agent that leaves gracefully is "left" in serf too (the serf leave intent).
        g5 = gossip_agent("g5", join=a1.serf_port)
        try:
            g5.start()
            # 40 s: one CI dry run (under parallel load) saw serf take over 15 s to list a member
            # that g1 already listed; this leaves room for one push/pull period (30 s) to repair a
            # lost broadcast. Cause not found (no serf decode errors in a 12-join stress run).
            wait_until(lambda: (serf.members() or {}).get("g5", (None,))[0] == "alive", timeout=40,
                       what="serf to list g5 alive")
            assert g5.put("/v1/agent/leave")[0] == 200
            wait_until(lambda: (serf.members() or {}).get("g5", (None,))[0] == "left", timeout=15,
                       what="serf to list g5 as left (not failed)")
        finally:
            g5.cleanup()
        serf.kill9()
        wait_until(lambda: statuses(a1).get("s1") == FAILED, timeout=30, what="hearsay to see serf failed")
    finally:
        serf.cleanup()


def hearsay_joins_serf():
    serf = Serf("s2")
    agent = gossip_agent("g4", join=serf.port)
    try:
        agent.start()
        wait_until(lambda: statuses(agent).get("s2") == ALIVE, timeout=15, what="hearsay to list serf alive")
        wait_until(lambda: (serf.members() or {}).get("g4", (None,))[0] == "alive", timeout=15,
                   what="serf to list the hearsay agent alive")
    finally:
        agent.cleanup()
        serf.cleanup()


def main():
    results = Results()
    a1 = gossip_agent("g1")
    agents = [a1]
    try:
        a1.start()
        a2 = gossip_agent("g2", join=a1.serf_port)
        a2.start()
        a3 = gossip_agent("g3")
        a3.start()
        agents += [a2, a3]
        # Consul's join answers after the exchange: 200 once joined, 500 naming the address when
        # nothing listens there, 400 for something that is not an address.
        assert a3.put(f"/v1/agent/join/127.0.0.1:{a2.serf_port}")[0] == 200
        assert "g2" in statuses(a3)  # already merged when the join answered
        closed = free_port()
        status, body, _ = a3.put(f"/v1/agent/join/127.0.0.1:{closed}")
        assert status == 500 and f"127.0.0.1:{closed}" in body, (status, body)
        assert a3.put("/v1/agent/join/not-an-address")[0] == 400
        results.run("three hearsay agents list each other alive", hearsay_cluster, agents)
        results.run("kill -9 is detected as failed", crash_detected, agents)
        results.run("a graceful leave shows as left", graceful_leave, agents)
        if shutil.which("serf"):
            results.run("serf joins hearsay; both see each other; a hearsay leave is left in serf; serf crash detected",
                        serf_joins_hearsay, a1)
            results.run("hearsay joins serf (compressed replies)", hearsay_joins_serf)
        else:
            results.run("serf is installed (packaging/install-deps.sh)", lambda: (_ for _ in ()).throw(
                AssertionError("serf missing")))
    finally:
        for a in agents:
            if results.failed:
                print(f"---- {a.name} log ----\n" + a.log()[-3000:])
            a.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
