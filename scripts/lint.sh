#!/usr/bin/env bash
# clang-tidy (Debian's clang-tidy-14) with the checks in .clang-tidy over every source file of
# src/, JOBS (default: the core count) at a time. Needs only a configured build tree (its
# compile_commands.json): nothing is compiled. Precompiled headers are off there, so each file must include what it uses.
# GCC-only warning options of the build (CMakeLists.txt) are unknown to clang: not a finding.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${TIDY_BUILD:-build-tidy}
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSCOREGATE_TESTS=OFF \
      -DCMAKE_DISABLE_PRECOMPILE_HEADERS=ON >/dev/null
mapfile -t files < <(git ls-files 'src/*.cpp')
out=$(mktemp)
trap 'rm -f "$out"' EXIT
if ! printf '%s\n' "${files[@]}" |
    xargs -P "${JOBS:-$(nproc)}" -n 4 clang-tidy-14 -p "$dir" --quiet \
      --extra-arg=-Wno-unknown-warning-option >"$out" 2>&1; then
  grep -E "(warning|error):" "$out" | sort -u
  echo "clang-tidy: findings above (checks in .clang-tidy)"
  exit 1
fi
echo "clang-tidy: ${#files[@]} files clean"
