#!/usr/bin/env python3
"""Driver for bench/query_reach.sh: how often a serf query fails to reach every member.

serf's queries (the key rotation of `serf keys` and of Consul's /v1/operator/keyring among them)
spread by gossip, each member passing a query on a limited number of times to peers picked at
random, and nothing sends a query again: a member that none of its peers happened to pick never
hears it. This measures how often that happens, for the interop test's mixed cluster (3 serf + 3
hearsay, joined both ways) and for an all-serf cluster of the same size, both encrypted and both
running at once so they share the machine's load.

  query_reach.py QUERIES

Each cluster is asked QUERIES times `serf keys -list` through serf agent s1: serf's list-keys
query, which every member answers (hearsay as serf does) and which returns once all have
answered, or after serf's query timeout (3.2 s here) naming how many did. A member that has not
answered by then missed the query. Which hearsay member missed is read from its log (it logs
every key query it handles); the rest of the misses are the serf members'. Prints one line per
cluster. Agents and serf come from tests/integration/harness.py."""
import base64
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "integration"))
from harness import Agent, Serf, wait_until  # noqa: E402

KEY = base64.b64encode(bytes(range(16))).decode()


def hearsay(name, key, join=None):
    args = ["-advertise", "127.0.0.1"] + (["-encrypt", key] if key else [])
    if join:
        args += ["-join", f"127.0.0.1:{join}"]
    return Agent(name, extra_args=args).start()


def mixed_cluster(key, members):
    """The interop test's cluster: every join crosses between the implementations."""
    h1 = hearsay("h1", key)
    members.append(h1)
    s1 = Serf("s1", join=h1.serf_port, key=key)
    members.append(s1)
    h2 = hearsay("h2", key, join=s1.port)
    members.append(h2)
    s2 = Serf("s2", join=h2.serf_port, key=key)
    members.append(s2)
    h3 = hearsay("h3", key, join=s2.port)
    members.append(h3)
    members.append(Serf("s3", join=h3.serf_port, key=key))
    return s1


def serf_cluster(key, members):
    for i in range(1, 7):
        members.append(Serf(f"s{i}", join=members[-1].port if members else None, key=key))
    return members[0]


def drop_counts(agent):
    """What a hearsay member counted as dropped: a query lost there would show here."""
    body, _ = agent.get_json("/v1/agent/metrics")
    # Counters are listed apart from gauges, as Consul does (issue 19).
    gauges = {g["Name"]: g["Value"] for g in body["Gauges"]}
    gauges.update({c["Name"]: c["Sum"] for c in body.get("Counters", [])})
    return ", ".join(f"{name.rsplit('.', 1)[1]} {gauges[name]:.0f}" for name in
                     ("hearsay.gossip.messages_dropped", "hearsay.gossip.decrypt_failed"))


ANSWERED = re.compile(r"(\d+)/(\d+) nodes reported success")


def measure(label, build, queries, lines):
    members = []
    try:
        asker = build(KEY, members)
        names = {m.name for m in members}

        def all_alive():
            listed = asker.members() or {}
            return set(listed) == names and all(status == "alive" for status, _ in listed.values())

        wait_until(all_alive, timeout=30, what=f"{label}: six alive")
        time.sleep(2)  # the join broadcasts die out
        short = missing = 0
        started = time.monotonic()
        for _ in range(queries):
            out = asker.keys("-list")
            if out.returncode != 0:
                m = ANSWERED.search(out.stdout + out.stderr)
                assert m, out.stdout + out.stderr  # a failure other than a missing answer
                short += 1
                missing += int(m.group(2)) - int(m.group(1))
        hearsay_missed = {m.name: queries - m.log().count(f"_serf_list-keys from {asker.name}: done")
                          for m in members if isinstance(m, Agent)}
        lines[label] = (f"{label}: {queries} queries in {time.monotonic() - started:.0f} s, {short} missed by "
                        f"some member ({100.0 * short / queries:.2f} %); {missing} answers missing"
                        + "".join(f"; {name} missed {n} ({drop_counts(a)})" for a in members if isinstance(a, Agent)
                                  for name, n in [(a.name, hearsay_missed[a.name])]))
    finally:
        for m in members:
            m.cleanup()


def main():
    queries = int(sys.argv[1])
    lines = {}
    threads = [threading.Thread(target=measure, args=(label, build, queries, lines))
               for label, build in (("mixed 3 serf + 3 hearsay", mixed_cluster), ("serf only, 6 agents", serf_cluster))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for label in sorted(lines):
        print(lines[label])
    return 0 if len(lines) == 2 else 1


if __name__ == "__main__":
    sys.exit(main())
