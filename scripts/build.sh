#!/usr/bin/env bash
# Configures (once) and builds fleetdesk with Ninja and ccache.
#   BUILD_DIR           build directory (default: build)
#   FLEETDESK_SANITIZE  "address;undefined" or "thread" for a sanitizer build
#   BUILD_TYPE          CMake build type (default: RelWithDebInfo)
#   FLEETDESK_BENCH     OFF: leave out the benchmarks (default: ON)
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
if [ ! -f "$build_dir/build.ninja" ]; then
  cmake -S . -B "$build_dir" -G Ninja \
    -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DFLEETDESK_SANITIZE="${FLEETDESK_SANITIZE:-}" \
    -DFLEETDESK_BUILD_BENCH="${FLEETDESK_BENCH:-ON}" >/dev/null
fi
# Two cores: one Beast translation unit alone wants most of a gigabyte and half a minute.
ninja -C "$build_dir" -j "${JOBS:-$(nproc)}"
