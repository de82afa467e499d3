#!/usr/bin/env bash
# scoregate vs nginx vs haproxy: same machine, upstream, certificate and load. See README.md.
# Settings are environment variables, also accepted as arguments: bench/run.sh QUICK=1 ROUNDS=2
set -euo pipefail
for kv in "$@"; do
  case "$kv" in
    *=*) export "${kv?}" ;;
    *) echo "usage: bench/run.sh [NAME=VALUE]...   (e.g. QUICK=1, see bench/README.md)" >&2; exit 2 ;;
  esac
done
exec /usr/bin/python3 "$(dirname "$0")/lib/bench.py" run
