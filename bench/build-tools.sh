#!/usr/bin/env bash
# Builds bench/tools/*.c into bench/.bin/ (git-ignored). Needs gcc and libssl-dev.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$here/.bin"
CC="${CC:-gcc}"
for tool in sgload stale-check; do
  src="$here/tools/$tool.c" out="$here/.bin/$tool" libs=()
  [ "$tool" = sgload ] && libs=(-lssl -lcrypto)
  if [ ! -x "$out" ] || [ "$src" -nt "$out" ] || [ "$0" -nt "$out" ]; then
    "$CC" -std=c11 -O2 -g -Wall -Wextra -Werror -o "$out" "$src" "${libs[@]}"
    echo "built $out"
  fi
done
