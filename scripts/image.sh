#!/usr/bin/env bash
# `make image`: builds scoregate's container image from the Containerfile (README "Container
# image") and tags it localhost/scoregate:VERSION, the image `scoregate k8s render` names by
# default.
# Environment: ENGINE (podman or docker; default podman if installed), IMAGE (the tag),
# BASE_IMAGE (a Debian bookworm image; the default localhost/scoregate-base:bookworm is built
# here with debootstrap, no registry needed), IMAGE_SOURCE (the org.opencontainers.image.source
# label; default: the git remote "origin", if any), TLS (openssl, the default, or boringssl:
# README "TLS library"; the BoringSSL image is tagged localhost/scoregate:VERSION-boringssl).
set -euo pipefail
cd "$(dirname "$0")/.."
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
export ENGINE
VERSION=$(sed -n 's/^project(scoregate VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
TLS=${TLS:-openssl}
case "$TLS" in
  openssl) IMAGE=${IMAGE:-localhost/scoregate:$VERSION} ;;
  boringssl) IMAGE=${IMAGE:-localhost/scoregate:$VERSION-boringssl} ;;
  *) echo "image.sh: TLS must be openssl or boringssl, not '$TLS'" >&2; exit 2 ;;
esac
BASE_IMAGE=${BASE_IMAGE:-localhost/scoregate-base:bookworm}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || REVISION="$REVISION-dirty"
# the origin remote as the source label only when it is a plain https URL: never a local path,
# and never a URL with credentials in it (https://user:token@host/...)
origin=$(git remote get-url origin 2>/dev/null || true)
case "$origin" in https://*@*|https://*[[:space:]]*) origin="" ;; https://*) ;; *) origin="" ;; esac
IMAGE_SOURCE=${IMAGE_SOURCE:-$origin}

scripts/base-image.sh "$BASE_IMAGE"
t0=$(date +%s)
# --network host: the build stage's apt-get reaches the Debian mirror as the host does
# (no bridge networking is needed, or configured, on build machines)
pull=(); [ "$ENGINE" = podman ] && pull=(--pull=never)  # the base is local or pulled above
export DOCKER_BUILDKIT=1  # docker: RUN --mount needs BuildKit
$ENGINE build --network host "${pull[@]}" -f Containerfile -t "$IMAGE" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" --build-arg VERSION="$VERSION" \
  --build-arg SCOREGATE_GIT_REVISION="$REVISION" --build-arg SOURCE="$IMAGE_SOURCE" \
  --build-arg SCOREGATE_TLS="$TLS" .
echo "scoregate: built $IMAGE ($($ENGINE image inspect --format '{{.Size}}' "$IMAGE") bytes," \
     "revision $REVISION) in $(( $(date +%s) - t0 ))s"
