"""The real `agent` binary driven by Debian's python3-consul 0.7.1, as issue 2's acceptance test.

Registers a service with a TTL and an HTTP check, passes/fails the TTL, reads everything back
through the agent, catalog and health endpoints, checks that a blocking query returns when (and
only when) the watched service changes, survives kill -9 with its registrations, and deregisters.
"""
import http.server
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import consul  # noqa: E402  (Debian python3-consul; run with /usr/bin/python3)

from harness import Agent, Results, free_port, wait_until  # noqa: E402


class HealthHandler(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 - http.server API
        self.send_response(HealthHandler.status)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"ok from test server")

    def log_message(self, *args):
        pass


def start_health_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), HealthHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def passing_ids(c, name):
    _, entries = c.health.service(name, passing=True)
    return sorted(e["Service"]["ID"] for e in entries)


def register_web(c, health_url):
    assert c.agent.service.register("web", service_id="web1", address="127.0.0.1", port=8080, tags=["v1", "primary"],
                                    check=consul.Check.ttl("30s")) is True
    assert c.agent.check.register("web-http", consul.Check.http(health_url, "1s", timeout="2s"), check_id="web-http",
                                  service_id="web1") is True


def test_register_and_read_back(agent, c, health_url):
    register_web(c, health_url)
    services = c.agent.services()
    assert services["web1"]["Service"] == "web"
    assert services["web1"]["Port"] == 8080
    assert services["web1"]["Tags"] == ["v1", "primary"]
    assert services["web1"]["Meta"] == {}
    checks = c.agent.checks()
    assert checks["service:web1"]["Status"] == "critical", checks  # TTL starts critical
    assert checks["service:web1"]["ServiceID"] == "web1"
    assert checks["web-http"]["Type"] == "http"
    assert "serfHealth" not in checks

    index, names = c.catalog.services()
    assert int(index) >= 1
    assert names["web"] == ["primary", "v1"]
    _, instances = c.catalog.service("web")
    assert [i["ServiceID"] for i in instances] == ["web1"]
    assert instances[0]["ServiceAddress"] == "127.0.0.1" and instances[0]["ServicePort"] == 8080
    _, instances = c.catalog.service("web", tag="v1")
    assert len(instances) == 1
    _, instances = c.catalog.service("web", tag="nope")
    assert instances == []
    _, nodes = c.catalog.nodes()
    assert [n["Node"] for n in nodes] == [agent.name]
    _, node = c.catalog.node(agent.name)
    assert "web1" in node["Services"]
    _, node_checks = c.health.node(agent.name)
    assert {ch["CheckID"] for ch in node_checks} >= {"serfHealth", "service:web1", "web-http"}
    _, svc_checks = c.health.checks("web")
    assert {ch["CheckID"] for ch in svc_checks} == {"service:web1", "web-http"}
    assert c.agent.self()["Config"]["Datacenter"] == "dc1"
    assert c.agent.self()["Config"]["NodeName"] == agent.name
    members = c.agent.members()
    assert [m["Name"] for m in members] == [agent.name] and members[0]["Status"] == 1
    assert c.status.leader() != ""


def test_ttl_pass_and_fail(agent, c, health_url):
    # HTTP check passes against the test server; the TTL decides.
    wait_until(lambda: c.agent.checks()["web-http"]["Status"] == "passing", timeout=10, what="HTTP check passing")
    assert passing_ids(c, "web") == []
    assert c.agent.check.ttl_pass("service:web1", "all good") is True
    assert passing_ids(c, "web") == ["web1"]
    assert c.agent.checks()["service:web1"]["Output"] == "all good"
    assert c.agent.check.ttl_warn("service:web1") is True
    assert c.agent.checks()["service:web1"]["Status"] == "warning"
    assert c.agent.check.ttl_fail("service:web1", "broken") is True
    assert passing_ids(c, "web") == []
    _, critical = c.health.state("critical")
    assert "service:web1" in {ch["CheckID"] for ch in critical}
    assert c.agent.check.ttl_pass("service:web1") is True
    assert passing_ids(c, "web") == ["web1"]
    # The HTTP check turns critical when the endpoint fails; the instance leaves ?passing.
    HealthHandler.status = 500
    wait_until(lambda: passing_ids(c, "web") == [], timeout=10, what="HTTP check critical")
    HealthHandler.status = 200
    wait_until(lambda: passing_ids(c, "web") == ["web1"], timeout=10, what="HTTP check passing again")


def test_blocking_query(agent, c, health_url):
    index, _ = c.health.service("web")
    result = {}

    def watch():
        start = time.monotonic()
        result["answer"] = c.health.service("web", index=index, wait="20s")
        result["elapsed"] = time.monotonic() - start

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    time.sleep(0.3)
    # A change to another service must not wake the watcher of "web".
    assert c.agent.service.register("db", service_id="db1", port=5432) is True
    time.sleep(1.5)
    assert watcher.is_alive(), "blocking query on web returned for a change to db"
    # A change to web must.
    assert c.agent.check.ttl_fail("service:web1", "wake up") is True
    watcher.join(timeout=5)
    assert not watcher.is_alive(), "blocking query did not return after web changed"
    new_index, entries = result["answer"]
    assert int(new_index) > int(index)
    assert entries[0]["Checks"] and any(ch["Output"] == "wake up" for ch in entries[0]["Checks"])
    # With no change at all, the query returns with the same index after the wait.
    start = time.monotonic()
    same_index, _ = c.health.service("web", index=new_index, wait="1s")
    elapsed = time.monotonic() - start
    assert same_index == new_index
    assert 0.9 <= elapsed < 5, elapsed
    assert c.agent.service.deregister("db1") is True


def test_restart_keeps_registrations(agent, c, health_url):
    assert c.agent.check.ttl_pass("service:web1", "before crash") is True
    # A short TTL check proves that checks run again after the restart.
    assert c.agent.check.register("short-ttl", consul.Check.ttl("2s"), check_id="short-ttl") is True
    assert c.agent.check.ttl_pass("short-ttl") is True
    agent.kill9()
    agent.start()
    services = c.agent.services()
    assert "web1" in services, services
    checks = c.agent.checks()
    assert checks["service:web1"]["Status"] == "passing"
    assert checks["service:web1"]["Output"] == "before crash"
    assert set(checks) >= {"service:web1", "web-http", "short-ttl"}
    wait_until(lambda: c.agent.checks()["short-ttl"]["Status"] == "critical", timeout=10,
               what="restored TTL check to expire")
    assert "TTL expired" in c.agent.checks()["short-ttl"]["Output"]
    wait_until(lambda: c.agent.checks()["web-http"]["Status"] == "passing", timeout=10,
               what="restored HTTP check to run")


def test_deregister(agent, c, health_url):
    assert c.agent.check.deregister("short-ttl") is True
    assert c.agent.service.deregister("web1") is True
    assert c.agent.services() == {}
    assert "web-http" not in c.agent.checks()  # a check of the service goes with it
    _, instances = c.catalog.service("web")
    assert instances == []
    _, names = c.catalog.services()
    assert "web" not in names
    assert c.agent.service.deregister("web1") is False  # 404 -> False in python-consul


def main():
    results = Results()
    health = start_health_server()
    health_url = f"http://127.0.0.1:{health.server_address[1]}/health"
    agent = Agent(name="it-python").start()
    try:
        c = consul.Consul(host="127.0.0.1", port=agent.http_port)
        for test in (test_register_and_read_back, test_ttl_pass_and_fail, test_blocking_query,
                     test_restart_keeps_registrations, test_deregister):
            results.run(test.__name__, test, agent, c, health_url)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-6000:])
        agent.cleanup()
        health.shutdown()
    results.finish()


if __name__ == "__main__":
    main()
