#!/usr/bin/env bash
# What a TLS 1.3 cipher suite costs the router per full handshake + one POST, measured natively
# (callgrind cannot: valgrind hides SHA-NI, so SHA-256 looks as dear as SHA-384 there). One
# router (one worker, CPU 0) and `sgload handshake --ciphersuites S` (CPU 1) with each suite in
# turn, ROUNDS times; prints the router's CPU µs per handshake (utime + stime from /proc) per
# round and suite. The suite is the client's offer: the router takes the client's order
# (README "TLS library"), so this is what a client with that preference costs it.
#   bench/suite-cost.sh                 (ROUNDS=6, DUR=4 s per run; ~1 min)
#   SUITES="TLS_AES_256_GCM_SHA384 TLS_CHACHA20_POLY1305_SHA256" bench/suite-cost.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
BIN=${SCOREGATE_BIN:-$ROOT/build/scoregate}
OUT=${OUT:-/tmp/scoregate-suites}; mkdir -p "$OUT"
ROUNDS=${ROUNDS:-6}; DUR=${DUR:-4}
SUITES=${SUITES:-TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256}
"$HERE/build-tools.sh" >/dev/null
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

. "$HERE/lib/profile-setup.sh"; profile_setup "$OUT"
taskset -c 1 "$BIN" model-server --listen 127.0.0.1:19100 >"$OUT/model.log" 2>&1 & pids+=($!)
taskset -c 0 "$BIN" serve -f "$OUT/scoregate.yaml" --listen 127.0.0.1:19201 \
  --admin 127.0.0.1:19202 --workers 1 >"$OUT/scoregate.log" 2>&1 & router=$!; pids+=($router)
wait_https 19201
printf '{"data": [[1,2,3,4,5,6,7,8,9,10]]}' > "$OUT/body.json"
ticks() { awk '{print $14 + $15}' "/proc/$router/stat"; }  # utime + stime, clock ticks
hz=$(getconf CLK_TCK)

echo "round suite negotiated handshakes router_us_per_handshake"
for r in $(seq 1 "$ROUNDS"); do
  for s in $SUITES; do
    t0=$(ticks)
    res=$(taskset -c 1 "$HERE/.bin/sgload" handshake -c 4 -d "$DUR" --port 19201 \
            --body-file "$OUT/body.json" --cafile "$OUT/pki/ca.pem" --sni localhost \
            --ciphersuites "$s" | tail -1)
    t1=$(ticks)
    hs=$(sed -n 's/.*"handshakes":\([0-9]*\).*/\1/p' <<<"$res")
    got=$(sed -n 's/.*"cipher":"\([^"]*\)".*/\1/p' <<<"$res")
    reused=$(sed -n 's/.*"session_reused":\([0-9]*\).*/\1/p' <<<"$res")
    [ "${reused:-1}" = 0 ] || { echo "suite-cost.sh: sessions were resumed: $res" >&2; exit 1; }
    awk -v r="$r" -v s="$s" -v g="$got" -v h="$hs" -v d=$((t1 - t0)) -v hz="$hz" \
      'BEGIN { printf "%s %s %s %d %.1f\n", r, s, g, h, d * 1e6 / hz / h }'
  done
done
