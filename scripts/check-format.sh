#!/usr/bin/env bash
# The tree's C++ is formatted with its own .clang-format (clang-format 14, Debian's
# clang-format-14). Fails, listing the files, when one is not: `make format` fixes them.
set -euo pipefail
cd "$(dirname "$0")/.."
CF=${CLANG_FORMAT:-clang-format-14}
bad=()
while IFS= read -r f; do
  "$CF" --dry-run --Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files 'src/*.cpp' 'src/*.hpp' 'tests/*.cpp' 'tests/*.hpp')
if [ ${#bad[@]} -gt 0 ]; then
  echo "not formatted with .clang-format (run \`make format\`):"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "format: every C++ file follows .clang-format"
