#!/usr/bin/env bash
# Makes sure the base image of the Containerfile exists (README "Container image").
#   scripts/base-image.sh IMAGE        (ENGINE=podman or docker; default: podman if installed)
# - already in local storage: nothing to do;
# - localhost/...: no registry is needed; the image is built here from Debian bookworm packages
#   (debootstrap --variant=minbase, then `podman import`), as on machines without a registry;
# - anything else (e.g. docker.io/library/debian:bookworm-slim): pulled from its registry.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:?usage: scripts/base-image.sh IMAGE}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$PWD/scripts/containers.conf}
ENGINE=${ENGINE:-$(command -v podman >/dev/null && echo podman || echo docker)}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

$ENGINE image inspect "$image" >/dev/null 2>&1 && exit 0
if [ "${image#localhost/}" = "$image" ]; then
  exec $ENGINE pull "$image"
fi
[ "$(id -u)" -eq 0 ] || { echo "base-image.sh: debootstrap needs root" >&2; exit 1; }
work=$(mktemp -d /var/tmp/scoregate-rootfs.XXXXXX)
# debootstrap mounts /proc (and more) inside the root while it runs: unmount before removing
cleanup() {
  grep -o " $work/[^ ]*" /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
echo "scoregate: building base image $image with debootstrap from $MIRROR"
debootstrap --variant=minbase bookworm "$work/rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; exit 1; }
r=$work/rootfs
cat >"$r/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
SOURCES
# an image keeps no package lists, caches, docs or logs of its own build
printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\n' \
  >"$r/etc/dpkg/dpkg.cfg.d/01-image-nodoc"
printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  >"$r/etc/apt/apt.conf.d/01-image-norecommends"
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/* "$r"/usr/share/doc/* "$r"/usr/share/man/* \
       "$r"/usr/share/locale/* "$r"/var/log/* "$r"/tmp/*
tar --numeric-owner -C "$r" -cf "$work/rootfs.tar" .
$ENGINE import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/bash"]' "$work/rootfs.tar" "$image" >/dev/null 2>&1
echo "scoregate: base image $image: $($ENGINE image inspect --format '{{.Size}}' "$image") bytes"
