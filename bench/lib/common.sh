# Shared helpers for bench/*.sh: free ports, waiting for a listener, cleanup of every process
# a benchmark starts (on exit, even on failure). Everything listens on 127.0.0.1 only.
set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT_BIN=${AGENT_BIN:-$BENCH_ROOT/build/agent/hearsay}
BENCH_TMP=$(mktemp -d /tmp/hearsay-bench.XXXXXX)
chmod 755 "$BENCH_TMP"  # nginx workers run unprivileged and must read files below it
BENCH_PIDS=()

bench_cleanup() {
  for pid in "${BENCH_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  done
  sleep 0.3
  for pid in "${BENCH_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$BENCH_TMP"
}
trap bench_cleanup EXIT

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# wait_http URL [seconds]: until the URL answers anything.
wait_http() {
  local url=$1 deadline=$((SECONDS + ${2:-20}))
  until curl -s -o /dev/null "$url"; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for $url" >&2; return 1; }
    sleep 0.1
  done
}

# wrk_rps OUTPUT_FILE: the Requests/sec figure of a wrk run.
wrk_rps() { awk '/Requests\/sec/ {print $2}' "$1"; }
# wrk_latency OUTPUT_FILE PCT: a latency percentile (in ms) from `wrk --latency` output.
wrk_latency_ms() {
  awk -v p="$2" '$1 == p {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' "$1"
}
ratio() { python3 -c "print(f'{float($1)/float($2):.2f}')"; }
# cpu_seconds PID: CPU seconds all threads of the process have run so far, from the scheduler's
# own accounting (/proc/PID/task/*/schedstat, nanoseconds). Not utime+stime from /proc/PID/stat:
# those are sampled at timer ticks and, for servers that sleep and wake thousands of times a
# second, were off by up to 2x here (perf stat's task-clock agrees with schedstat).
cpu_seconds() {
  cat /proc/"$1"/task/*/schedstat | awk '{ns += $1} END {printf "%.6f\n", ns / 1e9}'
}
