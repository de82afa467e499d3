#!/usr/bin/env bash
# Installs the Debian packages scoregate needs to build, test and benchmark.
# Idempotent and quick when everything is present (one dpkg-query per package).
# Usage: scripts/deps.sh [build|test|bench|image|boringssl|io_uring]...   (default: build test)
set -euo pipefail

BUILD_PKGS="build-essential cmake ninja-build ccache pkg-config git
  libssl-dev openssl libboost1.81-dev libyaml-cpp-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev libcli11-dev libnghttp2-dev libmimalloc-dev"
TEST_PKGS="libgtest-dev libgmock-dev clang-14 libclang-rt-14-dev llvm-14 clang-format-14 clang-tidy-14
  python3 python3-pytest python3-yaml curl faketime procps iproute2 nodejs
  nghttp2-client python3-h2 python3-grpcio python3-protobuf slowhttptest testssl.sh
  chromium python3-websocket libjemalloc2"
# `make image` and the image tests: podman with runc (crun fails on hybrid cgroups), debootstrap
# for the base image where no registry is reachable, binutils (readelf) to check the binary
IMAGE_PKGS="podman buildah runc debootstrap uidmap slirp4netns fuse-overlayfs catatonit
  containernetworking-plugins binutils git python3 python3-pytest python3-yaml curl openssl"
# the BoringSSL build (cmake -DSCOREGATE_TLS=boringssl; README "TLS library")
BORINGSSL_PKGS="android-libboringssl-dev"
# the io_uring build (cmake -DSCOREGATE_IO=io_uring; README "I/O backend")
IO_URING_PKGS="liburing-dev"
# the instruments (bench/README.md): callgrind, strace, gdb (idle-memory.sh), perf (profile-perf.sh)
BENCH_PKGS="wrk nginx libnginx-mod-http-echo haproxy h2o nghttp2-client util-linux gcc libc6-dev
  valgrind strace gdb linux-perf"

want=""
[ $# -eq 0 ] && set -- build test
for group in "$@"; do
  case "$group" in
    build) want="$want $BUILD_PKGS" ;;
    test)  want="$want $TEST_PKGS" ;;
    bench) want="$want $BENCH_PKGS" ;;
    image) want="$want $IMAGE_PKGS" ;;
    boringssl) want="$want $BORINGSSL_PKGS" ;;
    io_uring) want="$want $IO_URING_PKGS" ;;
    *) echo "deps.sh: unknown group '$group' (use build, test, bench, image, boringssl or io_uring)" >&2; exit 2 ;;
  esac
done

missing=""
for p in $want; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# The k8s schema check (tests/k8s) runs `npm ci`: Debian's nodejs comes without npm (NodeSource's
# includes it), so the npm package is wanted only when no npm is on the PATH.
case " $want " in
  *" nodejs "*) command -v npm >/dev/null || missing="$missing npm" ;;
esac
[ -z "$missing" ] && exit 0

echo "scoregate: installing Debian packages:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install:$missing" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps services (nginx, haproxy) from being started by the package scripts
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
$SUDO apt-get install -y -q --no-install-recommends $missing
