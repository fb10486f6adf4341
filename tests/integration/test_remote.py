#!/usr/bin/env python3
"""Remote mode on loopback (issue 16): LAN agents in one gossip cluster, two of them relays, and a
remote agent (the laptop) that reaches the cluster only through a relay over TLS. Registration
through the laptop served by every LAN agent (HTTP, DNS SRV, meta filter), the laptop's mirror
answering HTTP and DNS and waking blocking queries, the remote's health through grace and kill,
failover between relays, restart from disk, a goodbye, and refusals (certificates that do not
verify, plain TCP, garbage, another node's records). The impaired-link cases are in
test_remote_netem.py."""
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, Agent, Results, free_port, skip, wait_until  # noqa: E402
from certs import make_ca, make_cert  # noqa: E402

sys.path.insert(0, "/usr/lib/python3/dist-packages")
try:
    import consul  # python3-consul
except ImportError:
    consul = None

GRACE = "3s"  # the LAN's remote grace, short for the test (default 45 s)


def dig(port, name, qtype="SRV"):
    out = subprocess.run(["dig", "+short", "+time=2", "+tries=1", "-p", str(port), "@127.0.0.1", name, qtype],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip()


def services_on(agent, name, query=""):
    status, body, _ = agent.get(f"/v1/catalog/service/{name}{query}")
    return json.loads(body) if status == 200 else []


def remote_health(agent, node):
    status, body, _ = agent.get(f"/v1/health/node/{node}")
    if status != 200:
        return None
    for c in json.loads(body):
        if c["CheckID"] == "remoteHealth":
            return c["Status"]
    return None


def remote_status(agent):
    data, _ = agent.get_json("/v1/agent/self")
    return data.get("Remote", {})


class Cluster:
    def __init__(self, d):
        self.d = d
        self.ca = make_ca(d, "ca")
        self.cert = make_cert(d, "relay", self.ca, san="IP:127.0.0.1")
        self.relay_ports = [free_port(), free_port()]
        lan_args = ["-remote-grace", GRACE, "-remote-keepalive", "500ms"]
        self.r1 = Agent("r1", extra_args=lan_args + self.relay_args(0)).start()
        join = ["-join", f"127.0.0.1:{self.r1.serf_port}"]
        self.r2 = Agent("r2", extra_args=lan_args + join + self.relay_args(1)).start()
        self.a3 = Agent("a3", extra_args=lan_args + join).start()
        self.lan = [self.r1, self.r2, self.a3]
        wait_until(lambda: all(len(a.get_json("/v1/agent/members")[0]) == 3 for a in self.lan), timeout=20,
                   what="three LAN members")
        self.token = os.path.join(d, "token")
        with open(self.token, "w") as f:
            f.write("any-token\n")
        self.laptop_dir = tempfile.mkdtemp(prefix="hearsay-it-laptop-")
        self.laptop = None

    def relay_args(self, i):
        # A reaper turn a second: the relays tell their remotes of reaped members that soon.
        return ["-relay-port", str(self.relay_ports[i]), "-relay-cert-file", self.cert[1], "-relay-key-file", self.cert[0],
                "-check-reap-interval", "1s"]

    def laptop_args(self, relays=(0,), ca=None, fingerprint=None):
        args = ["-remote-token-file", self.token, "-remote-keepalive", "500ms"]
        for i in relays:
            args += ["-remote", f"127.0.0.1:{self.relay_ports[i]}"]
        args += ["-remote-fingerprint", fingerprint] if fingerprint else ["-remote-ca-file", ca or self.ca[1]]
        return args

    def start_laptop(self, **kw):
        self.laptop = Agent("laptop", data_dir=self.laptop_dir, extra_args=self.laptop_args(**kw)).start()
        return self.laptop

    def cleanup(self, failed):
        for a in self.lan + ([self.laptop] if self.laptop else []):
            if failed:
                print(f"---- {a.name} log ----\n{a.log()[-6000:]}")
            a.cleanup()
        subprocess.run(["rm", "-rf", self.laptop_dir], check=False)


def established(laptop):
    return remote_status(laptop).get("State") == "established"


def registration_reaches_the_lan(c):
    laptop = c.start_laptop(relays=(0, 1))
    wait_until(lambda: established(laptop), timeout=10, what="the laptop's session")
    status = remote_status(laptop)
    assert status["Role"] == "remote" and status["Relay"], status
    assert consul is not None, "python3-consul is not importable under /usr/bin/python3"
    client = consul.Consul(port=laptop.http_port)
    # Debian's python-consul (0.7) has no meta argument: its own HTTP client sends the JSON.
    assert client.http.put(consul.base.CB.bool(), "/v1/agent/service/register", data=json.dumps(
        {"Name": "dev-web", "ID": "dev-web-1", "Address": "127.0.0.9", "Port": 8081, "Tags": ["local"],
         "Meta": {"version": "local"}}))
    assert client.agent.service.register("dev-api", service_id="dev-api-1", port=8082)
    for a in c.lan:
        wait_until(lambda a=a: services_on(a, "dev-web"), timeout=10, what=f"dev-web on {a.name}")
        assert "8081" in dig(a.dns_port, "dev-web.service.consul"), a.name
        wait_until(lambda a=a: services_on(a, "dev-api"), timeout=10, what=f"dev-api on {a.name}")
        filtered = services_on(a, "dev-web", "?filter=" + urllib.parse.quote('ServiceMeta.version == "local"'))
        assert [s["ServiceID"] for s in filtered] == ["dev-web-1"], filtered
        wait_until(lambda a=a: remote_health(a, "laptop") == "passing", timeout=10, what=f"remoteHealth on {a.name}")
    # The cluster acknowledged the laptop's writes.
    wait_until(lambda: remote_status(laptop).get("UnacknowledgedWrites") == "0", timeout=10, what="writes acknowledged")


def serf_health(agent, node):
    status, body, _ = agent.get(f"/v1/health/node/{node}")
    for c in json.loads(body) if status == 200 else []:
        if c["CheckID"] == "serfHealth":
            return c["Status"]
    return None


def laptop_mirror_answers(c):
    laptop = c.laptop
    # The LAN's members as its relay sees them, and their health from that view.
    wait_until(lambda: sorted(m["Name"] for m in laptop.get_json("/v1/agent/members")[0]) ==
               ["a3", "laptop", "r1", "r2"], timeout=10, what="the LAN's members on the laptop")
    wait_until(lambda: serf_health(laptop, "a3") == "passing", timeout=10, what="a3's serfHealth on the laptop")
    _, _, headers = laptop.get("/v1/catalog/service/web")
    index = headers.get("X-Consul-Index")
    c.a3.put("/v1/agent/service/register", {"Name": "web", "ID": "web-1", "Port": 9090})
    # A blocking query on the laptop wakes for a LAN change.
    t0 = time.time()
    status, body, _ = laptop.get(f"/v1/catalog/service/web?index={index}&wait=10s", timeout=20)
    assert status == 200 and json.loads(body), body
    assert time.time() - t0 < 8, "the blocking query waited for its timeout"
    wait_until(lambda: "9090" in dig(laptop.dns_port, "web.service.consul"), timeout=10, what="web by DNS on the laptop")


def member_names(agent):
    return sorted(m["Name"] for m in agent.get_json("/v1/agent/members")[0])


def member_status(agent, name):
    return next((m["Status"] for m in agent.get_json("/v1/agent/members")[0] if m["Name"] == name), None)


def reaped_member_leaves_the_laptop(c):
    # A LAN member that leaves is listed left on the laptop, and once its relays reap it (memberlist
    # forgets a member 30 s after it left) it is gone from the laptop's list as from theirs.
    laptop = c.laptop
    a4 = Agent("a4", extra_args=["-join", f"127.0.0.1:{c.r1.serf_port}"]).start()
    try:
        wait_until(lambda: "a4" in member_names(laptop), timeout=10, what="a4 on the laptop")
        assert a4.put("/v1/agent/leave")[0] == 200
        a4.proc.wait(timeout=15)
        t0 = time.time()
        wait_until(lambda: member_status(laptop, "a4") == 3, timeout=10, what="a4 left, on the laptop")
        wait_until(lambda: "a4" not in member_names(c.r1) and "a4" not in member_names(c.r2), timeout=60,
                   what="a4 reaped on the relays")
        wait_until(lambda: "a4" not in member_names(laptop), timeout=5, what="a4 gone from the laptop too")
        print(f"  a4 gone from the laptop {time.time() - t0:.1f}s after its leave")
        assert member_names(laptop) == ["a3", "laptop", "r1", "r2"], member_names(laptop)
    finally:
        a4.cleanup()


def relay_failover(c):
    laptop = c.laptop
    in_use = remote_status(laptop)["Relay"]
    relay = c.r1 if in_use == "r1" else c.r2
    other = c.r2 if relay is c.r1 else c.r1
    relay.kill9()
    t0 = time.time()
    wait_until(lambda: established(laptop) and remote_status(laptop)["Relay"] == other.name, timeout=10,
               what="the laptop on the other relay")
    print(f"  on {other.name} {time.time() - t0:.1f}s after {relay.name} was killed")
    # The LAN finds the relay failed; the laptop hears it from its new relay.
    wait_until(lambda: serf_health(laptop, relay.name) == "critical", timeout=20,
               what="the killed relay critical on the laptop")
    # Nothing lost or duplicated: exactly one dev-web on every live LAN agent.
    for a in [other, c.a3]:
        ids = [s["ServiceID"] for s in services_on(a, "dev-web") + services_on(a, "dev-api")]
        assert ids == ["dev-web-1", "dev-api-1"], (a.name, ids)
        wait_until(lambda a=a: remote_health(a, "laptop") == "passing", timeout=10, what="passing again")
    if "-join" not in relay.extra_args:  # r1 was the first: it rejoins through a3
        relay.extra_args += ["-join", f"127.0.0.1:{c.a3.serf_port}"]
    relay.start()  # back (same data dir), for the next cases
    wait_until(lambda: len([m for m in c.a3.get_json("/v1/agent/members")[0] if m["Status"] == 1]) == 3,
               timeout=20, what="the relay back in the LAN")


def laptop_crash_and_restart(c):
    c.laptop.kill9()
    # The LAN keeps its records, passing through the grace, then critical.
    time.sleep(1.5)
    assert remote_health(c.a3, "laptop") == "passing"
    assert services_on(c.a3, "dev-web")
    wait_until(lambda: remote_health(c.a3, "laptop") == "critical", timeout=15, what="critical after the grace")
    # Restarted: its registrations come back from its disk, the session too, and health passes.
    laptop = c.start_laptop(relays=(0, 1))
    assert sorted(s["ID"] for s in laptop.get_json("/v1/agent/services")[0].values()) == ["dev-api-1", "dev-web-1"]
    wait_until(lambda: established(laptop), timeout=10, what="the session after the restart")
    wait_until(lambda: remote_health(c.a3, "laptop") == "passing", timeout=10, what="passing after the restart")
    # Its mirror came back from disk as well (web is there before any sync could matter).
    assert services_on(laptop, "web")


def another_nodes_records_refused(c):
    laptop = c.laptop
    before = c.r1.metric("hearsay.relay.refused.not_allowed") + c.r2.metric("hearsay.relay.refused.not_allowed")
    status, body, _ = laptop.put("/v1/catalog/register", {"Node": "payments-db", "Address": "10.0.0.1"})
    assert status == 200, body  # the laptop takes it locally...
    wait_until(lambda: c.r1.metric("hearsay.relay.refused.not_allowed") + c.r2.metric("hearsay.relay.refused.not_allowed")
               > before, timeout=10, what="the relay to refuse it")
    time.sleep(1)
    seen = c.a3.get("/v1/catalog/node/payments-db")
    assert seen[0] == 404 or json.loads(seen[1]) is None, seen  # ...and the cluster never sees it
    assert established(laptop), remote_status(laptop)  # the session stays


def bad_peers_refused(c):
    relay = c.r1
    port = c.relay_ports[0]
    failures = relay.metric("hearsay.relay.tls_handshake_failures")
    # Plain TCP: the TLS layer refuses it.
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        s.settimeout(5)
        try:
            while s.recv(4096):
                pass
        except (ConnectionResetError, socket.timeout):
            pass
    wait_until(lambda: relay.metric("hearsay.relay.tls_handshake_failures") > failures, timeout=10,
               what="the plain connection counted")
    # TLS, then garbage: the session closes with a counted frame error.
    errors = sum(relay.metric(f"hearsay.relay.frame_errors.{k}") for k in ("too_large", "unknown_type", "not_msgpack", "bad_shape"))
    ctx = ssl.create_default_context(cafile=c.ca[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"\x00\x00\x00\x05\x63garbage-garbage")
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout, ssl.SSLError):
                pass
    wait_until(lambda: sum(relay.metric(f"hearsay.relay.frame_errors.{k}") for k in
                           ("too_large", "unknown_type", "not_msgpack", "bad_shape")) > errors,
               timeout=10, what="the garbage counted")


def unverifiable_relay_refused(c):
    # A laptop that trusts another CA, or pins another fingerprint, never establishes a session.
    other_ca = make_ca(c.d, "other-ca")
    for args in [dict(ca=other_ca[1]), dict(fingerprint="AB" * 32)]:
        d = tempfile.mkdtemp(prefix="hearsay-it-stranger-")
        stranger = Agent("stranger", data_dir=d, extra_args=c.laptop_args(**args)).start()
        try:
            time.sleep(2)
            status = remote_status(stranger)
            assert status["State"] != "established", status
            assert "TLS" in status["LastError"], status
            seen = c.a3.get("/v1/catalog/node/stranger")
            assert seen[0] == 404 or json.loads(seen[1]) is None, seen
        finally:
            stranger.cleanup()
            subprocess.run(["rm", "-rf", d], check=False)


ACL_CONFIG = """
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "root-secret" }
  policy "laptops" {
    rules = <<EOT
node_prefix "laptop-" { policy = "write" }
service_prefix "dev-" { policy = "write" }
EOT
  }
  token "laptop" {
    secret_id = "laptop-secret"
    policies = ["laptops"]
  }
}
"""


def tokens_are_acl_tokens(c):
    """A relay with ACLs: the remote's token is an ACL token. Unknown and missing tokens, a name
    the token may not write, and a service outside the token's prefix are refused; a reload
    that revokes the token ends the session."""
    d = tempfile.mkdtemp(prefix="hearsay-it-acl-relay-")
    acl_file = os.path.join(d, "acl.hcl")
    with open(acl_file, "w") as f:
        f.write(ACL_CONFIG)
    port = free_port()
    relay = Agent("acl-relay", extra_args=["-config-file", acl_file, "-join", f"127.0.0.1:{c.a3.serf_port}",
                                           "-relay-port", str(port), "-relay-cert-file", c.cert[1],
                                           "-relay-key-file", c.cert[0]]).launch()
    root = {"X-Consul-Token": "root-secret"}
    wait_until(lambda: relay.get("/v1/agent/self", headers=root)[0] == 200, timeout=30, what="the ACL relay")

    def refused_not_allowed():
        status, body, _ = relay.get("/v1/agent/metrics", headers=root)
        counters = json.loads(body)["Counters"] if status == 200 else []
        return sum(x["Sum"] for x in counters if x["Name"] == "hearsay.relay.refused.not_allowed")
    laptops = []

    def laptop(name, token):
        tf = os.path.join(d, f"{name}.token")
        with open(tf, "w") as f:
            f.write(token + "\n")
        a = Agent(name, extra_args=["-remote", f"127.0.0.1:{port}", "-remote-ca-file", c.ca[1],
                                    "-remote-token-file", tf, "-remote-keepalive", "500ms"]).start()
        laptops.append(a)
        return a

    try:
        for name, token, why in [("laptop-x", "wrong-secret", "ACL not found"), ("laptop-y", "", "Permission denied"),
                                 ("desktop-1", "laptop-secret", "may not write node desktop-1")]:
            a = laptop(name, token)
            wait_until(lambda a=a: why in remote_status(a).get("LastError", ""), timeout=10,
                       what=f"{name} refused ({why})")
            assert remote_status(a)["State"] != "established"
        good = laptop("laptop-ann", "laptop-secret")
        wait_until(lambda: established(good), timeout=10, what="laptop-ann's session")
        good.put("/v1/agent/service/register", {"Name": "dev-ok", "Port": 1})
        good.put("/v1/agent/service/register", {"Name": "payments", "Port": 2})
        wait_until(lambda: services_on(c.a3, "dev-ok"), timeout=10, what="dev-ok in the LAN")
        wait_until(lambda: refused_not_allowed() >= 1, timeout=10, what="payments refused")
        assert not services_on(c.a3, "payments")
        assert established(good)  # refusing an entry keeps the session
        # Revoked by a reload: the session ends at once, with the reason.
        with open(acl_file, "w") as f:
            f.write(ACL_CONFIG.replace('secret_id = "laptop-secret"', 'secret_id = "rotated-secret"'))
        assert relay.put("/v1/agent/reload", headers=root)[0] == 200
        wait_until(lambda: not established(good), timeout=5, what="the revoked session closed")
        wait_until(lambda: "ACL not found" in remote_status(good).get("LastError", ""), timeout=10,
                   what="the revocation's reason on the laptop")
    finally:
        for a in laptops + [relay]:
            a.cleanup()
        subprocess.run(["rm", "-rf", d], check=False)


def goodbye_removes_at_once(c):
    laptop = c.laptop
    assert laptop.put("/v1/agent/leave")[0] == 200
    laptop.proc.wait(timeout=15)
    for a in [c.r1, c.r2, c.a3]:
        wait_until(lambda a=a: not services_on(a, "dev-web"), timeout=5, what=f"dev-web gone from {a.name}")
        seen = a.get("/v1/catalog/node/laptop")
        assert seen[0] == 404 or json.loads(seen[1]) is None, seen


def main():
    results = Results()
    if not os.path.exists(AGENT):
        results.run("agent binary exists", lambda: (_ for _ in ()).throw(AssertionError(AGENT)))
        results.finish()
    try:
        subprocess.run(["openssl", "version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        skip("the openssl CLI is needed to make the test certificates")
    d = tempfile.mkdtemp(prefix="hearsay-it-remote-")
    c = Cluster(d)
    try:
        results.run("a registration through the laptop reaches every LAN agent (HTTP, SRV, meta filter)",
                    registration_reaches_the_lan, c)
        results.run("the laptop's mirror answers HTTP and DNS and wakes blocking queries", laptop_mirror_answers, c)
        results.run("a LAN member that left and was reaped by the relays is gone from the laptop's members too",
                    reaped_member_leaves_the_laptop, c)
        results.run("the relay in use is killed: the laptop is on the other within 10 s, nothing lost",
                    relay_failover, c)
        results.run("the laptop crashes: passing through the grace, then critical; its restart brings all back",
                    laptop_crash_and_restart, c)
        results.run("a remote writing another node's records is refused and counted", another_nodes_records_refused, c)
        results.run("plain TCP and garbage frames are refused and counted", bad_peers_refused, c)
        results.run("a relay certificate that does not verify: no session", unverifiable_relay_refused, c)
        results.run("tokens are ACL tokens: unknown, missing, wrong node and wrong service refused; revoked by reload",
                    tokens_are_acl_tokens, c)
        results.run("the laptop's leave removes its records at once", goodbye_removes_at_once, c)
    finally:
        c.cleanup(results.failed > 0)
        subprocess.run(["rm", "-rf", d], check=False)
    results.finish()


if __name__ == "__main__":
    main()
