"""The HTTP API over TLS (issue 18): a test CA, a server and a client certificate made with the
openssl CLI at test time; python-consul (scheme="https", verify=CA) registers and reads over
HTTPS; a client trusting another CA is refused; plain HTTP on the HTTPS port is refused and
counted; with verify_incoming (legacy top-level keys), a client without a certificate is refused
and one with a certificate the CA signed is served; the CLI speaks HTTPS (CONSUL_HTTP_ADDR=https://,
CONSUL_CACERT, -ca-file, -client-cert/-client-key); -dev generates a certificate and logs its
fingerprint; a config reload with new certificate files serves new connections the new
certificate while an established keep-alive connection goes on, and a bad certificate file
refuses the reload and keeps the old certificate."""
import hashlib
import http.client
import shutil
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile

import consul
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, Results, free_port, running_agent, skip, wait_until  # noqa: E402
from certs import make_ca, make_cert  # noqa: E402


def write_config(d, name, config):
    path = os.path.join(d, name)
    with open(path, "w") as f:
        json.dump(config, f)
    return path


def cli(agent_env, *args):
    env = dict(os.environ)
    for k in [k for k in env if k.startswith("CONSUL_")]:
        del env[k]
    env.update(agent_env)
    return subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=30, env=env)


def check_python_consul(agent, port, ca):
    c = consul.Consul(host="127.0.0.1", port=port, scheme="https", verify=ca)
    assert c.agent.service.register("web", service_id="web-tls", port=8080, tags=["tls"])
    _, nodes = c.catalog.service("web")
    assert [n["ServiceID"] for n in nodes] == ["web-tls"], nodes
    assert nodes[0]["ServiceTags"] == ["tls"], nodes
    # The plain HTTP port serves the same catalog.
    data, _ = agent.get_json("/v1/catalog/service/web")
    assert [n["ServiceID"] for n in data] == ["web-tls"], data
    assert agent.metric("hearsay.https.tls_handshakes") >= 1  # python-consul keeps its connection


def check_wrong_ca_refused(port, wrong_ca):
    c = consul.Consul(host="127.0.0.1", port=port, scheme="https", verify=wrong_ca)
    try:
        c.agent.services()
    except requests.exceptions.SSLError as e:
        assert "certificate verify failed" in str(e), e
        return
    raise AssertionError("a client trusting another CA was served")


def check_plain_http_refused(agent, port):
    before = agent.metric("hearsay.https.tls_handshake_failures")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
    assert b"HTTP/1.1 200" not in got, got
    wait_until(lambda: agent.metric("hearsay.https.tls_handshake_failures") == before + 1, timeout=10,
               what="the plain-text client counted as a failed handshake")
    assert "plain text, not TLS" in agent.log()


def check_cli(port, ca, wrong_ca, node):
    env = {"CONSUL_HTTP_ADDR": f"https://127.0.0.1:{port}", "CONSUL_CACERT": ca}
    r = cli(env, "members")
    assert r.returncode == 0, r.stderr
    assert node in r.stdout and "alive" in r.stdout, r.stdout
    r = cli({"CONSUL_HTTP_ADDR": f"https://127.0.0.1:{port}"}, "catalog", "services", "-ca-file", ca)
    assert r.returncode == 0 and "web" in r.stdout, (r.stdout, r.stderr)
    r = cli(env, "members", f"-ca-file={wrong_ca}")
    assert r.returncode != 0, r.stdout
    assert "TLS handshake" in r.stderr, r.stderr


def check_verify_incoming(d, ca, wrong_ca, client, stranger):
    server = make_cert(d, "server2", ca, "DNS:localhost,IP:127.0.0.1")
    https = free_port()
    # Consul's legacy top-level keys.
    config = write_config(d, "legacy.json", {"ports": {"https": https}, "ca_file": ca[1], "cert_file": server[1],
                                              "key_file": server[0], "verify_incoming": True})
    with running_agent(name="tls2", extra_args=["-config-file", config]) as agent:
        try:
            consul.Consul(host="127.0.0.1", port=https, scheme="https", verify=ca[1]).agent.services()
            raise AssertionError("served a client without a certificate")
        except (requests.exceptions.SSLError, requests.exceptions.ConnectionError):
            pass
        wait_until(lambda: agent.metric("hearsay.https.tls_handshake_failures") >= 1, timeout=10,
                   what="the refusal counted")
        assert "client certif" in agent.log(), "the log names the missing client certificate"
        try:
            consul.Consul(host="127.0.0.1", port=https, scheme="https", verify=ca[1],
                          cert=(stranger[1], stranger[0])).agent.services()
            raise AssertionError("served a client whose certificate another CA signed")
        except (requests.exceptions.SSLError, requests.exceptions.ConnectionError):
            pass
        c = consul.Consul(host="127.0.0.1", port=https, scheme="https", verify=ca[1], cert=(client[1], client[0]))
        assert c.agent.service.register("api", service_id="api1", port=9000)
        assert "api1" in c.agent.services()
        env = {"CONSUL_HTTP_ADDR": f"https://localhost:{https}", "CONSUL_CACERT": ca[1]}
        r = cli(env, "catalog", "services")
        assert r.returncode != 0, "the CLI without a client certificate was served"
        r = cli(env, "catalog", "services", "-client-cert", client[1], "-client-key", client[0])
        assert r.returncode == 0 and "api" in r.stdout, (r.stdout, r.stderr)


def check_dev_certificate():
    https = free_port()
    with running_agent(name="tlsdev", extra_args=["-dev", "-https-port", str(https)]) as agent:
        m = re.search(r"HTTPS certificate \(generated, -dev\): SHA-256 fingerprint ([0-9A-F:]{95})", agent.log())
        assert m, agent.log()[-2000:]
        pem = ssl.get_server_certificate(("127.0.0.1", https))
        der = ssl.PEM_cert_to_DER_cert(pem)
        seen = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        assert seen == m.group(1), (seen, m.group(1))


def served_certificate(port, ca):
    """The CN of the certificate a new HTTPS connection is served."""
    ctx = ssl.create_default_context(cafile=ca)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]


def check_certificate_reload(d, ca):
    first = make_cert(d, "server-first", ca, "DNS:localhost,IP:127.0.0.1")
    second = make_cert(d, "server-second", ca, "DNS:localhost,IP:127.0.0.1")
    live_crt, live_key = os.path.join(d, "live.pem"), os.path.join(d, "live.key")
    shutil.copy(first[1], live_crt)
    shutil.copy(first[0], live_key)
    https = free_port()
    config = write_config(d, "reload.json", {"ports": {"https": https}, "tls": {"defaults": {
        "ca_file": ca[1], "cert_file": live_crt, "key_file": live_key}}})
    with running_agent(name="tls-reload", extra_args=["-config-file", config]) as agent:
        wait_until(lambda: f"https={https}" in agent.log(), timeout=10, what="the HTTPS listener")
        assert served_certificate(https, ca[1]) == "server-first"
        # A keep-alive connection made before the reload.
        kept = http.client.HTTPSConnection("localhost", https, timeout=10,
                                           context=ssl.create_default_context(cafile=ca[1]))
        kept.request("GET", "/v1/agent/self")
        assert kept.getresponse().read() and kept.sock.getpeercert()["subject"][0][0][1] == "server-first"

        # Rotated in place: the same paths, a new certificate; the reload comes over plain HTTP.
        shutil.copy(second[1], live_crt)
        shutil.copy(second[0], live_key)
        status, body, _ = agent.put("/v1/agent/reload")
        assert status == 200, body
        assert served_certificate(https, ca[1]) == "server-second"
        kept.request("GET", "/v1/agent/self")
        response = kept.getresponse()
        assert response.status == 200 and response.read(), "the established connection was dropped"
        assert kept.sock.getpeercert()["subject"][0][0][1] == "server-first"

        # A broken certificate file: the reload is refused, naming it, and the last good one stays.
        with open(live_crt, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
        status, body, _ = agent.put("/v1/agent/reload")
        assert status == 400 and "Reload refused" in body and "live.pem" in body, (status, body)
        assert "reload refused, the running config and HTTPS certificate are kept" in agent.log()
        assert served_certificate(https, ca[1]) == "server-second"
        kept.request("GET", "/v1/agent/self")
        assert kept.getresponse().status == 200
        kept.close()
        # Fixed again: the reload is taken.
        shutil.copy(first[1], live_crt)
        shutil.copy(first[0], live_key)
        status, body, _ = agent.put("/v1/agent/reload")
        assert status == 200, body
        assert served_certificate(https, ca[1]) == "server-first"
        # ports.https taken out of the file: not a certificate error; the listener stays until
        # the restart, which the log asks for.
        write_config(d, "reload.json", {"tls": {"defaults": {"ca_file": ca[1]}}})
        status, body, _ = agent.put("/v1/agent/reload")
        assert status == 200, body
        assert "reload: ports changed; it takes effect at the next start" in agent.log()
        assert served_certificate(https, ca[1]) == "server-first"


def check_bad_config_refused(d):
    config = write_config(d, "nocert.json", {"ports": {"https": free_port()}})
    r = subprocess.run([AGENT, "-data-dir", tempfile.mkdtemp(prefix="hearsay-it-tlsbad-"), "-config-file", config,
                        "-http-port", str(free_port()), "-dns-port", "-1", "-serf-lan-port", str(free_port()),
                        "-bind", "127.0.0.1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "cert_file" in r.stderr, r.stderr


def main():
    try:
        subprocess.run(["openssl", "version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        skip("the openssl CLI is needed to make the test certificates")
    results = Results()
    with tempfile.TemporaryDirectory(prefix="hearsay-it-tls-") as d:
        ca = make_ca(d, "ca")
        wrong_ca = make_ca(d, "other-ca")
        server = make_cert(d, "server", ca, "DNS:localhost,IP:127.0.0.1")
        client = make_cert(d, "client", ca)
        stranger = make_cert(d, "stranger", wrong_ca)
        https = free_port()
        config = write_config(d, "tls.json", {"ports": {"https": https}, "tls": {"defaults": {
            "ca_file": ca[1], "cert_file": server[1], "key_file": server[0]}}})
        with running_agent(name="tls1", extra_args=["-config-file", config]) as agent:
            wait_until(lambda: f"https={https}" in agent.log(), timeout=10, what="the HTTPS listener")
            results.run("python-consul registers and reads over HTTPS", check_python_consul, agent, https, ca[1])
            results.run("a client trusting another CA is refused", check_wrong_ca_refused, https, wrong_ca[1])
            results.run("plain HTTP on the HTTPS port is refused and counted", check_plain_http_refused, agent, https)
            results.run("the CLI speaks HTTPS", check_cli, https, ca[1], wrong_ca[1], "tls1")
        results.run("verify_incoming requires a client certificate", check_verify_incoming, d, ca, wrong_ca, client,
                    stranger)
        results.run("-dev generates a certificate and logs its fingerprint", check_dev_certificate)
        results.run("ports.https without a certificate stops the start", check_bad_config_refused, d)
        results.run("a reload takes new certificate files and refuses a bad one", check_certificate_reload, d, ca)
    results.finish()


if __name__ == "__main__":
    main()
