#!/usr/bin/env bash
# Installs what building, testing and running fleetdesk need, from Debian 12's packages.
# Idempotent: installs only what is missing, and runs apt-get update only then.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git clang-format
  # libraries
  libboost1.81-dev libssl-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev
  libsystemd-dev libsqlite3-dev libpq-dev libtomlplusplus-dev libcli11-dev libsodium-dev
  libcurl4-openssl-dev
  # tests
  catch2 curl jq openssl sqlite3 systemd
  # the TLS scan of both listeners (scripts/tls-scan.sh)
  testssl.sh
  # the libFuzzer harnesses (scripts/fuzz.sh)
  clang libclang-rt-14-dev
  # the agent's tests: a private D-Bus daemon with dbusmock playing systemd, and link-check
  # targets (python3-cryptography makes their certificates)
  dbus-daemon python3 python3-dbusmock python3-cryptography
  # the notifications' tests: an SMTP server that keeps what it receives
  python3-aiosmtpd
  # the store tests start their own PostgreSQL servers (initdb/pg_ctl on loopback)
  postgresql-15 postgresql-client-15
  # packages
  dpkg-dev file
  # the dashboard's browser tests (Debian's chromium, driven by playwright-core), with fonts
  # for its Chinese text
  chromium fonts-noto-cjk
)

# The dashboard is built with npm (server/web/package-lock.json); its tools (Vite, playwright-core)
# need Node.js 20.19 or newer, which this machine's image carries. Debian 12's own nodejs is 18:
# it is installed when there is no node at all, and the check below then says what to do.
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'
}
require_node() {
  node_ok && return 0
  echo "setup: the dashboard's build needs Node.js 20.19 or newer, found" \
    "$(node --version 2>/dev/null || echo none); install it (e.g. from NodeSource) and run this again" >&2
  exit 1
}
node_missing=0
node_ok || node_missing=1
if [ $node_missing -eq 1 ] && ! command -v node >/dev/null; then packages+=(nodejs npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  require_node
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
require_node
