#!/usr/bin/env bash
# scoregate as the CANDIDATE of the team's peer bench (../shared/peer-bench, run it from there):
#   CANDIDATE='/path/to/scoregate/bench/peer-candidate.sh --listen {listen} --cert {cert} --key {key} --ca {ca} --upstream {upstream} --rundir {rundir}' \
#   CANDIDATE_NAME=scoregate ./run.sh
# Writes a settings file into the run directory, then execs scoregate in the foreground (one
# process, exits on SIGTERM), with 1 worker, no access log and an endpoint `demo` with
# auth_mode none and enough slots that admission never throttles the benchmark's load.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${SCOREGATE_BIN:-$HERE/../build/scoregate}
CA=""
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) LISTEN=$2; shift 2 ;;
    --cert) CERT=$2; shift 2 ;;
    --key) KEY=$2; shift 2 ;;
    --ca) CA=$2; shift 2 ;;
    --upstream) UPSTREAM=$2; shift 2 ;;
    --rundir) RUNDIR=$2; shift 2 ;;
    *) echo "peer-candidate.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$RUNDIR"
cat > "$RUNDIR/scoregate.yaml" <<YAML
extension:
  allowInsecureConnections: false
  sslCname: localhost
protected:
  sslCertPemFile: $CERT
  sslKeyPemFile: $KEY
router:
  workers: 1
  access_log: false
  header_timeout_ms: 30000        # the bench holds idle, request-less connections for 10 s+
  max_connections: 100000
  ${CA:+trusted_ca_file: $CA}
endpoints:
  - name: demo
    auth_mode: none
    deployments:
      - name: model
        targets: [ "$UPSTREAM" ]
        request_settings: { max_concurrent_requests_per_instance: 10000, max_queue_length: 100000, request_timeout_ms: 60000 }
YAML
exec "$BIN" serve -f "$RUNDIR/scoregate.yaml" --listen "$LISTEN" --admin 127.0.0.1:0 --log-level warn
