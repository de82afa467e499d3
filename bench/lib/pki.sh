# Sourced by the single-proxy bench scripts (idle-memory.sh, profile-callgrind.sh,
# syscalls-per-request.sh): a throw-away ECDSA P-256 CA and a localhost leaf in DIR, made once.
#   bench_pki DIR CA_NAME   ->  DIR/ca.pem, DIR/leaf.key, DIR/fullchain.pem
bench_pki() {
  local dir=$1 name=$2
  [ -s "$dir/ca.pem" ] && return 0
  mkdir -p "$dir"
  (
    cd "$dir"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
      -days 30 -subj "/CN=$name" -addext basicConstraints=critical,CA:TRUE 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
      -subj "/CN=localhost" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > leaf.ext
    openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out leaf.crt -days 20 \
      -extfile leaf.ext 2>/dev/null
    cat leaf.crt ca.pem > fullchain.pem
  )
}
