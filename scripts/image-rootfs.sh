#!/bin/sh
# Runs in the Containerfile's build stage: assembles the image's root filesystem from the
# build stage's Debian packages.
#   image-rootfs.sh BINARY ROOTFS
# Kept: the binary, every shared library it links (the names ldd prints, resolved), the
# OpenSSL directory layout and the system trust store (ca-certificates), the copyright files of
# the packages those files come from, a passwd/group with the non-root user 65532, /tmp.
set -eu
bin=$1 root=$2
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/etc" "$root/tmp"
# merged /usr, as Debian bookworm: the loader path /lib64/ld-linux-x86-64.so.2 resolves
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
ln -s usr/bin "$root/bin"
chmod 1777 "$root/tmp"
cp "$bin" "$root/usr/bin/"
files=""
for lib in $(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
  dir=$(realpath "$(dirname "$lib")")
  mkdir -p "$root$dir"
  cp -L "$lib" "$root$dir/$(basename "$lib")"
  files="$files $lib $(realpath "$lib")"  # dpkg may know either spelling (merged /usr)
done
# OpenSSL's default verify paths: /usr/lib/ssl/certs -> /etc/ssl/certs (hashed links into
# /usr/share/ca-certificates) and /etc/ssl/certs/ca-certificates.crt
cp -a /usr/lib/ssl "$root/usr/lib/"
mkdir -p "$root/etc/ssl" "$root/usr/share"
cp -a /etc/ssl/certs /etc/ssl/openssl.cnf "$root/etc/ssl/"
cp -a /usr/share/ca-certificates "$root/usr/share/"
files="$files /etc/ssl/certs/ca-certificates.crt /etc/ssl/openssl.cnf /usr/share/ca-certificates"
# every package whose files ship must ship its copyright file too: a missing one fails the build
for pkg in $(dpkg -S $files 2>/dev/null | cut -d: -f1 | sort -u); do
  if [ ! -f "/usr/share/doc/$pkg/copyright" ]; then
    echo "image-rootfs.sh: /usr/share/doc/$pkg/copyright is missing (reinstall $pkg in the build stage)" >&2
    exit 1
  fi
  mkdir -p "$root/usr/share/doc/$pkg"
  cp "/usr/share/doc/$pkg/copyright" "$root/usr/share/doc/$pkg/"
done
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nnonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin\n' \
  >"$root/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' >"$root/etc/group"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
# the mount points a pod fills (docs/kubernetes.md), so a read-only root needs no mkdir
mkdir -p "$root/etc/scoregate/config" "$root/etc/scoregate/secrets" "$root/etc/scoregate/keys"
echo "image root: $(du -sh "$root" | cut -f1), $(echo $files | wc -w) files from packages:" \
     "$(dpkg -S $files 2>/dev/null | cut -d: -f1 | sort -u | tr '\n' ' ')"
