# Shared helpers for bench/*.sh: free ports, waiting for a listener, cleanup of every process
# a benchmark starts (on exit, even on failure). Everything listens on 127.0.0.1 only.
set -euo pipefail

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
AGENT_BIN=${AGENT_BIN:-$BENCH_ROOT/build/agent/agent}
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
# cpu_seconds PID: user+system CPU seconds the process has used so far.
cpu_seconds() {
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
