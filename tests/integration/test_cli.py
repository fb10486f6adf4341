"""The `agent` CLI subcommands against a running agent: members, services register/deregister,
catalog services/nodes, leave (which stops the agent)."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, Agent, Results, wait_until  # noqa: E402


def cli(agent, *args, expect_rc=0):
    proc = subprocess.run([AGENT, *args, f"-http-addr=127.0.0.1:{agent.http_port}"], capture_output=True, text=True,
                          timeout=20)
    assert proc.returncode == expect_rc, f"agent {args}: rc {proc.returncode}, stderr {proc.stderr!r}"
    return proc.stdout


def test_members_and_catalog(agent):
    out = cli(agent, "members")
    assert out.splitlines()[0].split()[:3] == ["Node", "Address", "Status"]
    assert agent.name in out and "alive" in out
    out = cli(agent, "catalog", "nodes")
    assert agent.name in out


def test_services_register_and_deregister(agent):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"service": {"name": "api", "id": "api1", "port": 9000, "tags": ["cli"]}}, f)
        path = f.name
    try:
        assert "Registered service: api" in cli(agent, "services", "register", path)
        assert "api" in cli(agent, "catalog", "services").split()
        services, _ = agent.get_json("/v1/agent/services")
        assert services["api1"]["Tags"] == ["cli"]
        assert "Deregistered service: api1" in cli(agent, "services", "deregister", "api1")
        assert "api" not in cli(agent, "catalog", "services").split()
        cli(agent, "services", "deregister", "api1", expect_rc=1)  # unknown now: an error
    finally:
        os.unlink(path)


def test_cli_errors(agent):
    proc = subprocess.run([AGENT, "members", "-http-addr=127.0.0.1:1"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 1 and "cannot connect" in proc.stderr
    proc = subprocess.run([AGENT, "services", "frobnicate"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 2 and "Usage" in proc.stderr


def test_leave_stops_the_agent(agent):
    assert "Graceful leave complete" in cli(agent, "leave")
    wait_until(lambda: agent.proc.poll() is not None, timeout=10, what="agent to exit after leave")
    assert agent.proc.returncode == 0


def main():
    results = Results()
    agent = Agent(name="it-cli").start()
    try:
        for test in (test_members_and_catalog, test_services_register_and_deregister, test_cli_errors,
                     test_leave_stops_the_agent):
            results.run(test.__name__, test, agent)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-4000:])
        agent.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
