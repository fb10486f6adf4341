"""Traffic across the emulated link, run inside a namespace by test_netem.py (`ip netns exec`).
Each mode is bounded in time and prints one JSON line (receivers print "ready" first, once bound).

  udp-recv IP PORT COUNT SECONDS        counts datagrams until COUNT arrived, 1.5 s of silence
                                        after one, or SECONDS
  udp-send IP PORT COUNT RATE           sends COUNT numbered 200-byte datagrams at RATE per second
  tcp-recv IP PORT SECONDS              accepts one connection, reads to EOF (or SECONDS); prints
                                        bytes, sha256, and cumulative bytes every 100 ms
  tcp-send IP PORT BYTES SECONDS        sends BYTES of seeded pseudo-random data (0: as much as
                                        fits in SECONDS); prints bytes and sha256
"""
import hashlib
import json
import random
import socket
import sys
import time

SO_RCVBUFFORCE = getattr(socket, "SO_RCVBUFFORCE", 33)  # Linux; Python 3.11 does not name it


def udp_recv(ip, port, count, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # 4 MiB (~4,000 small datagrams, almost a second at 5,000/s), so that a receiver descheduled
    # on a loaded machine loses nothing; SO_RCVBUFFORCE passes rmem_max (we run as root).
    try:
        s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 4 << 20)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind((ip, port))
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    seen = set()
    last = None  # when the latest datagram came; 1.5 s of silence after it ends the count
    while len(seen) < count and time.monotonic() < deadline:
        until = deadline if last is None else min(deadline, last + 1.5)
        if time.monotonic() >= until:
            break
        s.settimeout(max(0.01, until - time.monotonic()))
        try:
            data = s.recv(2048)
        except socket.timeout:
            continue
        seen.add(int.from_bytes(data[:4], "big"))
        last = time.monotonic()
    print(json.dumps({"received": len(seen)}), flush=True)


def udp_send(ip, port, count, rate):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start = time.monotonic()
    for i in range(count):
        s.sendto(i.to_bytes(4, "big") + b"x" * 196, (ip, port))
        ahead = start + (i + 1) / rate - time.monotonic()
        if ahead > 0.002:
            time.sleep(ahead)
    print(json.dumps({"sent": count, "seconds": time.monotonic() - start}), flush=True)


def tcp_recv(ip, port, seconds):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((ip, port))
    srv.listen(1)
    srv.settimeout(seconds)
    print("ready", flush=True)
    deadline = time.monotonic() + seconds
    conn, _ = srv.accept()
    digest, total, samples, start = hashlib.sha256(), 0, [], None
    next_sample = None
    while time.monotonic() < deadline:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = conn.recv(65536)
        except socket.timeout:
            break
        if not data:
            break
        now = time.monotonic()
        if start is None:
            start, next_sample = now, now + 0.1
        while now >= next_sample:
            samples.append(total)
            next_sample += 0.1
        total += len(data)
        digest.update(data)
    print(json.dumps({"bytes": total, "sha256": digest.hexdigest(), "every_100ms": samples}), flush=True)


def tcp_send(ip, port, size, seconds):
    s = socket.create_connection((ip, port), timeout=seconds)
    rng = random.Random(7)
    digest, sent = hashlib.sha256(), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and (size == 0 or sent < size):
        chunk = rng.randbytes(min(16384, size - sent) if size else 16384)
        s.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            s.sendall(chunk)
        except socket.timeout:
            break
        digest.update(chunk)
        sent += len(chunk)
    s.close()
    print(json.dumps({"bytes": sent, "sha256": digest.hexdigest()}), flush=True)


if __name__ == "__main__":
    mode, ip, port, *rest = sys.argv[1:]
    port = int(port)
    if mode == "udp-recv":
        udp_recv(ip, port, int(rest[0]), float(rest[1]))
    elif mode == "udp-send":
        udp_send(ip, port, int(rest[0]), float(rest[1]))
    elif mode == "tcp-recv":
        tcp_recv(ip, port, float(rest[0]))
    elif mode == "tcp-send":
        tcp_send(ip, port, int(rest[0]), float(rest[1]))
    else:
        sys.exit(f"unknown mode {mode}")
