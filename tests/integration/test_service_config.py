"""Running hearsay as a service (issue 17): `hearsay version` and /v1/agent/self from one build
stamp; `hearsay validate`; systemd's notify protocol (READY, RELOADING, STOPPING); SIGHUP, `hearsay reload` and PUT /v1/agent/reload re-reading HCL and
JSON config files (services and checks added, changed and removed, log level, dns_config; a
bad file refused and the running config kept); -log-json; -join by host name; address
templates and a client_addr list."""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, Agent, Results, wait_until  # noqa: E402


class FileLevelAgent(Agent):
    """The harness's agent without its -log-level flag: a flag beats the files, so a reload
    could not change the level otherwise."""

    def args(self):
        args = super().args()
        i = args.index("-log-level")
        return args[:i] + args[i + 2:]


def run(*args, **kw):
    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=20, **kw)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def services(agent):
    return agent.get_json("/v1/agent/services")[0]


def test_version_and_self():
    proc = run("version")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("hearsay v0."), lines
    revision = lines[1].split()[-1]
    assert lines[1].startswith("Revision ") and len(revision) >= 7, lines
    assert lines[2].startswith("Build Date 20"), lines
    with tempfile.TemporaryDirectory() as d:
        agent = Agent(name="it-version", data_dir=d).start()
        try:
            config = agent.get_json("/v1/agent/self")[0]["Config"]
            assert config["Revision"] == revision and config["Version"] in lines[0], config
            assert config["BuildDate"] == lines[2].split()[-1], config
        finally:
            agent.cleanup()


def test_validate(config_dir):
    proc = run("validate", config_dir)
    assert proc.returncode == 0 and "Configuration is valid!" in proc.stdout, (proc.stdout, proc.stderr)
    bad = os.path.join(config_dir, "zz-bad.hcl")
    write(bad, 'datacentre = "dc1"\n')
    try:
        proc = run("validate", config_dir)
        assert proc.returncode == 1, proc
        assert "zz-bad.hcl: datacentre: unknown config key" in proc.stderr, proc.stderr
        proc = run("validate", os.path.join(config_dir, "no-such-file.hcl"))
        assert proc.returncode == 1 and "no-such-file.hcl" in proc.stderr, proc.stderr
    finally:
        os.unlink(bad)


def test_reload(agent, config_dir):
    assert set(services(agent)) == {"web"}
    # A second service in a new JSON file, the first one's port changed: SIGHUP.
    write(os.path.join(config_dir, "api.json"),
          json.dumps({"service": {"name": "api", "port": 9000, "check": {"ttl": "30s"}}}))
    write(os.path.join(config_dir, "web.hcl"), 'service {\n  name = "web"\n  port = 8081\n}\n')
    agent.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: set(services(agent)) == {"web", "api"}, timeout=10, what="api registered by SIGHUP")
    assert services(agent)["web"]["Port"] == 8081
    checks = agent.get_json("/v1/agent/checks")[0]
    assert "service:api" in checks, checks
    assert agent.proc.poll() is None, "SIGHUP must not stop the agent"

    # The file removed: `hearsay reload` (the CLI) deregisters it, with its check.
    os.unlink(os.path.join(config_dir, "api.json"))
    proc = run("reload", f"-http-addr=127.0.0.1:{agent.http_port}")
    assert proc.returncode == 0 and "Configuration reload triggered" in proc.stdout, (proc.stdout, proc.stderr)
    assert set(services(agent)) == {"web"}
    assert "service:api" not in agent.get_json("/v1/agent/checks")[0]

    # A bad file: refused over HTTP with its name and key; nothing changes; the agent runs on.
    write(os.path.join(config_dir, "web.hcl"), 'service {\n  name = "web"\n  port = 9999\n}\nbogus_key = 1\n')
    status, body, _ = agent.put("/v1/agent/reload")
    assert status == 400 and "web.hcl: bogus_key: unknown config key" in body, (status, body)
    assert services(agent)["web"]["Port"] == 8081
    write(os.path.join(config_dir, "web.hcl"), 'service {\n  name = "web"\n  port = 8081\n}\n')

    # The log level and dns_config take effect without a restart.
    write(os.path.join(config_dir, "tuning.hcl"), 'log_level = "warn"\ndns_config {\n  node_ttl = "42s"\n}\n')
    status, body, _ = agent.put("/v1/agent/reload")
    assert status == 200, body
    assert "reload: log level info -> warn" in agent.log()
    answer = subprocess.run(["dig", "+noall", "+answer", "+norecurse", "-p", str(agent.dns_port), "@127.0.0.1",
                             f"{agent.name}.node.consul", "A"], capture_output=True, text=True, timeout=10)
    assert answer.stdout.split()[1:2] == ["42"], answer.stdout
    status, body, _ = agent.put("/v1/agent/reload")
    assert status == 200, body
    # At warn, a reload's info lines are no longer logged.
    assert "config reloaded" not in agent.log().split("reload: log level info -> warn")[1]


def test_sd_notify():
    """Type=notify: READY=1 once serving, RELOADING=1 then READY=1 around a reload, STOPPING=1."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(30)
        os.environ["NOTIFY_SOCKET"] = path
        try:
            os.makedirs(os.path.join(d, "data"))
            agent = Agent(name="it-notify", data_dir=os.path.join(d, "data")).launch()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        try:
            first = sock.recv(4096).decode()
            assert first.splitlines()[0] == "READY=1", first
            assert agent.get("/v1/agent/self")[0] == 200  # ready means serving
            agent.proc.send_signal(signal.SIGHUP)
            assert sock.recv(4096).decode() == "RELOADING=1"
            assert sock.recv(4096).decode().startswith("READY=1")
            agent.proc.send_signal(signal.SIGTERM)
            assert sock.recv(4096).decode() == "STOPPING=1"
            agent.proc.wait(timeout=20)
        finally:
            agent.cleanup()
            sock.close()


def test_log_json():
    with tempfile.TemporaryDirectory() as d:
        agent = Agent(name="it-json", data_dir=d, extra_args=["-log-json"]).start()
        try:
            lines = [line for line in agent.log().splitlines() if line.strip()]
            assert lines, "no log"
            for line in lines:
                entry = json.loads(line)
                assert set(entry) == {"@level", "@message", "@module", "@timestamp"}, entry
            assert any("started" in json.loads(line)["@message"] for line in lines)
        finally:
            agent.cleanup()


def test_join_by_name_templates_and_client_list():
    first = Agent(name="it-name-a").start()
    second = None
    try:
        # 127.0.0.2 is on lo as all of 127/8 is; a second client address the test can reach.
        second = Agent(name="it-name-b", extra_args=[
            "-join", f"localhost:{first.serf_port}",
            "-bind", '{{ GetInterfaceIP "lo" }}',
            "-client", "127.0.0.1 127.0.0.2"])
        second.start()  # the harness's own -bind and -client come first; ours, later, win
        wait_until(lambda: len(first.get_json("/v1/agent/members")[0]) == 2, timeout=20,
                   what="the agent joined by host name")
        with socket.create_connection(("127.0.0.2", second.http_port), timeout=5):
            pass
        self_info = second.get_json("/v1/agent/self")[0]
        assert self_info["Member"]["Addr"] == "127.0.0.1", self_info["Member"]
    finally:
        if second:
            second.cleanup()
        first.cleanup()


def main():
    results = Results()
    results.run("version_and_self", test_version_and_self)
    config_dir = tempfile.mkdtemp(prefix="hearsay-it-conf-")
    write(os.path.join(config_dir, "web.hcl"), 'service {\n  name = "web"\n  port = 8080\n}\n')
    write(os.path.join(config_dir, "base.json"), json.dumps({"data_dir": "/var/lib/hearsay-unused"}))
    results.run("validate", test_validate, config_dir)
    agent = FileLevelAgent(name="it-reload", extra_args=["-config-dir", config_dir]).start()
    try:
        results.run("reload", test_reload, agent, config_dir)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-4000:])
        agent.cleanup()
        shutil.rmtree(config_dir, ignore_errors=True)
    results.run("sd_notify", test_sd_notify)
    results.run("log_json", test_log_json)
    results.run("join_by_name_templates_and_client_list", test_join_by_name_templates_and_client_list)
    results.finish()


if __name__ == "__main__":
    main()
