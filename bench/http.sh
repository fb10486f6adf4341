#!/usr/bin/env bash
# HTTP benchmark (issue 2), everything on loopback in one run:
#  1. reads:  GET /v1/health/service/web?passing (10 instances) from hearsay, against nginx (one
#     worker) serving the identical response bytes as a static file; then the same over HTTPS
#     (issue 18), both with one self-signed ECDSA P-256 certificate made here, each speaking its
#     own TLS stack's best protocol with wrk's OpenSSL (hearsay: mbedTLS 2.28, TLS 1.2).
#  2. writes: PUT /v1/agent/service/register with distinct IDs, durable in SQLite (fsync per group
#     commit), against etcd 3.4 puts of the same JSON through its v3 HTTP gateway (fsync per batch);
#     then the same registrations with ACLs on (issue 18: enabled by a reload of the same agent,
#     default_policy deny, an X-Consul-Token allowed service:write on "bench") against the
#     untokened figure.
# Usage: bench/http.sh [duration-seconds] [connections]. Prints a table and writes it to
# bench/results/http-<date>.md. Needs: wrk, nginx, etcd (make bench installs them).
source "$(dirname "$0")/lib/common.sh"

DURATION=${1:-10}
CONNS=${2:-32}
THREADS=2
[ -x "$AGENT_BIN" ] || { echo "build first: $AGENT_BIN missing" >&2; exit 1; }
for tool in wrk nginx etcd; do
  command -v $tool >/dev/null || [ -x /usr/sbin/$tool ] || { echo "missing $tool (run: HEARSAY_BENCH_DEPS=1 packaging/install-deps.sh)" >&2; exit 1; }
done
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

# ---- one certificate for both HTTPS servers
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$BENCH_TMP/tls.key" \
  -out "$BENCH_TMP/tls.pem" -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
chmod 644 "$BENCH_TMP/tls.key"  # nginx's workers read it unprivileged

# ---- hearsay with 10 instances of web
HTTP_PORT=$(free_port)
HTTPS_PORT=$(free_port)
cat >"$BENCH_TMP/tls.json" <<JSON
{"ports": {"https": $HTTPS_PORT}, "tls": {"defaults": {"cert_file": "$BENCH_TMP/tls.pem", "key_file": "$BENCH_TMP/tls.key"}}}
JSON
echo 'acl { enabled = false }' >"$BENCH_TMP/acl.hcl"  # turned on by a reload before the token-checked writes
"$AGENT_BIN" -node bench -data-dir "$BENCH_TMP/agent" -http-port "$HTTP_PORT" -dns-port "$(free_port)" \
  -bind 127.0.0.1 -serf-lan-port "$(free_port)" -log-level warn -config-file "$BENCH_TMP/tls.json" -config-file "$BENCH_TMP/acl.hcl" \
  2>"$BENCH_TMP/agent.log" &
AGENT_PID=$!
BENCH_PIDS+=($AGENT_PID)
wait_http "http://127.0.0.1:$HTTP_PORT/v1/agent/self"
for i in $(seq 1 10); do
  curl -sf -X PUT "http://127.0.0.1:$HTTP_PORT/v1/agent/service/register" \
    -d "{\"Name\":\"web\",\"ID\":\"web$i\",\"Port\":$((8000 + i)),\"Tags\":[\"v1\",\"bench\"],\"Meta\":{\"version\":\"1\"}}"
done
READ_PATH="/v1/health/service/web?passing"
curl -sf "http://127.0.0.1:$HTTP_PORT$READ_PATH" -o "$BENCH_TMP/body.json"
[ "$(python3 -c "import json;print(len(json.load(open('$BENCH_TMP/body.json'))))")" = 10 ] || { echo "expected 10 instances" >&2; exit 1; }

# ---- nginx serving the same bytes
NGINX_PORT=$(free_port)
NGINX_TLS_PORT=$(free_port)
mkdir -p "$BENCH_TMP/nginx/www/v1/health/service" "$BENCH_TMP/nginx/logs"
cp "$BENCH_TMP/body.json" "$BENCH_TMP/nginx/www/v1/health/service/web"
cat >"$BENCH_TMP/nginx/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $BENCH_TMP/nginx/nginx.pid;
error_log $BENCH_TMP/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  default_type application/json;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $BENCH_TMP/nginx/www;
  }
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    ssl_certificate $BENCH_TMP/tls.pem;
    ssl_certificate_key $BENCH_TMP/tls.key;
    root $BENCH_TMP/nginx/www;
  }
}
NGINX
"$NGINX" -c "$BENCH_TMP/nginx/nginx.conf" -p "$BENCH_TMP/nginx" &
BENCH_PIDS+=($!)
wait_http "http://127.0.0.1:$NGINX_PORT/v1/health/service/web"
cmp <(curl -s "http://127.0.0.1:$NGINX_PORT/v1/health/service/web") "$BENCH_TMP/body.json"

echo "reads: wrk -t$THREADS -c$CONNS -d${DURATION}s" >&2
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency "http://127.0.0.1:$HTTP_PORT$READ_PATH" >"$BENCH_TMP/read-hearsay.txt"
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency "http://127.0.0.1:$NGINX_PORT$READ_PATH" >"$BENCH_TMP/read-nginx.txt"
R_H=$(wrk_rps "$BENCH_TMP/read-hearsay.txt"); R_N=$(wrk_rps "$BENCH_TMP/read-nginx.txt")

# ---- the same reads over HTTPS: identical bytes, the same certificate
cmp <(curl -s --cacert "$BENCH_TMP/tls.pem" "https://127.0.0.1:$HTTPS_PORT$READ_PATH") "$BENCH_TMP/body.json"
cmp <(curl -s --cacert "$BENCH_TMP/tls.pem" "https://127.0.0.1:$NGINX_TLS_PORT/v1/health/service/web") "$BENCH_TMP/body.json"
tls_of() {  # the protocol and cipher a server negotiates with OpenSSL's defaults (wrk's)
  openssl s_client -connect "127.0.0.1:$1" </dev/null 2>/dev/null | awk '/^New,/ {gsub(",", "", $2); print $2, $5}'
}
TLS_H=$(tls_of "$HTTPS_PORT"); TLS_N=$(tls_of "$NGINX_TLS_PORT")
echo "https reads: wrk -t$THREADS -c$CONNS -d${DURATION}s (hearsay $TLS_H, nginx $TLS_N)" >&2
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency "https://127.0.0.1:$HTTPS_PORT$READ_PATH" >"$BENCH_TMP/tls-hearsay.txt"
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency "https://127.0.0.1:$NGINX_TLS_PORT$READ_PATH" >"$BENCH_TMP/tls-nginx.txt"
T_H=$(wrk_rps "$BENCH_TMP/tls-hearsay.txt"); T_N=$(wrk_rps "$BENCH_TMP/tls-nginx.txt")

# ---- writes: distinct service IDs, each durable before the 200
cat >"$BENCH_TMP/register.lua" <<'LUA'
local counter = 0
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end
request = function()
  counter = counter + 1
  local id = "bench-" .. tid .. "-" .. counter
  local body = '{"Name":"bench","ID":"' .. id .. '","Port":8080,"Tags":["v1"],"Meta":{"version":"1"}}'
  return wrk.format("PUT", "/v1/agent/service/register", {["Content-Type"] = "application/json"}, body)
end
LUA
echo "writes: wrk -t$THREADS -c$CONNS -d${DURATION}s (register)" >&2
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency -s "$BENCH_TMP/register.lua" "http://127.0.0.1:$HTTP_PORT" \
  >"$BENCH_TMP/write-hearsay.txt"
W_H=$(wrk_rps "$BENCH_TMP/write-hearsay.txt")
REGISTERED=$(curl -s "http://127.0.0.1:$HTTP_PORT/v1/agent/services" | python3 -c "import json,sys;print(len(json.load(sys.stdin)))")

# ---- the same writes, each checked against an ACL token (ACLs turned on by a reload)
cat >"$BENCH_TMP/acl.hcl" <<'HCL'
acl {
  enabled = true
  default_policy = "deny"
  tokens { initial_management = "bench-root" }
  policy "bench-write" { rules = "service \"bench\" { policy = \"write\" }" }
  token "bench-writer" { secret_id = "bench-token" policies = ["bench-write"] }
}
HCL
curl -sf -X PUT "http://127.0.0.1:$HTTP_PORT/v1/agent/reload" >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$HTTP_PORT/v1/agent/service/register" \
  -d '{"Name":"bench","ID":"no-token"}')" = 403 ] || { echo "ACLs did not turn on" >&2; exit 1; }
sed 's/\["Content-Type"\] = "application\/json"/["Content-Type"] = "application\/json", ["X-Consul-Token"] = "bench-token"/' \
  "$BENCH_TMP/register.lua" >"$BENCH_TMP/register-token.lua"
echo "writes: wrk -t$THREADS -c$CONNS -d${DURATION}s (register with a token)" >&2
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency -s "$BENCH_TMP/register-token.lua" "http://127.0.0.1:$HTTP_PORT" \
  >"$BENCH_TMP/write-token.txt"
W_T=$(wrk_rps "$BENCH_TMP/write-token.txt")
NON2XX_T=$(awk '/Non-2xx/ {print $NF}' "$BENCH_TMP/write-token.txt")
kill $AGENT_PID; wait $AGENT_PID 2>/dev/null || true

# etcd 3.4 with its default (durable) settings; v3 gateway /v3/kv/put takes base64 key/value.
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port)
etcd --name bench --data-dir "$BENCH_TMP/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "bench=http://127.0.0.1:$ETCD_PEER" --log-level error >"$BENCH_TMP/etcd.log" 2>&1 &
BENCH_PIDS+=($!)
wait_http "http://127.0.0.1:$ETCD_PORT/health"
cat >"$BENCH_TMP/etcd.lua" <<'LUA'
local b = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(data)
  return ((data:gsub('.', function(x)
    local r, byte = '', x:byte()
    for i = 8, 1, -1 do r = r .. (byte % 2 ^ i - byte % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return b:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#data % 3 + 1])
end
local counter = 0
local thread_count = 0
function setup(thread)
  thread_count = thread_count + 1
  thread:set("tid", thread_count)
end
request = function()
  counter = counter + 1
  local id = "bench-" .. tid .. "-" .. counter
  local value = '{"Name":"bench","ID":"' .. id .. '","Port":8080,"Tags":["v1"],"Meta":{"version":"1"}}'
  local body = '{"key":"' .. base64("services/" .. id) .. '","value":"' .. base64(value) .. '"}'
  return wrk.format("POST", "/v3/kv/put", {["Content-Type"] = "application/json"}, body)
end
LUA
curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/put" -d '{"key":"Zm9v","value":"YmFy"}' >/dev/null
echo "writes: wrk -t$THREADS -c$CONNS -d${DURATION}s (etcd put)" >&2
wrk -t$THREADS -c$CONNS -d"${DURATION}s" --latency -s "$BENCH_TMP/etcd.lua" "http://127.0.0.1:$ETCD_PORT" \
  >"$BENCH_TMP/write-etcd.txt"
W_E=$(wrk_rps "$BENCH_TMP/write-etcd.txt")
NON2XX_H=$(awk '/Non-2xx/ {print $NF}' "$BENCH_TMP/write-hearsay.txt"); NON2XX_E=$(awk '/Non-2xx/ {print $NF}' "$BENCH_TMP/write-etcd.txt")

mkdir -p "$BENCH_ROOT/bench/results"
OUT="$BENCH_ROOT/bench/results/http-$(date -u +%Y%m%dT%H%M%SZ).md"
{
  echo "| measure | hearsay | peer | ratio |"
  echo "|---|---|---|---|"
  echo "| GET health/service/web?passing, 10 instances (req/s) | $R_H | nginx 1 worker: $R_N | $(ratio "$R_H" "$R_N")x |"
  echo "| p99 latency (ms) | $(wrk_latency_ms "$BENCH_TMP/read-hearsay.txt" 99%) | $(wrk_latency_ms "$BENCH_TMP/read-nginx.txt" 99%) | |"
  echo "| the same over HTTPS (req/s) | $T_H | nginx 1 worker: $T_N | $(ratio "$T_H" "$T_N")x |"
  echo "| p99 latency (ms) | $(wrk_latency_ms "$BENCH_TMP/tls-hearsay.txt" 99%) | $(wrk_latency_ms "$BENCH_TMP/tls-nginx.txt" 99%) | |"
  echo "| durable registrations (req/s) | $W_H | etcd 3.4 puts: $W_E | $(ratio "$W_H" "$W_E")x |"
  echo "| p99 latency (ms) | $(wrk_latency_ms "$BENCH_TMP/write-hearsay.txt" 99%) | $(wrk_latency_ms "$BENCH_TMP/write-etcd.txt" 99%) | |"
  echo "| the same registrations, ACL token checked (req/s) | $W_T | untokened: $W_H | $(ratio "$W_T" "$W_H")x |"
  echo "| p99 latency (ms) | $(wrk_latency_ms "$BENCH_TMP/write-token.txt" 99%) | $(wrk_latency_ms "$BENCH_TMP/write-hearsay.txt" 99%) | |"
  echo
  echo "wrk -t$THREADS -c$CONNS -d${DURATION}s on $(nproc) cores; hearsay registered $REGISTERED services;" \
       "non-2xx: hearsay ${NON2XX_H:-0} (with token ${NON2XX_T:-0}), etcd ${NON2XX_E:-0}; TLS negotiated with wrk's OpenSSL:" \
       "hearsay $TLS_H, nginx $TLS_N."
} | tee "$OUT"
