"""Consul's check thresholds and output caps on the real agent, against a local HTTP server
whose answer the test flips: with FailuresBeforeWarning 2 and FailuresBeforeCritical 3 the
check stays passing after one failure, turns warning only after two and critical only after
three; with SuccessBeforePassing 2 it stays critical after one success. OutputMaxSize (per
check) and check_output_max_size (the agent's, from a config file) cut long outputs; a
check's own size only lowers the agent's, as in Consul."""
import http.server
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, wait_until  # noqa: E402

BODY = b"x" * 1000


class Server:
    """Answers every GET with `code` and a 1,000-byte body; counts the answers by code."""

    def __init__(self):
        self.code = 200
        self.answered = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                with outer.lock:
                    code = outer.code if self.path == "/flaky" else 200
                    if self.path == "/flaky":
                        outer.answered[code] = outer.answered.get(code, 0) + 1
                self.send_response(code)
                self.send_header("Content-Length", str(len(BODY)))
                self.end_headers()
                self.wfile.write(BODY)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def flip(self, code):
        with self.lock:
            self.code = code
            self.answered[code] = 0

    def count(self, code):
        with self.lock:
            return self.answered.get(code, 0)


def check(agent, check_id):
    checks, _ = agent.get_json("/v1/agent/checks")
    return checks[check_id]


def status_after(agent, server, code, n):
    """The check's status while exactly `n` answers of `code` have gone out: read between two
    equal counts, so the (n+1)th result cannot have been applied yet."""
    def stable():
        before = server.count(code)
        if before != n:
            return None
        status = check(agent, "service:flaky")["Status"]
        return status if server.count(code) == n else None
    return wait_until(stable, timeout=15, interval=0.02, what=f"a status read after exactly {n} answers {code}")


def thresholds(agent, server):
    body = {"Name": "flaky", "Port": server.port, "Checks": [{
        "CheckID": "service:flaky", "HTTP": f"http://127.0.0.1:{server.port}/flaky", "Interval": "1s",
        "FailuresBeforeWarning": 2, "FailuresBeforeCritical": 3, "SuccessBeforePassing": 2}]}
    status, text, _ = agent.put("/v1/agent/service/register", body)
    assert status == 200, text
    # The first result counts at once, as in Consul.
    wait_until(lambda: check(agent, "service:flaky")["Status"] == "passing", timeout=10, what="first run passing")

    server.flip(500)
    assert status_after(agent, server, 500, 1) == "passing"
    wait_until(lambda: check(agent, "service:flaky")["Status"] == "warning", timeout=10, what="warning")
    assert server.count(500) >= 2, f"warning after {server.count(500)} failures"
    wait_until(lambda: check(agent, "service:flaky")["Status"] == "critical", timeout=10, what="critical")
    assert server.count(500) >= 3, f"critical after {server.count(500)} failures"
    assert "500 Internal Server Error" in check(agent, "service:flaky")["Output"]

    server.flip(200)
    assert status_after(agent, server, 200, 1) == "critical"
    wait_until(lambda: check(agent, "service:flaky")["Status"] == "passing", timeout=10, what="passing again")
    assert server.count(200) >= 2, f"passing after {server.count(200)} successes"
    # The definition shows them under Consul's names.
    definition = check(agent, "service:flaky")["Definition"]
    assert (definition["FailuresBeforeWarning"], definition["FailuresBeforeCritical"],
            definition["SuccessBeforePassing"]) == (2, 3, 2), definition


def output_caps(agent, server):
    url = f"http://127.0.0.1:{server.port}/big"
    for body in ({"Name": "agent-cap", "HTTP": url, "Interval": "1s"},
                 {"Name": "own-cap", "HTTP": url, "Interval": "1s", "OutputMaxSize": 64},
                 {"Name": "own-cap-above-agent", "HTTP": url, "Interval": "1s", "OutputMaxSize": 500}):
        status, text, _ = agent.put("/v1/agent/check/register", body)
        assert status == 200, text
    for check_id, cap in (("agent-cap", 100), ("own-cap", 64), ("own-cap-above-agent", 100)):
        wait_until(lambda: check(agent, check_id)["Status"] == "passing", timeout=10, what=f"{check_id} passing")
        output = check(agent, check_id)["Output"]
        assert output.startswith("HTTP GET " + url), output
        assert "\n\n... (captured " in output, (check_id, f"not cut at {cap}", len(output))
        kept, note = output.split("\n\n... (captured ", 1)
        assert check(agent, check_id)["Definition"].get("OutputMaxSize") == {"own-cap": 64, "own-cap-above-agent": 500}.get(check_id), check_id
        assert len(kept) == cap, (check_id, len(kept), output)
        assert note.startswith(f"{cap} of "), (check_id, output)
    # A negative size is refused with Consul's field name, not taken as huge.
    status, text, _ = agent.put("/v1/agent/check/register",
                                {"Name": "bad", "HTTP": url, "Interval": "1s", "OutputMaxSize": -1})
    assert status == 400 and "OutputMaxSize" in text, (status, text)


def main():
    results = Results()
    tmp = tempfile.mkdtemp(prefix="hearsay-it-thresholds-")
    config = os.path.join(tmp, "agent.hcl")
    with open(config, "w") as f:
        f.write("check_output_max_size = 100\n")
    server = Server()
    agent = Agent(name="it-thresholds", extra_args=["-config-file", config]).start()
    try:
        results.run("HTTP check: warning after 2 failures, critical after 3, passing after 2 successes",
                    thresholds, agent, server)
        results.run("OutputMaxSize and check_output_max_size cut long outputs", output_caps, agent, server)
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-4000:])
        agent.cleanup()
        server.httpd.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    results.finish()


if __name__ == "__main__":
    main()
