"""The DNS interface of the real agent, asked by the real clients users have: dig (BIND 9.18,
sends EDNS) and kdig (Knot 3.2, no EDNS by default). Every name form, record type and rcode of
consul-compat.md section 3, truncation with and without EDNS, TCP, health changes, recursors,
and malformed packets (the agent must keep answering)."""
import json
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, free_port, wait_until  # noqa: E402


class Reply:
    """dig/kdig text output, parsed: status, flags and the three record sections."""

    def __init__(self, text):
        self.text = text
        m = re.search(r"status: (\w+)", text)
        self.status = m.group(1) if m else None
        m = re.search(r";; [Ff]lags: ([a-z ]*);", text)
        self.flags = set(m.group(1).split()) if m else set()
        self.sections = {"ANSWER": [], "AUTHORITY": [], "ADDITIONAL": []}
        current = None
        for line in text.splitlines():
            header = re.match(r";; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:", line)
            if header:
                current = header.group(1)
                continue
            if not line.strip() or line.startswith(";"):
                current = None if not line.strip() else current
                continue
            if current:
                parts = line.split(None, 4)
                if len(parts) == 5:  # owner ttl class type rdata
                    self.sections[current].append((parts[0], int(parts[1]), parts[3], parts[4].strip()))

    def records(self, section="ANSWER", rtype=None):
        return [r for r in self.sections[section] if rtype is None or r[2] == rtype]

    def data(self, rtype, section="ANSWER"):
        return sorted(r[3] for r in self.records(section, rtype))

    def __repr__(self):
        return self.text


def dig(agent, *args, tool="dig"):
    patience = ["+time=3", "+tries=1"] if tool == "dig" else ["+timeout=3", "+retry=0"]
    cmd = [tool, "@127.0.0.1", "-p", str(agent.dns_port)] + patience + list(args)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return Reply(out.stdout)


def kdig(agent, *args):
    return dig(agent, *args, tool="kdig")


def register(agent, body):
    status, text, _ = agent.put("/v1/agent/service/register", body)
    assert status == 200, text


def setup(agent):
    register(agent, {"Name": "web", "ID": "web1", "Tags": ["v1", "primary"], "Port": 8080,
                     "Weights": {"Passing": 10, "Warning": 1}})
    register(agent, {"Name": "web", "ID": "web2", "Address": "10.1.2.3", "Tags": ["v2"], "Port": 8081,
                     "Meta": {"version": "2"}})
    register(agent, {"Name": "web6", "ID": "web6", "Address": "fd00::6", "Port": 80})
    for i in range(10):
        register(agent, {"Name": "many", "ID": f"many{i}", "Address": f"10.2.0.{i + 1}", "Port": 9000 + i})
    register(agent, {"Name": "db", "ID": "db1", "Port": 5432,
                     "Check": {"CheckID": "db-ttl", "TTL": "10m", "Status": "passing"}})


# ---- name forms and record types (agent A: defaults)

def service_a(a):
    r = dig(a, "web.service.consul", "A")
    assert r.status == "NOERROR", r
    assert "aa" in r.flags and "ra" not in r.flags, r
    assert r.data("A") == ["10.1.2.3", "127.0.0.1"], r
    # Optional datacenter label, case-insensitive, answer echoes the question's case.
    r = dig(a, "WEB.service.DC1.consul", "A")
    assert r.data("A") == ["10.1.2.3", "127.0.0.1"], r
    assert r.records()[0][0] == "WEB.service.DC1.consul.", r
    assert dig(a, "web.service.dc9.consul").status == "NXDOMAIN"


def service_srv(a):
    r = dig(a, "web.service.consul", "SRV")
    assert r.data("SRV") == ["1 1 8081 0a010203.addr.dc1.consul.", "1 10 8080 node1.node.dc1.consul."], r
    assert r.data("A", "ADDITIONAL") == ["10.1.2.3", "127.0.0.1"], r
    owners = sorted(x[0] for x in r.records("ADDITIONAL", "A"))
    assert owners == ["0a010203.addr.dc1.consul.", "node1.node.dc1.consul."], r
    # The node's meta comes along as RFC 1464 TXT for its target.
    assert '"rack=r1"' in r.data("TXT", "ADDITIONAL"), r


def tags_and_rfc2782(a):
    assert dig(a, "primary.web.service.consul").data("A") == ["127.0.0.1"]
    assert dig(a, "v2.web.service.consul").data("A") == ["10.1.2.3"]
    assert dig(a, "v9.web.service.consul").status == "NXDOMAIN"
    assert len(dig(a, "_web._tcp.service.consul", "SRV").data("SRV")) == 2
    assert dig(a, "_web._v2.service.consul", "SRV").data("SRV") == ["1 1 8081 0a010203.addr.dc1.consul."]
    assert len(dig(a, "_web._tcp.consul", "SRV").data("SRV")) == 2  # without .service
    assert len(dig(a, "_web._tcp.dc1.consul", "SRV").data("SRV")) == 2


def nodes_addr_reverse(a):
    assert dig(a, "node1.node.consul").data("A") == ["127.0.0.1"]
    txt = dig(a, "node1.node.dc1.consul", "TXT")
    assert txt.data("TXT") == ['"rack=r1"'], txt
    anyr = dig(a, "node1.node.consul", "ANY")
    assert anyr.data("A") == ["127.0.0.1"] and anyr.data("TXT") == ['"rack=r1"'], anyr
    assert dig(a, "ghost.node.consul").status == "NXDOMAIN"
    assert dig(a, "7f000001.addr.dc1.consul").data("A") == ["127.0.0.1"]
    assert dig(a, "fd000000000000000000000000000006.addr.dc1.consul", "AAAA").data("AAAA") == ["fd00::6"]
    assert dig(a, "-x", "127.0.0.1").data("PTR") == ["node1.node.dc1.consul."]
    assert dig(a, "-x", "10.1.2.3").data("PTR") == ["web.service.dc1.consul."]
    assert dig(a, "-x", "fd00::6").data("PTR") == ["web6.service.dc1.consul."]


def families_and_nodata(a):
    assert dig(a, "web6.service.consul", "AAAA").data("AAAA") == ["fd00::6"]
    r = dig(a, "web6.service.consul", "A")
    assert r.status == "NOERROR" and not r.records(), r
    assert len(r.records("AUTHORITY", "SOA")) == 1, r
    r = dig(a, "web.service.consul", "MX")
    assert r.status == "NOERROR" and not r.records() and r.records("AUTHORITY", "SOA"), r


def apex_and_rcodes(a):
    soa = dig(a, "consul", "SOA")
    fields = soa.data("SOA")[0].split()
    assert fields[:2] == ["ns.consul.", "hostmaster.consul."] and fields[3:] == ["3600", "600", "86400", "0"], soa
    ns = dig(a, "consul", "NS")
    assert ns.data("NS") == ["node1.node.dc1.consul."], ns
    assert ns.data("A", "ADDITIONAL") == ["127.0.0.1"], ns
    nx = dig(a, "nope.service.consul")
    assert nx.status == "NXDOMAIN" and "aa" in nx.flags and nx.records("AUTHORITY", "SOA"), nx
    refused = dig(a, "example.com")
    assert refused.status == "REFUSED" and "ra" not in refused.flags, refused
    axfr = dig(a, "consul", "AXFR")
    assert "NOTIMP" in axfr.text or "Transfer failed" in axfr.text, axfr


def truncation(a):
    # kdig sends no EDNS: at most 3 answers, and no TC by default (enable_truncate off).
    r = kdig(a, "many.service.consul", "SRV")
    assert len(r.data("SRV")) == 3 and "tc" not in r.flags, r
    assert len(r.data("A", "ADDITIONAL")) == 3, r
    assert len(dig(a, "+noedns", "many.service.consul", "A").data("A")) == 3
    # dig's EDNS 1232 holds all ten; so does TCP without EDNS.
    assert len(dig(a, "many.service.consul", "SRV").data("SRV")) == 10
    assert len(dig(a, "+tcp", "+noedns", "many.service.consul", "SRV").data("SRV")) == 10
    assert len(kdig(a, "+tcp", "many.service.consul", "A").data("A")) == 10
    r = kdig(a, "+bufsize=4096", "many.service.consul", "A")
    assert len(r.data("A")) == 10 and "4096" in r.text, r


def shuffled(a):
    firsts = {dig(a, "+noedns", "many.service.consul", "A").data("A")[0] for _ in range(20)}
    assert len(firsts) > 2, firsts


def health_changes(a):
    assert dig(a, "db.service.consul").data("A") == ["127.0.0.1"]
    assert a.put("/v1/agent/check/fail/db-ttl")[0] == 200
    r = dig(a, "db.service.consul")
    assert r.status == "NXDOMAIN", r
    assert a.put("/v1/agent/check/warn/db-ttl")[0] == 200
    assert dig(a, "db.service.consul").data("A") == ["127.0.0.1"]  # warning stays without only_passing
    assert a.put("/v1/agent/check/pass/db-ttl")[0] == 200
    # A critical instance is taken out of SRV answers too, the others stay.
    register(a, {"Name": "many", "ID": "many0", "Address": "10.2.0.1", "Port": 9000,
                 "Check": {"CheckID": "many0-ttl", "TTL": "10m", "Status": "critical"}})
    r = dig(a, "+tcp", "many.service.consul", "SRV")
    assert len(r.data("SRV")) == 9 and "10.2.0.1" not in r.data("A", "ADDITIONAL"), r


def raw_udp(port, payload, timeout=1.0):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(payload, ("127.0.0.1", port))
        try:
            return s.recv(65535)
        except socket.timeout:
            return None


def malformed(a):
    q = bytes.fromhex("abcd0100000100000000000003776562077365727669636506636f6e73756c0000010001")
    good = raw_udp(a.dns_port, q)
    assert good and good[:2] == b"\xab\xcd" and good[3] & 0x0F == 0, good
    # Truncated header: dropped. QDCOUNT 2 / cut label / compression loop: FORMERR.
    assert raw_udp(a.dns_port, b"\x01\x02\x03", timeout=0.3) is None
    two = q[:4] + b"\x00\x02" + q[6:]
    cut = q[:20]
    loop = bytes.fromhex("beef01000001000000000000c00c00010001")
    for bad in (two, cut, loop):
        r = raw_udp(a.dns_port, bad)
        assert r and r[3] & 0x0F == 1, (bad, r)  # FORMERR
    # TCP: a garbage frame gets FORMERR, a frame claiming 64 KiB that never completes is cut off
    # by the idle timeout, and neither stops the agent.
    with socket.create_connection(("127.0.0.1", a.dns_port), timeout=5) as s:
        s.sendall(struct.pack("!H", len(loop)) + loop)
        n = struct.unpack("!H", s.recv(2))[0]
        assert n >= 12 and s.recv(n)[3] & 0x0F == 1
    with socket.create_connection(("127.0.0.1", a.dns_port), timeout=5) as s:
        s.sendall(b"\xff\xff" + b"x" * 100)
    assert dig(a, "web.service.consul").data("A") == ["10.1.2.3", "127.0.0.1"]
    assert a.proc.poll() is None


# ---- agent B: config file settings, custom domain, only_passing, recursor to A

def configured(b, a):
    r = kdig(b, "+ignore", "many.service.hearsay.test", "SRV")  # +ignore: no retry over TCP
    assert "tc" in r.flags and len(r.data("SRV")) == 2, r  # udp_answer_limit 2, enable_truncate
    ttls = {rec[1] for rec in dig(b, "many.service.hearsay.test").records()}
    assert ttls == {30}, ttls
    assert {rec[1] for rec in dig(b, "other.service.hearsay.test").records()} == {5}
    assert {rec[1] for rec in dig(b, "nodeb.node.hearsay.test").records()} == {10}
    # -dns-only-passing: a warning instance is gone.
    assert b.put("/v1/agent/check/warn/other-ttl")[0] == 200
    assert dig(b, "other.service.hearsay.test").status == "NXDOMAIN"
    # Names outside hearsay.test go to the recursor (agent A); RA is set.
    fwd = dig(b, "web.service.consul")
    assert fwd.data("A") == ["10.1.2.3", "127.0.0.1"], fwd
    assert "ra" in dig(b, "many.service.hearsay.test").flags
    assert len(dig(b, "+tcp", "many.service.consul", "SRV").data("SRV")) == 9
    # With the recursor gone: SERVFAIL after the (shortened) timeout.
    a.stop()
    r = dig(b, "web.service.consul")
    assert r.status == "SERVFAIL" and "ra" in r.flags, r


def main():
    results = Results()
    a = Agent("node1", extra_args=["-node-meta", "rack:r1"])
    conf_dir = tempfile.mkdtemp(prefix="hearsay-dns-conf-")
    b = None
    try:
        a.start()
        setup(a)
        for name, fn in [("service A records", service_a), ("service SRV records", service_srv),
                         ("tags and RFC 2782", tags_and_rfc2782), ("nodes, addr and reverse", nodes_addr_reverse),
                         ("families and NODATA", families_and_nodata), ("apex and rcodes", apex_and_rcodes),
                         ("truncation, EDNS and TCP", truncation), ("answers shuffled", shuffled),
                         ("health changes", health_changes), ("malformed queries", malformed)]:
            results.run(name, fn, a)

        with open(os.path.join(conf_dir, "dns.json"), "w") as f:
            json.dump({"domain": "hearsay.test", "recursors": [f"127.0.0.1:{a.dns_port}"],
                       "dns_config": {"udp_answer_limit": 2, "enable_truncate": True, "node_ttl": "10s",
                                      "service_ttl": {"*": "5s", "man*": "30s"}, "recursor_timeout": "500ms"}}, f)
        b = Agent("nodeb", extra_args=["-config-dir", conf_dir, "-dns-only-passing"]).start()
        for i in range(5):
            register(b, {"Name": "many", "ID": f"m{i}", "Address": f"10.3.0.{i + 1}", "Port": 7000 + i})
        register(b, {"Name": "other", "ID": "other", "Port": 1,
                     "Check": {"CheckID": "other-ttl", "TTL": "10m", "Status": "passing"}})
        results.run("config, only_passing and recursors", configured, b, a)
    finally:
        for agent in (a, b):
            if agent:
                if results.failed:
                    print(f"---- {agent.name} log ----\n" + agent.log()[-4000:])
                agent.cleanup()
        subprocess.run(["rm", "-rf", conf_dir], check=False)
    results.finish()


if __name__ == "__main__":
    main()
