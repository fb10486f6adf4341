#!/usr/bin/env python3
"""Membership poller for bench/gossip.sh: asks the agents of a group for their member lists, the
same way for serf and hearsay, so that neither pays more than the other for being observed.

Both are asked over one persistent socket per agent (serf: its msgpack RPC, what `serf
members` speaks; hearsay: HTTP/1.1 keep-alive GET /v1/agent/members), all agents of a round
concurrently, a round every POLL_MS. Not `serf members` per agent and round: a process start
each (tens of ms of CPU) on a 2-core machine would slow serf down for no fault of its own. For
the same reason neither reply is fully decoded in Python: serf's reply end is found by a flat
skip loop and Name/Status by regex (about 0.3 ms per 100 members, against ~1 ms decoded), and
hearsay's Name/Status by regex (~0.04 ms, against ~0.3 ms for json.loads). And a round asks only
the agents that are not done yet (done = complete for convergence, lists the victim failed for
detection), with one final round over all of them that must confirm, so that a slow tail of one
agent is not paid for by polling all N.

Standard library only. Subcommands (times: seconds on this process's monotonic clock; results on
stdout as one line of space-separated fields, diagnostics on stderr; BENCH_DEBUG=1 prints a
progress line per round):
  ports K                          K ports free for both TCP and UDP on 127.0.0.1
  wait IMPL TIMEOUT PORT...        until every agent answers; prints the seconds it took
  converge IMPL SEED TIMEOUT POLL_MS PORT...
      t0, then asks agents 2..N to join SEED (127.0.0.1:port) all at once, polls until every
      agent lists all N members alive. Prints: seconds p90_seconds rounds mean_round_ms
      join_errors false_failed (names listed failed/left, comma-separated, "-" if none); exits 2
      on timeout. seconds = when the last agent was first seen complete; p90 = when 90% were.
  check IMPL PORT...               one round: prints bad_pairs false_failed, where bad_pairs is how
                                   many (agent, member) pairs are missing or not alive.
  detect IMPL PID NAME TIMEOUT POLL_MS PORT...
      connects to the given (surviving) agents, t0, kill -9 PID, polls until every one of them
      lists NAME as failed. Prints: seconds rounds mean_round_ms false_failed; exits 2 on timeout.
"""
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import time
from concurrent.futures import ThreadPoolExecutor

REQUEST_TIMEOUT = 5.0
DEBUG = os.environ.get("BENCH_DEBUG") == "1"


# ---- msgpack, the subset serf's RPC uses. Decoding works on a buffer by index and raises
# IndexError when the buffer does not yet hold the whole value.
def mp_pack(v):
    if v is None:
        return b"\xc0"
    if v is True:
        return b"\xc3"
    if v is False:
        return b"\xc2"
    if isinstance(v, int):
        if 0 <= v < 128:
            return bytes([v])
        if 0 <= v < 2**32:
            return b"\xce" + struct.pack(">I", v)
        return b"\xcf" + struct.pack(">Q", v)
    if isinstance(v, str):
        b = v.encode()
        if len(b) < 32:
            return bytes([0xA0 | len(b)]) + b
        if len(b) < 256:
            return b"\xd9" + bytes([len(b)]) + b
        return b"\xda" + struct.pack(">H", len(b)) + b
    if isinstance(v, (list, tuple)):
        assert len(v) < 16
        return bytes([0x90 | len(v)]) + b"".join(mp_pack(x) for x in v)
    if isinstance(v, dict):
        assert len(v) < 16
        return bytes([0x80 | len(v)]) + b"".join(mp_pack(k) + mp_pack(x) for k, x in v.items())
    raise TypeError(type(v))


_U8, _U16, _U32 = struct.Struct(">B").unpack_from, struct.Struct(">H").unpack_from, struct.Struct(">I").unpack_from
_FIXED = {0xCC: ">B", 0xCD: ">H", 0xCE: ">I", 0xCF: ">Q", 0xD0: ">b", 0xD1: ">h", 0xD2: ">i", 0xD3: ">q",
          0xCA: ">f", 0xCB: ">d"}
_FIXED_SIZE = {t: struct.calcsize(f) for t, f in _FIXED.items()}
_FIXEXT = {0xD4: 1, 0xD5: 2, 0xD6: 4, 0xD7: 8, 0xD8: 16}


def _need(b, end):
    if end > len(b):
        raise IndexError("incomplete")
    return end


def _length(b, i):
    """For str/bin/array/map/ext types with an explicit length: (kind, count, index after it)."""
    t = b[i]
    if t in (0xD9, 0xC4):
        return ("str" if t == 0xD9 else "bin"), _U8(b, _need(b, i + 2) - 1)[0], i + 2
    if t in (0xDA, 0xC5, 0xDC, 0xDE):
        kind = {0xDA: "str", 0xC5: "bin", 0xDC: "array", 0xDE: "map"}[t]
        return kind, _U16(b, _need(b, i + 3) - 2)[0], i + 3
    if t in (0xDB, 0xC6, 0xDD, 0xDF):
        kind = {0xDB: "str", 0xC6: "bin", 0xDD: "array", 0xDF: "map"}[t]
        return kind, _U32(b, _need(b, i + 5) - 4)[0], i + 5
    if t in (0xC7, 0xC8, 0xC9):
        n = {0xC7: 1, 0xC8: 2, 0xC9: 4}[t]
        return "ext", int.from_bytes(b[i + 1:_need(b, i + 1 + n)], "big") + 1, i + 1 + n
    raise ValueError(f"msgpack type byte 0x{t:02x}")


def mp_skip(b, i):
    """Index just past the value at b[i], building nothing (a flat loop: serf's members reply
    has thousands of values, and Python calls are what costs)."""
    pending = 1  # values still to skip
    while pending:
        pending -= 1
        t = b[i]
        if t <= 0x7F or t >= 0xE0 or t in (0xC0, 0xC2, 0xC3):
            i += 1
        elif t >= 0xA0 and t <= 0xBF:
            i += 1 + (t & 0x1F)
        elif t <= 0x8F:
            pending += 2 * (t & 0x0F)
            i += 1
        elif t <= 0x9F:
            pending += t & 0x0F
            i += 1
        elif t in _FIXED_SIZE:
            i += 1 + _FIXED_SIZE[t]
        elif t in _FIXEXT:
            i += 2 + _FIXEXT[t]
        else:
            kind, n, i = _length(b, i)
            if kind in ("str", "bin", "ext"):
                i += n
            else:
                pending += n * (2 if kind == "map" else 1)
    return _need(b, i)


def mp_decode(b, i):
    """(value, index after it)."""
    t = b[i]
    if t <= 0x7F:
        return t, i + 1
    if t >= 0xE0:
        return t - 0x100, i + 1
    if t in (0xC0, 0xC2, 0xC3):
        return {0xC0: None, 0xC2: False, 0xC3: True}[t], i + 1
    if 0xA0 <= t <= 0xBF:
        end = _need(b, i + 1 + (t & 0x1F))
        return bytes(b[i + 1:end]).decode(errors="replace"), end
    if t in _FIXED:
        end = _need(b, i + 1 + _FIXED_SIZE[t])
        return struct.unpack_from(_FIXED[t], b, i + 1)[0], end
    if t in _FIXEXT:
        return None, _need(b, i + 2 + _FIXEXT[t])
    if t <= 0x9F:
        kind, n, i = ("map" if t <= 0x8F else "array"), t & 0x0F, i + 1
    else:
        kind, n, i = _length(b, i)
    if kind in ("str", "bin", "ext"):
        end = _need(b, i + n)
        raw = bytes(b[i:end])
        return {"str": raw.decode(errors="replace"), "bin": raw, "ext": None}[kind], end
    if kind == "array":
        out = []
        for _ in range(n):
            v, i = mp_decode(b, i)
            out.append(v)
        return out, i
    out = {}
    for _ in range(n):
        k, i = mp_decode(b, i)
        v, i = mp_decode(b, i)
        out[k.decode(errors="replace") if isinstance(k, bytes) else k] = v
    return out, i


_NAME = re.compile(rb"\xa4Name(?:([\xa0-\xbf])|\xd9([\x00-\xff]))", re.S)
_STATUS = re.compile(rb"\xa6Status([\xa0-\xbf])", re.S)


def serf_members(b, i, end):
    """{Name: Status} from serf's members reply {"Members": [{Name, Addr, Port, Tags, Status, ...}]}
    in b[i:end]. Fast path: find the Name and Status fields by their encoding (two regex scans in
    C); if that does not give one of each per member (a tag value that looks like a field, say),
    decode it all."""
    body = bytes(b[i:end])
    names = []
    for m in _NAME.finditer(body):
        length = (body[m.start(1)] & 0x1F) if m.group(1) is not None else body[m.start(2)]
        names.append(body[m.end():m.end() + length].decode(errors="replace"))
    statuses = [body[m.end():m.end() + (body[m.start(1)] & 0x1F)].decode(errors="replace")
                for m in _STATUS.finditer(body)]
    if len(names) == len(statuses) == _serf_member_count(body):
        return dict(zip(names, statuses))
    reply, _ = mp_decode(body, 0)
    return {m["Name"]: m["Status"] for m in reply["Members"]}


def _serf_member_count(body):
    """Length of the Members array when it is the reply's first key, else -1."""
    t = body[0]
    if 0x80 <= t <= 0x8F:
        at = 1
    else:
        _, _, at = _length(body, 0)
    key, at = mp_decode(body, at)
    if key != "Members":
        return -1
    t = body[at]
    return (t & 0x0F) if 0x90 <= t <= 0x9F else _length(body, at)[1]


# ---- one agent, either kind
class SerfAgent:
    """serf's RPC (github.com/hashicorp/serf/client): msgpack header {Command, Seq} + body;
    reply header {Seq, Error} + body (none for handshake)."""

    def __init__(self, port):
        self.port = port
        self.sock = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.seq = 0
        self._call("handshake", {"Version": 1}, reply_body=False)

    def _next_value(self, pos):
        """Reads until the buffer holds a whole value at pos; returns the index after it."""
        while True:
            try:
                return mp_skip(self.buf, pos)
            except IndexError:
                data = self.sock.recv(1 << 16)
                if not data:
                    raise ConnectionError("serf RPC closed")
                self.buf += data

    def _call(self, command, body=None, reply_body=True, decode=None):
        seq = self.seq
        self.seq += 1
        msg = mp_pack({"Command": command, "Seq": seq})
        if body is not None:
            msg += mp_pack(body)
        self.sock.sendall(msg)
        body_at = self._next_value(0)
        header, _ = mp_decode(self.buf, 0)
        reply = None
        if reply_body:
            end = self._next_value(body_at)
            if decode is not None:
                reply = decode(self.buf, body_at, end)
            body_at = end
        del self.buf[:body_at]  # one request at a time: nothing else can follow
        if header.get("Error"):
            raise RuntimeError(f"serf {command}: {header['Error']}")
        return reply

    def call(self, command, body=None, reply_body=True, decode=None):
        try:
            if self.sock is None:
                self._connect()
            return self._call(command, body, reply_body, decode)
        except Exception:
            self.close()
            raise

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def members(self):
        return self.call("members", decode=serf_members)

    def join(self, seed):
        self.call("join", {"Existing": [seed], "Replay": False})


_JSON_NAME = re.compile(rb'"Name":"((?:[^"\\]|\\.)*)"')
_JSON_STATUS = re.compile(rb'"Status":(\d+)')


def hearsay_members(body):
    """[(Name, Status)] from /v1/agent/members. Fast path, as for serf: the Name and Status
    fields by regex (one C scan each, ~0.04 ms per 100 members against ~0.3 ms for json.loads);
    if that does not give one of each per member (a tag named "Name", an escaped name), decode
    it all."""
    names = _JSON_NAME.findall(body)
    statuses = _JSON_STATUS.findall(body)
    if len(names) == len(statuses) == body.count(b'"DelegateCur":') and b"\\" not in body:
        return [(n.decode(), int(s)) for n, s in zip(names, statuses)]
    return [(m["Name"], m["Status"]) for m in json.loads(body)]


class HearsayAgent:
    """HTTP/1.1 keep-alive over one socket, written out by hand as serf's RPC is: http.client
    parses every response's headers with the email package, which cost ~0.6 ms per reply and
    made a 100-agent round ~3x slower than serf's. The agent always sends Content-Length."""
    STATUS = {1: "alive", 2: "leaving", 3: "left", 4: "failed"}

    def __init__(self, port):
        self.port = port
        self.sock = None
        self.buf = b""

    def _read_until(self, done):
        while not done():
            data = self.sock.recv(1 << 16)
            if not data:
                raise ConnectionError("HTTP connection closed")
            self.buf += data

    def request(self, method, path, body=None):
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=REQUEST_TIMEOUT)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.buf = b""
            payload = body.encode() if isinstance(body, str) else (body or b"")
            self.sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n\r\n"
                              .encode() + payload)
            self._read_until(lambda: b"\r\n\r\n" in self.buf)
            head, _, self.buf = self.buf.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            if m is None:
                raise RuntimeError(f"{method} {path}: no Content-Length in {head[:200]!r}")
            length = int(m.group(1))
            self._read_until(lambda: len(self.buf) >= length)
            reply, self.buf = self.buf[:length], self.buf[length:]
            if status != 200:
                raise RuntimeError(f"{method} {path}: HTTP {status} {reply[:200]!r}")
            return reply
        except Exception:
            self.close()
            raise

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def members(self):
        return {name: self.STATUS.get(status, str(status))
                for name, status in hearsay_members(self.request("GET", "/v1/agent/members"))}

    def join(self, seed):
        self.request("PUT", "/v1/agent/join/" + seed)


def agents(impl, ports):
    cls = {"serf": SerfAgent, "hearsay": HearsayAgent}[impl]
    return [cls(int(p)) for p in ports]


class Poller:
    """Rounds of concurrent member-list queries, a thread per agent."""

    def __init__(self, group):
        self.group = group
        self.pool = ThreadPoolExecutor(max_workers=len(group))
        self.round_seconds = []

    def _ask(self, i):
        try:
            return self.group[i].members(), time.monotonic(), None
        except Exception as e:  # an agent that does not answer counts as not done
            return None, time.monotonic(), f"{type(e).__name__}: {e}"

    def round(self, which=None):
        """{index: (members or None, time answered, error)} for the agents in which (default all)."""
        which = range(len(self.group)) if which is None else which
        start = time.monotonic()
        out = dict(zip(which, self.pool.map(self._ask, which)))
        self.round_seconds.append(time.monotonic() - start)
        return out

    def mean_round_ms(self):
        return 1000 * sum(self.round_seconds) / max(1, len(self.round_seconds))


def false_failed(results, killed=()):
    """Names some agent lists as failed/left/leaving (none may be, but those we killed)."""
    return {name for members, _, _ in results.values() for name, status in (members or {}).items()
            if name not in killed and status in ("failed", "left", "leaving")}


def poll_until_done(poller, is_done, t0, timeout, poll_ms, describe):
    """Rounds over the agents not done yet until all are, then one round over all that must
    confirm. Returns (time each agent was first seen done, rounds, names seen failed) or exits 2."""
    n = len(poller.group)
    done_at = [None] * n
    seen_failed = set()
    rounds = 0
    while True:
        round_start = time.monotonic()
        pending = [i for i in range(n) if done_at[i] is None]
        confirming = not pending
        results = poller.round(None if confirming else pending)
        rounds += 1
        seen_failed |= false_failed(results, describe.get("killed", ()))
        not_done = []
        for i, (members, at, _) in results.items():
            if members is not None and is_done(members):
                if done_at[i] is None:
                    done_at[i] = at
            else:
                done_at[i] = None
                not_done.append(i)
        if DEBUG:
            print(f"  {time.monotonic() - t0:7.2f}s round {1000 * poller.round_seconds[-1]:4.0f} ms over"
                  f" {len(results)}{' (confirming)' if confirming else ''}: {n - sum(t is None for t in done_at)}/{n}"
                  f" done{describe['progress'](results, not_done)}", file=sys.stderr)
        if confirming and not not_done:
            return done_at, rounds, seen_failed
        if time.monotonic() - t0 > timeout:
            print(f"not done after {timeout}s ({describe['what']}): {len(not_done)} of {n} agents, e.g. "
                  f"{[(poller.group[i].port, describe['state'](results[i][0]), results[i][2]) for i in not_done[:10]]}",
                  file=sys.stderr, flush=True)
            os._exit(2)  # do not wait for pool threads (a serf join may still block in one)
        if not confirming:
            time.sleep(max(0.0, poll_ms / 1000 - (time.monotonic() - round_start)))


def cmd_ports(k):
    socks, ports = [], []
    while len(ports) < k:
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            u.close()
            continue
        socks += [t, u]
        ports.append(port)
    print(" ".join(map(str, ports)))  # all held until here, so no port is handed out twice


def cmd_wait(impl, timeout, ports):
    start = time.monotonic()
    pending = agents(impl, ports)
    while pending:
        if time.monotonic() - start > timeout:
            sys.exit(f"{len(pending)} {impl} agents not answering after {timeout}s, e.g. port {pending[0].port}")
        still = []
        for a in pending:
            try:
                a.members()
                a.close()
            except Exception:
                still.append(a)
        pending = still
        if pending:
            time.sleep(0.1)
    print(f"{time.monotonic() - start:.2f}")


def cmd_converge(impl, seed, timeout, poll_ms, ports):
    group = agents(impl, ports)
    joiners = agents(impl, ports[1:])  # own connections: a serf RPC join blocks until done
    n = len(group)
    poller = Poller(group)
    join_pool = ThreadPoolExecutor(max_workers=max(1, len(joiners)))
    join_errors = []

    def join(agent):
        try:
            agent.join(seed)
        except Exception as e:
            join_errors.append(f"port {agent.port}: {e}")
        finally:
            agent.close()

    def complete(members):
        return len(members) == n and all(s == "alive" for s in members.values())

    names = set()  # every member any agent listed so far

    def progress(results, not_done):
        alive = sorted(sum(s == "alive" for s in (m or {}).values()) for m, _, _ in results.values())
        text = f", alive listed min {alive[0]} median {alive[len(alive) // 2]}" if alive else ""
        names.update(*((m or {}).keys() for m, _, _ in results.values()))
        if 0 < len(not_done) <= 3:  # who lacks whom
            for i in not_done:
                m = results[i][0] or {}
                text += f"; port {group[i].port} lacks {sorted(x for x in names if m.get(x) != 'alive')[:5]}"
        return text

    poller.round()  # connect before t0, for either implementation
    poller.round_seconds.clear()
    t0 = time.monotonic()
    for a in joiners:
        join_pool.submit(join, a)
    done_at, rounds, seen_failed = poll_until_done(
        poller, complete, t0, timeout, poll_ms,
        {"what": f"{n} alive", "progress": progress,
         "state": lambda m: None if m is None else f"{sum(s == 'alive' for s in m.values())} alive"})
    times = sorted(t - t0 for t in done_at)
    for msg in join_errors[:5]:
        print("join error:", msg, file=sys.stderr)
    print(f"{times[-1]:.3f} {times[math.ceil(0.9 * n) - 1]:.3f} {rounds} {poller.mean_round_ms():.1f}"
          f" {len(join_errors)} {','.join(sorted(seen_failed)) or '-'}", flush=True)
    os._exit(0)


def cmd_check(impl, ports):
    group = agents(impl, ports)
    results = Poller(group).round()
    n = len(group)
    bad = 0
    for members, _, err in results.values():
        if members is None:
            bad += n
            print("no answer:", err, file=sys.stderr)
            continue
        bad += n - sum(s == "alive" for s in members.values())
    print(f"{bad} {','.join(sorted(false_failed(results))) or '-'}", flush=True)
    os._exit(0)


def cmd_detect(impl, pid, name, earlier, timeout, poll_ms, ports):
    """Kills `pid` (member `name`) and times until every agent on `ports` lists it failed.
    `earlier`: members killed before in this group (comma-separated, or -), failed already."""
    killed = {name} | ({n for n in earlier.split(",") if n} if earlier != "-" else set())
    group = agents(impl, ports)
    poller = Poller(group)
    poller.round()  # connect before t0
    poller.round_seconds.clear()
    t0 = time.monotonic()
    os.kill(pid, signal.SIGKILL)

    def progress(results, not_done):
        states = [(m or {}).get(name) for m, _, _ in results.values()]
        return f", {name}: " + ", ".join(f"{s} {states.count(s)}" for s in sorted(set(states), key=str))

    # Failed stays failed (serf reaps after 24 h), so "first seen failed" needs no run of samples.
    done_at, rounds, seen_failed = poll_until_done(
        poller, lambda m: m.get(name) == "failed", t0, timeout, poll_ms,
        {"what": f"{name} failed", "progress": progress, "killed": killed,
         "state": lambda m: None if m is None else m.get(name)})
    print(f"{max(done_at) - t0:.3f} {rounds} {poller.mean_round_ms():.1f} {','.join(sorted(seen_failed)) or '-'}",
          flush=True)
    os._exit(0)


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "ports":
        cmd_ports(int(args[0]))
    elif cmd == "wait":
        cmd_wait(args[0], float(args[1]), args[2:])
    elif cmd == "converge":
        cmd_converge(args[0], args[1], float(args[2]), float(args[3]), args[4:])
    elif cmd == "check":
        cmd_check(args[0], args[1:])
    elif cmd == "detect":
        cmd_detect(args[0], int(args[1]), args[2], args[3], float(args[4]), float(args[5]), args[6:])
    else:
        sys.exit(f"unknown subcommand {cmd}")


if __name__ == "__main__":
    main(sys.argv)
