#!/usr/bin/env bash
# clang-format on every C++ source, Prettier on the dashboard's TypeScript (server/web/) and the
# browser tests: rewrites in place, or with --check lists what is off.
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
  # The dashboard's TypeScript and the browser tests: Prettier, from server/web's packages.
  if [ -d server/web/node_modules ]; then
    (cd server/web && npm run --silent format:check >/dev/null 2>&1) ||
      { echo "format: the dashboard's sources are not Prettier-formatted (run scripts/format.sh)" >&2; exit 1; }
    echo "format: the dashboard's sources clean"
  fi
else
  clang-format -i "${sources[@]}"
  if [ -d server/web/node_modules ]; then (cd server/web && npm run --silent format >/dev/null); fi
fi
