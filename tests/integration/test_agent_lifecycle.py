"""An agent's life as README.md describes it, on real processes (loopback only, bounded):
the node ID kept across restarts, -dev's temporary data dir removed at stop, -dns-port -1
serving no DNS, SIGINT making a graceful leave and a second signal stopping at once, and
external nodes registered through an agent leaving the catalog with it."""
import os
import re
import signal
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Agent, Results, wait_until  # noqa: E402

ALIVE, LEFT, FAILED = 1, 3, 4


def status_in(agent, name):
    members, _ = agent.get_json("/v1/agent/members")
    return next((m["Status"] for m in members if m["Name"] == name), None)


def node_id(agent):
    body, _ = agent.get_json("/v1/agent/self")
    return body["Config"]["NodeID"]


def pair(prefix):
    a = Agent(name=f"{prefix}-a").start()
    b = Agent(name=f"{prefix}-b", extra_args=["-join", f"127.0.0.1:{a.serf_port}"]).start()
    wait_until(lambda: status_in(a, b.name) == ALIVE and status_in(b, a.name) == ALIVE, timeout=15,
               what=f"{a.name} and {b.name} to see each other")
    return a, b


def test_node_id_kept_across_restarts():
    a = Agent(name="it-life-id").start()
    try:
        first = node_id(a)
        assert str(uuid.UUID(first)) == first.lower(), first
        a.stop()
        assert a.proc.returncode == 0, a.proc.returncode
        a.start()
        assert node_id(a) == first, (node_id(a), first)
    finally:
        a.cleanup()


class DevAgent(Agent):
    """`agent -dev`: no -data-dir; the agent makes (and must remove) its own."""

    def args(self):
        args = super().args()
        i = args.index("-data-dir")
        return args[:i] + args[i + 2:] + ["-dev"]


def test_dev_removes_its_data_dir():
    a = DevAgent(name="it-life-dev").start()
    try:
        m = wait_until(lambda: re.search(r"data_dir=(\S+) \(dev mode\)", a.log()), timeout=10,
                       what="the start line naming the dev data dir")
        dev_dir = m.group(1)
        assert dev_dir != a.data_dir and os.path.isdir(dev_dir), dev_dir
        assert os.path.exists(os.path.join(dev_dir, "catalog.db")), os.listdir(dev_dir)
        a.stop()
        assert a.proc.returncode == 0, a.proc.returncode
        assert not os.path.exists(dev_dir), f"{dev_dir} is still there after the agent stopped"
    finally:
        a.cleanup()


def listening_ports(pid):
    """(udp ports, tcp listening ports) of the sockets process `pid` holds."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = {}
    for proto in ("udp", "tcp", "udp6", "tcp6"):
        found = set()
        with open(f"/proc/{pid}/net/{proto}") as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                local, state, inode = cols[1], cols[3], cols[9]
                if inode in inodes and (proto.startswith("udp") or state == "0A"):  # 0A: LISTEN
                    found.add(int(local.rsplit(":", 1)[1], 16))
        ports[proto] = found
    return ports["udp"] | ports["udp6"], ports["tcp"] | ports["tcp6"]


def test_dns_port_minus_one_turns_dns_off():
    a = Agent(name="it-life-nodns", dns_port=-1).start()
    try:
        udp, tcp = listening_ports(a.proc.pid)
        assert udp == {a.serf_port}, f"UDP sockets {udp}: only gossip's {a.serf_port} expected"
        assert tcp == {a.serf_port, a.http_port}, f"TCP listeners {tcp}: gossip and HTTP only"
        assert re.search(r"dns=off", a.log()), a.log()[-2000:]
    finally:
        a.cleanup()


def test_sigint_leaves_gracefully():
    a, b = pair("it-life-int")
    try:
        a.proc.send_signal(signal.SIGINT)
        a.proc.wait(timeout=15)
        assert a.proc.returncode == 0, a.proc.returncode
        assert status_in(b, a.name) == LEFT, status_in(b, a.name)  # left at once, never failed
        assert "leaving the cluster" in a.log(), a.log()[-2000:]
    finally:
        a.cleanup()
        b.cleanup()


def test_second_signal_stops_at_once():
    """The first SIGINT starts the leave (which waits at least a second for the news to spread);
    a second one stops the agent without waiting for it."""
    a, b = pair("it-life-twice")
    try:
        start = time.monotonic()
        a.proc.send_signal(signal.SIGINT)
        wait_until(lambda: "leaving the cluster" in a.log(), timeout=5, interval=0.01, what="the leave to start")
        a.proc.send_signal(signal.SIGINT)
        a.proc.wait(timeout=15)
        took = time.monotonic() - start
        assert a.proc.returncode == 0, a.proc.returncode
        log = a.log()
        assert "shutting down" in log, f"the second signal was not acted on: {log[-2000:]}"
        assert log.index("leaving the cluster") < log.index("shutting down"), log[-2000:]
        assert took < 0.9, f"the agent took {took:.2f}s to stop after a second signal"  # the leave alone takes >= 1 s
    finally:
        a.cleanup()
        b.cleanup()


def test_external_nodes_leave_with_their_agent():
    """README.md: everything registered through an agent goes with it, external nodes from
    /v1/catalog/register included."""
    a, b = pair("it-life-ext")
    try:
        status, body, _ = a.put("/v1/catalog/register", {"Node": "ext-db", "Address": "10.20.30.40",
                                                         "Service": {"Service": "extdb", "Port": 5432}})
        assert status == 200, body

        def nodes(agent):
            return {n["Node"] for n in agent.get_json("/v1/catalog/nodes")[0]}
        wait_until(lambda: "ext-db" in nodes(b), timeout=15, what="the external node to reach b")
        assert len(b.get_json("/v1/catalog/service/extdb")[0]) == 1
        a.stop()  # SIGTERM: a graceful leave
        wait_until(lambda: "ext-db" not in nodes(b), timeout=15, what="the external node to leave with a")
        assert a.name not in nodes(b), nodes(b)
        assert b.get_json("/v1/catalog/service/extdb")[0] == []
    finally:
        a.cleanup()
        b.cleanup()


def main():
    results = Results()
    for test in (test_node_id_kept_across_restarts, test_dev_removes_its_data_dir,
                 test_dns_port_minus_one_turns_dns_off, test_sigint_leaves_gracefully,
                 test_second_signal_stops_at_once, test_external_nodes_leave_with_their_agent):
        results.run(test.__name__, test)
    results.finish()


if __name__ == "__main__":
    main()
