"""Health checks run by the real agent: HTTPS with and without certificate verification (a
self-signed server), HTTP method and headers, TCP, script exit codes, and
DeregisterCriticalServiceAfter (with the agent's minimum and reap interval shortened)."""
import http.server
import os
import ssl
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, free_port, wait_until  # noqa: E402

SEEN = {}  # by request path: the HTTPS checks of other tests keep running and must not mix in


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self._answer()

    def do_POST(self):  # noqa: N802
        SEEN.setdefault(self.path, {})["body"] = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer()

    def _answer(self):
        seen = SEEN.setdefault(self.path, {})
        seen["method"] = self.command
        seen["x-test"] = self.headers.get("X-Test")
        seen["user-agent"] = self.headers.get("User-Agent")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def start_https(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def start_http():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def status_of(agent, check_id):
    checks, _ = agent.get_json("/v1/agent/checks")
    return checks[check_id]["Status"], checks[check_id]["Output"]


def register_check(agent, body):
    status, text, _ = agent.put("/v1/agent/check/register", body)
    assert status == 200, text


def test_https(agent, https_port, _http_port):
    url = f"https://127.0.0.1:{https_port}/health"
    register_check(agent, {"Name": "tls-skip", "HTTP": url, "Interval": "1s", "TLSSkipVerify": True})
    register_check(agent, {"Name": "tls-verify", "HTTP": url, "Interval": "1s"})
    wait_until(lambda: status_of(agent, "tls-skip")[0] == "passing", timeout=10, what="https check with skip-verify")
    wait_until(lambda: "TLS handshake" in status_of(agent, "tls-verify")[1], timeout=10,
               what="https check failing verification")
    assert status_of(agent, "tls-verify")[0] == "critical"


def test_http_method_and_headers(agent, _https_port, http_port):
    register_check(agent, {"Name": "post", "HTTP": f"http://127.0.0.1:{http_port}/x", "Method": "POST",
                           "Header": {"X-Test": ["yes"]}, "Body": "ping", "Interval": "1s"})
    wait_until(lambda: status_of(agent, "post")[0] == "passing", timeout=10, what="POST check")
    seen = SEEN["/x"]
    assert seen["method"] == "POST" and seen["x-test"] == "yes" and seen["body"] == b"ping", seen
    assert seen["user-agent"] == "Consul Health Check", seen


def test_tcp_and_script(agent, _https_port, http_port):
    register_check(agent, {"Name": "tcp", "TCP": f"127.0.0.1:{http_port}", "Interval": "1s"})
    register_check(agent, {"Name": "warn", "Args": ["/bin/sh", "-c", "echo degraded; exit 1"], "Interval": "1s"})
    register_check(agent, {"Name": "hang", "Args": ["/bin/sleep", "30"], "Interval": "2s", "Timeout": "500ms"})
    wait_until(lambda: status_of(agent, "tcp")[0] == "passing", timeout=10, what="TCP check")
    wait_until(lambda: status_of(agent, "warn") == ("warning", "degraded\n"), timeout=10, what="script warning")
    wait_until(lambda: status_of(agent, "hang")[1] == "Timed out (500ms) running check", timeout=10,
               what="hanging script killed")


def test_deregister_critical_service_after(agent, _https_port, _http_port):
    status, text, _ = agent.put("/v1/agent/service/register", {
        "Name": "flaky", "Check": {"TTL": "60s", "DeregisterCriticalServiceAfter": "1s"}})
    assert status == 200, text
    services, _ = agent.get_json("/v1/agent/services")
    assert "flaky" in services
    wait_until(lambda: "flaky" not in agent.get_json("/v1/agent/services")[0], timeout=15,
               what="critical service to be deregistered")


def main():
    results = Results()
    tmp = tempfile.mkdtemp(prefix="hearsay-it-checks-")
    https = start_https(tmp)
    plain = start_http()
    agent = Agent(name="it-checks", extra_args=["-enable-script-checks", "-check-deregister-min", "1s",
                                                "-check-reap-interval", "500ms"]).start()
    try:
        for test in (test_https, test_http_method_and_headers, test_tcp_and_script,
                     test_deregister_critical_service_after):
            results.run(test.__name__, test, agent, https.server_address[1], plain.server_address[1])
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-4000:])
        agent.cleanup()
        https.shutdown()
        plain.shutdown()
        subprocess.run(["rm", "-rf", tmp], check=False)
    results.finish()


if __name__ == "__main__":
    main()
