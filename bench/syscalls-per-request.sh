#!/usr/bin/env bash
# System calls per keep-alive POST (user-visible cost that timing noise does not change much):
# strace -f on scoregate while wrk sends POSTs through it to the built-in model server.
#   bench/syscalls-per-request.sh [CONNS] [SECONDS]      (default 8 connections, 5 s)
#   LOAD=handshake bench/syscalls-per-request.sh [CONNS] [SECONDS]   per full TLS handshake +
#     one POST with Connection: close (`sgload handshake`, as bench scenario b; default 4, 3 s)
# Prints each call per request; recvfrom is split into MSG_PEEK checks (the stale check of a
# pooled model connection before it became a poll(), which is counted as poll), EAGAIN (a
# speculative read that found nothing: depends on timing) and reads that got bytes.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
BIN=${SCOREGATE_BIN:-$ROOT/build/scoregate}
OUT=${OUT:-/tmp/scoregate-syscalls}; mkdir -p "$OUT"
LOAD=${LOAD:-keepalive}
if [ "$LOAD" = handshake ]; then C=${1:-4}; D=${2:-3}; else C=${1:-8}; D=${2:-5}; fi
PORT=${PORT:-19331}; MODEL=${MODEL_PORT:-19330}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
PKI=$OUT/pki
. "$HERE/lib/pki.sh"; bench_pki "$PKI" "syscalls CA"
cat > "$OUT/scoregate.yaml" <<YAML
extension: {allowInsecureConnections: false, sslCname: localhost}
protected: {sslCertPemFile: $PKI/fullchain.pem, sslKeyPemFile: $PKI/leaf.key}
router: {access_log: false, trusted_ca_file: $PKI/ca.pem}
endpoints:
  - name: demo
    auth_mode: none
    deployments:
      - name: blue
        targets: ["127.0.0.1:$MODEL"]
        request_settings: {max_concurrent_requests_per_instance: 1000, max_queue_length: 1000}
YAML
cat > "$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' .. string.rep(" ", 990)
wrk.headers["Content-Type"] = "application/json"
LUA
"$BIN" model-server --listen 127.0.0.1:$MODEL >"$OUT/model.log" 2>&1 & pids+=($!)
"$BIN" serve -f "$OUT/scoregate.yaml" --listen 127.0.0.1:$PORT --admin 127.0.0.1:$((PORT + 1)) \
  --workers 1 >"$OUT/scoregate.log" 2>&1 & sg=$!; pids+=($sg)
for _ in $(seq 1 60); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/" && break; sleep 0.5; done
URL=https://127.0.0.1:$PORT/api/v1/service/demo/score
wrk -t1 -c"$C" -d2s -s "$OUT/post.lua" "$URL" >/dev/null   # warm: pool filled, connections open
strace -f -qq -p "$sg" -o "$OUT/strace.txt" & st=$!
sleep 1
if [ "$LOAD" = handshake ]; then
  "$HERE/build-tools.sh" >/dev/null
  printf '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' > "$OUT/body.json"
  "$HERE/.bin/sgload" handshake -c "$C" -d "$D" --port "$PORT" --path /api/v1/service/demo/score \
    --body-file "$OUT/body.json" --cafile "$PKI/ca.pem" --sni localhost |
    sed -n 's/^RESULT .*"handshakes":\([0-9]*\),"session_reused":\([0-9]*\).*/\1 requests in (resumed \2)/p' \
    > "$OUT/wrk.txt"
else
  wrk -t1 -c"$C" -d"${D}s" -s "$OUT/post.lua" "$URL" > "$OUT/wrk.txt"
fi
sleep 0.5; kill -INT "$st"; wait "$st" 2>/dev/null || true
/usr/bin/python3 - "$OUT/strace.txt" "$OUT/wrk.txt" <<'PY'
import collections, re, sys
trace, wrk = open(sys.argv[1]).read().splitlines(), open(sys.argv[2]).read()
reqs = int(re.search(r"(\d+) requests in", wrk).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", wrk)
n = collections.Counter()
for line in trace:
    m = re.match(r"\d+\s+(\w+)\(", line)
    if not m or "resumed>" in line: continue
    name = m.group(1)
    if name == "recvfrom":
        name = "recvfrom MSG_PEEK" if "MSG_PEEK" in line else \
               "recvfrom EAGAIN" if "EAGAIN" in line else "recvfrom (bytes)"
    n[name] += 1
print(f"requests {reqs}" + (f" (non-2xx {bad.group(1)})" if bad else ""))
for name, c in n.most_common():
    if c / reqs >= 0.001: print(f"  {name:<20} {c / reqs:6.3f}")
print(f"  {'total':<20} {sum(n.values()) / reqs:6.3f} per request" +
      (" (= per full handshake)" if "resumed" in wrk else ""))
PY
