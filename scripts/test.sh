#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test:
#   1. unit and integration tests (Catch2 via CTest) on the release build;
#   2. testssl on both TLS listeners (scripts/tls-scan.sh);
#   3. the .deb packages: contents, and `systemd-analyze verify` on the shipped units;
#   4. clang-format on every source file;
#   5. the tests again on an AddressSanitizer + UndefinedBehaviorSanitizer build
#      (skip with FLEETDESK_SKIP_SANITIZE=1);
#   6. every libFuzzer harness for 15 s (scripts/fuzz.sh; skip with FLEETDESK_SKIP_FUZZ=1).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

scripts/setup.sh
scripts/build.sh
(cd build && ctest -j "$(nproc)" --output-on-failure --timeout 300)
scripts/tls-scan.sh build

scripts/check-packages.sh build
scripts/format.sh --check

if [ "${FLEETDESK_SKIP_SANITIZE:-0}" != "1" ]; then
  # No test runs a benchmark: leaving them out saves a fresh machine a minute and a half.
  BUILD_DIR=build-asan FLEETDESK_SANITIZE="address;undefined" BUILD_TYPE=Debug FLEETDESK_BENCH=OFF \
    scripts/build.sh
  # The server and agent binaries under test are the sanitized ones; any report fails the test.
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
     ctest -j "$(nproc)" --output-on-failure --timeout 600)
fi
if [ "${FLEETDESK_SKIP_FUZZ:-0}" != "1" ]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-15} scripts/fuzz.sh
fi
echo "test.sh: all passed in $(( $(date +%s) - started )) s"
