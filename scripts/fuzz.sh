#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan + UBSan, in build-fuzz/) and runs each one for
# FUZZ_SECONDS (default 300) on a copy of its seed corpus in tests/fuzz/corpus/. A crash, leak,
# sanitizer report or timeout fails the run and leaves the input in build-fuzz/findings/.
#   scripts/fuzz.sh [HARNESS ...]      default: every harness
#   FUZZ_SECONDS=15                    what scripts/test.sh uses
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-300}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(protocol_json csv_import config http_request)

scripts/setup.sh
build_dir=build-fuzz
if [ ! -f "$build_dir/build.ninja" ]; then
  CXX=clang++ cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DFLEETDESK_FUZZ=ON -DFLEETDESK_BUILD_TESTS=OFF >/dev/null
fi
ninja -C "$build_dir" -j "${JOBS:-$(nproc)}" "${harnesses[@]/#/fuzz_}"

mkdir -p "$build_dir/findings"
printf '| harness | seconds | runs | corpus | result |\n| --- | ---: | ---: | ---: | --- |\n'
failed=0
for h in "${harnesses[@]}"; do
  corpus=$(mktemp -d)
  cp -r "tests/fuzz/corpus/$h/." "$corpus/"
  log="$build_dir/findings/$h.log"
  # -rss_limit_mb: the http harness holds a SQLite store; -timeout: one input may take a second.
  if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     "$build_dir/tests/fuzz/fuzz_$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
       -max_len=65536 -artifact_prefix="$build_dir/findings/$h-" "$corpus" > "$log" 2>&1; then
    result=ok
  else
    result="FAILED: see $log"
    failed=1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | grep -o '[0-9]*' || true)
  printf '| %s | %s | %s | %s | %s |\n' "$h" "$seconds" "${runs:-?}" "$(ls "$corpus" | wc -l)" "$result"
  rm -rf "$corpus"
done
exit $failed
