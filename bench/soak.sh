#!/usr/bin/env bash
# A soak at steady load (README "Overload and attacks", memory bound): scoregate (one worker)
# in front of the bench upstream (nginx + echo module, bench/conf/upstream.nginx.conf), sgload
# sending a fixed RATE of keep-alive HTTPS POSTs over CONNS connections for SECONDS, while the
# router's RSS is sampled every 10 s. Prints every sample, the RSS after warm-up (the first
# minute), the final RSS and the growth in percent.
#   bench/soak.sh                       # 10 minutes, 1000 req/s over 16 connections
#   bench/soak.sh DURATION=120 RATE=500  # shorter
# Needs `scripts/deps.sh bench` (nginx, libnginx-mod-http-echo, gcc, libssl-dev) and a build
# (build/scoregate, or SCOREGATE_BIN). Loopback only; free ports are picked by the kernel.
set -euo pipefail
for kv in "$@"; do export "${kv?}"; done
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
SECONDS_TOTAL=${DURATION:-600} RATE=${RATE:-1000} CONNS=${CONNS:-16} WARMUP=${WARMUP:-60}
BIN=${SCOREGATE_BIN:-$root/build/scoregate}
"$here/build-tools.sh" >/dev/null
run=$(mktemp -d /tmp/scoregate-soak.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
up_port=$(free_port) sg_port=$(free_port) admin_port=$(free_port)

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$run/key.pem" -out "$run/cert.pem" 2>/dev/null
mkdir -p "$run"/tmp-{body,proxy,fastcgi,uwsgi,scgi}
sed -e "s#{{echo_module}}#/usr/lib/nginx/modules/ngx_http_echo_module.so#" -e "s#{{rundir}}#$run#g" \
    -e "s#{{listen_lines}}#        listen 127.0.0.1:$up_port backlog=4096;#" -e "s#{{delay_line}}##" \
    "$here/conf/upstream.nginx.conf" > "$run/upstream.conf"
nginx -c "$run/upstream.conf" -e "$run/upstream.error.log" -g 'daemon off;' &
pids+=($!)
cat > "$run/scoregate.yaml" <<EOF
extension: {allowInsecureConnections: false, sslCname: localhost}
protected: {sslCertPemFile: $run/cert.pem, sslKeyPemFile: $run/key.pem}
router: {workers: 1, access_log: false, trusted_ca_file: $run/cert.pem}
endpoints:
  - name: demo
    auth_mode: none
    deployments:
      - name: blue
        targets: ["127.0.0.1:$up_port"]
        request_settings: {max_concurrent_requests_per_instance: 256, request_timeout_ms: 30000}
EOF
"$BIN" serve -f "$run/scoregate.yaml" --listen "127.0.0.1:$sg_port" --admin "127.0.0.1:$admin_port" \
  2> "$run/scoregate.log" &
sg=$!
pids+=($sg)
for _ in $(seq 100); do curl -sk -o /dev/null "https://127.0.0.1:$sg_port/" && break; sleep 0.1; done
echo '{"data":[[1,2,3,4,5,6,7,8,9,10]]}' > "$run/body.json"

"$here/.bin/sgload" rate -r "$RATE" -c "$CONNS" -d "$SECONDS_TOTAL" --port "$sg_port" \
  --path /api/v1/endpoint/demo/score --body-file "$run/body.json" \
  --header 'Content-Type: application/json' > "$run/sgload.out" 2>&1 &
load=$!
pids+=($load)
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$sg/status"; }
echo "soak: ${SECONDS_TOTAL}s at $RATE req/s over $CONNS connections; RSS of scoregate (pid $sg) every 10 s"
warm="" t=0
while kill -0 "$load" 2>/dev/null; do
  sleep 10
  t=$((t + 10))
  kill -0 "$sg" || { echo "scoregate exited" >&2; tail "$run/scoregate.log" >&2; exit 1; }
  r=$(rss)
  echo "t=${t}s rss_kib=$r"
  [ "$t" -ge "$WARMUP" ] && [ -z "$warm" ] && warm=$r
  last=$r
done
wait "$load" || true
tail -1 "$run/sgload.out"
final=$(rss)
echo "warm-up RSS (t=${WARMUP}s): ${warm} KiB; final RSS: ${final} KiB; growth: $(awk -v a="$warm" -v b="$final" 'BEGIN {printf "%.1f", (b - a) * 100 / a}') %"
