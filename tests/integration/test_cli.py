"""The `agent` CLI subcommands against a running agent: members, services register/deregister,
catalog services/nodes, $CONSUL_HTTP_ADDR, keygen, keyring -install/-use/-remove, force-leave,
leave (which stops the agent)."""
import base64
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


def test_consul_http_addr(agent):
    """Without -http-addr the CLI talks to $CONSUL_HTTP_ADDR; -http-addr still wins over it."""
    env = dict(os.environ, CONSUL_HTTP_ADDR=f"127.0.0.1:{agent.http_port}")
    proc = subprocess.run([AGENT, "members"], capture_output=True, text=True, timeout=20, env=env)
    assert proc.returncode == 0 and agent.name in proc.stdout, (proc.returncode, proc.stdout, proc.stderr)
    env["CONSUL_HTTP_ADDR"] = "127.0.0.1:1"
    proc = subprocess.run([AGENT, "members"], capture_output=True, text=True, timeout=20, env=env)
    assert proc.returncode == 1 and "127.0.0.1:1" in proc.stderr, (proc.returncode, proc.stderr)
    proc = subprocess.run([AGENT, "members", f"-http-addr=127.0.0.1:{agent.http_port}"], capture_output=True,
                          text=True, timeout=20, env=env)
    assert proc.returncode == 0 and agent.name in proc.stdout, (proc.returncode, proc.stderr)


def keygen():
    proc = subprocess.run([AGENT, "keygen"], capture_output=True, text=True, timeout=20)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_keygen(_agent):
    """A new random 32-byte key in base64, different each time."""
    keys = {keygen() for _ in range(3)}
    assert len(keys) == 3, keys
    for k in keys:
        assert len(base64.b64decode(k, validate=True)) == 32, k


def test_keyring_install_use_remove(_agent):
    """`agent keyring` on an encrypted agent (its key from `agent keygen`): each step lands in the
    keyring file, and -remove of the primary key is refused."""
    old, new = keygen(), keygen()
    enc = Agent(name="it-cli-keys", extra_args=["-encrypt", old]).start()
    ring_path = os.path.join(enc.data_dir, "serf", "local.keyring")

    def ring():
        with open(ring_path) as f:
            return json.load(f)
    try:
        assert ring() == [old]
        assert f"{old} [1/1]" in cli(enc, "keyring", "-list")
        assert "Installed" in cli(enc, "keyring", "-install", new)
        assert ring() == [old, new]
        assert "Changed primary to" in cli(enc, "keyring", "-use", new)
        assert ring()[0] == new and sorted(ring()) == sorted([old, new])
        cli(enc, "keyring", "-remove", new, expect_rc=1)  # the primary key stays
        assert ring()[0] == new
        assert "Removed" in cli(enc, "keyring", "-remove", old)
        assert ring() == [new]
        out = cli(enc, "keyring", "-list")
        assert f"{new} [1/1]" in out and old not in out, out
    except BaseException:
        print("---- it-cli-keys log ----\n" + enc.log()[-3000:])
        raise
    finally:
        enc.cleanup()


def test_force_leave(agent):
    """A member killed with -9 is failed; `agent force-leave NAME` makes it left. An unknown
    name is an error."""
    other = Agent(name="it-cli-victim", extra_args=["-join", f"127.0.0.1:{agent.serf_port}"]).start()
    try:
        wait_until(lambda: "it-cli-victim" in cli(agent, "members"), timeout=15, what="the second agent to join")
        other.kill9()

        def status_of_victim():
            members, _ = agent.get_json("/v1/agent/members")
            return next((m["Status"] for m in members if m["Name"] == "it-cli-victim"), None)
        wait_until(lambda: status_of_victim() == 4, timeout=30, what="it-cli-victim to be failed")
        cli(agent, "force-leave", "it-cli-victim")
        wait_until(lambda: status_of_victim() in (3, None), timeout=10, what="it-cli-victim to be left")
        cli(agent, "force-leave", "no-such-node", expect_rc=1)
    finally:
        other.cleanup()


def test_leave_stops_the_agent(agent):
    assert "Graceful leave complete" in cli(agent, "leave")
    wait_until(lambda: agent.proc.poll() is not None, timeout=10, what="agent to exit after leave")
    assert agent.proc.returncode == 0


def main():
    results = Results()
    agent = Agent(name="it-cli").start()
    try:
        for test in (test_members_and_catalog, test_services_register_and_deregister, test_cli_errors,
                     test_consul_http_addr, test_keygen, test_keyring_install_use_remove, test_force_leave,
                     test_leave_stops_the_agent):
            results.run(test.__name__, test, agent)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-4000:])
        agent.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
