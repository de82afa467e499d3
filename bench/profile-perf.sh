#!/usr/bin/env bash
# Where a keep-alive request's CPU time goes, scoregate vs nginx: the proxy pinned to CPU 0,
# wrk on CPU 1, `perf record -e cpu-clock -g` on the proxy (a software clock: this VM has no
# hardware counters, so the default `cycles` event records nothing). Prints, per request:
# CPU µs from /proc (user / system), and the sampled time split into user space by library and
# kernel time by the system call it was spent in (the first user-space frame of the call chain
# — read, write, epoll_ctl, ... — or "no syscall": interrupts and softirqs on the proxy's CPU).
# Absolute µs move with the machine's load; the split between proxies in the same run is the
# reading. Needs root (kernel call chains) and perf (Debian linux-perf).
#   bench/profile-perf.sh [scoregate|nginx|both]      (default both; DUR seconds each, 10)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
BIN=${SCOREGATE_BIN:-$ROOT/build/scoregate}
OUT=${OUT:-/tmp/scoregate-perf}; mkdir -p "$OUT"
DUR=${DUR:-10}; CONNS=${CONNS:-8}; FREQ=${FREQ:-2000}
which=${1:-both}
command -v perf >/dev/null || { echo "profile-perf.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

. "$HERE/lib/profile-setup.sh"; profile_setup "$OUT"
taskset -c 1 "$BIN" model-server --listen 127.0.0.1:19100 >"$OUT/model.log" 2>&1 & pids+=($!)

cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }  # utime stime, clock ticks

profile() {  # name port command...
  local name=$1 port=$2; shift 2
  taskset -c 0 "$@" >"$OUT/$name.log" 2>&1 &
  local pid=$!; pids+=($pid)
  wait_https "$port"
  local url=https://127.0.0.1:$port/api/v1/service/demo/score
  taskset -c 1 wrk -t1 -c"$CONNS" -d2s -s "$OUT/post.lua" "$url" >/dev/null  # warm: pools full
  local before after
  before=$(cpu_ticks "$pid")
  perf record -q -e cpu-clock -F "$FREQ" -g -p "$pid" -o "$OUT/perf.$name.data" -- sleep "$((DUR + 1))" \
    2>/dev/null & local rec=$!
  sleep 0.5
  taskset -c 1 wrk -t1 -c"$CONNS" -d"${DUR}s" -s "$OUT/post.lua" "$url" > "$OUT/wrk.$name.txt"
  after=$(cpu_ticks "$pid")
  wait "$rec" || true
  kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
  perf script -i "$OUT/perf.$name.data" -F comm,tid,period,ip,sym,dso 2>/dev/null > "$OUT/perf.$name.txt"
  /usr/bin/python3 - "$name" "$OUT/wrk.$name.txt" "$OUT/perf.$name.txt" "$before" "$after" \
    "$(getconf CLK_TCK)" "$DUR" <<'PY'
import collections, re, sys
name, wrk, script, before, after, hz, dur = sys.argv[1:]
text = open(wrk).read()
reqs = int(re.search(r"(\d+) requests in", text).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
errs = re.search(r"Socket errors: .*", text)
u0, s0 = map(int, before.split()); u1, s1 = map(int, after.split())
tick_us = 1e6 / int(hz)
user_us, sys_us = (u1 - u0) * tick_us / reqs, (s1 - s0) * tick_us / reqs
# perf script: a sample header line, then one frame per line (ip sym (dso)), then a blank line.
samples, cur = [], None
for line in open(script):
    if not line.strip():
        if cur: samples.append(cur)
        cur = None
    elif not line.startswith((" ", "\t")):
        cur = []
    elif cur is not None:
        m = re.match(r"\s*[0-9a-f]+\s+(.*?)\s+\((.*)\)\s*$", line)
        if m: cur.append((m.group(1), m.group(2)))
if cur: samples.append(cur)
def lib(dso):
    base = dso.rsplit("/", 1)[-1]
    for key in ("libcrypto", "libssl", "libc.so", "libstdc++", "ld-linux"):
        if base.startswith(key): return key.rstrip(".so")
    return "the program" if base in ("scoregate", "nginx") else base
split = collections.Counter()
for frames in samples:
    if not frames: continue
    if frames[0][1].startswith("[kernel"):
        user = next(((s, d) for s, d in frames if not d.startswith("[kernel")), None)
        if user is None: key = "kernel: no syscall (interrupt, softirq)"
        else:
            call = re.sub(r"^(__GI_|__libc_|__)+", "", user[0].split("+")[0])
            key = "kernel: " + call
    else:
        key = "user: " + lib(frames[0][1])
    split[key] += 1
total = sum(split.values()) or 1
per_req = (user_us + sys_us)
print(f"{name}: {reqs} requests" + (f", non-2xx {bad.group(1)}" if bad else "")
      + (f", {errs.group(0)}" if errs else "") + f"; {total} samples")
print(f"  CPU per request (/proc): {per_req:6.2f} µs = user {user_us:5.2f} + system {sys_us:5.2f}")
kern = sum(c for k, c in split.items() if k.startswith("kernel"))
print(f"  sampled: user {100 * (total - kern) / total:4.1f} %, kernel {100 * kern / total:4.1f} %")
for key, c in split.most_common():
    if c / total < 0.005: continue
    print(f"    {key:<45} {100 * c / total:5.1f} %  {per_req * c / total:6.2f} µs/request")
PY
}
[ "$which" = nginx ] || profile scoregate 19201 "$BIN" serve -f "$OUT/scoregate.yaml" \
  --listen 127.0.0.1:19201 --admin 127.0.0.1:19202 --workers 1
[ "$which" = scoregate ] || profile nginx 19200 nginx -c "$OUT/nginx/nginx.conf"
