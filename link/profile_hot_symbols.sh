#!/usr/bin/env bash
# Regenerates link/hot_symbols.txt: the functions a running agent executes, in the order the
# static build's linker (lld --symbol-ordering-file, cmake/static_link.cmake) lays them out.
#
# Why: the kernel maps an executable's pages into a process in 64 KiB runs (fault-around), so
# a function called once pulls its whole neighbourhood into the agent's RSS. The order is that
# of an agent's life, one phase after another: start and join, idle gossip, HTTP reads,
# writes, DNS, leave. Each function goes where it first ran, so an agent that has lived only
# the first phases (a member that gossips and is polled, as in bench/gossip.sh) has touched
# one contiguous prefix of the text instead of pages all over it. (Sorting the same list by
# name spread every phase across the whole region: a single HTTP request touched ~1 MiB.)
# A stale list costs memory, never correctness: a function missing from it is merely placed
# with the cold code. Re-run this after large changes (it takes about three minutes):
#
#   bash link/profile_hot_symbols.sh [build-dir]     (default: build; needs valgrind)
#
# PROFILE_KEEP=DIR keeps the per-phase dumps (copied to DIR) for a look at what each phase ran.
#
# It runs the agent under callgrind on loopback in a 5-member cluster, dumps the profile at
# the end of each phase (callgrind_control -d) and keeps every function entered (mangled).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
AGENT=$BUILD/agent/hearsay
OUT=$ROOT/link/hot_symbols.txt
[ -x "$AGENT" ] || { echo "build the agent first: $AGENT" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "needs valgrind (Debian package valgrind)" >&2; exit 1; }

WORK=$(mktemp -d)
PIDS=()
cleanup() { kill "${PIDS[@]}" 2>/dev/null || true; wait 2>/dev/null || true; [ -n "${PROFILE_KEEP:-}" ] && cp -r "$WORK" "$PROFILE_KEEP"; rm -rf "$WORK"; }
trap cleanup EXIT

http() { curl -sf --max-time 20 "$@" >/dev/null || echo "request failed: $*" >&2; }
wait_http() {  # port: until the agent answers (callgrind runs it ~50x slower)
  for _ in $(seq 1 120); do curl -sf --max-time 2 "127.0.0.1:$1/v1/status/leader" >/dev/null && return; sleep 0.5; done
  echo "agent on $1 did not start" >&2; exit 1
}

# Four peers, so the profiled agent probes, gossips and merges push/pulls as in a cluster.
for i in 0 1 2 3; do
  join=()
  [ "$i" -gt 0 ] && join=(-retry-join 127.0.0.1:28300)  # peer0 may still be starting
  "$AGENT" -node "peer$i" -data-dir "$WORK/peer$i" -bind 127.0.0.1 -client 127.0.0.1 -serf-lan-port $((28300 + i)) \
    -http-port $((28500 + i)) -dns-port $((28600 + i)) -log-level warn "${join[@]}" &
  PIDS+=($!)
done
valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" --compress-strings=no --demangle=no \
  "$AGENT" -node profiled -data-dir "$WORK/profiled" -bind 127.0.0.1 -client 127.0.0.1 -serf-lan-port 18301 \
  -http-port 18500 -dns-port 18600 -log-level info -retry-join 127.0.0.1:28300 2>"$WORK/valgrind.log" &
PROFILED=$!
PIDS+=($PROFILED)
wait_http 28500
wait_http 18500
phase() {  # ends a phase: callgrind writes what ran since the previous dump to its own file
  callgrind_control -d "$PROFILED" >/dev/null 2>&1 || echo "dump failed after phase $1" >&2
}
# Start and join: until the profiled agent lists all five members.
for _ in $(seq 1 120); do
  [ "$(curl -sf --max-time 5 127.0.0.1:18500/v1/agent/members | grep -o '"Status":1' | wc -l)" -ge 5 ] && break
  sleep 0.5
done
phase start
# Idle: probes and gossip, and at least twice each of the 30 s periodic jobs (push/pull, the
# catalog's anti-entropy sync, the check reaper): with a shorter window they first ran only in a
# later phase, so an idle agent's resident text spread across the whole hot region (bench/gossip.sh
# measures RSS after a 60-90 s idle window).
sleep 70
phase idle

A=127.0.0.1:18500
for path in agent/members agent/self agent/services agent/checks catalog/services catalog/nodes \
    "catalog/service/db" "health/service/db?passing" "health/state/any" "catalog/node/peer1" \
    agent/metrics "catalog/services?index=1&wait=1s"; do
  http "$A/v1/$path"
done
phase reads
http -X PUT "$A/v1/agent/service/register" -d '{"Name":"web","ID":"web1","Port":8080,"Tags":["v1","primary"],"Meta":{"team":"a"},"Check":{"TTL":"30s"}}'
http -X PUT "$A/v1/agent/check/pass/service:web1"
http -X PUT "127.0.0.1:28501/v1/agent/service/register" -d '{"Name":"db","Port":5432}'
sleep 5
for path in "catalog/service/web" "catalog/service/db?tag=v1" "health/service/web?passing"; do
  http "$A/v1/$path"
done
phase writes
for q in "web.service.consul A" "web.service.consul SRV" "v1.web.service.consul SRV" \
    "_web._tcp.service.consul SRV" "peer1.node.consul A" "db.service.consul A" "missing.service.consul A"; do
  # shellcheck disable=SC2086
  dig +time=10 +tries=1 @127.0.0.1 -p 18600 $q >/dev/null || echo "query failed: $q" >&2
done
phase dns
http -X PUT "$A/v1/agent/leave"
wait "$PROFILED" || true

# The dumps in phase order: callgrind.out.1 (start), .2, ..., then the final one at exit.
mapfile -t DUMPS < <(ls "$WORK"/callgrind.out.* | awk -F. '{print $NF, $0}' | sort -n | cut -d' ' -f2-)
python3 "$ROOT/link/order_symbols.py" "$AGENT" "${DUMPS[@]}" "$WORK/callgrind.out" >"$OUT"
echo "wrote $(grep -vc "^#" "$OUT") symbols to $OUT"
