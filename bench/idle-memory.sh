#!/usr/bin/env bash
# Memory per idle TLS connection (bench scenario d), split into its parts, without timing:
# memory does not depend on what else the machine runs, so this is the way to compare changes
# on a busy box.
#   bench/idle-memory.sh [CONNS]        (default 1000; ~20 s)
# Prints, per connection: RSS growth, heap in use (glibc malloc_stats through gdb, both
# "Total (incl. mmap)"), and the kernel's socket memory (`ss -tm` skmem of the router's side).
# Heap in use needs a build on glibc's malloc (cmake -DSCOREGATE_ALLOCATOR=system): under
# mimalloc, the default (README "Memory allocator"), glibc's malloc_stats sees none of the heap
# and only RSS growth is printed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
BIN=${SCOREGATE_BIN:-$ROOT/build/scoregate}
OUT=${OUT:-/tmp/scoregate-idle}; mkdir -p "$OUT"
N=${1:-1000}; PORT=${PORT:-19301}; MODEL=${MODEL_PORT:-19300}
"$HERE/build-tools.sh" >/dev/null
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

. "$HERE/lib/pki.sh"; bench_pki "$OUT/pki" "idle CA"
cat > "$OUT/scoregate.yaml" <<YAML
extension: {allowInsecureConnections: false, sslCname: localhost}
protected: {sslCertPemFile: $OUT/pki/fullchain.pem, sslKeyPemFile: $OUT/pki/leaf.key}
router: {access_log: false, trusted_ca_file: $OUT/pki/ca.pem, max_connections: 20000}
endpoints:
  - name: demo
    auth_mode: none
    deployments:
      - name: blue
        targets: ["127.0.0.1:$MODEL"]
        request_settings: {max_concurrent_requests_per_instance: 1000, max_queue_length: 1000}
YAML
ulimit -n 65536 2>/dev/null || true
"$BIN" model-server --listen 127.0.0.1:$MODEL >"$OUT/model.log" 2>&1 & pids+=($!)
"$BIN" serve -f "$OUT/scoregate.yaml" --listen 127.0.0.1:$PORT --admin 127.0.0.1:$((PORT + 1)) \
  --workers 1 >>"$OUT/scoregate.log" 2>&1 & sg=$!; pids+=($sg)
for _ in $(seq 1 60); do curl -sk -o /dev/null "https://127.0.0.1:$PORT/" && break; sleep 0.5; done

rss() { awk '/VmRSS/ {print $2}' /proc/$sg/status; }
system_malloc=1; "$BIN" version | grep -q '^allocator: mimalloc' && system_malloc=0
heap() {  # bytes in use, all arenas (malloc_stats writes to the process's stderr)
  [ "$system_malloc" = 1 ] || { echo 0; return; }
  : > "$OUT/scoregate.log"
  gdb -p "$sg" -batch -ex 'call (void)malloc_stats()' >/dev/null 2>&1
  sleep 0.2
  awk '/^Total/ {t = 1} t && /in use bytes/ {print $NF; exit}' "$OUT/scoregate.log"
}
skmem() {  # kernel memory charged to the router's ends of the connections, bytes
  ss -tmnH state established "( sport = :$PORT )" | /usr/bin/python3 -c '
import re, sys
total = count = 0
for line in sys.stdin:
    m = re.search(r"skmem:\(([^)]*)\)", line)
    if not m: continue
    count += 1
    for f in m.group(1).split(","):
        k = re.match(r"([a-z]+)(\d+)", f)
        if k and k.group(1) in ("r", "t", "f", "w"): total += int(k.group(2))
print(total, count)'
}
rss0=$(rss); heap0=$(heap)
"$HERE/.bin/sgload" idle -c "$N" -d 60 --port "$PORT" --cafile "$OUT/pki/ca.pem" --sni localhost \
  >"$OUT/sgload.log" 2>&1 & ld=$!; pids+=($ld)
for _ in $(seq 1 120); do grep -q '^ESTABLISHED' "$OUT/sgload.log" && break; sleep 0.5; done
sleep 1
rss1=$(rss); heap1=$(heap); read -r sk nsk < <(skmem)
kill -TERM "$ld"; wait "$ld" 2>/dev/null || true
open=$(awk '/^ESTABLISHED/ {print $2}' "$OUT/sgload.log")
awk -v n="$open" -v r0="$rss0" -v r1="$rss1" -v h0="$heap0" -v h1="$heap1" -v sk="$sk" -v nsk="$nsk" \
    -v sysmalloc="$system_malloc" 'BEGIN {
  printf "connections %d (router side seen by ss: %d)\n", n, nsk
  printf "RSS growth per connection      %6.2f KiB  (%d -> %d KiB)\n", (r1 - r0) / n, r0, r1
  if (sysmalloc) printf "heap in use per connection     %6.2f KiB  (malloc_stats)\n", (h1 - h0) / 1024 / n
  else print "heap in use per connection        n/a  (mimalloc: glibc malloc_stats does not see it; build with -DSCOREGATE_ALLOCATOR=system)"
  printf "kernel socket memory per conn  %6.2f KiB  (ss skmem r+t+f+w; not in RSS)\n", nsk ? sk / 1024 / nsk : 0 }'
