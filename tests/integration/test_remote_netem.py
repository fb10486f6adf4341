#!/usr/bin/env python3
"""Remote mode across an impaired link (issue 16, tests/netem): three LAN agents (two of them
relays) in one network namespace, the laptop in another, joined by the link emulator.
- 100 ms RTT, 1 % loss: python-consul registers on the laptop; every LAN agent serves it (HTTP,
  DNS SRV, meta filter); the laptop resolves a LAN service with dig against its own DNS; a
  blocking query on the laptop wakes for a LAN change.
- the link cut for 70 s (the grace plus the relay's three silent keepalives, and some): the laptop answers from its mirror and says it is stale
  (X-Consul-KnownLeader false, a growing X-Consul-LastContact); the LAN keeps the laptop passing
  through the 45 s grace and turns it critical after, not before; the session is back within
  2 s of the restore and a registration made during the cut reaches the LAN.
- 30 % loss, 300 ms RTT for 60 s: no LAN member is ever declared failed, at most one session
  lost, every registration committed cluster-wide within 10 s; then 1,000 LAN instances in the
  laptop's mirror within 30 s of a resume over the same link. A stock serf agent on the laptop
  side, joined to the same LAN across the same link (what people do today), is run in the same
  minute: its flaps and the LAN's failure events are counted and printed beside ours.
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import netem  # noqa: E402
from harness import AGENT, Results, free_port, wait_until  # noqa: E402
from certs import make_ca, make_cert  # noqa: E402


# The agents' defaults (README "Remote mode"): keepalive, and the grace before a remote no relay
# holds turns critical. The relay gives a session up after three silent keepalives.
KEEPALIVE_S = 5
GRACE_S = 45


class NsAgent:
    """An agent inside a namespace, reached with curl and dig run in that namespace."""

    def __init__(self, ns, name, ip, extra):
        self.ns, self.name, self.ip = ns, name, ip
        self.dir = tempfile.mkdtemp(prefix=f"hearsay-it-{name}-")
        self.http, self.dns, self.serf = free_port(), free_port(), free_port()
        self.extra = extra
        self.log_path = os.path.join(self.dir, "agent.log")

    def start(self):
        args = [AGENT, "agent", "-node", self.name, "-data-dir", self.dir, "-client", "127.0.0.1", "-bind", self.ip,
                "-advertise", self.ip, "-http-port", str(self.http), "-dns-port", str(self.dns),
                "-serf-lan-port", str(self.serf), "-log-level", "debug"] + self.extra
        log = open(self.log_path, "ab")
        self.proc = self.ns.popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(lambda: self.get("/v1/agent/self")[0] == 200, timeout=30, what=f"{self.name} to answer")
        return self

    def request(self, method, path, body=None, timeout=15):
        args = ["curl", "-s", "-i", "-m", str(timeout), "-X", method, f"http://127.0.0.1:{self.http}{path}"]
        if body is not None:
            args += ["--data-binary", json.dumps(body)]
        out = self.ns.run(args, timeout=timeout + 5).stdout
        if not out:
            return 0, "", {}
        head, _, text = out.replace("\r\n", "\n").partition("\n\n")
        lines = head.split("\n")
        status = int(lines[0].split()[1])
        headers = {k.strip(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        return status, text, headers

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def put(self, path, body=None):
        return self.request("PUT", path, body)

    def json(self, path):
        status, text, _ = self.get(path)
        return json.loads(text) if status == 200 and text else None

    def dig(self, name, qtype="SRV"):
        return self.ns.run(["dig", "+short", "+time=2", "+tries=1", "-p", str(self.dns), "@127.0.0.1", name, qtype]).stdout

    def metric(self, name):
        data = self.json("/v1/agent/metrics") or {"Gauges": [], "Counters": []}
        for g in data["Gauges"]:
            if g["Name"] == name:
                return g["Value"]
        for c in data["Counters"]:
            if c["Name"] == name:
                return c["Sum"]
        return 0

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


def services(agent, name, query=""):
    return agent.json(f"/v1/catalog/service/{name}{query}") or []


def remote_health(agent, node):
    for c in agent.json(f"/v1/health/node/{node}") or []:
        if c["CheckID"] == "remoteHealth":
            return c["Status"]
    return None


def status(laptop):
    return (laptop.json("/v1/agent/self") or {}).get("Remote", {})


class Setup:
    def __init__(self, link, d):
        self.link = link
        ca = make_ca(d, "ca")
        relay_ips = ["10.213.1.10", "10.213.1.11"]
        cert = make_cert(d, "relay", ca, san="IP:10.213.1.10,IP:10.213.1.11")
        for ip in relay_ips + ["10.213.1.12"]:
            link.lan.add_address(ip)
        self.relay_port = free_port()
        relay = ["-relay-port", str(self.relay_port), "-relay-cert-file", cert[1], "-relay-key-file", cert[0]]
        self.r1 = NsAgent(link.lan, "r1", relay_ips[0], relay).start()
        join = ["-join", f"{relay_ips[0]}:{self.r1.serf}"]
        self.r2 = NsAgent(link.lan, "r2", relay_ips[1], relay + join).start()
        self.a3 = NsAgent(link.lan, "a3", "10.213.1.12", join).start()
        self.lan = [self.r1, self.r2, self.a3]
        token = os.path.join(d, "token")
        with open(token, "w") as f:
            f.write("t\n")
        self.laptop = NsAgent(link.wan, "laptop", link.wan.ip, [
            "-remote", f"{relay_ips[0]}:{self.relay_port}", "-remote", f"{relay_ips[1]}:{self.relay_port}",
            "-remote-ca-file", ca[1], "-remote-token-file", token]).start()
        self.agents = self.lan + [self.laptop]

    def failures_seen(self):
        """Each 'member X failed' line in the LAN agents' logs: (member, when, seconds since the epoch)."""
        out = []
        for a in self.lan:
            for m in re.finditer(r"^(\S+) \[info\] member (\S+) failed", a.log(), re.M):
                out.append((m.group(2), datetime.datetime.fromisoformat(m.group(1)).timestamp()))
        return out


def serf_marked_failed(text):
    """(member, when) of each member a serf agent's log says it marked failed itself (its log has
    local time to the second)."""
    return [(m.group(2), datetime.datetime.strptime(m.group(1), "%Y/%m/%d %H:%M:%S").timestamp())
            for m in re.finditer(r"(\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) \[INFO\] memberlist: Marking (\S+) as failed",
                                 text)]


def registered_through_impaired_link(s):
    s.link.reset()
    s.link.set(rtt_ms=100, loss=0.01)
    wait_until(lambda: status(s.laptop).get("State") == "established", timeout=20, what="the session")
    code = ("import json, consul; c = consul.Consul(port=%d); "
            "assert c.agent.service.register('dev-api', service_id='dev-api-1', port=8082); "
            "assert c.http.put(consul.base.CB.bool(), '/v1/agent/service/register', data=json.dumps("
            "{'Name': 'dev-web', 'ID': 'dev-web-1', 'Port': 8081, 'Meta': {'version': 'local'}}))" % s.laptop.http)
    out = s.link.wan.run(["/usr/bin/python3", "-c", code])
    assert out.returncode == 0, out.stderr
    t0 = time.time()
    for a in s.lan:
        wait_until(lambda a=a: services(a, "dev-web") and services(a, "dev-api"), timeout=10, what=f"on {a.name}")
    print(f"  served by all three LAN agents {time.time() - t0:.2f}s after the registration")
    for a in s.lan:
        assert "8081" in a.dig("dev-web.service.consul"), a.name
        q = "?filter=" + urllib.parse.quote('ServiceMeta.version == "local"')
        assert [x["ServiceID"] for x in services(a, "dev-web", q)] == ["dev-web-1"]
    # The laptop resolves LAN services from its own DNS, and a blocking query wakes for a change.
    _, _, headers = s.laptop.get("/v1/catalog/service/web")
    index = headers.get("X-Consul-Index", "1")
    waiter = s.link.wan.popen(["curl", "-s", "-m", "20", f"http://127.0.0.1:{s.laptop.http}/v1/catalog/service/web"
                                                          f"?index={index}&wait=15s"], stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    t0 = time.time()
    assert s.a3.put("/v1/agent/service/register", {"Name": "web", "ID": "web-1", "Port": 9090})[0] == 200
    body, _ = waiter.communicate(timeout=20)
    assert json.loads(body), body
    print(f"  the laptop's blocking query woke {time.time() - t0:.2f}s after the LAN change")
    wait_until(lambda: "9090" in s.laptop.dig("web.service.consul"), timeout=10, what="web on the laptop's DNS")


def cut_for_a_minute(s):
    s.link.reset()
    s.link.set(cut=True)
    t_cut = time.time()
    # While cut: the laptop's reads go on, marked stale (after two silent keepalives).
    time.sleep(2 * KEEPALIVE_S + 1.5)
    code, body, headers = s.laptop.get("/v1/catalog/service/web")
    assert code == 200 and json.loads(body), body
    assert headers.get("X-Consul-KnownLeader") == "false", headers
    first = int(headers.get("X-Consul-LastContact", "0"))
    assert first >= 2000, headers
    assert "9090" in s.laptop.dig("web.service.consul")
    assert status(s.laptop)["State"] != "established"
    # A registration during the cut, committed locally.
    assert s.laptop.put("/v1/agent/service/register", {"Name": "dev-cut", "ID": "dev-cut-1", "Port": 8083})[0] == 200
    time.sleep(2)
    later = int(s.laptop.get("/v1/catalog/service/web")[2].get("X-Consul-LastContact", "0"))
    assert later > first, (first, later)
    # The LAN: passing through the grace (45 s from the session's end, which the relay sees
    # three silent keepalives into the cut), critical after it.
    wait_until(lambda: time.time() - t_cut >= GRACE_S - 5, timeout=60, interval=0.5)
    assert all(remote_health(a, "laptop") == "passing" for a in s.lan), [remote_health(a, "laptop") for a in s.lan]
    wait_until(lambda: all(remote_health(a, "laptop") == "critical" for a in s.lan),
               timeout=3 * KEEPALIVE_S + 5 + 5, what="critical after the grace")
    print(f"  critical {time.time() - t_cut:.1f}s into the cut")
    wait_until(lambda: time.time() - t_cut >= GRACE_S + 3 * KEEPALIVE_S + 10, timeout=30, interval=0.5)
    s.link.set(cut=False)
    t_back = time.time()
    wait_until(lambda: status(s.laptop).get("State") == "established", timeout=10, interval=0.05, what="the session back")
    back = time.time() - t_back
    print(f"  session back {back:.2f}s after the link returned")
    assert back <= 2.5, back  # 2 s, plus the curl across the namespace
    for a in s.lan:
        wait_until(lambda a=a: services(a, "dev-cut"), timeout=10, what=f"dev-cut on {a.name}")
        wait_until(lambda a=a: remote_health(a, "laptop") == "passing", timeout=10, what="passing again")


def bulk_register(agent, name, count):
    """`count` instances of `name` on `agent`, over one keep-alive HTTP connection from a Python
    process inside the agent's namespace (a curl a registration would take a minute)."""
    code = ("import http.client, json\n"
            f"c = http.client.HTTPConnection('127.0.0.1', {agent.http}, timeout=30)\n"
            f"for i in range(1, {count + 1}):\n"
            f"    body = json.dumps({{'Name': '{name}', 'ID': '{name}-%d' % i, 'Port': 20000 + i}})\n"
            "    c.request('PUT', '/v1/agent/service/register', body)\n"
            "    r = c.getresponse()\n"
            "    r.read()\n"
            "    assert r.status == 200, r.status\n")
    out = agent.ns.run(["/usr/bin/python3", "-c", code], timeout=120)
    assert out.returncode == 0, out.stderr


def sessions_lost(laptop, since):
    """The laptop's "session lost" log lines from byte `since` of its log: why each session ended."""
    return re.findall(r"remote: session lost: (.*)", laptop.log()[since:])


def thirty_percent_loss(s):
    """Issue 16, done-means 6. For 60 s at 30 % loss each way and 300 ms RTT: a registration on
    the laptop every 5 s, each timed until every LAN agent serves it; no LAN member ever declared
    failed; at most one session lost (each loss is a true end of a session, counted from the
    laptop's Sessions; the reasons are printed). Then the mirror across a resume: the link cut
    until the session ends, 1,000 instances registered in the LAN meanwhile, the link back at
    30 % loss, and the laptop's mirror holding all of them within 30 s of the session's return.
    A stock serf agent on the laptop side is run through the same 60 s beside us."""
    s.link.reset()
    serf_rpc = free_port()
    serf_log = os.path.join(s.laptop.dir, "serf.log")
    lf = open(serf_log, "wb")
    serf = s.link.wan.popen(["serf", "agent", "-node", "serf-laptop", "-bind", f"{s.link.wan.ip}:{free_port()}",
                             "-rpc-addr", f"127.0.0.1:{serf_rpc}", "-join", f"{s.r1.ip}:{s.r1.serf}"],
                            stdout=lf, stderr=subprocess.STDOUT)
    lf.close()
    wait_until(lambda: any(m["Name"] == "serf-laptop" for m in s.a3.json("/v1/agent/members") or []), timeout=20,
               what="the serf agent in the LAN")
    wait_until(lambda: status(s.laptop).get("State") == "established", timeout=20, what="the session")
    sessions_before = int(status(s.laptop).get("Sessions", "0"))
    log_mark = len(s.laptop.log())
    s.link.set(rtt_ms=300, loss=0.30)
    t0 = time.time()
    t_case = t0 - 1  # the log's clock and ours agree to well within this
    lags = []
    i = 0
    while time.time() - t0 < 60:
        i += 1
        t_reg = time.time()
        assert s.laptop.put("/v1/agent/service/register", {"Name": f"dev-l{i}", "Port": 9000 + i})[0] == 200
        wait_until(lambda: all(services(a, f"dev-l{i}") for a in s.lan), timeout=60, interval=0.2,
                   what=f"dev-l{i} cluster-wide")
        lags.append(time.time() - t_reg)
        time.sleep(max(0.0, 5 - (time.time() - t_reg)))
    drops = int(status(s.laptop).get("Sessions", "0")) - sessions_before
    reasons = sessions_lost(s.laptop, log_mark)
    serf.terminate()  # its figures are those of the 60 s; the cut below is ours
    serf_log_text = open(serf_log, errors="replace").read()
    serf_suspects = len(re.findall(r"Marking (r1|r2|a3) as failed|Suspect (r1|r2|a3)", serf_log_text))
    # A LAN member's failure in the LAN is the stock serf agent's doing when serf itself marked that
    # member failed (and gossiped it) just before: seen once in nine runs, r2 "failed" on r1 and a3
    # 0.85 s after serf-laptop's "Marking r2 as failed", and back 1 ms later. Counted as serf's.
    by_serf = serf_marked_failed(serf_log_text)
    lan_names = {a.name for a in s.lan}

    def lan_failures(events):
        ours, serfs = [], []
        for name, t in events:
            if name not in lan_names:
                continue
            caused = any(n == name and t - 3 <= ts <= t + 1 for n, ts in by_serf)
            (serfs if caused else ours).append(name)
        return ours, serfs

    t_minute = time.time()
    events = [(name, t) for name, t in s.failures_seen() if t >= t_case]
    ours, lan_by_serf = lan_failures(events)
    serf_flaps = sum(1 for name, _ in events if name == "serf-laptop")
    lags.sort()
    print(f"  hearsay remote: {len(lags)} registrations, committed cluster-wide in p50 {lags[len(lags) // 2]:.2f}s, "
          f"slowest {lags[-1]:.2f}s; sessions lost and re-established {drops} {reasons}; LAN failure events {len(ours)}")
    print(f"  stock serf across the same link: its failures seen by the LAN {serf_flaps}, LAN members it "
          f"suspected or failed {serf_suspects}, LAN failure events its verdicts caused {len(lan_by_serf)}")

    # The mirror across a resume.
    s.link.set(cut=True)
    t_reg = time.time()
    bulk_register(s.a3, "lan-bulk", 1000)
    registered = time.time() - t_reg
    wait_until(lambda: status(s.laptop).get("State") in ("waiting", "connecting"), timeout=30, interval=0.2,
               what="the session to end in the cut")
    sessions_cut = int(status(s.laptop).get("Sessions", "0"))
    s.link.set(cut=False)  # back to 30 % loss and 300 ms RTT
    t_back = time.time()
    wait_until(lambda: int(status(s.laptop).get("Sessions", "0")) > sessions_cut, timeout=60, interval=0.2,
               what="the session back over the lossy link")
    t_resume = time.time()
    wait_until(lambda: len(services(s.laptop, "lan-bulk")) == 1000, timeout=120, interval=0.5,
               what="1,000 LAN instances in the laptop's mirror")
    mirror = time.time() - t_resume
    s.link.set(rtt_ms=0, loss=0)
    ours += lan_failures([(name, t) for name, t in s.failures_seen() if t > t_minute])[0]
    print(f"  mirror: 1,000 LAN instances registered in {registered:.1f}s during a cut; session back "
          f"{t_resume - t_back:.1f}s after the link (30 % loss) returned; all 1,000 in the laptop's mirror "
          f"{mirror:.1f}s after the resume")
    assert not ours, ours  # the laptop's link never makes the LAN detect a failure
    assert drops <= 1, (drops, reasons)
    assert lags[-1] <= 10, lags
    assert mirror <= 30, mirror


def main():
    netem.require()
    results = Results()
    d = tempfile.mkdtemp(prefix="hearsay-it-remote-netem-")
    with netem.Link(seed=16) as link:
        s = Setup(link, d)
        only = os.environ.get("HEARSAY_ONLY", "")  # a case's function name, when debugging one
        try:
            if only:
                results.run(only, globals()[only], s)
                raise SystemExit(results.finish())
            results.run("100 ms RTT, 1 % loss: a laptop's registration served by the LAN; the laptop's mirror answers",
                        registered_through_impaired_link, s)
            results.run("the link cut for 70 s: stale answers, critical after the grace only, back within 2 s",
                        cut_for_a_minute, s)
            results.run("30 % loss, 300 ms RTT for 60 s: no LAN failure, at most one session lost, writes cluster-wide "
                        "within 10 s, 1,000 instances mirrored within 30 s of a resume; beside serf's flaps",
                        thirty_percent_loss, s)
        finally:
            if results.failed:
                for a in s.agents:
                    print(f"---- {a.name} log ----\n{a.log()[-5000:]}")
    subprocess.run(["rm", "-rf", d] + [a.dir for a in s.agents], check=False)
    results.finish()


if __name__ == "__main__":
    main()
