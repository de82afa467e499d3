#!/usr/bin/env bash
# Throughput and 429s with max_concurrent_requests_per_instance 1 vs 100, 4 targets of ~5 ms each.
# Settings are environment variables or NAME=VALUE arguments (DURATION, CONNS, LEVELS, DELAY_MS,
# TARGETS, QUEUE_WAIT_MS, QUEUE_LENGTH, QUICK, SCOREGATE_BIN, PORT_BASE). See README.md.
set -euo pipefail
for kv in "$@"; do
  case "$kv" in
    *=*) export "${kv?}" ;;
    *) echo "usage: bench/admission.sh [NAME=VALUE]..." >&2; exit 2 ;;
  esac
done
exec /usr/bin/python3 "$(dirname "$0")/lib/bench.py" admission
