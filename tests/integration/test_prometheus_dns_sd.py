"""Prometheus' DNS service discovery (dns_sd_configs, type SRV) against the real agent.

Prometheus asks the resolvers of /etc/resolv.conf on port 53 only, so the test re-runs itself in
a private network and mount namespace (unshare): loopback only, the agent on 127.0.0.1:53, and a
resolv.conf bind-mounted over /etc/resolv.conf that names it. Nothing leaves the namespace.
Needs root (as CI runs); elsewhere it exits 77, which ctest reports as skipped, except under
CI=true, where not being able to run is a failure.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import start_prometheus, stop_prometheus, Agent, Results, free_port, skip, wait_until  # noqa: E402

INSIDE = "HEARSAY_IN_NETNS"


def enter_namespace():
    if os.geteuid() != 0:
        skip("needs root for a network namespace")
    # A sandbox may forbid new namespaces or mounts even to root: say so rather than fail.
    probe = subprocess.run(["unshare", "--mount", "--net", "sh", "-c",
                            "mount --make-rprivate / && mount --bind /etc/resolv.conf /etc/resolv.conf"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        skip(f"cannot create a network+mount namespace here: {probe.stderr.strip()}")
    env = dict(os.environ, **{INSIDE: "1"})
    proc = subprocess.run(["unshare", "--mount", "--net", sys.executable, os.path.abspath(__file__)], env=env,
                          timeout=240)
    raise SystemExit(proc.returncode)


def prepare_namespace(tmp):
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = os.path.join(tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    # Private mount namespace: the bind mount is gone when the test ends.
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(["mount", "--bind", resolv, "/etc/resolv.conf"], check=True)


def targets(prom_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/targets", timeout=5) as r:
        data = json.load(r)
    return sorted(t["discoveredLabels"]["__address__"] for t in data["data"]["activeTargets"])


def discovery(agent, prom_port):
    # Two instances on the node address, one with its own IP (an .addr target).
    for body in ({"Name": "api", "ID": "api1", "Port": 9101},
                 {"Name": "api", "ID": "api2", "Port": 9102},
                 {"Name": "api", "ID": "api3", "Address": "127.0.0.3", "Port": 9103}):
        status, text, _ = agent.put("/v1/agent/service/register", body)
        assert status == 200, text
    want = ["7f000003.addr.dc1.consul:9103", "promnode.node.dc1.consul:9101", "promnode.node.dc1.consul:9102"]
    wait_until(lambda: targets(prom_port) == want, timeout=30, what=f"Prometheus targets {want}")
    # A deregistered instance leaves Prometheus' target list on the next refresh.
    assert agent.put("/v1/agent/service/deregister/api2")[0] == 200
    wait_until(lambda: targets(prom_port) == [want[0], want[1]], timeout=30, what="api2 to leave the targets")


def main():
    if os.environ.get(INSIDE) != "1":
        enter_namespace()
    results = Results()
    tmp = tempfile.mkdtemp(prefix="hearsay-prom-")
    agent = prom = None
    try:
        prepare_namespace(tmp)
        agent = Agent("promnode", dns_port=53).start()
        prom_port = free_port()
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1m\n"
                    "scrape_configs:\n  - job_name: api\n    dns_sd_configs:\n"
                    "      - names: ['api.service.consul']\n        type: SRV\n        refresh_interval: 1s\n")
        prom = start_prometheus(config, tmp, prom_port)
        results.run("Prometheus dns_sd_configs lists the SRV instances", discovery, agent, prom_port)
    finally:
        stop_prometheus(prom, tmp, results.failed)
        if results.failed:
            if agent:
                print("---- agent log ----\n" + agent.log()[-4000:])
        if agent:
            agent.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    results.finish()


if __name__ == "__main__":
    main()
