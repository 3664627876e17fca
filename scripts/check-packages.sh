#!/usr/bin/env bash
# Builds the two .deb packages from a build tree and checks them: the files each must carry,
# their maintainer scripts, and `systemd-analyze verify` on the units as installed.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
(cd "$build_dir" && cpack -G DEB >/dev/null)

fail() { echo "check-packages: $*" >&2; exit 1; }
version=$(sed -n 's/^project(fleetdesk VERSION \([0-9.]*\).*/\1/p' CMakeLists.txt)
arch=$(dpkg --print-architecture)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

check_package() {
  local name=$1; shift
  local deb="$build_dir/${name}_${version}_${arch}.deb"
  [ -f "$deb" ] || fail "$deb was not built"
  dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$work/$name.files"
  for f in "$@"; do
    grep -qx "$f" "$work/$name.files" || fail "$name lacks $f"
  done
  [ "$(dpkg-deb -f "$deb" Package)" = "$name" ] || fail "$deb is not named $name"
  dpkg-deb -e "$deb" "$work/$name.control"
  for script in postinst prerm; do
    [ -x "$work/$name.control/$script" ] || fail "$name has no executable $script"
    sh -n "$work/$name.control/$script" || fail "$name $script is not valid sh"
  done
  dpkg-deb -x "$deb" "$work/root"
  echo "check-packages: $name: $(wc -l < "$work/$name.files") entries, $(du -h "$deb" | cut -f1)"
}

check_package fleetdesk-server /usr/bin/fleetdesk-server /usr/lib/systemd/system/fleetdesk-server.service \
  /etc/fleetdesk/server.toml /usr/lib/sysusers.d/fleetdesk-server.conf /usr/lib/tmpfiles.d/fleetdesk-server.conf
check_package fleetdesk-agent /usr/bin/fleetdesk-agent /usr/bin/fleetdesk-note \
  /usr/lib/systemd/system/fleetdesk-agent.service \
  /etc/fleetdesk/agent.toml /usr/lib/tmpfiles.d/fleetdesk-agent.conf

# The shipped configs load in the shipped binaries: every key in them is one the binary knows.
"$work/root/usr/bin/fleetdesk-server" --config "$work/root/etc/fleetdesk/server.toml" \
  --data-dir "$work/data" init >/dev/null || fail "the shipped server.toml does not load"
"$work/root/usr/bin/fleetdesk-agent" --config "$work/root/etc/fleetdesk/agent.toml" collect >/dev/null \
  || fail "the shipped agent.toml does not load"

# systemd's own checker on the units, against the package's file tree; the user the server
# runs as is made by sysusers at install time, so a root with that user stands in for it.
mkdir -p "$work/root/etc"
# The targets the units are ordered against come from the host's systemd.
cp -rn /usr/lib/systemd/system/. "$work/root/usr/lib/systemd/system/" 2>/dev/null || true
cp /etc/passwd /etc/group "$work/root/etc/"
# So is the shell ExecReload runs (part of every Debian system: dash is Essential).
mkdir -p "$work/root/bin"
cp -L /bin/sh "$work/root/bin/sh"
grep -q '^fleetdesk:' "$work/root/etc/passwd" || {
  echo 'fleetdesk:x:990:990:fleetdesk server:/var/lib/fleetdesk:/usr/sbin/nologin' >> "$work/root/etc/passwd"
  echo 'fleetdesk:x:990:' >> "$work/root/etc/group"
}
for unit in fleetdesk-server fleetdesk-agent; do
  out=$(systemd-analyze verify --root="$work/root" "$work/root/usr/lib/systemd/system/$unit.service" 2>&1) \
    || fail "systemd-analyze verify $unit.service: $out"
  # verify exits 0 on some warnings; any line naming our unit is a finding.
  if echo "$out" | grep -q "$unit"; then fail "systemd-analyze verify $unit.service: $out"; fi
done
echo "check-packages: both packages and units verified"
