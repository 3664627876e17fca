#!/usr/bin/env bash
# clang-format on every C++ source: rewrites in place, or with --check lists what is off.
set -euo pipefail
cd "$(dirname "$0")/.."
# Untracked files too: a new file is formatted before its first commit.
mapfile -t sources < <(git ls-files --cached --others --exclude-standard '*.cpp' '*.hpp')
if [ "${1:-}" = "--check" ]; then
  bad=()
  for f in "${sources[@]}"; do
    clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "format: not clang-formatted: ${bad[*]} (run scripts/format.sh)" >&2
    exit 1
  fi
  echo "format: ${#sources[@]} files clean"
else
  clang-format -i "${sources[@]}"
fi
