#!/usr/bin/env bash
# Gossip benchmark (issue 4): N serf agents, then N hearsay agents, for each N, on loopback, under
# the identical procedure, and for each group:
#  1. join convergence: from t0 (see below) until every agent lists all N members alive, and
#     until 90% of them do (the last few can miss a join broadcast and wait for push/pull);
#  2. failure detection: from kill -9 of a non-seed member until all others list it failed; the
#     last BENCH_KILLS (10) members are killed one after another, and the median is reported;
#  3. RSS per agent: mean VmRSS, read after the idle window (after convergence + settle) and one
#     member-list query to every agent (step 6, so that the query path counts),
#     mean RssAnon (private memory: RSS without shared library and program text pages), and
#     mean PSS (shared pages divided among the processes mapping them: what N agents cost a host);
#  4. idle CPU per agent: scheduler CPU time (cpu_seconds in lib/common.sh) over the idle window;
#  5. idle bytes/s per node: loopback tx bytes over the idle window / N / window;
#  6. false failures: members reported failed or left that were not killed. Must be 0. Seen by
#     every poll (convergence, after the idle window, during failure detection) and from the
#     agents' own logs ("EventMemberFailed" / "member X failed"), which cover the idle window
#     when nothing polls; agents therefore run at -log-level info (nothing is logged while idle).
#
# Procedure, the same for both: start N agents, none joined yet; wait until all answer queries;
# then t0 and ask agents 2..N, all at once, to join agent 1 (serf: RPC join, what -join does;
# hearsay: PUT /v1/agent/join). t0 is deliberately after every process is up: starting 100 Go
# or C++ processes on 2 cores takes seconds and would otherwise be measured as gossip. A poller
# (lib/gossip_poll.py) asks the agents for their member lists every BENCH_POLL_MS (250) ms over
# one persistent connection per agent (serf: its msgpack RPC; hearsay: HTTP keep-alive), never a
# process per query; a time is when an agent was first seen complete, so it is late by at most
# one poll interval plus a round (mean round times are in the notes). Then BENCH_SETTLE (10) s
# for the join broadcasts to die out, then the idle window, in which the script sends nothing.
#
# Idle window: by default one push/pull period, 30 s at N <= 32, 60 s up to 64, 90 s up to 128
# (memberlist scales it by ceil(log2(N) - 5) + 1; hearsay does the same). Push/pull, each
# member's periodic TCP exchange of the full member list, is most of the idle bytes at N = 100,
# and members started together do theirs in the same ~30 s stretch of every period, so a shorter
# window measures where it falls in that cycle (one run here: 866 against 286 B/s per node) and
# not the implementation. In a window of exactly one period every member does exactly one.
#
# Bytes: each group runs in its own fresh network namespace (unshare --net, lo only, still
# 127.0.0.1), so the namespace's lo counter (/proc/<pid>/net/dev) holds exactly the group's
# gossip: UDP and TCP (push-pull) payload plus IP/UDP/TCP headers, alike for both. Without
# namespaces (a sandbox that forbids them) the groups run on the host's loopback and bytes/s
# says SKIP. Defaults everywhere else: serf compresses, neither encrypts, serf has no tags while
# hearsay always gossips its 5 (Consul-style) tags, about 100 bytes per member.
#
# Usage: bench/gossip.sh [N-list] [idle-seconds]   (defaults "20 50 100" and one push/pull period
# per N; a number uses that window for every N). Prints a table and writes it to
# bench/results/gossip-<date>.md. Needs serf (Debian package serf) and the agent built; takes
# about 28 minutes with the defaults. BENCH_KEEP_LOGS=1 keeps all agent logs; they are kept
# anyway for a group that fails to converge or to detect, crashes or reports a false failure
# (the path is printed). BENCH_DEBUG=1 prints the poller's progress, round by round.
source "$(dirname "$0")/lib/common.sh"
set -E
trap 'echo "bench/gossip.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

N_LIST=${1:-"20 50 100"}
IDLE_ARG=${2:-auto}
POLL_MS=${BENCH_POLL_MS:-250}
SETTLE=${BENCH_SETTLE:-10}
CONVERGE_TIMEOUT=180  # a member that missed the join gossip waits for push/pull (90 s at N=100)
DETECT_TIMEOUT=120
KILLS=${BENCH_KILLS:-10}  # failure detection: members killed one after another, median reported
KILL_GAP=5
START_TIMEOUT=120
POLLER=(python3 "$BENCH_ROOT/bench/lib/gossip_poll.py")
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
KEEP_DIR=/tmp/hearsay-gossip-logs-$STAMP
NAME_PREFIX=gb$$  # node names; also how the final check finds stray agents

[ -x "$AGENT_BIN" ] || { echo "build first: $AGENT_BIN missing" >&2; exit 1; }
command -v serf >/dev/null || { echo "missing serf (apt-get install serf)" >&2; exit 1; }
for n in $N_LIST; do
  [[ $n =~ ^[0-9]+$ ]] && [ "$n" -ge $((KILLS + 2)) ] && [ "$n" -le 200 ] ||
    { echo "N must be $((KILLS + 2))..200 (BENCH_KILLS=$KILLS), got $n" >&2; exit 1; }
done
[ "$IDLE_ARG" = auto ] || [[ $IDLE_ARG =~ ^[1-9][0-9]*$ ]] || { echo "idle-seconds must be a positive integer" >&2; exit 1; }
# idle_seconds N: the window for N members (see the header).
idle_seconds() {
  if [ "$IDLE_ARG" != auto ]; then echo "$IDLE_ARG"; return; fi
  python3 -c "import math; n = $1; print(30 * (math.ceil(math.log2(n) - 5) + 1 if n > 32 else 1))"
}
# Run a private copy of the agent: the tree may be rebuilt while this runs (a relink mid-run once
# made 80 of 100 agents fail with "Permission denied"), and all groups must run the same binary.
AGENT_COPY=$BENCH_TMP/agent
cp "$AGENT_BIN" "$AGENT_COPY"
cmp -s "$AGENT_BIN" "$AGENT_COPY" && "$AGENT_COPY" --help >/dev/null 2>&1 ||
  { echo "$AGENT_BIN changed while being copied or does not run; is it being rebuilt?" >&2; exit 1; }
AGENT_ID="sha256 $(sha256sum "$AGENT_COPY" | cut -c1-12), built $(date -u -r "$AGENT_BIN" +%Y-%m-%dT%H:%MZ)"
SERF_VERSION=$(dpkg-query -W -f '${Version}' serf 2>/dev/null || serf version | head -1)

# Network namespaces: needed only for bytes/s.
NETNS=1
NETNS_WHY=""
if ! command -v ip >/dev/null || ! command -v nsenter >/dev/null; then
  NETNS=0; NETNS_WHY="ip or nsenter not installed"
elif ! NETNS_WHY=$(unshare --net ip link set lo up 2>&1); then
  NETNS=0; NETNS_WHY="unshare --net failed: ${NETNS_WHY:-no message}"
fi
[ $NETNS = 1 ] || echo "SKIP bytes/s: $NETNS_WHY; groups run on the host loopback" >&2

declare -A R  # R[impl,n,field]
NOTES=()
HEARSAY_BAD=0  # the exit status: serf's own misses are findings, hearsay's are failures
# anomaly TEXT: noted under the table, logs kept; uses run_group's impl, n and keep.
anomaly() {
  NOTES+=("$impl N=$n: $*")
  keep=1
  [ "$impl" = serf ] || HEARSAY_BAD=1
}

group_cpu() {  # PID... -> CPU seconds of all their threads, one process for all
  local files=() p
  for p in "$@"; do files+=(/proc/"$p"/task/*/schedstat); done
  # A thread may exit between the glob and cat (Go starts and parks threads): not an error.
  { cat "${files[@]}" 2>/dev/null || true; } | awk '{ns += $1} END {printf "%.6f\n", ns / 1e9}'
}
group_rss_kb() {  # FIELD PID... -> summed /proc/PID/status FIELD (VmRSS, RssAnon) in kB
  local field=$1 files=() p
  shift
  for p in "$@"; do files+=(/proc/"$p"/status); done
  awk -v f="$field:" '$1 == f {kb += $2} END {print kb + 0}' "${files[@]}"
}
group_pss_kb() {  # PID... -> summed Pss (/proc/PID/smaps_rollup) in kB
  local files=() p
  for p in "$@"; do files+=(/proc/"$p"/smaps_rollup); done
  awk '$1 == "Pss:" {kb += $2} END {print kb + 0}' "${files[@]}"
}
lo_tx_bytes() { awk '{sub(/:/, " ")} $1 == "lo" {print $10}' /proc/"$1"/net/dev; }
calc() { python3 -c "print(f'{$1:$2}')"; }

# run_group IMPL N: one group from start to teardown; fills R[IMPL,N,*].
run_group() {
  local impl=$1 n=$2 dir="$BENCH_TMP/$1-$2" holder="" i keep=0
  local in_ns=() pids=() gports=() cports=() out
  mkdir -p "$dir"
  echo "== $impl, N=$n" >&2
  if [ $NETNS = 1 ]; then
    unshare --net sh -c 'ip link set lo up && exec sleep 3600' &
    holder=$!
    BENCH_PIDS+=("$holder")
    for _ in $(seq 1 50); do  # until sh has unshared and brought lo up
      [ "$(readlink /proc/$holder/ns/net)" != "$(readlink /proc/self/ns/net)" ] &&
        grep -q "^sleep" /proc/$holder/comm 2>/dev/null && break
      sleep 0.1
    done
    grep -q "^sleep" /proc/$holder/comm || { echo "network namespace did not come up" >&2; return 1; }
    in_ns=(nsenter "--net=/proc/$holder/ns/net")
  fi
  local ports=()  # one call, so that no port is handed out twice
  read -r -a ports <<<"$("${in_ns[@]}" "${POLLER[@]}" ports $((2 * n)))"
  gports=("${ports[@]:0:n}"); cports=("${ports[@]:n}")

  local t_start=$EPOCHREALTIME
  for i in $(seq 0 $((n - 1))); do
    # nsenter execs the agent (no fork for a network namespace), so $! is the agent itself.
    if [ "$impl" = serf ]; then
      "${in_ns[@]}" serf agent -node "$NAME_PREFIX-s$i" -bind "127.0.0.1:${gports[i]}" \
        -rpc-addr "127.0.0.1:${cports[i]}" -log-level info >"$dir/s$i.log" 2>&1 &
    else
      "${in_ns[@]}" "$AGENT_COPY" -node "$NAME_PREFIX-h$i" -data-dir "$dir/h$i" -bind 127.0.0.1 -client 127.0.0.1 \
        -serf-lan-port "${gports[i]}" -http-port "${cports[i]}" -dns-port -1 -log-level info >"$dir/h$i.log" 2>&1 &
    fi
    pids+=($!)
    BENCH_PIDS+=($!)
    disown $!  # bash would otherwise print "Killed" for the member we kill -9
  done
  if ! "${in_ns[@]}" "${POLLER[@]}" wait "$impl" "$START_TIMEOUT" "${cports[@]}" >/dev/null; then
    anomaly "agents did not all start"
  else
    R[$impl,$n,start]=$(calc "$EPOCHREALTIME - $t_start" .1f)
    # ---- 1. join convergence
    if out=$("${in_ns[@]}" "${POLLER[@]}" converge "$impl" "127.0.0.1:${gports[0]}" "$CONVERGE_TIMEOUT" "$POLL_MS" "${cports[@]}"); then
      read -r "R[$impl,$n,conv]" "R[$impl,$n,conv90]" "R[$impl,$n,conv_rounds]" "R[$impl,$n,conv_round_ms]" "R[$impl,$n,join_err]" "R[$impl,$n,ff_conv]" <<<"$out"
    else
      anomaly "no convergence within ${CONVERGE_TIMEOUT}s"
    fi
  fi

  if [ -n "${R[$impl,$n,conv]:-}" ]; then
    sleep "$SETTLE"
    # ---- 4-5. idle window: nothing is sent to the agents from here to its end
    local c0 c1 b0=0 b1=0 w0 w1
    w0=$EPOCHREALTIME; c0=$(group_cpu "${pids[@]}"); [ -z "$holder" ] || b0=$(lo_tx_bytes "$holder")
    sleep "$(idle_seconds "$n")"
    c1=$(group_cpu "${pids[@]}"); [ -z "$holder" ] || b1=$(lo_tx_bytes "$holder"); w1=$EPOCHREALTIME
    R[$impl,$n,cpu]=$(calc "($c1 - $c0) / ($w1 - $w0) / $n * 1000" .2f)  # ms of CPU per s
    if [ -n "$holder" ]; then R[$impl,$n,bytes]=$(calc "($b1 - $b0) / ($w1 - $w0) / $n" .0f); else R[$impl,$n,bytes]=SKIP; fi
    # ---- 6. every live member lists every other alive
    out=$("${in_ns[@]}" "${POLLER[@]}" check "$impl" "${cports[@]}") || out="check-failed -"
    read -r "R[$impl,$n,bad_pairs]" "R[$impl,$n,ff_idle]" <<<"$out"
    [ "${R[$impl,$n,bad_pairs]}" = 0 ] || anomaly "after the idle window ${R[$impl,$n,bad_pairs]} (agent, member) pairs not alive"
    # ---- 3. memory, after that query: an agent's resident set includes the code and data that
    # serve its API (hearsay drops its start-up pages 10 s after start, agent/startup_pages.h;
    # read before the query, RSS would leave out the query path, which the idle window never runs).
    R[$impl,$n,rss]=$(calc "$(group_rss_kb VmRSS "${pids[@]}") / $n / 1024" .1f)
    # Private memory: RSS without the file-backed pages (program text and shared libraries,
    # which 100 copies of one binary share), i.e. each agent's own heap and stacks.
    R[$impl,$n,anon]=$(calc "$(group_rss_kb RssAnon "${pids[@]}") / $n / 1024" .2f)
    # Proportional set size: RSS with each shared page divided among the processes that map
    # it, so N copies of one binary count its text once: the memory N agents cost a host.
    R[$impl,$n,pss]=$(calc "$(group_pss_kb "${pids[@]}") / $n / 1024" .2f)
    # ---- 2. failure detection: the last KILLS agents (never the seed) die one after another;
    # the median of their times is reported. One kill is too noisy to compare: when the first
    # prober reaches the victim and how fast confirmations come vary by seconds between runs.
    local killed=() det_times=() ff_detect=() k victim name det ff
    for k in $(seq 1 "$KILLS"); do
      victim=$((n - k))
      name="$NAME_PREFIX-${impl:0:1}$victim"
      local earlier
      earlier=$(IFS=,; echo "${killed[*]:--}")
      if out=$("${in_ns[@]}" "${POLLER[@]}" detect "$impl" "${pids[victim]}" "$name" "$earlier" "$DETECT_TIMEOUT" "$POLL_MS" "${cports[@]:0:victim}"); then
        read -r det _ _ ff <<<"$out"
        det_times+=("$det"); ff_detect+=("$ff")
      else
        anomaly "$name not detected failed by all within ${DETECT_TIMEOUT}s"
      fi
      killed+=("$name")
      sleep "$KILL_GAP"  # the last death's broadcasts die out before the next
    done
    if [ ${#det_times[@]} = "$KILLS" ]; then
      R[$impl,$n,detect]=$(python3 -c "import statistics, sys; print(f'{statistics.median(map(float, sys.argv[1:])):.3f}')" "${det_times[@]}")
      R[$impl,$n,detect_all]=$(IFS=/; echo "${det_times[*]}")
    fi
    R[$impl,$n,ff_detect]=$(printf '%s\n' "${ff_detect[@]}" | tr , '\n' | { grep -vx -- - || true; } | sort -u | paste -sd, -)
    # Crashes: every agent but the victims must still run.
    local crashed=0
    for i in $(seq 0 $((n - 1 - KILLS))); do kill -0 "${pids[i]}" 2>/dev/null || crashed=$((crashed + 1)); done
    R[$impl,$n,crashed]=$crashed
    [ $crashed = 0 ] || anomaly "$crashed agents exited on their own"
    # False failures, from the logs too (they cover the idle window): distinct members some agent
    # reported failed or left, other than the victim.
    local logged
    logged=$(cat "$dir"/*.log | sed -nE 's/.*(EventMemberFailed|EventMemberLeave): ([^ ]+).*/\2/p; s/.*member ([^ ]+) (failed|left) \(.*/\1/p' |
      { grep -vxF -f <(printf '%s\n' "${killed[@]}") || true; } | sort -u | paste -sd, -)
    local polled
    polled=$(printf '%s\n' "${R[$impl,$n,ff_conv]:--}" "${R[$impl,$n,ff_idle]:--}" "${R[$impl,$n,ff_detect]:--}" |
      tr , '\n' | { grep -vx -- - || true; } | sort -u | paste -sd, -)
    local all
    all=$(printf '%s\n%s\n' "$logged" "$polled" | tr , '\n' | { grep -v '^$' || true; } | sort -u | paste -sd, -)
    R[$impl,$n,false]=$(printf '%s' "$all" | tr , '\n' | grep -c . || true)
    [ "${R[$impl,$n,false]}" = 0 ] || anomaly "false failures: $all"
  fi

  # Teardown: kill -9, nothing to measure here and a graceful leave of N agents is a storm.
  local p
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  if [ -n "$holder" ]; then kill -9 "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; fi
  for _ in $(seq 1 50); do  # disowned: bash reaps them, but not synchronously
    local alive=0
    for p in "${pids[@]}"; do [ ! -e /proc/"$p" ] || alive=1; done
    [ $alive = 1 ] || break
    sleep 0.1
  done
  BENCH_PIDS=()
  if [ "$keep" = 1 ] || [ "${BENCH_KEEP_LOGS:-0}" = 1 ]; then
    mkdir -p "$KEEP_DIR"; cp -r "$dir" "$KEEP_DIR/"
    echo "   logs kept in $KEEP_DIR/$impl-$n" >&2
  fi
  rm -rf "$dir"
  echo "   conv ${R[$impl,$n,conv]:-n/a}s detect ${R[$impl,$n,detect]:-n/a}s rss ${R[$impl,$n,rss]:-n/a}MiB" \
       "cpu ${R[$impl,$n,cpu]:-n/a}ms/s bytes ${R[$impl,$n,bytes]:-n/a}B/s false ${R[$impl,$n,false]:-n/a}" >&2
}

for n in $N_LIST; do
  for impl in serf hearsay; do
    run_group "$impl" "$n"
  done
done

# No agent may outlive the run.
sleep 0.2
if pgrep -f -- "-node $NAME_PREFIX-" >/dev/null; then
  echo "agents still running:" >&2; pgrep -af -- "-node $NAME_PREFIX-" >&2; exit 1
fi

cell() { echo "${R[$1,$2,$3]:-n/a}"; }
ratio_cell() {
  local s h
  s=$(cell serf "$1" "$2"); h=$(cell hearsay "$1" "$2")
  if [[ $s =~ ^[0-9.]+$ && $h =~ ^[0-9.]+$ ]] && python3 -c "import sys; sys.exit(not float('$s') > 0)"; then
    echo "$(ratio "$h" "$s")x"
  else
    echo "-"
  fi
}
mkdir -p "$BENCH_ROOT/bench/results"
OUT="$BENCH_ROOT/bench/results/gossip-$STAMP.md"
{
  echo "| N | measure | serf $SERF_VERSION | hearsay | hearsay/serf |"
  echo "|---|---|---|---|---|"
  for n in $N_LIST; do
    echo "| $n | join convergence (s) | $(cell serf $n conv) | $(cell hearsay $n conv) | $(ratio_cell $n conv) |"
    echo "| $n | join: 90% of agents complete (s) | $(cell serf $n conv90) | $(cell hearsay $n conv90) | $(ratio_cell $n conv90) |"
    echo "| $n | failure detection, median of $KILLS kills (s) | $(cell serf $n detect) | $(cell hearsay $n detect) | $(ratio_cell $n detect) |"
    echo "| $n | RSS per agent (MiB) | $(cell serf $n rss) | $(cell hearsay $n rss) | $(ratio_cell $n rss) |"
    echo "| $n | private memory (RssAnon) per agent (MiB) | $(cell serf $n anon) | $(cell hearsay $n anon) | $(ratio_cell $n anon) |"
    echo "| $n | PSS per agent (MiB) | $(cell serf $n pss) | $(cell hearsay $n pss) | $(ratio_cell $n pss) |"
    echo "| $n | idle CPU per agent (ms/s) | $(cell serf $n cpu) | $(cell hearsay $n cpu) | $(ratio_cell $n cpu) |"
    echo "| $n | idle bytes/s per node | $(cell serf $n bytes) | $(cell hearsay $n bytes) | $(ratio_cell $n bytes) |"
    echo "| $n | false failures | $(cell serf $n false) | $(cell hearsay $n false) | |"
  done
  echo
  echo "Loopback, $(nproc) cores, one group at a time$([ $NETNS = 1 ] && echo ", each in its own network namespace")." \
       "t0 = all N agents up, then agents 2..N asked at once to join agent 1; member lists polled every ${POLL_MS} ms" \
       "over persistent connections. Settle ${SETTLE} s, then the idle window with no queries (RSS after it and one member-list query, CPU from" \
       "schedstat, bytes = lo tx with headers$([ $NETNS = 1 ] || echo ", SKIPPED: $NETNS_WHY")). Failure detection: kill -9 of agents N, N-1, ... ($KILLS, ${KILL_GAP} s apart), median." \
       "Agents at -log-level info. hearsay $(git -C "$BENCH_ROOT" describe --always --dirty 2>/dev/null || echo "?"), agent $AGENT_ID."
  echo
  for n in $N_LIST; do
    echo "- N=$n: idle window $(idle_seconds "$n") s; mean poll round during convergence serf $(cell serf $n conv_round_ms) ms," \
         "hearsay $(cell hearsay $n conv_round_ms) ms; start until all answer serf $(cell serf $n start) s, hearsay" \
         "$(cell hearsay $n start) s; join errors serf $(cell serf $n join_err), hearsay $(cell hearsay $n join_err);" \
         "agents that exited on their own serf $(cell serf $n crashed), hearsay $(cell hearsay $n crashed);" \
         "failure detection per kill (s) serf $(cell serf $n detect_all), hearsay $(cell hearsay $n detect_all)."
  done
  for note in "${NOTES[@]:-}"; do [ -z "$note" ] || echo "- $note"; done
} | tee "$OUT"
[ $HEARSAY_BAD = 0 ] || exit 1
