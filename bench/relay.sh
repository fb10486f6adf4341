#!/usr/bin/env bash
# Remote mode benchmark (issue 16). Needs root: network namespaces and the TUN link emulator
# (tests/netem: build the `hearsay_netem` target as well as `hearsay`). The procedure is in
# bench/lib/relay_bench.py's docstring; in short:
#  1. a registration on the laptop (a remote agent behind the emulated link, through a relay) until
#     all N LAN agents serve it (HTTP catalog), p50 / p99 over ROUNDS, at 0 / 100 / 300 ms RTT,
#     against the peer: a stock serf agent on the laptop side joined to the same LAN across the
#     same link, a tag change on it (`serf tags -set`, over its RPC) until every LAN hearsay agent
#     shows the new tag in /v1/agent/members (hearsay agents speak serf's gossip);
#  2. session back after a cut of 15, 17, 19 ... s is restored (target <= 2 s) and after kill -9
#     of the relay in use (<= 10 s), from /v1/agent/self's Remote section;
#  3. mirror over the 100 ms link: first sync of INSTANCES instances (time, bytes), idle bytes/s
#     (<= 100 B/s), resume after a CUT_S cut with 100 changes made in the LAN meanwhile (bytes
#     within 2x of the same 100 changes streamed live, and against their JSON bodies);
#  4. the link at 30 % loss and 300 ms RTT for LOSSY_S seconds (issue 16, done-means 6 and 7): a
#     registration on the laptop every 5 s until all N LAN agents serve it (p50 / p99 / max, target
#     <= 10 s), the laptop's session drops (<= 1), LAN failure detections (0), then the mirror
#     after a cut with 1,000 LAN instances registered in it (<= 30 s from the session's return);
#     beside it a stock serf agent on the laptop side across the same link: how often the LAN saw
#     it fail, and the LAN members it suspected / marked failed;
#  5. one relay on loopback holding SESSIONS simulated remotes (bench/lib/relay_sessions.py,
#     python3-msgpack): RSS per session, idle CPU.
#
# Usage: bench/relay.sh [quick]
#   full (default): N=20, 20 rounds per RTT, 5 cuts, 3 relay kills, 10,000 instances, 60 s cut,
#                   60 s idle, 300 s lossy, 1,000 sessions (~16 minutes on the shared 2-core machine,
#                   estimated: ~9 before part 4, which alone took 5.5 minutes)
#   quick:          N=5, 3 rounds, 1 cut, 1 kill, 1,000 instances, 15 s cut, 15 s idle,
#                   60 s lossy, 100 sessions (4.5 minutes measured)
#   RELAY_BENCH_ONLY=lossy bench/relay.sh [quick]: the setup and part 4 only (5.5 minutes full,
#                   2 quick), and only its table.
# Prints a table and writes it to bench/results/relay-<date>.md.
source "$(dirname "$0")/lib/common.sh"
set -E
trap 'echo "bench/relay.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

MODE=${1:-full}
case "$MODE" in
  full) N=20 ROUNDS=20 CUTS=5 KILLS=3 INSTANCES=10000 CUT_S=60 IDLE_S=60 SESSIONS=1000 LOSSY_S=300 ;;
  quick) N=5 ROUNDS=3 CUTS=1 KILLS=1 INSTANCES=1000 CUT_S=15 IDLE_S=15 SESSIONS=100 LOSSY_S=60 ;;
  *) echo "usage: bench/relay.sh [quick]" >&2; exit 2 ;;
esac
NETEM_BIN=${HEARSAY_NETEM:-$BENCH_ROOT/build/tests/netem/hearsay_netem}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
ONLY=${RELAY_BENCH_ONLY:-}
[ -z "$ONLY" ] || [ "$ONLY" = lossy ] || { echo "RELAY_BENCH_ONLY: only 'lossy' is known" >&2; exit 2; }

[ "$(id -u)" -eq 0 ] || { echo "bench/relay.sh needs root (network namespaces, TUN)" >&2; exit 1; }
[ -x "$AGENT_BIN" ] || { echo "build first: $AGENT_BIN missing" >&2; exit 1; }
[ -x "$NETEM_BIN" ] || { echo "build first: $NETEM_BIN missing (target hearsay_netem)" >&2; exit 1; }
command -v serf >/dev/null || { echo "missing serf (packaging/install-deps.sh)" >&2; exit 1; }
/usr/bin/python3 -c 'import msgpack' 2>/dev/null ||
  { echo "missing python3-msgpack (HEARSAY_BENCH_DEPS=1 packaging/install-deps.sh)" >&2; exit 1; }
# The simulated remotes hold one socket each, the relay one per session, the client its own.
[ "$(ulimit -n)" -ge $((SESSIONS + 200)) ] || ulimit -n $((SESSIONS + 200))

AGENT_COPY=$BENCH_TMP/agent  # the tree may be rebuilt while this runs
NETEM_COPY=$BENCH_TMP/netem
cp "$AGENT_BIN" "$AGENT_COPY"
cp "$NETEM_BIN" "$NETEM_COPY"
SERF_VERSION=$(dpkg-query -W -f '${Version}' serf 2>/dev/null || echo unknown)
LOAD_BEFORE=$(uptime)

# The driver deletes its namespaces and stops its processes itself (also on SIGTERM, which
# bench_cleanup sends it); it runs in the background so that the EXIT trap can reach it.
AGENT_BIN=$AGENT_COPY HEARSAY_NETEM=$NETEM_COPY RELAY_BENCH_ONLY=$ONLY /usr/bin/python3 "$BENCH_ROOT/bench/lib/relay_bench.py" \
  "$N" "$ROUNDS" "$CUTS" "$KILLS" "$INSTANCES" "$CUT_S" "$IDLE_S" "$SESSIONS" "$LOSSY_S" >"$BENCH_TMP/results.txt" &
DRIVER=$!
BENCH_PIDS+=("$DRIVER")
wait "$DRIVER"
LOAD_AFTER=$(uptime)

declare -A R
while IFS='=' read -r key value; do
  [[ "$key" =~ ^[a-z0-9_]+$ && "$value" =~ ^[0-9.]+$ ]] || { echo "bad result line: $key=$value" >&2; exit 1; }
  R[$key]=$value
done <"$BENCH_TMP/results.txt"

pass() { python3 -c "print('met' if float($1) <= float($2) else 'NOT met')"; }
by1024() { python3 -c "print(f'{float($1) / 1024:.1f}')"; }

mkdir -p "$BENCH_ROOT/bench/results"
REPORT="$BENCH_ROOT/bench/results/relay-$STAMP.md"
lossy_table() {
  echo "Part 4: ${R[lossy_seconds]} s at 30 % loss each way and 300 ms RTT; a stock serf agent on the laptop side" \
    "joined to the LAN across the same link in the same window."
  echo
  echo "| measure | value | target |"
  echo "|---|---|---|"
  echo "| registrations on the laptop (one every 5 s) committed on all $N LAN agents, p50 / p99 / max of" \
    "${R[lossy_registrations]} | ${R[lossy_commit_p50]} / ${R[lossy_commit_p99]} / ${R[lossy_commit_max]} s" \
    "(${R[lossy_commit_over_10]} over 10 s, ${R[lossy_commit_misses]} missed 60 s) |" \
    "<= 10 s: $(pass "${R[lossy_commit_max]}" 10) |"
  echo "| the laptop's session drops in the window | ${R[lossy_session_drops]} | <= 1: $(pass "${R[lossy_session_drops]}" 1) |"
  echo "| LAN failure detections of LAN members not caused by serf's verdicts (log lines over all LAN agents /" \
    "members) | ${R[lossy_lan_failure_lines]} / ${R[lossy_lan_failed_members]} | 0: $(pass "${R[lossy_lan_failure_lines]}" 0) |"
  echo "| mirror after a cut with 1,000 LAN instances registered in it: session back / all 1,000 held after that |" \
    "${R[lossy_resume_back_seconds]} / ${R[lossy_mirror_seconds]} s | <= 30 s: $(pass "${R[lossy_mirror_seconds]}" 30) |"
  echo "| serf: its failures the LAN saw (most any LAN agent logged / lines over all) |" \
    "${R[lossy_serf_flaps]} / ${R[lossy_serf_flap_lines]} | |"
  echo "| serf: LAN members it suspected / marked failed (its log; distinct members marked) |" \
    "${R[lossy_serf_suspected]} / ${R[lossy_serf_marked_failed]} (${R[lossy_serf_marked_members]}) | |"
  echo "| serf: LAN failure lines its verdicts caused (within 3 s after it marked that member failed) |" \
    "${R[lossy_lan_failure_lines_by_serf]} | |"
}
if [ "$ONLY" = lossy ]; then
  {
    echo "# bench/relay.sh $MODE, part 4 only (RELAY_BENCH_ONLY=lossy), $STAMP"
    echo
    echo "Agent: $(sha256sum "$AGENT_COPY" | cut -c1-12); serf $SERF_VERSION; $(nproc) cores; N=$N LAN agents"
    echo "Load before: $LOAD_BEFORE"
    echo "Load after:  $LOAD_AFTER"
    echo
    lossy_table
  } | tee "$REPORT"
  echo "written: $REPORT" >&2
  exit 0
fi
{
  echo "# bench/relay.sh $MODE, $STAMP"
  echo
  echo "Agent: $(sha256sum "$AGENT_COPY" | cut -c1-12); serf $SERF_VERSION; $(nproc) cores; N=$N LAN agents;" \
    "$ROUNDS rounds per RTT"
  echo "Load before: $LOAD_BEFORE"
  echo "Load after:  $LOAD_AFTER"
  echo
  echo "Remote registration until all $N LAN agents serve it (hearsay) against a tag change on a serf agent" \
    "across the same link until all $N show it (serf); seconds. Rounds over 30 s are counted as 30 s (misses)."
  echo
  echo "| RTT | hearsay p50 / p99 | serf p50 / p99 | ratio p50 | ratio p99 | misses hearsay / serf |"
  echo "|---|---|---|---|---|---|"
  for rtt in 0 100 300; do
    echo "| $rtt ms | ${R[lat_hearsay_${rtt}_p50]} / ${R[lat_hearsay_${rtt}_p99]} |" \
      "${R[lat_serf_${rtt}_p50]} / ${R[lat_serf_${rtt}_p99]} |" \
      "$(ratio "${R[lat_hearsay_${rtt}_p50]}" "${R[lat_serf_${rtt}_p50]}")x |" \
      "$(ratio "${R[lat_hearsay_${rtt}_p99]}" "${R[lat_serf_${rtt}_p99]}")x |" \
      "${R[lat_hearsay_${rtt}_misses]} / ${R[lat_serf_${rtt}_misses]} |"
  done
  echo
  echo "| measure | value | target |"
  echo "|---|---|---|"
  echo "| session back after a cut is restored (100 ms RTT), p50 / max of ${R[restore_samples]} | ${R[restore_p50]} / ${R[restore_max]} s |" \
    "<= 2 s: $(pass "${R[restore_max]}" 2) |"
  echo "| session back after kill -9 of the relay in use, p50 / max of ${R[kill_samples]} | ${R[kill_p50]} / ${R[kill_max]} s |" \
    "<= 10 s: $(pass "${R[kill_max]}" 10) |"
  echo "| mirror first sync, ${R[sync_instances]} services, 100 ms RTT: laptop start to holding all | ${R[sync_seconds]} s | |"
  echo "| ... bytes: frames (laptop's hearsay.remote.bytes_in + _out) / on the link (IP, both ways) |" \
    "$(by1024 "${R[sync_frame_bytes]}") / $(by1024 "${R[sync_link_bytes]}") KiB | |"
  echo "| idle, bytes/s on the link (IP, both ways) / of frames | ${R[idle_link_bps]} / ${R[idle_frame_bps]} B/s |" \
    "<= 100 B/s: $(pass "${R[idle_link_bps]}" 100) |"
  echo "| ... anti-entropy exchanges the laptop started in that idle window (${IDLE_S} s) | ${R[idle_syncs]} | |"
  echo "| 100 changes streamed live: frame / link bytes (idle subtracted) | ${R[live_frame_bytes]} / ${R[live_link_bytes]} | |"
  echo "| resume after a ${R[resume_cut_seconds]} s cut with those 100 changes: frame / link bytes (idle subtracted) |" \
    "${R[resume_frame_bytes]} / ${R[resume_link_bytes]} |" \
    "<= 2x: $(ratio "${R[resume_frame_bytes]}" "${R[live_frame_bytes]}")x live frames," \
    "$(ratio "${R[resume_frame_bytes]}" "${R[cut_changes_json_bytes]}")x their JSON |"
  echo "| ... those 100 changes as JSON bodies (PUT /v1/catalog/register, what the client wrote) | ${R[cut_changes_json_bytes]} | |"
  echo "| ... session back / mirror converged after that restore | ${R[resume_back_seconds]} / ${R[resume_converged_seconds]} s | |"
  echo "| one relay, ${R[sessions_opened]} simulated sessions opened (in ${R[sessions_open_seconds]} s), held after idle | ${R[sessions_held]} | |"
  echo "| ... relay RSS before / with them | $(by1024 "${R[sessions_rss0_kib]}") / $(by1024 "${R[sessions_rss1_kib]}") MiB | |"
  echo "| ... RSS per session | ${R[sessions_kib_per_session]} KiB | |"
  echo "| ... relay CPU while they idle (each pings every keepalive the welcome names: the relay's -remote-keepalive, default 5 s) | ${R[sessions_idle_cpu_pct]} % of a core | |"
  echo "| ... bytes the relay sent while they opened | $(by1024 "${R[sessions_open_bytes_out]}") KiB | |"
  echo
  lossy_table
} | tee "$REPORT"
echo "written: $REPORT" >&2
