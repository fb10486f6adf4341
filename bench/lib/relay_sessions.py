#!/usr/bin/env python3
"""Simulated remotes for bench/relay.sh part 4: COUNT remote sessions to one relay from this one
process (asyncio + ssl), each speaking the frame protocol of remote/frame.h: a 4-byte big-endian
length, a type byte (hello 1, welcome 2, refuse 3, ping 6, pong 7, ...), a msgpack map. Each
session sends a hello (its own node name sim-NNNN, any token: the bench relay has no ACLs),
waits for the welcome, then pings every keepalive the welcome names. Everything the relay
sends after the welcome (its pings, replication entries, the members frame) is read and dropped
unparsed (any frame counts as alive, so pongs are not needed): these remotes keep no mirror, so they cost the relay an idle session and nothing more.

The relay's certificate is not verified (a bench client on loopback; the agent always verifies).

  relay_sessions.py HOST PORT COUNT OPEN_TIMEOUT SECONDS
Opens the sessions (at most 20 handshakes at a time; RELAY_SIM_HANDSHAKES), prints "open N
SECONDS" on stdout once all are welcomed (or after OPEN_TIMEOUT s with what it has), keeps them
for SECONDS, then prints "done open=N lost=N refused=N" and exits. Bounded: it never runs longer
than OPEN_TIMEOUT + SECONDS + 10 s.
"""
import asyncio
import os
import ssl
import struct
import sys
import time
import uuid

import msgpack  # python3-msgpack (packaging/install-deps.sh, bench packages)

HELLO, WELCOME, REFUSE, PING = 1, 2, 3, 6
MAX_FRAME = 4 * 1024 * 1024


def frame(kind, body):
    payload = bytes([kind]) + msgpack.packb(body, use_bin_type=True)
    return struct.pack(">I", len(payload)) + payload


class Counts:
    def __init__(self):
        self.open = self.lost = self.refused = 0


async def read_frame(reader):
    head = await reader.readexactly(4)
    (length,) = struct.unpack(">I", head)
    if length == 0 or length > MAX_FRAME:
        raise ConnectionError(f"bad frame length {length}")
    payload = await reader.readexactly(length)
    return payload[0], payload[1:]


async def session(i, host, port, ctx, gate, counts, welcomed, stop):
    started_us = int(time.time() * 1e6)
    async with gate:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port, ssl=ctx), timeout=30)
            writer.write(frame(HELLO, {"attempt": 1, "node": f"sim-{i:04d}", "node_id": str(uuid.uuid4()),
                                       "protocol": 1, "started_us": started_us, "token": "bench"}))
            kind, body = await asyncio.wait_for(read_frame(reader), timeout=30)
            while kind not in (WELCOME, REFUSE):  # nothing else comes first, but be lenient
                kind, body = await asyncio.wait_for(read_frame(reader), timeout=30)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError) as e:
            print(f"session {i}: {e!r}", file=sys.stderr)
            counts.lost += 1
            return
    if kind == REFUSE:
        counts.refused += 1
        print(f"session {i} refused: {msgpack.unpackb(body, raw=False)}", file=sys.stderr)
        writer.close()
        return
    keepalive = msgpack.unpackb(body, raw=False).get("keepalive_ms", 2000) / 1000
    counts.open += 1
    welcomed.set() if counts.open >= welcomed.target else None

    async def pinger():
        while True:
            await asyncio.sleep(keepalive)
            writer.write(frame(PING, {"sent_us": int(time.monotonic() * 1e6)}))

    ping_task = asyncio.create_task(pinger())
    try:
        # Any frame counts as alive on both sides, and our pings flow on their own: what the
        # relay sends (its pings, replication entries) is read and dropped without parsing.
        while True:
            read = asyncio.create_task(reader.read(1 << 16))
            done, _ = await asyncio.wait({read, stop}, return_when=asyncio.FIRST_COMPLETED)
            if read not in done:
                read.cancel()
                break
            if not read.result():
                raise ConnectionError("closed by the relay")
    except (OSError, ConnectionError) as e:
        if not stop.done():
            counts.lost += 1
            counts.open -= 1
            print(f"session {i} lost: {e!r}", file=sys.stderr)
    finally:
        ping_task.cancel()
        writer.close()


async def main(host, port, count, open_timeout, seconds):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    gate = asyncio.Semaphore(int(os.environ.get("RELAY_SIM_HANDSHAKES", "20")))
    counts = Counts()
    welcomed = asyncio.Event()
    welcomed.target = count
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    t0 = time.monotonic()
    tasks = [asyncio.create_task(session(i, host, port, ctx, gate, counts, welcomed, stop)) for i in range(count)]
    try:
        await asyncio.wait_for(welcomed.wait(), timeout=open_timeout)
    except asyncio.TimeoutError:
        pass
    print(f"open {counts.open} {time.monotonic() - t0:.2f}", flush=True)
    await asyncio.sleep(seconds)
    stop.set_result(None)
    await asyncio.wait(tasks, timeout=10)
    print(f"done open={counts.open} lost={counts.lost} refused={counts.refused}", flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 6:
        raise SystemExit(__doc__)
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])))
    os._exit(0)  # do not wait for half-closed TLS connections
