#!/usr/bin/env bash
# Instructions per keep-alive request (user space), scoregate vs nginx, under callgrind.
# Instruction counts repeat run to run whatever else the machine does, so this is the way
# to compare code changes on a noisy 2-core box (profile-perf.sh splits the CPU time instead).
#   bench/profile-callgrind.sh [scoregate|nginx|both]     (default both; ~1 min each)
#   LOAD=handshake bench/profile-callgrind.sh ...         per full TLS handshake + 1 POST
#     (`sgload handshake`, as bench scenario b; resumed sessions must be 0)
#   CG_OPTS="--cache-sim=yes" bench/profile-callgrind.sh ...   also simulated cache misses
#     (I1mr, D1mr, D1mw, LL*: callgrind_annotate prints them), e.g. to compare allocators
# Leaves callgrind.<name>.out in $OUT for `callgrind_annotate --inclusive=yes`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
BIN=${SCOREGATE_BIN:-$ROOT/build/scoregate}
OUT=${OUT:-/tmp/scoregate-profile}; mkdir -p "$OUT"
DUR=${DUR:-10}; CONNS=${CONNS:-8}; LOAD=${LOAD:-keepalive}
[ "$LOAD" = handshake ] && "$HERE/build-tools.sh" >/dev/null
which=${1:-both}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

. "$HERE/lib/profile-setup.sh"; profile_setup "$OUT"

"$BIN" model-server --listen 127.0.0.1:19100 >"$OUT/model.log" 2>&1 & pids+=($!)

profile() {  # name port command...
  local name=$1 port=$2; shift 2
  valgrind --tool=callgrind ${CG_OPTS:-} --callgrind-out-file="$OUT/callgrind.$name.out" "$@" >"$OUT/$name.log" 2>&1 &
  local pid=$!; pids+=($pid)
  wait_https "$port"
  callgrind_control -z "$pid" >/dev/null
  local reqs
  if [ "$LOAD" = handshake ]; then
    printf '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' > "$OUT/body.json"
    reqs=$("$HERE/.bin/sgload" handshake -c "${HS_CONNS:-4}" -d "$DUR" --port "$port" \
             --path /api/v1/service/demo/score --body-file "$OUT/body.json" \
             --cafile "$OUT/pki/ca.pem" --sni localhost |
           sed -n 's/^RESULT .*"handshakes":\([0-9]*\),"session_reused":\([0-9]*\).*/\1 \2/p' |
           awk '{ if ($2 != 0) print "resumed sessions: " $2 > "/dev/stderr"; print $1 }')
  else
    reqs=$(wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$OUT/post.lua" "https://127.0.0.1:$port/api/v1/service/demo/score" |
           awk '/requests in/ {print $1}')
  fi
  callgrind_control -d "$pid" >/dev/null; sleep 1
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  local ir
  ir=$(callgrind_annotate "$(ls -t "$OUT"/callgrind."$name".out.* | head -1)" 2>/dev/null |
       awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  printf '%-10s %8d %s  %12d instructions  %8.0f instructions/%s\n' "$name" "$reqs" \
    "$([ "$LOAD" = handshake ] && echo handshakes || echo requests)" "$ir" \
    "$(echo "$ir / $reqs" | bc -l)" "$([ "$LOAD" = handshake ] && echo handshake || echo request)"
}
rm -f "$OUT"/callgrind.*.out*
[ "$which" = nginx ] || profile scoregate 19201 "$BIN" serve -f "$OUT/scoregate.yaml" \
  --listen 127.0.0.1:19201 --admin 127.0.0.1:19202 --workers 1
[ "$which" = scoregate ] || profile nginx 19200 nginx -c "$OUT/nginx/nginx.conf"
