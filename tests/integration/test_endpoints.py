"""Consul endpoint details over HTTP on the real agent: catalog register/deregister of external
nodes, maintenance mode, ?filter / ?tag / ?node-meta / ?pretty, X-Consul-Index behaviour,
blocking on catalog views, OPTIONS, status endpoints."""
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consul  # noqa: E402

from harness import Agent, Results  # noqa: E402


def q(text):
    return urllib.parse.quote(text, safe="")


def test_catalog_register_external_node(agent, c):
    assert c.catalog.register("db-host", "192.0.2.10", service={"Service": "db", "ID": "db1", "Port": 5432,
                                                               "Tags": ["primary"]},
                              check={"Name": "db alive", "CheckID": "db-alive", "Status": "passing",
                                     "ServiceID": "db1"}) is True
    _, nodes = c.catalog.nodes()
    assert {"db-host", agent.name} <= {n["Node"] for n in nodes}
    _, entries = c.health.service("db", passing=True)
    assert [e["Node"]["Address"] for e in entries] == ["192.0.2.10"]
    _, node = c.catalog.node("db-host")
    assert node["Services"]["db1"]["Port"] == 5432
    assert c.catalog.deregister("db-host", service_id="db1") is True
    _, entries = c.health.service("db")
    assert entries == []
    assert c.catalog.deregister("db-host") is True
    _, node = c.catalog.node("db-host")
    assert node is None  # unknown node: 200 with null


def test_maintenance(agent, c):
    assert c.agent.service.register("api", service_id="api1", port=80) is True
    _, entries = c.health.service("api", passing=True)
    assert len(entries) == 1
    assert c.agent.service.maintenance("api1", "true", "deploying") is True
    _, entries = c.health.service("api", passing=True)
    assert entries == []
    checks = c.agent.checks()
    assert checks["_service_maintenance:api1"]["Notes"] == "deploying"
    assert c.agent.service.maintenance("api1", "false") is True
    assert c.agent.maintenance("true") is True  # node-wide
    _, entries = c.health.service("api", passing=True)
    assert entries == []
    assert c.agent.maintenance("false") is True
    _, entries = c.health.service("api", passing=True)
    assert len(entries) == 1


def test_filters_tags_node_meta(agent, c):
    for sid, version, tags in (("web-a", "v1", ["blue", "x"]), ("web-b", "local", ["green", "x"])):
        status, text, _ = agent.put("/v1/agent/service/register",
                                    {"Name": "web", "ID": sid, "Port": 80, "Tags": tags, "Meta": {"version": version}})
        assert status == 200, text
    local, _ = agent.get_json("/v1/health/service/web?filter=" + q("Service.Meta.version == local"))
    assert [e["Service"]["ID"] for e in local] == ["web-b"]
    local, _ = agent.get_json("/v1/catalog/service/web?filter=" + q("ServiceMeta.version != local"))
    assert [e["ServiceID"] for e in local] == ["web-a"]
    mine, _ = agent.get_json("/v1/agent/services?filter=" + q('"green" in Tags'))
    assert list(mine) == ["web-b"]
    both, _ = agent.get_json("/v1/health/service/web?tag=x")
    assert len(both) == 2
    one, _ = agent.get_json("/v1/health/service/web?tag=x&tag=blue")
    assert [e["Service"]["ID"] for e in one] == ["web-a"]
    own, _ = agent.get_json("/v1/catalog/nodes?node-meta=" + q("rack:r7"))
    assert [n["Node"] for n in own] == [agent.name]
    none, _ = agent.get_json("/v1/catalog/service/web?node-meta=" + q("rack:r8"))
    assert none == []
    status, body, _ = agent.get("/v1/health/service/web?filter=" + q("Nope == 1"))
    assert status == 400 and "Nope" in body
    status, body, _ = agent.get("/v1/catalog/services?pretty")
    assert status == 200 and body.endswith("\n") and '    "web"' in body
    names, _ = agent.get_json("/v1/catalog/services")
    assert names["web"] == ["blue", "green", "x"]


def test_index_header_rules(agent, c):
    status, _, headers = agent.get("/v1/health/service/does-not-exist")
    assert status == 200 and int(headers["X-Consul-Index"]) >= 1
    assert headers["X-Consul-KnownLeader"] == "true" and headers["X-Consul-LastContact"] == "0"
    _, _, h1 = agent.get("/v1/catalog/services")
    agent.put("/v1/agent/service/register", {"Name": "idx", "Port": 1})
    _, _, h2 = agent.get("/v1/catalog/services")
    assert int(h2["X-Consul-Index"]) > int(h1["X-Consul-Index"])
    # A client holding an index from elsewhere (higher than ours) is answered at once.
    start = time.monotonic()
    status, _, _ = agent.get(f"/v1/catalog/services?index={int(h2['X-Consul-Index']) + 1000}&wait=5s")
    assert status == 200 and time.monotonic() - start < 2
    _, _, h = agent.get("/v1/catalog/services?stale")
    assert h["X-Consul-Effective-Consistency"] == "stale"


def test_blocking_on_node_and_catalog_views(agent, c):
    _, _, headers = agent.get(f"/v1/catalog/node/{agent.name}")
    index = headers["X-Consul-Index"]
    got = {}

    def watch():
        got["reply"] = agent.get(f"/v1/catalog/node/{agent.name}?index={index}&wait=10s")

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    time.sleep(0.3)
    assert t.is_alive()
    agent.put("/v1/agent/service/register", {"Name": "late", "Port": 2})
    t.join(timeout=5)
    assert not t.is_alive(), "catalog/node watcher not woken by a new service on the node"
    status, body, _ = got["reply"]
    assert status == 200 and "late" in json.loads(body)["Services"]


def test_options_status_and_dc(agent, c):
    status, _, headers = agent.request("OPTIONS", "/v1/agent/service/deregister/x")
    assert status == 200 and headers["Allow"] == "OPTIONS,GET,PUT"
    assert c.status.peers() and c.status.leader().endswith(":8300")
    status, body, _ = agent.get("/v1/catalog/datacenters")
    assert json.loads(body) == ["dc1"]
    status, _, _ = agent.get("/v1/catalog/services?dc=dc1")
    assert status == 200


def main():
    results = Results()
    agent = Agent(name="it-endpoints", extra_args=["-node-meta", "rack:r7"]).start()
    try:
        c = consul.Consul(host="127.0.0.1", port=agent.http_port)
        for test in (test_catalog_register_external_node, test_maintenance, test_filters_tags_node_meta,
                     test_index_header_rules, test_blocking_on_node_and_catalog_views, test_options_status_and_dc):
            results.run(test.__name__, test, agent, c)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-4000:])
        agent.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
