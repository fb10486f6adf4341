"""Hostile clients on every TCP listener (HTTP, DNS over TCP, gossip streams), issue 14.

Each case ends with the agent still running and answering a normal client within a second:
clients that close without reading (SIGPIPE), pipelining clients that never read (output
backpressure, RSS bounded and returned after they close), the per-client connection cap (the
201st connection from one address is refused while 127.0.0.2 is served), half-open floods, slow
readers of large answers, and a flood past the total cap under a small descriptor limit.
Traffic stays on 127.0.0.x; every loop is bounded in count and time.
"""
import json
import os
import resource
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, wait_until  # noqa: E402

NORMAL_CLIENT = "127.0.0.2"  # never part of an attack
ATTACKER = "127.0.0.9"  # the harness's own requests come from 127.0.0.1
GET_SELF = b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\n\r\n"


def raise_own_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 8192)), hard))


def connect(port, src=ATTACKER, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def close_all(sockets):
    for s in sockets:
        try:
            s.close()
        except OSError:
            pass
    sockets.clear()


def dns_tcp_query():
    # A SOA query for consul. (ID 0x1234, RD), length-prefixed for TCP (RFC 1035 4.2.2).
    q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + b"\x06consul\x00" + struct.pack(">HH", 6, 1)
    return struct.pack(">H", len(q)) + q


def gossip_ping():
    # memberlist's ping (type 0) as a TCP fallback probe sends it, answered with an ack (type 2).
    return (b"\x00\x85\xa4Node\xa1x\xa5SeqNo\x07\xaaSourceAddr\xc4\x04\x7f\x00\x00\x01"
            b"\xaaSourceNode\xa1x\xaaSourcePort\xcd\x20\x8d")


def read_some(s, at_least, deadline):
    data = b""
    while len(data) < at_least and time.monotonic() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def http_answers(agent, src=NORMAL_CLIENT, within=1.0):
    """A normal client from `src` gets /v1/agent/self within `within` seconds."""
    start = time.monotonic()
    with connect(agent.http_port, src, timeout=within) as s:
        s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = read_some(s, 12, start + within)
    took = time.monotonic() - start
    assert data.startswith(b"HTTP/1.1 200"), f"HTTP from {src}: {data[:80]!r} after {took:.2f}s"
    assert took < within, f"HTTP from {src} took {took:.2f}s"


def dns_tcp_answers(agent, src=NORMAL_CLIENT, within=1.0):
    start = time.monotonic()
    with connect(agent.dns_port, src, timeout=within) as s:
        s.sendall(dns_tcp_query())
        data = read_some(s, 4, start + within)
    assert len(data) >= 4 and data[2:4] == b"\x12\x34", f"DNS over TCP from {src}: {data[:16]!r}"
    assert time.monotonic() - start < within


def gossip_answers(agent, src=NORMAL_CLIENT, within=1.0):
    start = time.monotonic()
    with connect(agent.serf_port, src, timeout=within) as s:
        s.sendall(gossip_ping())
        data = read_some(s, 1, start + within)
    assert data[:1] == b"\x02", f"gossip ping from {src}: {data[:16]!r}"  # ackResp
    assert time.monotonic() - start < within


def served_again(agent, src, timeout=2.0):
    """A client from `src` is answered within a second, at the latest `timeout` from now."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return http_answers(agent, src)
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def assert_alive(agent, what):
    code = agent.proc.poll()
    assert code is None, f"agent exited with {code} ({'SIGPIPE' if code == -13 else 'see log'}) after {what}"


def rss_mib(agent):
    with open(f"/proc/{agent.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def settle_rss(agent, seconds=8.0):
    """RSS once it has stopped moving for half a second (bounded)."""
    deadline = time.monotonic() + seconds
    last = rss_mib(agent)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_mib(agent)
        if abs(now - last) < 0.5:
            return now
        last = now
    return last


# ---- 1. SIGPIPE: pipelined requests, then close without reading, on every listener

def closes_without_reading(agent):
    listeners = [("HTTP", agent.http_port, GET_SELF * 50),
                 ("DNS over TCP", agent.dns_port, dns_tcp_query() * 50),
                 ("gossip", agent.serf_port, gossip_ping())]
    for name, port, request in listeners:
        deadline = time.monotonic() + 15
        for i in range(300):
            if time.monotonic() > deadline:
                break
            try:
                with connect(port) as s:
                    s.sendall(request)
            except OSError:
                pass  # the agent may have reset it first; what matters is that it lives
            if i % 50 == 49:
                assert_alive(agent, f"{i + 1} {name} clients that closed without reading")
        time.sleep(0.2)
        assert_alive(agent, f"300 {name} clients that closed without reading")
    http_answers(agent)
    dns_tcp_answers(agent)
    gossip_answers(agent)


# ---- 2. Pipelining non-readers: RSS bounded while they hold on, returned once they close

def pipelining_non_readers(agent):
    wait_until(lambda: "start-up over" in agent.log(), timeout=15, what="the start-up trim")
    before = settle_rss(agent, 3)
    pauses_before = agent.metric("hearsay.http.output_pauses")
    held = []
    try:
        burst = GET_SELF * 2000
        for _ in range(50):
            s = connect(agent.http_port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(burst)
            held.append(s)
        during = settle_rss(agent)
        http_answers(agent)
        assert_alive(agent, "50 pipelining non-readers")
        pauses = agent.metric("hearsay.http.output_pauses") - pauses_before
    finally:
        close_all(held)
    time.sleep(0.5)
    http_answers(agent)
    after = settle_rss(agent)
    print(f"  RSS {before:.1f} MiB before, {during:.1f} MiB with 50 non-readers, {after:.1f} MiB after they closed;"
          f" {pauses:.0f} output pauses")
    assert pauses >= 50, f"only {pauses} output pauses for 50 non-readers"
    assert during - before < 24, f"RSS grew from {before:.1f} to {during:.1f} MiB"
    assert after - before < 6, f"RSS stayed at {after:.1f} MiB after the clients closed (was {before:.1f})"


# ---- 3. The per-client cap (Consul's limits.http_max_conns_per_client, default 200)

def per_client_cap(agent):
    held = []
    try:
        for _ in range(200):
            held.append(connect(agent.http_port))
        wait_until(lambda: agent.metric("hearsay.limits.http.connections_open") >= 200, timeout=5,
                   what="200 connections open")
        refused_before = agent.metric("hearsay.limits.http.refused_per_client")
        extra = connect(agent.http_port)
        held.append(extra)
        data = read_some(extra, 12, time.monotonic() + 2)  # answered 429 and closed, without asking
        assert data.startswith(b"HTTP/1.1 429"), f"the 201st connection got {data[:60]!r}"
        assert agent.metric("hearsay.limits.http.refused_per_client") == refused_before + 1
        http_answers(agent, NORMAL_CLIENT)  # another address is not affected
        # The first 200 still work.
        held[0].sendall(GET_SELF)
        assert read_some(held[0], 12, time.monotonic() + 1).startswith(b"HTTP/1.1 200")
    finally:
        close_all(held)
    wait_until(lambda: "per-client limit" in agent.log(), timeout=12, what="the refusal to be logged")
    served_again(agent, ATTACKER)


# ---- 3b. One client holding 3,000 blocking queries (issue 14: it took every descriptor)

def blocking_query_hoarder(agent):
    raise_own_fd_limit()
    _, headers = agent.get_json("/v1/catalog/services")
    index = headers.get("X-Consul-Index", "1")
    request = f"GET /v1/catalog/services?index={index}&wait=60s HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    before = settle_rss(agent, 3)
    refused_before = agent.metric("hearsay.limits.http.refused_per_client")
    held = []
    try:
        deadline = time.monotonic() + 20
        for _ in range(3000):
            if time.monotonic() > deadline:
                break
            try:
                s = connect(agent.http_port, "127.0.0.6")
                s.sendall(request)
                held.append(s)
            except OSError:
                pass
        http_answers(agent)
        dns_tcp_answers(agent)
        during = rss_mib(agent)
        assert_alive(agent, "3,000 blocking queries from one client")
    finally:
        close_all(held)
    served_again(agent, "127.0.0.6", timeout=3.0)  # closed clients free their places within ~1 s
    after = settle_rss(agent)
    refused = agent.metric("hearsay.limits.http.refused_per_client") - refused_before
    print(f"  RSS {before:.1f} MiB before, {during:.1f} MiB holding, {after:.1f} MiB after; {refused:.0f} refused")
    assert refused >= 2700, f"only {refused} of 3,000 refused"
    assert after - before < 4, f"RSS stayed at {after:.1f} MiB after the hoarder closed (was {before:.1f})"


# ---- 4. Half-open floods: silent connections, partial headers, half-closed requests

def half_open_floods(agent):
    raise_own_fd_limit()
    held = []
    try:
        for i in range(1000):
            try:
                s = connect(agent.http_port, "127.0.0.3")
            except OSError:
                continue
            if i % 3 == 1:
                s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            elif i % 3 == 2:
                try:
                    s.sendall(GET_SELF)
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass  # refused (429 and closed) already
            held.append(s)
        for _ in range(300):
            for port in (agent.dns_port, agent.serf_port):
                try:
                    held.append(connect(port, "127.0.0.3"))
                except OSError:
                    pass
        http_answers(agent)
        dns_tcp_answers(agent)
        gossip_answers(agent)
        assert agent.metric("hearsay.limits.http.refused_per_client") >= 700
        assert agent.metric("hearsay.limits.dns.refused_per_client") >= 150
        assert agent.metric("hearsay.limits.gossip.refused_per_client") >= 150
    finally:
        close_all(held)
    assert_alive(agent, "half-open floods")
    served_again(agent, "127.0.0.3")


# ---- 5. Slow readers of a large answer

def slow_readers(agent):
    meta = {f"k{i}": "v" * 500 for i in range(60)}
    for i in range(40):
        status, body, _ = agent.put("/v1/agent/service/register", {"Name": f"big{i}", "ID": f"big{i}", "Meta": meta})
        assert status == 200, body
    status, body, _ = agent.get("/v1/agent/services")
    size = len(body)
    assert size > 1_000_000, f"/v1/agent/services is only {size} bytes"
    before = settle_rss(agent, 3)
    held = []
    try:
        for _ in range(10):
            s = connect(agent.http_port, "127.0.0.4")
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.sendall(b"GET /v1/agent/services HTTP/1.1\r\nHost: x\r\n\r\n" * 20)
            held.append(s)
        during = settle_rss(agent)
        http_answers(agent)
        assert_alive(agent, "slow readers")
    finally:
        close_all(held)
    print(f"  RSS {before:.1f} MiB before, {during:.1f} MiB with 10 slow readers of {size / 1e6:.1f} MB answers")
    # Each holds one answer (or two) at most, not the 20 it asked for.
    assert during - before < 3 * 10 * size / 2**20 + 10, f"RSS grew from {before:.1f} to {during:.1f} MiB"


# ---- 6. Huge headers and bodies are refused with a status, and the agent goes on

def huge_headers_and_bodies(agent):
    with connect(agent.http_port, "127.0.0.5") as s:
        s.sendall(b"GET /v1/agent/self HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
        assert read_some(s, 12, time.monotonic() + 2).startswith(b"HTTP/1.1 431")
    with connect(agent.http_port, "127.0.0.5") as s:
        s.sendall(b"PUT /v1/agent/service/register HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
        try:
            s.sendall(b"x" * 2_000_000)
        except OSError:
            pass
        assert read_some(s, 12, time.monotonic() + 2).startswith(b"HTTP/1.1 413")
    http_answers(agent)


# ---- 7. A flood past the total cap, under a descriptor limit of 256

def total_cap(_agent):
    def small_fd_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))

    raise_own_fd_limit()
    agent = Agent("capped", preexec_fn=small_fd_limit).start()
    held = []
    try:
        assert "128 in total (descriptor limit 256)" in agent.log(), "the total cap is not below the limit"
        for n in range(8):  # 8 addresses x 60: under the per-client cap, far over the total
            for _ in range(60):
                try:
                    held.append(connect(agent.http_port if n % 2 else agent.dns_port, f"127.0.1.{n + 1}"))
                except OSError:
                    pass
        time.sleep(0.3)
        assert_alive(agent, "a flood past the total cap")
        close_all(held)
        served_again(agent, NORMAL_CLIENT, timeout=1.0)
        gossip_answers(agent)
        refused = agent.metric("hearsay.limits.http.refused_total") + agent.metric("hearsay.limits.dns.refused_total")
        assert refused >= 300, f"only {refused} refused"
        wait_until(lambda: "connections open in total" in agent.log(), timeout=12, what="the refusal log line")
    except BaseException:
        print("---- capped agent log ----\n" + agent.log()[-4000:])
        raise
    finally:
        close_all(held)
        agent.cleanup()


def main():
    raise_own_fd_limit()
    results = Results()
    agent = Agent("hostile").start()
    try:
        results.run("every listener survives clients that close without reading (SIGPIPE)", closes_without_reading, agent)
        results.run("pipelining non-readers: RSS bounded, returned after close", pipelining_non_readers, agent)
        results.run("the 201st connection from one address is refused; 127.0.0.2 is served", per_client_cap, agent)
        results.run("3,000 blocking queries from one client: capped, memory returned", blocking_query_hoarder, agent)
        results.run("half-open floods on every listener", half_open_floods, agent)
        results.run("slow readers of large answers", slow_readers, agent)
        results.run("huge headers and bodies are refused with 431/413", huge_headers_and_bodies, agent)
        results.run("a flood past the total connection cap", total_cap, agent)
        assert_alive(agent, "all of it")
    finally:
        if results.failed:
            print("---- agent log (tail) ----\n" + agent.log()[-6000:])
        agent.cleanup()
    results.finish()


if __name__ == "__main__":
    main()
