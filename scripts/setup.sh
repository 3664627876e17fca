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
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
