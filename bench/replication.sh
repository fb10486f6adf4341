#!/usr/bin/env bash
# Catalog replication benchmark (issue 5), on loopback.
#
# Part 1, propagation, for each N: N serf agents, then N hearsay agents, under the same procedure:
# start them unjoined, join 2..N to agent 1 at once and wait until all list N alive
# (lib/gossip_poll.py converge), let the join gossip settle, then ROUNDS times publish one change
# on one agent (round r: agent r mod N) and poll every agent until it serves it
# (lib/replication_bench.py propagate): hearsay, a service registration (/v1/agent/service/register)
# until GET /v1/catalog/service/NAME is not empty on every agent; serf, a tag change (RPC `tags`,
# as `serf tags -set`) until every agent's member list holds the new value. Reported: p50 and max
# over the rounds of the time until the last agent had it. The poller asks every agent not yet
# done, concurrently, round after round without pause; both pay the same for being observed.
#
# Part 2, a large catalog (hearsay only; serf has nothing like it): two agents A and B in a
# cluster; NODES external nodes with SVCS services each are registered through A's
# /v1/catalog/register (10,000 x 10 = 100,000 instances by default) over 16 connections; B
# receives them by replication. Then: RSS of A and B, the SQLite files' size (catalog.db + WAL),
# the time for a fresh agent C joining B to hold every instance (hearsay.catalog.services in
# /v1/agent/metrics), and the time for C to restart (SIGTERM without leaving, start on the same
# data dir, until it answers and holds every instance again).
#
# Usage: bench/replication.sh [N-list] [ROUNDS] [NODES] [SVCS]   (defaults "20 50 100" 20 10000 10;
# NODES=0 skips part 2, N-list "-" part 1)
# Prints a table and writes it to bench/results/replication-<date>.md. Takes ~10 minutes.
source "$(dirname "$0")/lib/common.sh"
set -E
trap 'echo "bench/replication.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

N_LIST=${1:-"20 50 100"}
[ "$N_LIST" != - ] || N_LIST=""  # "-": part 2 only
ROUNDS=${2:-20}
NODES=${3:-10000}
SVCS=${4:-10}
SETTLE=${BENCH_SETTLE:-5}
POLL=(python3 "$BENCH_ROOT/bench/lib/gossip_poll.py")
DRIVER=(python3 "$BENCH_ROOT/bench/lib/replication_bench.py")
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
PREFIX=rb$$

[ -x "$AGENT_BIN" ] || { echo "build first: $AGENT_BIN missing" >&2; exit 1; }
command -v serf >/dev/null || { echo "missing serf (apt-get install serf)" >&2; exit 1; }
AGENT_COPY=$BENCH_TMP/agent  # the tree may be rebuilt while this runs
cp "$AGENT_BIN" "$AGENT_COPY"
SERF_VERSION=$(dpkg-query -W -f '${Version}' serf 2>/dev/null || echo unknown)
declare -A R

stop_pids() {
  local p
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  for p in "$@"; do wait "$p" 2>/dev/null || true; done
}

# propagation IMPL N -> R[IMPL,N,p50], R[IMPL,N,max]
propagation() {
  local impl=$1 n=$2 dir="$BENCH_TMP/$1-$2" i pids=() ports=() gports=() cports=() out
  mkdir -p "$dir"
  read -r -a ports <<<"$("${POLL[@]}" ports $((2 * n)))"
  gports=("${ports[@]:0:n}"); cports=("${ports[@]:n}")
  for i in $(seq 0 $((n - 1))); do
    if [ "$impl" = serf ]; then
      serf agent -node "$PREFIX-s$i" -bind "127.0.0.1:${gports[i]}" -rpc-addr "127.0.0.1:${cports[i]}" \
        -log-level warn >"$dir/s$i.log" 2>&1 &
    else
      "$AGENT_COPY" -node "$PREFIX-h$i" -data-dir "$dir/h$i" -bind 127.0.0.1 -client 127.0.0.1 -sync-writes=false \
        -serf-lan-port "${gports[i]}" -http-port "${cports[i]}" -dns-port -1 -log-level warn >"$dir/h$i.log" 2>&1 &
    fi
    pids+=($!)
    BENCH_PIDS+=($!)
  done
  "${POLL[@]}" wait "$impl" 120 "${cports[@]}" >/dev/null
  "${POLL[@]}" converge "$impl" "127.0.0.1:${gports[0]}" 180 250 "${cports[@]}" >/dev/null
  sleep "$SETTLE"
  out=$("${DRIVER[@]}" propagate "$impl" "$ROUNDS" "${cports[@]}" | tee "$dir/rounds.txt" | tail -1)
  read -r "R[$impl,$n,p50]" "R[$impl,$n,max]" <<<"$out"
  echo "   $impl N=$n: p50 ${R[$impl,$n,p50]} s, max ${R[$impl,$n,max]} s" >&2
  stop_pids "${pids[@]}"
}

for n in $N_LIST; do
  echo "== propagation, N=$n" >&2
  propagation serf "$n"
  propagation hearsay "$n"
done

# ---- Part 2: a large catalog (NODES=0 skips it)
if [ "$NODES" -gt 0 ]; then
echo "== large catalog: $NODES nodes x $SVCS services" >&2
TOTAL=$((NODES * SVCS))
read -r -a P <<<"$("${POLL[@]}" ports 6)"  # gossip A B C, http A B C
big_agent() {  # NAME GOSSIP HTTP [JOIN]
  local join=()
  [ -z "${4:-}" ] || join=(-retry-join "127.0.0.1:$4")  # A may not listen yet
  "$AGENT_COPY" -node "$PREFIX-$1" -data-dir "$BENCH_TMP/big-$1" -bind 127.0.0.1 -client 127.0.0.1 \
    -serf-lan-port "$2" -http-port "$3" -dns-port -1 -log-level warn \
    "${join[@]}" >>"$BENCH_TMP/big-$1.log" 2>&1 &
  echo $!
}
A=$(big_agent A "${P[0]}" "${P[3]}"); BENCH_PIDS+=("$A")
B=$(big_agent B "${P[1]}" "${P[4]}" "${P[0]}"); BENCH_PIDS+=("$B")
"${POLL[@]}" wait hearsay 30 "${P[3]}" "${P[4]}" >/dev/null
read -r LOAD_S LOADED <<<"$("${DRIVER[@]}" load "${P[3]}" "$NODES" "$SVCS" 16)"
B_SYNC=$("${DRIVER[@]}" count "${P[4]}" "$TOTAL" 300)
rss_mib() { awk '/^VmRSS:/ {printf "%.1f", $2 / 1024}' /proc/"$1"/status; }
sleep 2
RSS_A=$(rss_mib "$A"); RSS_B=$(rss_mib "$B")
DB_MIB=$(du -cm "$BENCH_TMP"/big-A/catalog.db* | awk '/total/ {print $1}')
t0=$EPOCHREALTIME
C=$(big_agent C "${P[2]}" "${P[5]}" "${P[1]}"); BENCH_PIDS+=("$C")
"${DRIVER[@]}" count "${P[5]}" "$TOTAL" 300 >/dev/null
FULL_SYNC_TOTAL=$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.2f}')")  # includes C's start
sleep 2
RSS_C=$(rss_mib "$C")
kill -TERM "$C"; wait "$C" 2>/dev/null || true
t0=$EPOCHREALTIME
C=$(big_agent C "${P[2]}" "${P[5]}" "${P[1]}"); BENCH_PIDS+=("$C")
"${DRIVER[@]}" count "${P[5]}" "$TOTAL" 120 >/dev/null
RESTART=$(python3 -c "print(f'{$EPOCHREALTIME - $t0:.2f}')")
fi

# ---- Report
mkdir -p "$BENCH_ROOT/bench/results"
REPORT="$BENCH_ROOT/bench/results/replication-$STAMP.md"
{
  echo "# bench/replication.sh, $STAMP"
  echo
  echo "Agent: $(sha256sum "$AGENT_COPY" | cut -c1-12); serf $SERF_VERSION; $(nproc) cores; rounds per N: $ROUNDS"
  echo
  echo "| N | hearsay registration, p50 / max (s) | serf tag change, p50 / max (s) | ratio p50 | ratio max |"
  echo "|---|---|---|---|---|"
  for n in $N_LIST; do
    echo "| $n | ${R[hearsay,$n,p50]} / ${R[hearsay,$n,max]} | ${R[serf,$n,p50]} / ${R[serf,$n,max]} |" \
      "$(ratio "${R[hearsay,$n,p50]}" "${R[serf,$n,p50]}")x | $(ratio "${R[hearsay,$n,max]}" "${R[serf,$n,max]}")x |"
  done
  [ "$NODES" -gt 0 ] || exit 0
  echo
  echo "Large catalog: $NODES nodes x $SVCS services = $TOTAL instances ($LOADED registrations in ${LOAD_S} s through A)"
  echo
  echo "| measure | value |"
  echo "|---|---|"
  echo "| RSS, agent A (registered through) | $RSS_A MiB |"
  echo "| RSS, agent B (replica) | $RSS_B MiB |"
  echo "| RSS, agent C (after full sync) | $RSS_C MiB |"
  echo "| SQLite size (catalog.db + WAL, A) | $DB_MIB MiB |"
  echo "| B holds everything, after the last registration | $B_SYNC s |"
  echo "| fresh agent C: process start to holding all $TOTAL | $FULL_SYNC_TOTAL s |"
  echo "| C restart (same data dir) to holding all again | $RESTART s |"
} | tee "$REPORT"
echo "written: $REPORT" >&2
