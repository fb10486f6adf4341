"""Catalog replication with 10+ real agents on loopback: a registration on one agent is served by
all of them over HTTP and DNS; a blocking query on one wakes for a change made on another; kill -9
of an owner turns its instances critical everywhere and a restart with the same data dir brings
them back; a late joiner receives the whole catalog; a graceful leave removes a node's records at
once; a failed node's records are reaped after -reap-after; only the owner may deregister."""
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, wait_until  # noqa: E402

N = 10
REAP_AFTER = "20s"


def start_agent(name, join_port=None, data_dir=None, ports=None):
    args = ["-advertise", "127.0.0.1", "-reap-after", REAP_AFTER, "-check-reap-interval", "1s"]
    if join_port:
        args += ["-join", f"127.0.0.1:{join_port}"]
    kw = dict(ports or {})
    return Agent(name, data_dir=data_dir, extra_args=args, **kw).start()


def alive_members(agent):
    members, _ = agent.get_json("/v1/agent/members")
    return {m["Name"] for m in members if m["Status"] == 1}


def instances(agent, service, passing=False):
    body, _ = agent.get_json(f"/v1/health/service/{service}" + ("?passing" if passing else ""))
    return sorted((e["Node"]["Node"], e["Service"]["ID"]) for e in body)


def dig_srv(agent, name):
    out = subprocess.run(["dig", "+short", "+time=2", "+tries=1", "@127.0.0.1", "-p", str(agent.dns_port), name, "SRV"],
                         capture_output=True, text=True, timeout=10)
    return sorted(line.split()[3].split(".")[0] for line in out.stdout.splitlines() if line.strip())


def on_all(agents, predicate, what, timeout=20):
    for a in agents:
        wait_until(lambda a=a: predicate(a), timeout=timeout, what=f"{what} on {a.name}")


class Cluster:
    def __init__(self):
        self.agents = [start_agent("r0")]
        for i in range(1, N):
            self.agents.append(start_agent(f"r{i}", join_port=self.agents[0].serf_port))
        names = {a.name for a in self.agents}
        on_all(self.agents, lambda a: alive_members(a) >= names, "all ten members alive")

    def live(self):
        return [a for a in self.agents if a.proc and a.proc.poll() is None]

    def by_name(self, name):
        return next(a for a in self.agents if a.name == name)

    def cleanup(self):
        for a in self.agents:
            a.cleanup()


def registration_everywhere(c):
    owner = c.by_name("r3")
    status, body, _ = owner.put("/v1/agent/service/register",
                                {"Name": "web", "ID": "web-r3", "Port": 8080, "Tags": ["v1"], "Meta": {"team": "a"}})
    assert status == 200, body
    start = time.monotonic()
    on_all(c.live(), lambda a: instances(a, "web", passing=True) == [("r3", "web-r3")], "web on r3 (HTTP)")
    on_all(c.live(), lambda a: dig_srv(a, "web.service.consul") == ["r3"], "web on r3 (DNS SRV)")
    on_all(c.live(), lambda a: dig_srv(a, "v1.web.service.consul") == ["r3"], "tag v1 (DNS)")
    body, _ = c.by_name("r9").get_json("/v1/catalog/service/web")
    assert body[0]["ServiceMeta"] == {"team": "a"} and body[0]["ServicePort"] == 8080, body
    print(f"  registration on r3 served by all {len(c.live())} agents after {time.monotonic() - start:.2f}s")


def blocking_query_wakes_on_remote_change(c):
    watcher, writer = c.by_name("r7"), c.by_name("r5")
    _, headers = watcher.get_json("/v1/health/service/web")
    index = headers["X-Consul-Index"]
    result = {}

    def watch():
        t0 = time.monotonic()
        status, body, hdrs = watcher.get(f"/v1/health/service/web?index={index}&wait=30s", timeout=40)
        result.update(status=status, body=json.loads(body), took=time.monotonic() - t0, index=hdrs["X-Consul-Index"])

    t = threading.Thread(target=watch)
    t.start()
    time.sleep(0.5)
    status, body, _ = writer.put("/v1/agent/service/register", {"Name": "web", "ID": "web-r5", "Port": 8081})
    assert status == 200, body
    t.join(timeout=45)
    assert result.get("status") == 200, result
    assert result["took"] < 10, f"the blocking query waited {result['took']:.1f}s"
    nodes = sorted(e["Node"]["Node"] for e in result["body"])
    assert nodes == ["r3", "r5"], nodes
    assert int(result["index"]) > int(index), (result["index"], index)
    on_all(c.live(), lambda a: len(instances(a, "web", passing=True)) == 2, "two web instances")


def owner_crash_and_restart(c):
    owner = c.by_name("r3")
    data_dir, ports = owner.data_dir, dict(http_port=owner.http_port, dns_port=owner.dns_port, serf_port=owner.serf_port)
    owner.kill9()
    others = [a for a in c.live() if a is not owner]
    on_all(others, lambda a: instances(a, "web", passing=True) == [("r5", "web-r5")], "r3's web critical", timeout=40)
    on_all(others, lambda a: dig_srv(a, "web.service.consul") == ["r5"], "r3's web out of DNS")
    body, _ = others[0].get_json("/v1/health/node/r3")
    assert {ch["CheckID"]: ch["Status"] for ch in body}["serfHealth"] == "critical", body
    # The records stay (critical) until -reap-after: nothing is lost while the owner is away.
    assert ("r3", "web-r3") in instances(others[0], "web")

    restarted = start_agent("r3", join_port=c.agents[0].serf_port, data_dir=data_dir, ports=ports)
    restarted._own_dir = True  # cleaned up with the rest
    c.agents[c.agents.index(owner)] = restarted
    on_all(c.live(), lambda a: instances(a, "web", passing=True) == [("r3", "web-r3"), ("r5", "web-r5")],
           "r3's web passing again", timeout=40)
    body, _ = restarted.get_json("/v1/agent/services")
    assert "web-r3" in body, body


def late_joiner_gets_everything(c):
    # Something registered through the catalog API too: an external node with two services.
    reg = {"Node": "db-ext", "Address": "10.9.9.9",
           "Service": {"Service": "db", "ID": "db1", "Port": 5432, "Tags": ["primary"]}}
    status, body, _ = c.by_name("r1").put("/v1/catalog/register", reg)
    assert status == 200, body
    on_all(c.live(), lambda a: instances(a, "db") == [("db-ext", "db1")], "external db")

    late = start_agent("r10", join_port=c.agents[4].serf_port)
    c.agents.append(late)
    reference = c.by_name("r0")
    want_services, _ = reference.get_json("/v1/catalog/services")
    want_nodes = sorted(n["Node"] for n in reference.get_json("/v1/catalog/nodes")[0])
    wait_until(lambda: late.get_json("/v1/catalog/services")[0] == want_services, timeout=20,
               what="the late joiner's service list")
    wait_until(lambda: sorted(n["Node"] for n in late.get_json("/v1/catalog/nodes")[0]) == sorted(want_nodes + ["r10"]),
               timeout=20, what="the late joiner's node list")
    assert instances(late, "web", passing=True) == [("r3", "web-r3"), ("r5", "web-r5")]
    assert dig_srv(late, "db.service.consul") == ["db-ext"]


def only_the_owner_deregisters(c):
    # An agent's own node is written by that agent alone.
    status, body, _ = c.by_name("r1").put("/v1/catalog/register", {"Node": "r2", "Address": "10.6.6.6"})
    assert status == 403, (status, body)
    status, body, _ = c.by_name("r9").put("/v1/catalog/deregister", {"Node": "db-ext"})
    assert status == 403 and "r1" in body, (status, body)
    status, body, _ = c.by_name("r1").put("/v1/catalog/deregister", {"Node": "db-ext"})
    assert status == 200, body
    on_all(c.live(), lambda a: instances(a, "db") == [], "db-ext gone")


def graceful_leave_removes_records(c):
    leaver = c.by_name("r5")
    status, body, _ = leaver.put("/v1/agent/leave")
    assert status == 200, body
    leaver.proc.wait(timeout=20)
    rest = [a for a in c.live() if a is not leaver]
    on_all(rest, lambda a: instances(a, "web") == [("r3", "web-r3")], "r5's web removed", timeout=15)
    on_all(rest, lambda a: "r5" not in {n["Node"] for n in a.get_json("/v1/catalog/nodes")[0]}, "node r5 removed")


def failed_node_reaped(c):
    victim = c.by_name("r8")
    status, body, _ = victim.put("/v1/agent/service/register", {"Name": "cache", "ID": "cache-r8", "Port": 6379})
    assert status == 200, body
    on_all(c.live(), lambda a: instances(a, "cache") == [("r8", "cache-r8")], "cache on r8")
    victim.kill9()
    rest = [a for a in c.live() if a is not victim]
    t0 = time.monotonic()
    on_all(rest, lambda a: instances(a, "cache") == [], "r8's records reaped", timeout=60)
    took = time.monotonic() - t0
    assert took >= 15, f"reaped after {took:.1f}s, before -reap-after {REAP_AFTER}"


def datacenter_parameter(c):
    a = c.by_name("r2")
    assert a.get("/v1/catalog/service/web?dc=dc1")[0] == 200
    status, body, _ = a.get("/v1/catalog/service/web?dc=dc2")
    assert status == 500 and "No path to datacenter" in body, (status, body)


def main():
    results = Results()
    cluster = Cluster()
    try:
        results.run("a registration on one agent is served by all (HTTP, DNS)", registration_everywhere, cluster)
        results.run("a blocking query wakes for a change on another agent", blocking_query_wakes_on_remote_change, cluster)
        results.run("kill -9 of an owner: critical everywhere; restart restores", owner_crash_and_restart, cluster)
        results.run("a late joiner receives the whole catalog", late_joiner_gets_everything, cluster)
        results.run("only the owner deregisters a record", only_the_owner_deregisters, cluster)
        results.run("a graceful leave removes the node's records", graceful_leave_removes_records, cluster)
        results.run("a failed node's records are reaped after -reap-after", failed_node_reaped, cluster)
        results.run("dc parameter: own datacenter works, another is Consul's error", datacenter_parameter, cluster)
    finally:
        if results.failed:
            for a in cluster.agents:
                print(f"---- {a.name} log (tail) ----\n" + a.log()[-3000:])
        cluster.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
