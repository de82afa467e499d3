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
# A file that passed before with the same key (scripts/tidy_keys.py: clang-tidy's version,
# .clang-tidy, the flags and the preprocessed file) is not checked again. TIDY_CACHE=off checks all.
cache=${TIDY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/scoregate-tidy}
salt=$( (clang-tidy-14 --version; cat .clang-tidy) | sha256sum | cut -d' ' -f1)
todo=()
if [ "$cache" = off ]; then
  for f in "${files[@]}"; do todo+=("$f" none); done
else
  mkdir -p "$cache"
  while read -r f key; do
    [ "$key" != none ] && [ -e "$cache/$key" ] && continue
    todo+=("$f" "$key")
  done < <(JOBS=${JOBS:-$(nproc)} scripts/tidy_keys.py "$dir" "$salt" "${files[@]}")
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# One file per clang-tidy run, so a pass is recorded per file (its key's marker in the cache).
if [ ${#todo[@]} -gt 0 ] && ! printf '%s\n' "${todo[@]}" |
    xargs -P "${JOBS:-$(nproc)}" -n 2 sh -c '
      clang-tidy-14 -p "$0" --quiet --extra-arg=-Wno-unknown-warning-option "$2" || exit 1
      [ "$3" = none ] || [ "$1" = off ] || touch "$1/$3"' "$dir" "$cache" >"$out" 2>&1; then
  grep -E "(warning|error):" "$out" | sort -u
  echo "clang-tidy: findings above (checks in .clang-tidy)"
  exit 1
fi
echo "clang-tidy: ${#files[@]} files clean ($(( ${#todo[@]} / 2 )) checked, the rest passed before unchanged)"
