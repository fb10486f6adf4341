#!/usr/bin/env bash
# DNS benchmark (issue 3), everything on loopback in one run: 200 services x 5 instances, each
# instance with its own IP, served by hearsay and, as the same zone, by Knot DNS (one UDP
# worker). dnsperf asks SRV questions with EDNS (so both answer all 5 SRV + 5 glue A records).
#  1. saturation: dnsperf for DURATION seconds; queries/s and queries per server CPU-second
#     (CPU from /proc/<pid>/stat, so the load generator's own CPU use does not count);
#  2. latency: a fixed 20k queries/s for DURATION seconds; p50/p99 from dnsperf -v per-query times.
# CPU placement, the same for both servers: server on CPU 0, dnsperf on CPU 1. Knot pins its UDP
# worker to CPU 0 by itself (whatever taskset says), so hearsay is put there too; on 2 cores an
# unpinned run mostly measures where the scheduler happened to put dnsperf (BENCH_PIN=0 shows it).
# CPU time comes from the scheduler's accounting (cpu_seconds in lib/common.sh).
# Usage: bench/dns.sh [duration-seconds] [runs]. Medians over the runs; the table goes to stdout
# and bench/results/dns-<date>.md. Needs dnsperf and knotd (make bench installs them).
source "$(dirname "$0")/lib/common.sh"

DURATION=${1:-10}
RUNS=${2:-3}
RATE=20000
PIN=${BENCH_PIN:-1}
[ "$(nproc)" -ge 2 ] || PIN=0
SERVER_CPU=(); CLIENT_CPU=()
if [ "$PIN" = 1 ]; then SERVER_CPU=(taskset -c 0); CLIENT_CPU=(taskset -c 1); fi
[ -x "$AGENT_BIN" ] || { echo "build first: $AGENT_BIN missing" >&2; exit 1; }
for tool in dnsperf knotd dig; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "missing $tool (run: HEARSAY_BENCH_DEPS=1 packaging/install-deps.sh)" >&2; exit 1; }
done
KNOTD=$(command -v knotd || echo /usr/sbin/knotd)

# ---- hearsay with 200 x 5 instances
HTTP_PORT=$(free_port); H_DNS=$(free_port)
"${SERVER_CPU[@]}" "$AGENT_BIN" -node bench -data-dir "$BENCH_TMP/agent" -http-port "$HTTP_PORT" -dns-port "$H_DNS" \
  -bind 127.0.0.1 -serf-lan-port "$(free_port)" -log-level warn -sync-writes=false 2>"$BENCH_TMP/agent.log" &
AGENT_PID=$!
BENCH_PIDS+=($AGENT_PID)
wait_http "http://127.0.0.1:$HTTP_PORT/v1/agent/self"
python3 - "$HTTP_PORT" "$BENCH_TMP" <<'PY'
import http.client, json, sys
port, tmp = int(sys.argv[1]), sys.argv[2]
conn = http.client.HTTPConnection("127.0.0.1", port)
zone = ["$ORIGIN consul.", "$TTL 0",
        "@ SOA ns.consul. hostmaster.consul. 1 3600 600 86400 0", "@ NS bench.node.dc1.consul.",
        "bench.node.dc1 A 127.0.0.1"]
queries = []
for s in range(200):
    for i in range(5):
        ip = f"10.{s // 250}.{s % 250}.{i + 1}"
        body = json.dumps({"Name": f"svc{s}", "ID": f"svc{s}-{i}", "Address": ip, "Port": 8000 + i})
        conn.request("PUT", "/v1/agent/service/register", body=body)
        r = conn.getresponse(); r.read()
        assert r.status == 200, r.status
        target = "".join(f"{int(o):02x}" for o in ip.split(".")) + ".addr.dc1"
        zone.append(f"svc{s}.service SRV 1 1 {8000 + i} {target}")
        zone.append(f"{target} A {ip}")
    queries.append(f"svc{s}.service.consul SRV")
open(f"{tmp}/consul.zone", "w").write("\n".join(zone) + "\n")
open(f"{tmp}/queries.txt", "w").write("\n".join(queries) + "\n")
PY

# ---- Knot DNS with the same records, one UDP worker
K_DNS=$(free_port)
mkdir -p "$BENCH_TMP/knot"
cat >"$BENCH_TMP/knot/knot.conf" <<KNOT
server:
  rundir: $BENCH_TMP/knot
  listen: 127.0.0.1@$K_DNS
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
log:
  - target: stderr
    any: warning
database:
  storage: $BENCH_TMP/knot
zone:
  - domain: consul.
    file: $BENCH_TMP/consul.zone
    storage: $BENCH_TMP
KNOT
"${SERVER_CPU[@]}" "$KNOTD" -c "$BENCH_TMP/knot/knot.conf" 2>"$BENCH_TMP/knot.log" &
KNOT_PID=$!
BENCH_PIDS+=($KNOT_PID)
for _ in $(seq 1 100); do
  dig @127.0.0.1 -p "$K_DNS" +short svc0.service.consul SRV 2>/dev/null | grep -q . && break
  sleep 0.1
done

# Both must give the same records: compare one answer's SRV and glue sets.
same_answer() {
  dig @127.0.0.1 -p "$1" +noall +answer +additional svc7.service.consul SRV | awk '{print $1, $4, $5, $6, $7, $8}' | sort
}
if ! diff <(same_answer "$H_DNS") <(same_answer "$K_DNS") >/dev/null; then
  echo "hearsay and Knot answer differently:" >&2
  diff <(same_answer "$H_DNS") <(same_answer "$K_DNS") >&2 || true
  exit 1
fi

# saturate PORT PID -> "qps queries_per_cpu_second lost"
saturate() {
  local port=$1 pid=$2 out="$BENCH_TMP/sat-$1.txt" c0 c1
  c0=$(cpu_seconds "$pid")
  "${CLIENT_CPU[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$BENCH_TMP/queries.txt" -e -c 4 -q 200 -l "$DURATION" >"$out" 2>&1
  c1=$(cpu_seconds "$pid")
  python3 - "$out" "$c0" "$c1" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
done = int(re.search(r"Queries completed:\s+(\d+)", text).group(1))
lost = int(re.search(r"Queries lost:\s+(\d+)", text).group(1))
qps = float(re.search(r"Queries per second:\s+([\d.]+)", text).group(1))
cpu = float(sys.argv[3]) - float(sys.argv[2])
print(f"{qps:.0f} {done / cpu:.0f} {lost}")
PY
}

# latency PORT -> "p50_us p99_us lost"
latency() {
  local port=$1 out="$BENCH_TMP/lat-$1.txt"
  "${CLIENT_CPU[@]}" dnsperf -s 127.0.0.1 -p "$port" -d "$BENCH_TMP/queries.txt" -e -c 4 -q 500 -Q "$RATE" -l "$DURATION" -v >"$out" 2>&1
  python3 - "$out" <<'PY'
import re, sys
times = []
lost = 0
for line in open(sys.argv[1]):
    if line.startswith("> "):
        parts = line.split()
        if parts[1] == "T":  # timed out
            lost += 1
        else:
            times.append(float(parts[-1]))
times.sort()
pick = lambda p: times[min(len(times) - 1, int(p * len(times)))] * 1e6
print(f"{pick(0.50):.0f} {pick(0.99):.0f} {lost}")
PY
}

median() { python3 -c "import statistics,sys; print(f'{statistics.median(float(x) for x in sys.argv[1:]):.0f}')" "$@"; }

declare -a HQ HC KQ KC HP50 HP99 KP50 KP99
LOST=0
for run in $(seq 1 "$RUNS"); do
  echo "run $run/$RUNS: saturation ${DURATION}s each" >&2
  read -r q c l < <(saturate "$H_DNS" "$AGENT_PID"); HQ+=("$q"); HC+=("$c"); LOST=$((LOST + l))
  read -r q c l < <(saturate "$K_DNS" "$KNOT_PID"); KQ+=("$q"); KC+=("$c"); LOST=$((LOST + l))
  echo "run $run/$RUNS: latency at $RATE q/s" >&2
  read -r p50 p99 l < <(latency "$H_DNS"); HP50+=("$p50"); HP99+=("$p99"); LOST=$((LOST + l))
  read -r p50 p99 l < <(latency "$K_DNS"); KP50+=("$p50"); KP99+=("$p99"); LOST=$((LOST + l))
done

mq_h=$(median "${HQ[@]}"); mq_k=$(median "${KQ[@]}"); mc_h=$(median "${HC[@]}"); mc_k=$(median "${KC[@]}")
p50_h=$(median "${HP50[@]}"); p50_k=$(median "${KP50[@]}"); p99_h=$(median "${HP99[@]}"); p99_k=$(median "${KP99[@]}")
mkdir -p "$BENCH_ROOT/bench/results"
OUT="$BENCH_ROOT/bench/results/dns-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "| measure (SRV, 200 services x 5 instances, EDNS) | hearsay | Knot DNS $("$KNOTD" --version | awk '{print $NF}'), 1 UDP worker | ratio |"
  echo "|---|---|---|---|"
  echo "| queries/s at saturation | $mq_h | $mq_k | $(ratio "$mq_h" "$mq_k")x |"
  echo "| queries per server CPU-second | $mc_h | $mc_k | $(ratio "$mc_h" "$mc_k")x |"
  echo "| p50 latency at $RATE q/s (us) | $p50_h | $p50_k | $(ratio "$p50_h" "$p50_k")x |"
  echo "| p99 latency at $RATE q/s (us) | $p99_h | $p99_k | $(ratio "$p99_h" "$p99_k")x |"
  echo
  echo "Medians of $RUNS runs of ${DURATION}s; runs: hearsay q/CPU-s ${HC[*]}, Knot ${KC[*]};" \
       "p99 hearsay ${HP99[*]}, Knot ${KP99[*]}. $(nproc) cores, pinned: $PIN; dnsperf -e -c 4; queries lost: $LOST."
} | tee "$OUT"
