"""An impaired link between two network namespaces, for integration tests and benchmarks.

`Link()` creates the namespaces `hs-<pid>-<n>-lan` and `hs-<pid>-<n>-wan`, starts the forwarder
(tests/netem, $HEARSAY_NETEM or build/tests/netem/hearsay_netem) that joins them through a TUN
device in each, and addresses them 10.213.1.1 (lan) and 10.213.2.1 (wan). Those addresses exist
only inside the two namespaces, so parallel runs never meet and nothing is routed anywhere real.
Impairments change at run time with `set()`; `close()` (or leaving the `with`) kills what was
started in the namespaces, stops the forwarder and deletes the namespaces, also on failure.

    with netem.Link() as link:
        link.set(rtt_ms=100, loss=0.01)
        link.lan.run(["ping", "-c", "3", link.wan.ip])
        agent = link.wan.popen([AGENT, "-bind", link.wan.ip, ...])
        link.set(cut=True)

Needs root (namespaces, TUN); `require()` skips the test (exit 77) otherwise. See tests/netem/README.md.
"""
import itertools
import os
import re
import select
import signal
import subprocess
import sys
import time

import harness

REPO = harness.REPO
NETEM = os.environ.get("HEARSAY_NETEM", os.path.join(REPO, "build", "tests", "netem", "hearsay_netem"))
PREFIX = "hs-"
LAN_IP, WAN_IP = "10.213.1.1", "10.213.2.1"
SUBNET = "10.213.0.0/16"  # routed into the TUN inside the namespaces only
DEV = "netem0"
_counter = itertools.count(1)


def require():
    """Skips the test (harness.skip: exit 77, a failure under CI) when namespaces cannot be made here."""
    if os.geteuid() != 0:
        harness.skip("the link emulator needs root (network namespaces and TUN devices)")
    if not os.path.exists("/dev/net/tun"):
        harness.skip("no /dev/net/tun")
    for tool in ("ip", "ping"):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            harness.skip(f"`{tool}` is not installed (packaging/install-deps.sh installs it)")
    if not os.access(NETEM, os.X_OK):
        raise AssertionError(f"forwarder not built: {NETEM}")


def _ip(*args, check=True):
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=check)


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _delete_netns(name):
    """Kills what still runs in namespace `name` (our own processes: the namespace is ours) and deletes it."""
    out = _ip("netns", "pids", name, check=False).stdout.split()
    for pid in out:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass
    _ip("netns", "del", name, check=False)


def remove_leftovers():
    """Deletes namespaces left by earlier runs that died (their owner pid is gone)."""
    listing = _ip("netns", "list", check=False).stdout
    for line in listing.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{PREFIX}(\d+)-\d+-(lan|wan)", name)
        if m and not _alive(int(m.group(1))):
            _delete_netns(name)


class Namespace:
    """One side of the link: a network namespace with the TUN interface and its address."""

    def __init__(self, name, ip):
        self.name, self.ip = name, ip
        self._procs = []

    def exec_args(self, argv):
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, argv, timeout=30, check=False, **kw):
        """Runs `argv` inside the namespace; output captured as text."""
        return subprocess.run(self.exec_args(argv), capture_output=True, text=True, timeout=timeout, check=check, **kw)

    def popen(self, argv, **kw):
        """Starts `argv` inside the namespace; killed by Link.close() if still running."""
        proc = subprocess.Popen(self.exec_args(argv), **kw)
        self._procs.append(proc)
        return proc

    def add_address(self, ip):
        """One more address on this side (on lo, /32), e.g. one per agent; reachable across the link."""
        _ip("-n", self.name, "addr", "add", f"{ip}/32", "dev", "lo")

    def _kill_all(self):
        for proc in self._procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + 5
        for proc in self._procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


class Link:
    """Two namespaces, `lan` and `wan`, joined by the forwarder. Direction "ab" is lan -> wan."""

    def __init__(self, seed=1):
        self.seed = seed
        tag = f"{PREFIX}{os.getpid()}-{next(_counter)}"
        self.lan = Namespace(f"{tag}-lan", LAN_IP)
        self.wan = Namespace(f"{tag}-wan", WAN_IP)
        self.forwarder = None

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        # ctest ends a test that runs too long with SIGTERM; without a handler Python would die
        # without running the `finally` that deletes the namespaces and stops the agents in them.
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        remove_leftovers()
        for ns in (self.lan, self.wan):
            _ip("netns", "add", ns.name)
        self.forwarder = subprocess.Popen(
            [NETEM, "--netns-a", f"/run/netns/{self.lan.name}", "--netns-b", f"/run/netns/{self.wan.name}",
             "--dev-a", DEV, "--dev-b", DEV, "--seed", str(self.seed), "--realtime", "1"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        line = self._read_line(timeout=10)
        if line != "ready":
            raise AssertionError(f"forwarder did not start: {line!r}")
        for ns in (self.lan, self.wan):
            # No IPv6: router solicitations and MLD reports would cross the link, draw from the
            # loss generator and make the counts of a test depend on the kernel's timers.
            subprocess.run(ns.exec_args(["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"]),
                           check=True, timeout=10)
            subprocess.run(ns.exec_args(["sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"]),
                           check=True, timeout=10)
            _ip("-n", ns.name, "link", "set", "lo", "up")
            _ip("-n", ns.name, "link", "set", DEV, "up")
            _ip("-n", ns.name, "addr", "add", f"{ns.ip}/32", "dev", DEV)
            _ip("-n", ns.name, "route", "add", SUBNET, "dev", DEV, "src", ns.ip)
        return self

    def _read_line(self, timeout=10):
        ready, _, _ = select.select([self.forwarder.stdout], [], [], timeout)
        if not ready:
            raise AssertionError("forwarder did not answer within %ss" % timeout)
        return self.forwarder.stdout.readline().strip()

    def command(self, line):
        """Sends one control line (tests/netem/README.md) and returns the reply without "ok"."""
        if self.forwarder is None or self.forwarder.poll() is not None:
            raise AssertionError("forwarder is not running")
        self.forwarder.stdin.write(line + "\n")
        self.forwarder.stdin.flush()
        reply = self._read_line()
        if not reply.startswith("ok"):
            raise AssertionError(f"forwarder refused {line!r}: {reply}")
        return reply[2:].strip()

    def set(self, direction="both", rtt_ms=None, delay_ms=None, jitter_ms=None, loss=None, rate_kbit=None,
            rate_bytes=None, queue_bytes=None, cut=None):
        """Changes only what is given. direction: "both", "ab" or "lan->wan", "ba" or "wan->lan".
        rtt_ms sets half of it as the one-way delay of each direction given; delay_ms is one way.
        jitter_ms: each packet's one-way delay is ± up to this (uniform). loss: 0..1 per packet.
        rate_kbit (1000 bit/s) or rate_bytes: the IP bytes per second; 0 = unlimited.
        queue_bytes: what may wait for the rate limit before packets are dropped. cut: drop all."""
        direction = {"lan->wan": "ab", "wan->lan": "ba"}.get(direction, direction)
        keys = []
        if rtt_ms is not None:
            delay_ms = rtt_ms / 2
        if delay_ms is not None:
            keys.append(f"delay_us={round(delay_ms * 1000)}")
        if jitter_ms is not None:
            keys.append(f"jitter_us={round(jitter_ms * 1000)}")
        if loss is not None:
            keys.append(f"loss={float(loss)!r}")
        if rate_kbit is not None:
            rate_bytes = rate_kbit * 1000 / 8
        if rate_bytes is not None:
            keys.append(f"rate={round(rate_bytes)}")
        if queue_bytes is not None:
            keys.append(f"queue={int(queue_bytes)}")
        if cut is not None:
            keys.append(f"cut={1 if cut else 0}")
        if keys:
            self.command(f"set {direction} " + " ".join(keys))

    def reset(self):
        """A perfect link again: no delay, jitter, loss, rate limit or cut."""
        self.set(delay_ms=0, jitter_ms=0, loss=0, rate_bytes=0, cut=False)

    def stats(self):
        """Counters per direction: {"ab": {"received": N, "delivered": N, "lost": N, ...}, "ba": {...}}."""
        out = {"ab": {}, "ba": {}}
        for item in self.command("stats").split():
            key, _, value = item.partition("=")
            direction, _, name = key.partition(".")
            out[direction][name] = int(value)
        return out

    def forwarder_cpu_seconds(self):
        """User + system CPU time the forwarder has used so far."""
        with open(f"/proc/{self.forwarder.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        for ns in (self.lan, self.wan):
            ns._kill_all()
        if self.forwarder is not None and self.forwarder.poll() is None:
            try:
                self.forwarder.stdin.close()  # end of input: the forwarder exits, its TUNs vanish
                self.forwarder.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.forwarder.kill()
                self.forwarder.wait(timeout=5)
        if self.forwarder is not None:
            self.forwarder.stdout.close()
        for ns in (self.lan, self.wan):
            _delete_netns(ns.name)
