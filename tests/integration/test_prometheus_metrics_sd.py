"""Debian's Prometheus (2.42) against two real agents on loopback: it scrapes their
/v1/agent/metrics?format=prometheus (both targets up, a counter that moves after requests), and
discovers services through http_sd_configs on /v1/prometheus/sd with consul_sd's meta labels
(the service's version=local meta visible as a label); a deregistered instance drops out.
Debian builds Prometheus without consul_sd, which is why http_sd is the way in.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import start_prometheus, stop_prometheus, Agent, Results, free_port, skip, wait_until  # noqa: E402

SD_REFRESH_S = 1


def prom_get(port, path, **params):
    query = ("?" + urllib.parse.urlencode(params)) if params else ""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{query}", timeout=5) as r:
        return json.load(r)["data"]


def active_targets(port, job):
    return [t for t in prom_get(port, "/api/v1/targets")["activeTargets"] if t["labels"].get("job") == job]


def scraped_value(port, query, instance):
    for r in prom_get(port, "/api/v1/query", query=query)["result"]:
        if r["metric"].get("instance") == instance:
            return float(r["value"][1])
    return None


def sample(agent, series):
    """The value of one series in the agent's text exposition (the line that starts with it)."""
    _, body, _ = agent.get("/v1/agent/metrics?format=prometheus")
    for line in body.splitlines():
        if line.startswith(series + " "):
            return float(line.split(" ")[-1])
    raise AssertionError(f"no series {series}")


def exposition_format(agents):
    status, body, headers = agents[0].get("/v1/agent/metrics?format=prometheus")
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    for line in ("# TYPE hearsay_http_requests_total counter", "# TYPE hearsay_catalog_services gauge",
                 "# TYPE hearsay_http_request_duration_seconds histogram",
                 "# TYPE hearsay_gossip_probe_rtt_seconds histogram", "# TYPE process_resident_memory_bytes gauge",
                 "# TYPE hearsay_replication_propagation_lag_seconds histogram",
                 "# TYPE process_cpu_seconds_total counter"):
        assert line in body, f"missing {line!r}"
    # Each histogram is fed: a DNS answer, the probes between the two agents, the commits of
    # their own node records; and the process figures are read.
    dig = subprocess.run(["dig", "@127.0.0.1", "-p", str(agents[0].dns_port), "+short", "prom1.node.consul"],
                         capture_output=True, text=True, timeout=10)
    assert dig.stdout.strip() == "127.0.0.1", dig
    wait_until(lambda: all(sample(a, "hearsay_gossip_probe_rtt_seconds_count") > 0 for a in agents), timeout=20,
               what="probe round trips measured on both agents")
    a = agents[0]
    assert sample(a, "hearsay_dns_answer_duration_seconds_count") >= 1
    assert sample(a, "hearsay_store_commit_duration_seconds_count") >= 1
    assert sample(a, 'hearsay_http_request_duration_seconds_count{group="agent",status="2xx"}') >= 1
    assert sample(a, "process_resident_memory_bytes") > 1 << 20
    assert sample(a, "process_open_fds") >= 5
    assert abs(sample(a, "process_start_time_seconds") - time.time()) < 600
    # The JSON form keeps Consul's sections: counters under Counters, not Gauges.
    data, _ = agents[0].get_json("/v1/agent/metrics")
    assert any(c["Name"] == "hearsay.http.requests" for c in data["Counters"])
    assert not any(g["Name"] == "hearsay.http.requests" for g in data["Gauges"])


def propagation_lag(agents):
    """A registration on the first agent reaches the second by broadcast, which times it: the
    propagation-lag histogram's count grows there, in seconds (a loopback lag, far below 10 s)."""
    a1, a2 = agents
    series = "hearsay_replication_propagation_lag_seconds"
    before = sample(a2, series + "_count")
    status, text, _ = a1.put("/v1/agent/service/register", {"Name": "lagged", "ID": "lagged1", "Port": 7000})
    assert status == 200, text
    wait_until(lambda: a2.get_json("/v1/catalog/service/lagged")[0], timeout=10, what="the registration on a2")
    wait_until(lambda: sample(a2, series + "_count") > before, timeout=10, what="a2's propagation lag count to grow")
    _, body, _ = a2.get("/v1/agent/metrics?format=prometheus")
    lines = {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in body.splitlines()
             if line.startswith(series)}
    count = lines[series + "_count"]
    assert lines[series + '_bucket{le="+Inf"}'] == count, lines
    assert lines[series + '_bucket{le="10"}'] == count, f"a loopback lag over 10 s: {lines}"
    assert 0 <= lines[series + "_sum"] < 10 * count, lines
    assert a1.put("/v1/agent/service/deregister/lagged1")[0] == 200


def scrapes(agents, prom_port):
    wanted = sorted(f"127.0.0.1:{a.http_port}" for a in agents)
    wait_until(lambda: sorted(t["labels"]["instance"] for t in active_targets(prom_port, "hearsay")
                              if t["health"] == "up") == wanted,
               timeout=30, what=f"both agents scraped and up ({wanted})")
    a = agents[0]
    instance = f"127.0.0.1:{a.http_port}"
    query = 'hearsay_http_request_duration_seconds_count{group="catalog",status="2xx"}'
    wait_until(lambda: scraped_value(prom_port, query, instance) is not None, timeout=30,
               what="a scraped catalog latency series")
    before = scraped_value(prom_port, query, instance)
    for _ in range(25):
        assert a.get("/v1/catalog/services")[0] == 200
    wait_until(lambda: scraped_value(prom_port, query, instance) >= before + 25, timeout=30,
               what=f"the scraped catalog request count to grow by 25 from {before}")
    assert scraped_value(prom_port, "hearsay_gossip_members_alive", instance) == 2


def discovery(agents, prom_port):
    a1, a2 = agents
    for agent, sid, port in ((a1, "web1", 9001), (a2, "web2", 9002)):
        body = {"Name": "web", "ID": sid, "Port": port, "Tags": ["v1", "edge"], "Meta": {"version": "local"},
                "Check": {"TTL": "60s"}}
        status, text, _ = agent.put("/v1/agent/service/register", body)
        assert status == 200, text
        assert agent.put(f"/v1/agent/check/pass/service:{sid}")[0] == 200
    # A critical instance is not a target.
    status, text, _ = a2.put("/v1/agent/service/register", {"Name": "web", "ID": "web3", "Port": 9003,
                                                             "Check": {"TTL": "60s"}})
    assert status == 200, text

    def web_targets():
        return sorted((t["discoveredLabels"]["__address__"], t["labels"].get("version"),
                       t["discoveredLabels"].get("__meta_consul_node"),
                       t["discoveredLabels"].get("__meta_consul_tags"))
                      for t in active_targets(prom_port, "discovered"))
    want = [("127.0.0.1:9001", "local", "prom1", ",v1,edge,"), ("127.0.0.1:9002", "local", "prom2", ",v1,edge,")]
    wait_until(lambda: web_targets() == want, timeout=30, what=f"Prometheus to discover {want}")
    # Deregistered on a2: gone from a1's answer (replication), then from Prometheus' targets
    # at its next refresh; Prometheus passes discovery updates on at most every 5 s.
    assert a2.put("/v1/agent/service/deregister/web2")[0] == 200
    start = time.monotonic()
    sd_ids = lambda: sorted(g["labels"]["__meta_consul_service_id"]  # noqa: E731
                            for g in a1.get_json("/v1/prometheus/sd?service=web")[0])
    wait_until(lambda: sd_ids() == ["web1"], timeout=10, what="a1's http_sd answer to drop web2")
    wait_until(lambda: web_targets() == want[:1], timeout=20, what="web2 to leave the targets")
    print(f"  web2 left Prometheus' targets {time.monotonic() - start:.1f}s after its deregistration "
          f"(refresh {SD_REFRESH_S}s, Prometheus' update throttle 5s)", flush=True)


def main():
    if not shutil.which("prometheus"):
        skip("prometheus is not installed (packaging/install-deps.sh installs it)")
    results = Results()
    tmp = tempfile.mkdtemp(prefix="hearsay-prom-sd-")
    agents = []
    prom = None
    try:
        a1 = Agent("prom1").start()
        agents.append(a1)
        a2 = Agent("prom2", extra_args=["-join", f"127.0.0.1:{a1.serf_port}"]).start()
        agents.append(a2)
        wait_until(lambda: len(a1.get_json("/v1/agent/members")[0]) == 2, timeout=30, what="the agents to join")
        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        targets = ", ".join(f"'127.0.0.1:{a.http_port}'" for a in agents)
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: hearsay
    metrics_path: /v1/agent/metrics
    params: {{format: [prometheus]}}
    static_configs: [{{targets: [{targets}]}}]
  - job_name: discovered
    scrape_interval: 1m
    http_sd_configs:
      - url: http://127.0.0.1:{a1.http_port}/v1/prometheus/sd?service=web
        refresh_interval: {SD_REFRESH_S}s
    relabel_configs:
      - source_labels: [__meta_consul_service_metadata_version]
        target_label: version
""")
        prom = start_prometheus(config, tmp, prom_port)
        results.run("metrics answer the text exposition format, counters apart in JSON", exposition_format, agents)
        results.run("a registration on one agent is timed by the other's propagation-lag histogram",
                    propagation_lag, agents)
        results.run("Prometheus scrapes both agents and a counter moves after requests", scrapes, agents, prom_port)
        results.run("Prometheus http_sd discovers instances with meta labels, drops a deregistered one",
                    discovery, agents, prom_port)
    finally:
        stop_prometheus(prom, tmp, results.failed)
        if results.failed:
            for a in agents:
                print(f"---- agent {a.name} log ----\n" + a.log()[-3000:])
        for a in agents:
            a.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    results.finish()


if __name__ == "__main__":
    main()
