"""Three stock serf agents and three hearsay agents in one cluster on loopback, joined both ways,
once in plaintext and once with an AES-GCM key (the membership issue's interop test).

For each run: all six list six alive members; `kill -9` of a serf agent is seen as failed by
the hearsay agents and the other serf agents, and the reverse; a graceful leave (by API, by
`serf leave`, by SIGTERM) is "left" on both sides. The encrypted run also rotates the key on
every member without losing anyone, each step run once on one member (hearsay or serf) and
reaching all six through serf's key queries,
shows that an agent with the wrong key stays out (its packets counted as decryption failures),
and force-leaves a failed member. Catalog replication reaches the hearsay agents and never the
serf agents."""
import base64
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import AGENT, Agent, Results, Serf, wait_until  # noqa: E402

ALIVE, LEFT, FAILED = 1, 3, 4
SERF_STATUS = {"alive": ALIVE, "left": LEFT, "failed": FAILED}
KEY_A = base64.b64encode(bytes(range(16))).decode()
KEY_B = base64.b64encode(bytes(range(100, 132))).decode()  # AES-256


def hearsay(name, key=None, join=None, extra=()):
    args = ["-advertise", "127.0.0.1", *extra]
    if key:
        args += ["-encrypt", key]
    if join:
        args += ["-join", f"127.0.0.1:{join}"]
    return Agent(name, extra_args=args).start()


def view(member):
    """name -> Consul status (1 alive, 3 left, 4 failed) as this member lists the cluster."""
    if isinstance(member, Serf):
        return {n: SERF_STATUS.get(s, 0) for n, (s, _) in (member.members() or {}).items()}
    members, _ = member.get_json("/v1/agent/members")
    return {m["Name"]: m["Status"] for m in members}


def wait_all(members, predicate, what, timeout=30):
    for m in members:
        wait_until(lambda m=m: predicate(view(m)), timeout=timeout, what=f"{m.name}: {what}")


class Cluster:
    """h1 <- s1 (serf joins hearsay), s1 <- h2 (hearsay joins serf), h2 <- s2, s2 <- h3 (by HTTP),
    h3 <- s3: every join crosses between the implementations."""

    def __init__(self, key):
        self.key = key
        self.members = []
        self.h1 = self.add(hearsay("h1", key))
        self.s1 = self.add(Serf("s1", join=self.h1.serf_port, key=key))
        self.h2 = self.add(hearsay("h2", key, join=self.s1.port))
        self.s2 = self.add(Serf("s2", join=self.h2.serf_port, key=key))
        self.h3 = self.add(hearsay("h3", key))
        assert self.h3.put(f"/v1/agent/join/127.0.0.1:{self.s2.port}")[0] == 200
        self.s3 = self.add(Serf("s3", join=self.h3.serf_port, key=key))

    def add(self, member):
        self.members.append(member)
        return member

    def live(self, *without):
        return [m for m in self.members if m not in without]

    def cleanup(self, failed):
        for m in self.members:
            if failed and isinstance(m, Agent):
                print(f"---- {m.name} log ----\n" + m.log()[-2000:])
            m.cleanup()


def six_alive(c):
    names = {m.name for m in c.members}
    wait_all(c.members, lambda v: {n for n, s in v.items() if s == ALIVE} == names, "six members alive")


def hearsay_keyring(agent):
    with open(os.path.join(agent.data_dir, "serf", "local.keyring")) as f:
        return json.load(f)


# serf's queries are best effort: each member passes a query on a few times, to peers picked at
# random, and nothing sends it again, so now and then one member hears it from nobody. Measured
# by bench/query_reach.sh (BENCHMARKS.md), 1,500 `serf keys -list` each: in this test's mixed
# cluster 0.47 % of the queries missed a member (the hearsay members as often as the model
# predicts, none of it counted as dropped), in a cluster of six serf agents alone 1.40 %. A key
# operation whose report says a member did not answer ("5/6 nodes reported ...") is asked once
# more, as an operator re-runs `consul keyring` (the key operations are idempotent). Each hearsay
# agent logs every key query it answers ("gossip: _serf_... from ..."), so a hearsay member that
# did not answer is named: it may miss once in a run (the measured rate above says it will, now
# and then, under load more often), never twice, so one that misses every query, or every first
# query, fails at its second operation. Every member's keyring is then checked on its own, so a
# member that never applies a change still fails.
UNANSWERED = re.compile(r"(\d+)/(\d+) nodes reported")
ANSWERED = re.compile(r"gossip: _serf_[a-z-]+ from ")


def unanswered(text):
    """How many members a key operation's report says did not answer (nor fail)."""
    m = UNANSWERED.search(text)
    return max(0, int(m.group(2)) - int(m.group(1))) if m else 0


def answers_logged(c):
    """hearsay member -> how many key queries from others it has answered, from its log."""
    return {m.name: len(ANSWERED.findall(m.log())) for m in c.members
            if isinstance(m, Agent) and m.proc.poll() is None}


HEARSAY_MISSES = collections.Counter()  # hearsay member -> key queries it missed in this run


def ask_everyone(c, what, ask, report, asker=None):
    """ask() once, and once more when report(result) says a member did not answer; a hearsay
    member may be among those only once per run. `asker`: the hearsay agent that sends the query
    (it answers itself without a log line) or None for a serf agent."""
    before = answers_logged(c)
    result = ask()
    missing = unanswered(report(result))
    if missing:
        after = answers_logged(c)
        silent = sorted(n for n in before if after.get(n, 0) == before[n] and (asker is None or n != asker.name))
        again = sorted(n for n in silent if HEARSAY_MISSES[n] >= 1)
        assert not again, f"{what}: hearsay member(s) {again} missed a key query a second time ({report(result).strip()})"
        HEARSAY_MISSES.update(silent)
        print(f"  {what}: {missing} member(s) did not answer, hearsay among them: {silent or 'none'} "
              f"({report(result).strip()}); asking again")
        result = ask()
    return result


def cluster_keyring(c, agent):
    """GET /v1/operator/keyring: serf's list-keys query to every member."""
    status, body, _ = ask_everyone(c, f"list through {agent.name}", lambda: agent.get("/v1/operator/keyring"),
                                   lambda r: str(r[1]), asker=agent)
    assert status == 200, f"GET /v1/operator/keyring -> {status}: {body}"
    return json.loads(body)


def keyring_change(c, agent, method, key):
    """POST (install) or DELETE (remove) /v1/operator/keyring through a hearsay agent."""
    return ask_everyone(c, f"{method} through {agent.name}",
                        lambda: agent.request(method, "/v1/operator/keyring", body=f'{{"Key": "{key}"}}')[:2],
                        lambda r: str(r[1]), asker=agent)


def serf_keys(c, serf, *args):
    """`serf keys ARGS` through a serf agent."""
    return ask_everyone(c, f"serf keys {args[0]} through {serf.name}", lambda: serf.keys(*args),
                        lambda r: r.stdout + r.stderr)


def every_keyring(c):
    """Each member's keyring as it holds it: hearsay's and serf's keyring files."""
    return {m.name: hearsay_keyring(m) if isinstance(m, Agent) else m.keyring() for m in c.members}


def rotate_key(c):
    """Consul's rotation, each step run on one member and reaching every member through serf's key
    queries: install the new key (through hearsay h2), make it primary (through serf s1: a serf
    agent's query reaches the hearsay agents too), remove the old one (through h2)."""
    start = time.monotonic()
    status, body = keyring_change(c, c.h2, "POST", KEY_B)
    assert status == 200, (status, body)
    print(f"  install through h2 answered in {time.monotonic() - start:.2f}s")
    assert all(ring == [KEY_A, KEY_B] for ring in every_keyring(c).values()), every_keyring(c)
    ring = cluster_keyring(c, c.h1)
    assert ring[0]["Keys"] == {KEY_A: 6, KEY_B: 6} and ring[0]["NumNodes"] == 6, ring
    cli = ask_everyone(c, "agent keyring -list through h3",
                       lambda: subprocess.run([AGENT, "keyring", "-list", f"-http-addr=127.0.0.1:{c.h3.http_port}"],
                                              capture_output=True, text=True, timeout=30),
                       lambda r: r.stdout + r.stderr, asker=c.h3)
    assert cli.returncode == 0 and f"{KEY_B} [6/6]" in cli.stdout, cli.stdout + cli.stderr
    listed = serf_keys(c, c.s1, "-list")  # serf's list-keys query, answered by the hearsay agents too
    assert listed.returncode == 0 and f"{KEY_B}  [6/6]" in listed.stdout, listed.stdout + listed.stderr

    used = serf_keys(c, c.s1, "-use", KEY_B)
    assert used.returncode == 0, used.stdout + used.stderr  # all six answered, none failed
    assert all(ring[0] == KEY_B for ring in every_keyring(c).values()), every_keyring(c)
    time.sleep(3)  # gossip and probes under the new primary key
    assert keyring_change(c, c.h2, "DELETE", KEY_A)[0] == 200
    ring = cluster_keyring(c, c.h3)
    assert ring[0]["Keys"] == {KEY_B: 6} and ring[0]["PrimaryKeys"] == {KEY_B: 6}, ring
    assert all(ring == [KEY_B] for ring in every_keyring(c).values()), every_keyring(c)
    local, _ = c.h1.get_json("/v1/operator/keyring?local-only=1")
    assert local[0]["NumNodes"] == 1 and local[0]["Keys"] == {KEY_B: 1}, local
    # Removing the primary key fails on every member; Consul answers 500 naming them, and
    # nobody's keyring changes.
    status, body = keyring_change(c, c.h1, "DELETE", KEY_B)
    assert status == 500 and "6/6 nodes reported failure" in str(body), (status, body)
    assert all(ring == [KEY_B] for ring in every_keyring(c).values()), every_keyring(c)
    time.sleep(4)  # several probe rounds with only the new key: nobody may turn suspect or failed
    six_alive(c)


def wrong_key_stays_out(c):
    before = c.h1.metric("hearsay.gossip.decrypt_failed")
    # -retry-join keeps it running and knocking; -join with the retired key fails the start
    # (as Consul's does), tried below.
    intruder = hearsay("hx", KEY_A, extra=["-retry-join", f"127.0.0.1:{c.h1.serf_port}"])  # the retired key
    try:
        time.sleep(3)
        assert "hx" not in view(c.h1) and set(view(intruder)) == {"hx"}, (view(c.h1), view(intruder))
        assert c.h1.metric("hearsay.gossip.decrypt_failed") > before, "no decryption failure counted"
        assert c.h1.proc.poll() is None, "h1 exited"  # dropped, not crashed
    finally:
        intruder.cleanup()
    joiner = Agent("hj", extra_args=["-advertise", "127.0.0.1", "-encrypt", KEY_A,
                                     "-join", f"127.0.0.1:{c.h1.serf_port}"]).launch()
    try:
        assert joiner.proc.wait(timeout=15) == 1, joiner.log()[-2000:]
        assert "could not join any" in joiner.log(), joiner.log()[-2000:]
    finally:
        joiner.cleanup()


def catalog_goes_to_hearsay_only(c):
    """A registration on one hearsay agent reaches the other two; serf agents never receive the
    catalog traffic (serf would log the unknown message type) and stay undisturbed."""
    status, body = c.h1.put("/v1/agent/service/register", {"Name": "web", "ID": "web-h1", "Port": 80})[:2]
    assert status == 200, body
    for a in (c.h2, c.h3):
        wait_until(lambda a=a: len(a.get_json("/v1/catalog/service/web")[0]) == 1, timeout=15,
                   what=f"{a.name} to serve h1's web")
    nodes = {n["Node"] for n in c.h3.get_json("/v1/catalog/nodes")[0]}
    assert nodes == {"h1", "h2", "h3"}, nodes  # serf agents are members, not catalog nodes
    time.sleep(2)  # the broadcast's retransmits
    for serf in (c.s1, c.s2, c.s3):
        with open(os.path.join(serf.dir, "serf.log"), errors="replace") as f:
            log = f.read()
        assert "unknown type" not in log and "Failed to decode" not in log, (serf.name, log[-2000:])
    six_alive(c)


def serf_crash(c):
    start = time.monotonic()
    c.s3.kill9()
    wait_all(c.live(c.s3), lambda v: v.get("s3") == FAILED, "s3 failed")
    print(f"  serf kill -9 seen as failed by all five in {time.monotonic() - start:.1f}s")


def hearsay_crash(c):
    start = time.monotonic()
    c.h3.kill9()
    wait_all(c.live(c.s3, c.h3), lambda v: v.get("h3") == FAILED, "h3 failed")
    print(f"  hearsay kill -9 seen as failed by all four in {time.monotonic() - start:.1f}s")


def force_leave(c):
    # s3 is failed; forcing it out on one hearsay agent makes it left on hearsay and serf alike.
    assert c.h1.put("/v1/agent/force-leave/s3")[0] == 200
    wait_all(c.live(c.s3, c.h3), lambda v: v.get("s3") == LEFT, "s3 left after force-leave")
    assert c.h1.put("/v1/agent/force-leave/h1")[0] == 400  # only failed members


def graceful_leaves(c):
    assert c.h2.put("/v1/agent/leave")[0] == 200
    c.h2.proc.wait(timeout=15)
    wait_all([c.h1, c.s1, c.s2], lambda v: v.get("h2") == LEFT, "hearsay h2 left")
    c.s2.leave()
    wait_all([c.h1, c.s1], lambda v: v.get("s2") == LEFT, "serf s2 left")
    # SIGTERM makes a hearsay agent leave first (Consul's client default, leave_on_terminate).
    c.h1.proc.terminate()
    assert c.h1.proc.wait(timeout=15) == 0
    wait_all([c.s1], lambda v: v.get("h1") == LEFT, "h1 left after SIGTERM")


def retry_join_waits_for_its_seed():
    """-retry-join keeps trying with backoff: the agent starts before its seed exists."""
    late = Agent("late", extra_args=["-advertise", "127.0.0.1"])
    early = Agent("early", extra_args=["-advertise", "127.0.0.1", "-retry-join", f"127.0.0.1:{late.serf_port}"])
    try:
        early.start()
        time.sleep(2.5)  # attempts at 0 s and 1 s have failed by now
        late.start()
        wait_until(lambda: view(early).get("late") == ALIVE, timeout=15, what="early to join late")
        assert "retry-join: attempt" in early.log()
    finally:
        early.cleanup()
        late.cleanup()
    # With -retry-max, an agent that never reaches its seed gives up and exits non-zero.
    lonely = Agent("lonely", extra_args=["-retry-join", f"127.0.0.1:{late.serf_port}", "-retry-max", "2"])
    try:
        lonely.start()
        assert lonely.proc.wait(timeout=15) == 1
    finally:
        lonely.cleanup()


def run(results, key):
    label = "encrypted" if key else "plaintext"
    failed_before = results.failed
    c = None
    try:
        c = Cluster(key)
        results.run(f"[{label}] 3 serf + 3 hearsay: all six list six alive", six_alive, c)
        if key:
            results.run(f"[{label}] key rotation from one member reaches all six and keeps them alive",
                        rotate_key, c)
            results.run(f"[{label}] an agent with a retired key stays out; its packets are counted",
                        wrong_key_stays_out, c)
        results.run(f"[{label}] catalog traffic reaches hearsay members only", catalog_goes_to_hearsay_only, c)
        results.run(f"[{label}] serf kill -9 is failed everywhere", serf_crash, c)
        results.run(f"[{label}] hearsay kill -9 is failed everywhere", hearsay_crash, c)
        if key:
            results.run(f"[{label}] force-leave turns a failed serf member left everywhere", force_leave, c)
        results.run(f"[{label}] graceful leaves are left on both sides", graceful_leaves, c)
    except Exception as e:  # noqa: BLE001 - a cluster that does not start is one failure
        results.run(f"[{label}] cluster starts", lambda: (_ for _ in ()).throw(e))
    finally:
        if c:
            c.cleanup(results.failed > failed_before)


def main():
    results = Results()
    if not os.path.exists(AGENT) or not shutil.which("serf"):
        results.run("agent binary and serf are installed", lambda: (_ for _ in ()).throw(
            AssertionError("missing agent or serf (packaging/install-deps.sh)")))
        results.finish()
    run(results, None)
    run(results, KEY_A)
    results.run("-retry-join retries with backoff; -retry-max gives up", retry_join_waits_for_its_seed)
    results.finish()


if __name__ == "__main__":
    main()
