#!/usr/bin/env bash
# Certificate renewal under load (issue 4's measure): requests/s and full handshakes/s with and
# without a certificate swap every ROTATE_MS, errors in both, and the time from a file swap to
# the first handshake that shows the new certificate.
#   bench/renewal.sh            DURATION=10 ROTATE_MS=250 (env)
# scoregate runs with 1 worker on CPU 0; the load (wrk, sgload) and the sample model on CPU 1.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
BIN=${SCOREGATE_BIN:-$ROOT/build/scoregate}
DURATION=${DURATION:-10}; ROTATE_MS=${ROTATE_MS:-250}
WORK=$(mktemp -d /tmp/scoregate-renewal.XXXXXX)
PORT=${PORT:-18641}; MODEL_PORT=$((PORT + 1)); ADMIN_PORT=$((PORT + 2))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$HERE/build-tools.sh" >/dev/null
SGLOAD=$HERE/.bin/sgload

cd "$WORK"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
  -days 30 -subj "/CN=renewal bench CA" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
for n in a b; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.csr \
    -subj "/CN=localhost" 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.crt -days 60 \
    -extfile ext 2>/dev/null
  cat $n.crt ca.pem > $n.pem
  openssl x509 -in $n.crt -noout -fingerprint -sha256 | cut -d= -f2 > $n.fp
done
mkdir live; cp a.pem live/cert.pem; cp a.key live/key.pem
cat > sg.yaml <<YAML
extension: {allowInsecureConnections: false, sslCname: localhost}
protected: {sslCertPemFile: $WORK/live/cert.pem, sslKeyPemFile: $WORK/live/key.pem}
router: {workers: 1, access_log: false, trusted_ca_file: $WORK/ca.pem}
endpoints:
  - name: demo
    auth_mode: none
    deployments:
      - name: model
        targets: [ "127.0.0.1:$MODEL_PORT" ]
        request_settings: { max_concurrent_requests_per_instance: 10000, max_queue_length: 100000 }
YAML
printf 'wrk.method="POST"\nwrk.body=%s\nwrk.headers["Content-Type"]="application/json"\n' \
  "'{\"data\": [[1,2,3,4,5,6,7,8,9,10]]}'" > post.lua
echo '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' > body.json

taskset -c 1 "$BIN" model-server --listen 127.0.0.1:$MODEL_PORT >model.log 2>&1 & pids+=($!)
taskset -c 0 "$BIN" serve -f sg.yaml --listen 127.0.0.1:$PORT --admin 127.0.0.1:$ADMIN_PORT \
  --log-level warn >sg.log 2>&1 & pids+=($!)
for _ in $(seq 1 50); do curl -s -o /dev/null http://127.0.0.1:$ADMIN_PORT/readyz && break; sleep 0.1; done

swap() {  # to: a|b — rename both files over the live ones, as a renewal tool would
  cp $1.pem live/.cert.tmp; cp $1.key live/.key.tmp
  mv live/.cert.tmp live/cert.pem; mv live/.key.tmp live/key.pem
}
rotate() {  # for DURATION seconds
  local end=$(( $(date +%s%N) + DURATION * 1000000000 )) to=b
  while [ "$(date +%s%N)" -lt "$end" ]; do
    swap $to; [ $to = b ] && to=a || to=b
    sleep "$(echo "$ROTATE_MS / 1000" | bc -l)"
  done
}
served_fp() {
  openssl s_client -connect 127.0.0.1:$PORT -servername localhost </dev/null 2>/dev/null |
    openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}
measure() {  # label
  local ka hs
  ka=$(taskset -c 1 wrk -t1 -c32 -d"${DURATION}s" -s post.lua https://127.0.0.1:$PORT/api/v1/service/demo/score)
  hs=$(taskset -c 1 "$SGLOAD" handshake -c 16 -d "$DURATION" --port $PORT --path /api/v1/service/demo/score \
         --body-file body.json --cafile ca.pem --sni localhost | tail -1)
  printf '| %s | %s | %s | %s | %s |\n' "$1" \
    "$(echo "$ka" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$ka" | awk '/Non-2xx|Socket errors/ {e=e $0 " "} END {print (e == "" ? "0" : e)}')" \
    "$(echo "$hs" | sed 's/RESULT //' | python3 -c 'import json,sys; print(json.load(sys.stdin)["per_sec"])')" \
    "$(echo "$hs" | sed 's/RESULT //' | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["errors"] + d["non2xx"])')"
}

echo "| load | keep-alive req/s (wrk -c32) | wrk errors | full handshakes/s (sgload -c16) | handshake errors |"
echo "|---|---|---|---|---|"
measure "no rotation"
rotate & rot=$!
measure "swap every ${ROTATE_MS} ms" ; wait $rot || true
# swap-to-served latency: 10 swaps, each timed until a new handshake shows the new certificate
lat=()
for i in $(seq 1 10); do
  to=$([ $((i % 2)) -eq 1 ] && echo b || echo a); [ "$(served_fp)" = "$(cat $to.fp)" ] && continue
  t0=$(date +%s%N); swap $to
  while [ "$(served_fp)" != "$(cat $to.fp)" ]; do :; done
  lat+=($(( ($(date +%s%N) - t0) / 1000000 )))
done
printf '\nswap -> first handshake with the new certificate, ms (10 swaps): %s\n' "${lat[*]}"
curl -s http://127.0.0.1:$ADMIN_PORT/status | python3 -c 'import json,sys; r=json.load(sys.stdin)["reloads"]; print("reloads ok", r["ok"], "failed", r["failed"])'
