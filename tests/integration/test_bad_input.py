"""Bad input gets Consul's status code and a plain-text reason, and the agent keeps serving.

Also: invalid flags and config values make `agent` exit non-zero with a message naming the value.
"""
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, Agent, Results  # noqa: E402


def still_serving(agent):
    status, body, _ = agent.get("/v1/agent/self")
    assert status == 200, f"agent stopped answering: {status} {body}"


def expect(agent, method, path, body, status, text, headers=None):
    """`text` must be a non-empty part of the reason: "" would match any body, an empty one too."""
    assert text, f"{method} {path}: a test must name the reason it expects"
    got_status, got_body, got_headers = agent.request(method, path, body=body, headers=headers)
    assert got_status == status, f"{method} {path}: expected {status}, got {got_status}: {got_body!r}"
    assert text in got_body, f"{method} {path}: expected {text!r} in {got_body!r}"
    still_serving(agent)
    return got_headers


def test_bad_json(agent):
    expect(agent, "PUT", "/v1/agent/service/register", "{not json", 400, "Request decode failed")
    expect(agent, "PUT", "/v1/agent/service/register", "[1,2]", 400, "Request decode failed")
    expect(agent, "PUT", "/v1/agent/check/register", '{"Name": "x", "TTL": 5', 400, "Request decode failed")
    expect(agent, "PUT", "/v1/catalog/register", "\x00\xff", 400, "Request decode failed")


def test_bad_values(agent):
    expect(agent, "PUT", "/v1/agent/service/register", {"Port": 80}, 400, "Missing service name")
    expect(agent, "PUT", "/v1/agent/service/register", {"Name": "x", "Port": "abc"}, 400, "Port")
    expect(agent, "PUT", "/v1/agent/service/register", {"Name": "x", "Port": 70000}, 400, "Port")
    expect(agent, "PUT", "/v1/agent/service/register", {"Name": "x", "Address": "0.0.0.0"}, 400,
           "Invalid service address")
    expect(agent, "PUT", "/v1/agent/service/register", {"Name": "x", "Check": {"GRPC": "127.0.0.1:1", "Interval": "5s"}},
           400, "Invalid check")
    expect(agent, "PUT", "/v1/agent/check/register", {"Name": "x", "TTL": "10s", "Status": "bogus"}, 400, "status")
    expect(agent, "PUT", "/v1/agent/check/register", {"Name": "x", "TTL": "ten seconds"}, 400,
           "ten seconds")
    expect(agent, "PUT", "/v1/agent/check/register", {"Name": "x"}, 400, "TTL must be > 0")
    expect(agent, "PUT", "/v1/agent/service/register", {"Name": "x", "Meta": {"consul-x": "1"}}, 400,
           "Invalid Service Meta")
    # A script check is refused unless script checks are enabled.
    expect(agent, "PUT", "/v1/agent/check/register", {"Name": "s", "Args": ["true"], "Interval": "10s"}, 400,
           "enable_script_checks")


def test_body_too_large(agent):
    big = json.dumps({"Name": "x", "Meta": {"k": "v" * (1024 * 1024 + 10)}})
    expect(agent, "PUT", "/v1/agent/service/register", big, 413, "too large")


def test_unknown_ids(agent):
    expect(agent, "PUT", "/v1/agent/service/deregister/nope", None, 404, 'Unknown service ID "nope"')
    expect(agent, "GET", "/v1/agent/check/pass/nope", None, 404, 'Unknown check ID "nope"')
    expect(agent, "PUT", "/v1/agent/check/deregister/nope", None, 404, 'Unknown check ID "nope"')
    expect(agent, "PUT", "/v1/agent/check/register", {"Name": "x", "TTL": "5s", "ServiceID": "nope"}, 404,
           'ServiceID "nope" does not exist')
    expect(agent, "GET", "/v1/agent/service/nope", None, 404, "unknown service ID")
    expect(agent, "GET", "/v1/nope", None, 404, "Invalid URL path")
    # A check that is not a TTL check cannot be passed by hand.
    status, _, _ = agent.put("/v1/agent/check/register",
                             {"Name": "tcp", "TCP": "127.0.0.1:1", "Interval": "10s"})
    assert status == 200
    expect(agent, "PUT", "/v1/agent/check/pass/tcp", None, 500, "does not have associated TTL")


def test_wrong_method(agent):
    headers = expect(agent, "DELETE", "/v1/agent/services", None, 405, "method DELETE not allowed")
    assert headers.get("Allow") == "OPTIONS,GET", headers
    expect(agent, "GET", "/v1/agent/service/register", None, 405, "not allowed")
    expect(agent, "POST", "/v1/catalog/register", "{}", 405, "not allowed")


def test_bad_query_parameters(agent):
    expect(agent, "GET", "/v1/catalog/services?index=abc", None, 400, "Invalid index")
    expect(agent, "GET", "/v1/catalog/services?index=1&wait=forever", None, 400, "Invalid wait time")
    expect(agent, "GET", "/v1/health/service/web?passing=maybe", None, 400, "Invalid value for ?passing")
    expect(agent, "GET", "/v1/catalog/services?dc=elsewhere", None, 500, "No path to datacenter")
    expect(agent, "GET", "/v1/catalog/services?ns=team", None, 400, "Namespaces are a Consul Enterprise feature")
    expect(agent, "GET", "/v1/catalog/services?stale&consistent", None, 400, "Cannot specify ?stale with ?consistent")
    expect(agent, "GET", "/v1/agent/services?filter=Service%20%3D%3D", None, 400, "Failed to create boolean expression evaluator")
    expect(agent, "GET", "/v1/health/service/web?filter=(((", None, 400, "Failed to create boolean expression evaluator")


def test_garbage_http(agent):
    for payload in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # a TLS ClientHello
                    b"GET / HTTP/9.9\r\n\r\n", b"NOT A REQUEST\r\n\r\n", b"GET /v1/agent/self HTTP/1.1\r\nHost"):
        with socket.create_connection(("127.0.0.1", agent.http_port), timeout=5) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            try:
                while chunk := s.recv(4096):
                    reply += chunk
            except socket.timeout:
                pass
        # Each gets a 4xx and the connection closes (Consul's net/http answers 400): silence, or a
        # connection dropped without a word, is not an answer.
        assert reply.startswith(b"HTTP/1.1 4"), (payload[:20], reply[:100])
        still_serving(agent)


def run_agent_expecting_failure(args, must_mention):
    proc = subprocess.run([AGENT, "agent"] + args, capture_output=True, text=True, timeout=20)
    assert proc.returncode != 0, f"agent {args} exited 0"
    assert must_mention in proc.stderr, f"agent {args}: stderr {proc.stderr!r} does not mention {must_mention!r}"


def test_invalid_flags_and_config(_agent):
    with tempfile.TemporaryDirectory() as d:
        run_agent_expecting_failure(["-data-dir", d, "-http-port", "abc"], "http-port")
        run_agent_expecting_failure(["-data-dir", d, "-http-port", "70000"], "70000")
        run_agent_expecting_failure(["-data-dir", d, "-client", "not-an-ip"], "not-an-ip")
        run_agent_expecting_failure(["-data-dir", d, "-log-level", "loud"], "loud")
        run_agent_expecting_failure(["-data-dir", d, "-no-such-flag"], "no-such-flag")
        run_agent_expecting_failure([], "data-dir")
        bad = os.path.join(d, "bad.json")
        with open(bad, "w") as f:
            f.write('{"datacenter": 5}')
        run_agent_expecting_failure(["-data-dir", d, "-config-file", bad], "datacenter")
        with open(bad, "w") as f:
            f.write('{"datacenter": "dc1",')
        run_agent_expecting_failure(["-data-dir", d, "-config-file", bad], "bad.json")
        with open(bad, "w") as f:
            f.write('{"services": [{"name": "x", "port": "eighty"}]}')
        run_agent_expecting_failure(["-data-dir", d, "-config-file", bad], "services")
        proc = subprocess.run([AGENT, "agent", "-h"], capture_output=True, text=True, timeout=20)
        assert proc.returncode == 0, f"agent -h exited {proc.returncode}: {proc.stderr!r}"
        assert "-data-dir" in proc.stdout, proc.stdout
        # `hearsay` alone runs nothing: it prints the commands, as `consul` does.
        proc = subprocess.run([AGENT], capture_output=True, text=True, timeout=20)
        assert proc.returncode == 1 and "Usage: hearsay agent" in proc.stderr, (proc.returncode, proc.stderr)


def main():
    results = Results()
    agent = Agent(name="it-bad-input").start()
    try:
        for test in (test_bad_json, test_bad_values, test_body_too_large, test_unknown_ids, test_wrong_method,
                     test_bad_query_parameters, test_garbage_http, test_invalid_flags_and_config):
            results.run(test.__name__, test, agent)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-6000:])
        agent.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
