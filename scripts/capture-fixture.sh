#!/usr/bin/env bash
# Captures the files fleetdesk-agent's inventory collectors read from this machine into a
# fixture tree, so the parsers can be tested against a real host without running on it:
#
#   scripts/capture-fixture.sh DEST [HOSTNAME_PLACEHOLDER]
#
# DEST is laid out like the machine's root (DEST/etc/os-release, DEST/proc/meminfo, ...), the
# way the collectors' root path expects. Only the paths the collectors read are copied:
#   - /sys/block/NAME and /sys/class/net/NAME, symlinks into /sys/devices on a live machine,
#     become plain directories holding only the attribute files the collectors read;
#   - /sys/class/net/NAME/device/driver and /etc/localtime stay symlinks (their target's
#     name is the value), stored as the link text and usually dangling in the fixture;
#   - a bond's bonding/{mode,slaves} and a bridge's bridge/bridge_id are copied too: neither
#     has a device/driver link, and these are how a collector tells them apart;
#   - anything absent or unreadable on this machine (no DMI in a VM, a `speed` file that
#     fails with EINVAL on a virtual interface, /proc/1/environ in some containers) is skipped,
#     since a collector sees that as "no such file" too;
#   - /var/lib/dpkg/status is cut to its first 40 package stanzas to keep the fixture small.
#
# With HOSTNAME_PLACEHOLDER, every whole-word occurrence of this machine's hostname (and its
# FQDN) in the captured files is replaced with the placeholder (dpkg's status is only checked).
#
# FLEETDESK_CAPTURE_ROOT (default: /) reads from another root instead of the live machine,
# which is how this script itself is tried against an existing fixture tree.
#
# Run as root: /sys/firmware/dmi/tables, /sys/class/dmi/id/product_serial and /proc/1/environ
# are readable only by root. Review DEST before committing it (see tests/agent/fixtures/README.md).
set -euo pipefail

if [[ $# -lt 1 || $# -gt 2 || $1 == -h || $1 == --help ]]; then
  echo "usage: $0 DEST [HOSTNAME_PLACEHOLDER]" >&2
  exit 2
fi
dest=$1
placeholder=${2:-}
src=${FLEETDESK_CAPTURE_ROOT:-}
src=${src%/}

# How many dpkg status stanzas to keep: enough to test the parser on real entries (multi-line
# descriptions, Conffiles, Architecture all/amd64), few enough for a ~50 KB file.
readonly dpkg_stanzas=40

mkdir -p "$dest"
dest=$(cd "$dest" && pwd)

# copy_file PATH [DEST_PATH]: the content of $src/PATH (symlinks followed) into $dest/DEST_PATH.
# Reads through cat, since /proc and /sys files report size 0; a read that fails (absent,
# permission denied, EINVAL) leaves nothing behind.
copy_file() {
  local from=$src$1 to=$dest${2:-$1}
  [[ -e $from && ! -d $from ]] || return 0
  mkdir -p "$(dirname "$to")"
  if ! cat "$from" >"$to" 2>/dev/null; then
    rm -f "$to"
    echo "skipped $1: not readable" >&2
  fi
}

# copy_link PATH [DEST_PATH]: $src/PATH's link text as a symlink at $dest/DEST_PATH.
copy_link() {
  local from=$src$1 to=$dest${2:-$1}
  [[ -L $from ]] || return 0
  mkdir -p "$(dirname "$to")"
  ln -sfn "$(readlink "$from")" "$to"
}

# --- /etc ---------------------------------------------------------------------------------
for f in os-release machine-id hostname hosts timezone; do copy_file "/etc/$f"; done
if [[ -L $src/etc/localtime ]]; then copy_link /etc/localtime; else copy_file /etc/localtime; fi

# --- /proc --------------------------------------------------------------------------------
for f in sys/kernel/hostname sys/kernel/domainname sys/kernel/osrelease uptime loadavg stat \
  meminfo cpuinfo mounts net/dev net/route net/ipv6_route 1/cgroup 1/environ; do
  copy_file "/proc/$f"
done

# --- DMI / SMBIOS, hypervisor, CPU frequency ------------------------------------------------
for f in sys_vendor product_name product_serial product_uuid bios_vendor bios_version \
  bios_date chassis_type; do
  copy_file "/sys/class/dmi/id/$f"
done
copy_file /sys/firmware/dmi/tables/DMI
copy_file /sys/firmware/dmi/tables/smbios_entry_point
copy_file /sys/hypervisor/type
copy_file /sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq

# --- block devices and their udev records ---------------------------------------------------
copy_udev() {  # copy_udev "MAJOR:MINOR"
  if [[ -n $1 ]]; then copy_file "/run/udev/data/b$1"; fi
}
read_dev() { cat "$1" 2>/dev/null || true; }

if [[ -d $src/sys/block ]]; then
  for path in "$src"/sys/block/*; do
    [[ -d $path ]] || continue
    name=${path##*/}
    # The collectors skip loop devices and a busy machine has dozens: keep loop0 as the one
    # example of the kind.
    if [[ $name == loop* && $name != loop0 ]]; then continue; fi
    for f in size dev queue/rotational device/model device/serial device/vendor; do
      copy_file "/sys/block/$name/$f"
    done
    copy_udev "$(read_dev "$path/dev")"
    # Partitions are the subdirectories that have a `partition` file.
    for part in "$path"/*/; do
      part=${part%/}
      [[ -f $part/partition ]] || continue
      pname=${part##*/}
      for f in partition size dev; do copy_file "/sys/block/$name/$pname/$f"; done
      copy_udev "$(read_dev "$part/dev")"
    done
  done
fi

# --- network interfaces -----------------------------------------------------------------------
if [[ -d $src/sys/class/net ]]; then
  for path in "$src"/sys/class/net/*; do
    name=${path##*/}
    [[ -d $path ]] || continue  # skips bonding_masters, a file beside the interfaces
    for f in address operstate speed mtu type; do copy_file "/sys/class/net/$name/$f"; done
    copy_link "/sys/class/net/$name/device/driver"
    # A bond and a bridge have no device/driver link: these files are how they are told apart.
    if [[ -d $path/bonding ]]; then
      for f in mode slaves; do copy_file "/sys/class/net/$name/bonding/$f"; done
    fi
    copy_file "/sys/class/net/$name/bridge/bridge_id"
  done
fi

# --- packages: the first $dpkg_stanzas stanzas only, so the fixture stays small ------------------
if [[ -r $src/var/lib/dpkg/status ]]; then
  mkdir -p "$dest/var/lib/dpkg"
  awk -v keep="$dpkg_stanzas" 'BEGIN { RS = ""; ORS = "\n\n" } NR <= keep' \
    "$src/var/lib/dpkg/status" >"$dest/var/lib/dpkg/status"
fi

# --- container markers --------------------------------------------------------------------------
copy_file /.dockerenv
copy_file /run/.containerenv
copy_file /run/systemd/container

# --- hostname placeholder -------------------------------------------------------------------------
# Every file but dpkg's status, where a short hostname ("build", "db") is as likely to be part of
# a package's name or description: a word match there is reported for review, not rewritten.
if [[ -n $placeholder ]]; then
  live_host=$(cat "$src/proc/sys/kernel/hostname" 2>/dev/null || hostname)
  live_fqdn=$(hostname -f 2>/dev/null || true)
  for name in "$live_fqdn" "$live_host"; do
    [[ -n $name && $name != "$placeholder" && $name != localhost ]] || continue
    pattern=$(printf '%s' "$name" | sed 's/[][\.*^$/]/\\&/g')
    # Not the SMBIOS tables (binary, and a hostname has no place in them); /proc/1/environ is
    # NUL-separated but GNU sed edits it as it is. grep -r does not follow symlinks, so the
    # driver and localtime links are left alone.
    { grep -rlZ --exclude=DMI --exclude=smbios_entry_point --exclude=status -- "$name" "$dest" \
      2>/dev/null || true; } | xargs -0 -r sed -i "s/\\b$pattern\\b/$placeholder/g"
    if [[ -f $dest/var/lib/dpkg/status ]] && grep -qw -- "$name" "$dest/var/lib/dpkg/status"; then
      echo "note: '$name' occurs in var/lib/dpkg/status: review it by hand" >&2
    fi
  done
fi

kib=$(find "$dest" -type f -printf '%s\n' | awk '{ s += $1 } END { print int(s / 1024) }')
echo "captured into $dest: $kib KiB in files"
