#!/usr/bin/env python3
"""Driver for bench/replication.sh (issue 5). Standard library only; times are seconds on this
process's monotonic clock.

  propagate IMPL ROUNDS PORT...
      The agents (already one cluster) are asked, ROUNDS times, to publish one change on one
      agent (round r: agent r mod N), and every agent is polled until it serves the change.
      hearsay: PUT /v1/agent/service/register of service bench-rNNNN; served = GET
      /v1/catalog/service/bench-rNNNN is not empty. serf: RPC `tags` setting rev=rNNNN on that
      agent (what `serf tags -set` does); served = the agent's member list (RPC `members`) holds
      the value. Polling is the same for both: one persistent connection per agent, all agents
      not yet done asked concurrently, round after round, no pause. Prints one line per round
      ("round R seconds"), then "p50 max" of the time until the last agent served it.

  load PORT NODES SERVICES_PER_NODE CONNECTIONS
      Registers NODES external nodes with SERVICES_PER_NODE services each through
      /v1/catalog/register on one hearsay agent, over CONNECTIONS keep-alive connections.
      Prints "seconds registrations".

  count PORT TARGET TIMEOUT
      Polls /v1/agent/metrics until hearsay.catalog.services >= TARGET; prints the seconds it
      took (exit 2 on timeout).
"""
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, __import__("os").path.dirname(__import__("os").path.abspath(__file__)))
from gossip_poll import HearsayAgent, SerfAgent  # noqa: E402  (the clients bench/gossip.sh uses)

class Http(HearsayAgent):
    """gossip_poll's keep-alive HTTP client; a request that fails on a kept connection is tried
    once more on a fresh one, so that one dropped connection does not end a long load."""

    def request(self, method, path, body=None):
        try:
            return super().request(method, path, body)
        except OSError:
            return super().request(method, path, body)


def raw_members(buf, start, end):
    return bytes(buf[start:end])


def cmd_propagate(impl, rounds, ports):
    n = len(ports)
    clients = [SerfAgent(p) if impl == "serf" else Http(p) for p in ports]
    pool = ThreadPoolExecutor(max_workers=min(32, n))
    times = []
    for r in range(rounds):
        label = f"r{r:04d}"
        origin = clients[r % n]

        def served(c, label=label):
            if impl == "serf":
                return (b"rev-" + label.encode()) in c.call("members", decode=raw_members)
            return c.request("GET", f"/v1/catalog/service/bench-{label}") != b"[]"

        t0 = time.monotonic()
        if impl == "serf":
            origin.call("tags", {"Tags": {"rev": "rev-" + label}, "DeleteTags": []}, reply_body=False)
        else:
            origin.request("PUT", "/v1/agent/service/register", json.dumps({"Name": f"bench-{label}", "Port": 1000 + r}))
        pending = set(range(n))
        last = None
        slow_reported = False
        while pending:
            if not slow_reported and time.monotonic() - t0 > 2:
                slow_reported = True
                print(f"round {r}: after 2 s still waiting for ports {[ports[i] for i in sorted(pending)]} "
                      f"(origin port {ports[r % n]})", file=sys.stderr, flush=True)
                if impl == "hearsay":  # what the late agents and the origin have counted
                    for i in sorted(pending | {r % n}):
                        try:
                            body = json.loads(clients[i].request("GET", "/v1/agent/metrics"))
                            figures = [(g["Name"], g["Value"]) for g in body["Gauges"]] + \
                                      [(c["Name"], c["Sum"]) for c in body.get("Counters", [])]
                            picked = {name.split(".", 1)[1]: value for name, value in figures
                                      if name.startswith(("hearsay.replication.", "hearsay.gossip.udp"))}
                            print(f"  port {ports[i]}: {picked}", file=sys.stderr, flush=True)
                        except Exception as e:  # noqa: BLE001 - diagnostics only
                            print(f"  port {ports[i]}: {e}", file=sys.stderr)
            done = list(pool.map(lambda i: (i, served(clients[i])), sorted(pending)))
            now = time.monotonic()
            for i, ok in done:
                if ok:
                    pending.discard(i)
                    last = now
            if now - t0 > 120:
                print(f"round {r}: {len(pending)} agents never served it", file=sys.stderr)
                sys.exit(2)
        times.append(last - t0)
        print(f"round {r} {last - t0:.3f}", flush=True)
        time.sleep(1.0)  # let the broadcast die out before the next one
    times.sort()
    print(f"{times[len(times) // 2]:.3f} {times[-1]:.3f}")


def cmd_load(port, nodes, per_node, connections):
    next_node = iter(range(nodes))
    lock = threading.Lock()
    count = [0]

    def worker():
        c = Http(port)
        while True:
            with lock:
                i = next(next_node, None)
            if i is None:
                return
            node = f"ext-{i:05d}"
            for s in range(per_node):
                body = {"Node": node, "Address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                        "NodeMeta": {"rack": f"r{i % 40}"}, "SkipNodeUpdate": s > 0,
                        "Service": {"Service": f"svc-{s}", "ID": f"svc-{s}", "Port": 20000 + s,
                                    "Tags": ["bench", f"shard-{i % 16}"], "Meta": {"version": "1.0.0"}}}
                c.request("PUT", "/v1/catalog/register", json.dumps(body))
                with lock:
                    count[0] += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{time.monotonic() - t0:.2f} {count[0]}")


def services_of(c):
    gauges = json.loads(c.request("GET", "/v1/agent/metrics"))["Gauges"]
    return next((g["Value"] for g in gauges if g["Name"] == "hearsay.catalog.services"), 0)


def cmd_count(port, target, timeout):
    c = Http(port)
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if services_of(c) >= target:
                print(f"{time.monotonic() - t0:.2f}")
                return
        except (OSError, RuntimeError):
            pass
        time.sleep(0.05)
    print(f"timed out after {timeout}s", file=sys.stderr)
    sys.exit(2)


def main(argv):
    cmd = argv[1]
    if cmd == "propagate":
        cmd_propagate(argv[2], int(argv[3]), [int(p) for p in argv[4:]])
    elif cmd == "load":
        cmd_load(int(argv[2]), int(argv[3]), int(argv[4]), int(argv[5]))
    elif cmd == "count":
        cmd_count(int(argv[2]), int(argv[3]), float(argv[4]))
    else:
        raise SystemExit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
