"""The link emulator (tests/netem) measured from outside: ping RTT against the configured delay,
UDP loss against the configured probability, cut and restore, the rate limit with a TCP
transfer, TCP across loss, the forwarder's CPU at 5,000 packets/s, its control protocol, and two
hearsay agents gossiping across the link. Runs as root (namespaces, TUN); bounded in time.
"""
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tempfile

import harness
import netem

HERE = os.path.dirname(os.path.abspath(__file__))
TRAFFIC = [sys.executable, os.path.join(HERE, "netem_traffic.py")]


def ping_rtts(link, count=20, interval=0.05):
    out = link.lan.run(["ping", "-n", "-c", str(count), "-i", str(interval), "-W", "2", link.wan.ip],
                       timeout=count * interval + 10).stdout
    return [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]


def start_receiver(ns, *args):
    proc = ns.popen(TRAFFIC + list(args), stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], 10)
    line = proc.stdout.readline().strip() if ready else ""
    assert line == "ready", f"receiver did not start: {line!r}"
    return proc


def result_of(proc, timeout):
    out, _ = proc.communicate(timeout=timeout)
    return json.loads(out.strip().splitlines()[-1])


def run_json(ns, *args, timeout=60):
    done = ns.run(TRAFFIC + list(args), timeout=timeout)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def rtt(link):
    link.reset()
    base = ping_rtts(link)
    assert len(base) == 20 and statistics.median(base) < 5, f"unimpaired link RTTs: {base}"
    link.set(rtt_ms=100)
    rtts = ping_rtts(link)
    median = statistics.median(rtts)
    print(f"  configured 100 ms RTT: median {median:.1f} ms, min {min(rtts):.1f}, max {max(rtts):.1f} "
          f"over {len(rtts)} pings", flush=True)
    assert len(rtts) == 20, f"lost pings on a lossless link: {len(rtts)}/20"
    assert 85 <= median <= 115, f"median RTT {median} ms for a configured 100 ms: {rtts}"
    assert min(rtts) >= 99, f"a ping came back faster than the configured delay: {rtts}"


def jitter(link):
    link.reset()
    link.set(rtt_ms=100, jitter_ms=20)
    rtts = ping_rtts(link, count=40)
    print(f"  100 ms RTT ± 20 ms each way: {min(rtts):.1f}..{max(rtts):.1f} ms, "
          f"stdev {statistics.pstdev(rtts):.1f}", flush=True)
    assert len(rtts) == 40
    assert min(rtts) >= 59 and max(rtts) <= 145, f"RTTs outside 100 ± 40 ms: {rtts}"
    assert max(rtts) - min(rtts) >= 20, f"jitter of ±20 ms each way barely spread the RTTs: {rtts}"


def loss(link):
    link.reset()
    link.set(direction="lan->wan", loss=0.3)  # one way: a UDP flood needs no answers
    before = link.stats()["ab"]
    recv = start_receiver(link.wan, "udp-recv", link.wan.ip, "9000", "1000", "20")
    run_json(link.lan, "udp-send", link.wan.ip, "9000", "1000", "1000")
    received = result_of(recv, 25)["received"]
    after = link.stats()["ab"]
    lost = 1000 - received
    print(f"  configured 30 % loss: {lost}/1000 datagrams lost; the forwarder dropped "
          f"{after['lost'] - before['lost']}", flush=True)
    # Binomial(1000, 0.3): standard deviation 14.5 datagrams; 250..350 is ±3.4 of them.
    assert 250 <= lost <= 350, f"{lost} of 1000 lost for a configured 30 %"
    # The same drops, give or take a straggler of an earlier check crossing in the same direction.
    assert abs(after["lost"] - before["lost"] - lost) <= 3, f"forwarder counts {after} against {lost} lost"


def cut(link):
    link.reset()
    assert len(ping_rtts(link, count=5)) == 5, "link down before the cut"
    link.set(cut=True)
    assert ping_rtts(link, count=10) == [], "pings crossed a cut link"
    stats = link.stats()
    assert stats["ab"]["cut"] >= 10, stats
    link.set(cut=False)
    assert len(ping_rtts(link, count=5)) == 5, "link not back after the cut was lifted"


def rate(link):
    link.reset()
    link.set(rtt_ms=20, rate_kbit=1000)
    recv = start_receiver(link.wan, "tcp-recv", link.wan.ip, "9001", "20")
    sent = run_json(link.lan, "tcp-send", link.wan.ip, "9001", "0", "4")
    got = result_of(recv, 25)
    samples = got["every_100ms"]
    assert len(samples) >= 35, f"transfer too short to measure: {got['bytes']} bytes, {len(samples)} samples"
    # From 1 s on (past slow start) to 3.5 s: payload bits per second; IP and TCP headers add ~4 %.
    kbit = (samples[35] - samples[10]) * 8 / 2.5 / 1000
    print(f"  configured 1000 kbit/s: TCP goodput {kbit:.0f} kbit/s (sent {sent['bytes']} bytes, "
          f"queue_full drops {link.stats()['ab']['queue_full']})", flush=True)
    assert 750 <= kbit <= 1250, f"TCP goodput {kbit:.0f} kbit/s through a 1000 kbit/s link"


def tcp_across_loss(link):
    link.reset()
    link.set(rtt_ms=50, loss=0.01)
    before = link.stats()
    recv = start_receiver(link.wan, "tcp-recv", link.wan.ip, "9002", "60")
    sent = run_json(link.lan, "tcp-send", link.wan.ip, "9002", str(2 << 20), "60", timeout=70)
    got = result_of(recv, 65)
    after = link.stats()
    dropped = sum(after[d]["lost"] - before[d]["lost"] for d in ("ab", "ba"))
    print(f"  2 MiB across 50 ms RTT and 1 % loss: {got['bytes']} bytes arrived, "
          f"{dropped} packets dropped on the way", flush=True)
    assert sent["bytes"] == 2 << 20 and got["bytes"] == sent["bytes"], (sent, got)
    assert got["sha256"] == sent["sha256"], "data changed on the way"
    assert dropped > 0, "1 % loss dropped nothing"


def cpu_at_load(link):
    link.reset()
    link.set(rtt_ms=100)
    before = link.stats()["ab"]
    cpu0 = link.forwarder_cpu_seconds()
    recv = start_receiver(link.wan, "udp-recv", link.wan.ip, "9003", "10000", "20")
    out = run_json(link.lan, "udp-send", link.wan.ip, "9003", "10000", "5000")
    received = result_of(recv, 25)["received"]
    cpu = link.forwarder_cpu_seconds() - cpu0
    delivered = link.stats()["ab"]["delivered"] - before["delivered"]
    print(f"  10000 datagrams at 5000/s, 100 ms RTT: {received} received, forwarder delivered {delivered}, "
          f"CPU {cpu:.2f} s over {out['seconds']:.1f} s of sending", flush=True)
    assert delivered >= 10000, f"the forwarder lost packets on a lossless link: {delivered}"
    assert received >= 9900, f"{received} of 10000 datagrams arrived"
    # Not a timing assertion: CPU seconds per packet, which load does not change much. A few
    # syscalls per packet cost well under 0.5 s for 10,000 packets.
    assert cpu < 1.0, f"forwarder used {cpu:.2f} CPU seconds for 10,000 packets"


def control(link):
    for bad in ["bogus", "set sideways delay_us=1", "set both loss=2", "set ab delay_us=x", "x" * 5000, "stats 1"]:
        link.forwarder.stdin.write(bad + "\n")
        link.forwarder.stdin.flush()
        reply = link._read_line()
        assert reply.startswith("error"), f"{bad[:40]!r} was not refused: {reply}"
    link.reset()
    assert len(ping_rtts(link, count=3)) == 3, "forwarder stopped forwarding after bad control lines"


def agents_gossip(link):
    link.reset()
    link.set(rtt_ms=100)
    dirs = [tempfile.mkdtemp(prefix="hearsay-netem-") for _ in range(2)]
    try:
        def members(ns):
            out = ns.run(["curl", "-sf", "--max-time", "5", "http://127.0.0.1:8500/v1/agent/members"], timeout=10)
            if out.returncode != 0:
                return {}
            return {m["Name"]: (m["Addr"], m["Status"]) for m in json.loads(out.stdout)}

        for name, ns, data_dir, join in (("lan1", link.lan, dirs[0], None), ("wan1", link.wan, dirs[1], link.lan.ip)):
            # Inside its own namespace each agent can use the default ports: nothing else is there.
            args = [harness.AGENT, "-node", name, "-data-dir", data_dir, "-client", "127.0.0.1",
                    "-bind", ns.ip, "-advertise", ns.ip, "-log-level", "debug"]
            if join:
                args += ["-join", join]
            log = open(os.path.join(data_dir, "agent.log"), "wb")
            ns.popen(args, stdout=log, stderr=log)
            log.close()
            # -join gives up at once when nobody listens: the first agent must be up before the second.
            harness.wait_until(lambda: name in members(ns), timeout=30, interval=0.1, what=f"agent {name} to answer")

        want = {"lan1": (link.lan.ip, 1), "wan1": (link.wan.ip, 1)}
        harness.wait_until(lambda: members(link.lan) == want and members(link.wan) == want, timeout=30,
                           interval=0.2, what="both agents to list each other as alive across the link")
        stats = link.stats()
        assert stats["ab"]["delivered"] > 0 and stats["ba"]["delivered"] > 0, stats
    except BaseException:
        for d in dirs:
            path = os.path.join(d, "agent.log")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    print(f"---- {path} ----\n" + f.read().decode(errors="replace")[-3000:])
        raise
    finally:
        for ns in (link.lan, link.wan):
            ns._kill_all()
        for d in dirs:
            shutil.rmtree(d, ignore_errors=True)


def interface_deleted():
    """A TUN interface deleted under the forwarder: it stops reading that fd instead of spinning
    on it at real-time priority, and keeps answering its control channel."""
    with netem.Link(seed=2) as link:
        assert len(ping_rtts(link, count=3)) == 3
        netem._ip("-n", link.lan.name, "link", "del", netem.DEV)
        cpu0 = link.forwarder_cpu_seconds()
        link.wan.run(["ping", "-n", "-c", "5", "-i", "0.1", "-W", "1", "10.213.1.1"], timeout=10)
        cpu = link.forwarder_cpu_seconds() - cpu0
        assert cpu < 0.2, f"forwarder used {cpu:.2f} CPU seconds in 1.5 s with one TUN gone"
        assert link.stats()["ba"]["received"] >= 5, "forwarder stopped reading the side that is still there"


def leftovers_removed():
    """Namespaces of a run that died (its pid is gone) are deleted when the next link starts,
    with what still ran in them; those of a live run are left alone."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = f"{netem.PREFIX}{dead.pid}-1-lan"
    live = f"{netem.PREFIX}{os.getpid()}-999-wan"
    for name in (stale, live):
        netem._ip("netns", "add", name)
    sleeper = subprocess.Popen(["ip", "netns", "exec", stale, "sleep", "60"])
    try:
        harness.wait_until(lambda: netem._ip("netns", "pids", stale).stdout.strip(), timeout=5,
                           what="the sleeper to run in the stale namespace")
        with netem.Link():
            names = netem._ip("netns", "list").stdout
            assert stale not in names, f"stale namespace {stale} survived: {names}"
            assert live in names, f"a live run's namespace {live} was deleted"
        assert sleeper.wait(timeout=5) == -9, "the process left in the stale namespace was not killed"
    finally:
        if sleeper.poll() is None:
            sleeper.kill()
            sleeper.wait()
        for name in (stale, live):
            netem._ip("netns", "del", name, check=False)


def main():
    netem.require()
    results = harness.Results()
    with netem.Link(seed=1) as link:
        results.run("100 ms RTT: ping median within 15 ms, none faster", rtt, link)
        results.run("jitter spreads the RTTs within their bounds", jitter, link)
        results.run("30 % loss: 250 to 350 of 1000 UDP datagrams lost, as the forwarder counts", loss, link)
        results.run("cut drops everything, lifting it brings the link back", cut, link)
        results.run("1000 kbit/s: TCP goodput within 25 %", rate, link)
        results.run("TCP carries 2 MiB intact across 1 % loss and 50 ms RTT", tcp_across_loss, link)
        results.run("5000 packets/s at 100 ms RTT: all delivered, forwarder CPU low", cpu_at_load, link)
        results.run("bad control lines are refused and the link keeps working", control, link)
        results.run("two hearsay agents in different namespaces gossip across the link", agents_gossip, link)
    results.run("a deleted TUN interface does not make the forwarder spin", interface_deleted)
    results.run("namespaces left by a dead run are removed, a live run's are not", leftovers_removed)
    results.finish()


if __name__ == "__main__":
    main()
