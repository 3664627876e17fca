#include "scripts/bench/sim_host.hpp"

#include <fmt/format.h>
#include <google/protobuf/util/time_util.h>

#include <array>

namespace fleetdesk::bench {
namespace {

using google::protobuf::util::TimeUtil;

// Units every Debian server runs, then the ones a host's role adds.
constexpr std::array kBaseUnits = {"systemd-journald.service",
                                   "systemd-logind.service",
                                   "systemd-udevd.service",
                                   "systemd-timesyncd.service",
                                   "systemd-networkd.service",
                                   "systemd-resolved.service",
                                   "dbus.service",
                                   "cron.service",
                                   "ssh.service",
                                   "rsyslog.service",
                                   "getty@tty1.service",
                                   "serial-getty@ttyS0.service",
                                   "unattended-upgrades.service",
                                   "apparmor.service",
                                   "networking.service",
                                   "polkit.service",
                                   "qemu-guest-agent.service",
                                   "chrony.service",
                                   "fleetdesk-agent.service",
                                   "zabbix-agent.service",
                                   "postfix@-.service",
                                   "e2scrub_reap.service",
                                   "keyboard-setup.service",
                                   "kmod-static-nodes.service"};
constexpr std::array<std::array<const char*, 6>, 5> kRoleUnits = {{
    {"nginx.service", "php8.2-fpm.service", "redis-server.service", "memcached.service",
     "certbot.timer", "logrotate.timer"},
    {"postgresql@15-main.service", "pgbouncer.service", "prometheus-postgres-exporter.service",
     "barman-cron.timer", "logrotate.timer", "sysstat.service"},
    {"docker.service", "containerd.service", "kubelet.service", "haproxy.service",
     "keepalived.service", "logrotate.timer"},
    {"rabbitmq-server.service", "elasticsearch.service", "kibana.service", "filebeat.service",
     "logrotate.timer", "sysstat.service"},
    {"slapd.service", "bind9.service", "isc-dhcp-server.service", "nfs-server.service",
     "smbd.service", "nmbd.service"},
}};
constexpr std::array kRoles = {"web", "db", "k8s", "queue", "infra"};

// Package names of a Debian 12 server; every host has the first ones, and a share of the rest
// chosen by its index, so package searches find some hosts, not all.
constexpr std::array kPackages = {"libc6",
                                  "libssl3",
                                  "openssl",
                                  "openssh-server",
                                  "openssh-client",
                                  "systemd",
                                  "udev",
                                  "dbus",
                                  "cron",
                                  "rsyslog",
                                  "bash",
                                  "coreutils",
                                  "util-linux",
                                  "procps",
                                  "iproute2",
                                  "iputils-ping",
                                  "curl",
                                  "wget",
                                  "ca-certificates",
                                  "tzdata",
                                  "locales",
                                  "sudo",
                                  "vim-tiny",
                                  "less",
                                  "grep",
                                  "sed",
                                  "gzip",
                                  "tar",
                                  "xz-utils",
                                  "zstd",
                                  "apt",
                                  "dpkg",
                                  "debconf",
                                  "perl-base",
                                  "python3",
                                  "python3-minimal",
                                  "libpython3.11",
                                  "libsystemd0",
                                  "libudev1",
                                  "libzstd1",
                                  "liblz4-1",
                                  "libgcrypt20",
                                  "libgnutls30",
                                  "libkrb5-3",
                                  "libldap-2.5-0",
                                  "libsqlite3-0",
                                  "libpq5",
                                  "libxml2",
                                  "libyaml-0-2",
                                  "libjson-c5",
                                  "libcurl4",
                                  "libnghttp2-14",
                                  "libpcre2-8-0",
                                  "libselinux1",
                                  "libcap2",
                                  "libseccomp2",
                                  "libaudit1",
                                  "libpam0g",
                                  "libncursesw6",
                                  "libreadline8",
                                  "nginx",
                                  "nginx-common",
                                  "php8.2-fpm",
                                  "php8.2-cli",
                                  "redis-server",
                                  "memcached",
                                  "certbot",
                                  "postgresql-15",
                                  "postgresql-client-15",
                                  "pgbouncer",
                                  "barman",
                                  "docker-ce",
                                  "containerd.io",
                                  "kubelet",
                                  "kubeadm",
                                  "kubectl",
                                  "haproxy",
                                  "keepalived",
                                  "rabbitmq-server",
                                  "erlang-base",
                                  "elasticsearch",
                                  "kibana",
                                  "filebeat",
                                  "openjdk-17-jre-headless",
                                  "slapd",
                                  "ldap-utils",
                                  "bind9",
                                  "bind9-utils",
                                  "isc-dhcp-server",
                                  "nfs-kernel-server",
                                  "samba",
                                  "smbclient",
                                  "zabbix-agent",
                                  "prometheus-node-exporter",
                                  "chrony",
                                  "qemu-guest-agent",
                                  "apparmor",
                                  "unattended-upgrades",
                                  "git",
                                  "rsync",
                                  "htop",
                                  "iotop",
                                  "sysstat",
                                  "tcpdump",
                                  "strace",
                                  "lsof",
                                  "jq",
                                  "tmux",
                                  "screen",
                                  "nftables",
                                  "iptables",
                                  "fail2ban",
                                  "auditd",
                                  "lvm2",
                                  "mdadm",
                                  "xfsprogs",
                                  "btrfs-progs",
                                  "smartmontools",
                                  "nvme-cli",
                                  "ethtool",
                                  "bridge-utils",
                                  "vlan",
                                  "ifenslave",
                                  "dnsutils",
                                  "netcat-openbsd",
                                  "socat",
                                  "mtr-tiny",
                                  "traceroute",
                                  "nmap",
                                  "gnupg",
                                  "pinentry-curses",
                                  "logrotate",
                                  "man-db",
                                  "manpages",
                                  "bsdextrautils",
                                  "file",
                                  "unzip",
                                  "zip",
                                  "bzip2",
                                  "p7zip-full",
                                  "build-essential",
                                  "gcc-12",
                                  "g++-12",
                                  "make",
                                  "cmake",
                                  "pkg-config",
                                  "libboost1.81-dev",
                                  "golang-1.19",
                                  "nodejs",
                                  "npm",
                                  "ruby3.1",
                                  "php8.2-mysql",
                                  "mariadb-client",
                                  "redis-tools",
                                  "postgresql-contrib",
                                  "python3-pip",
                                  "python3-venv",
                                  "python3-yaml",
                                  "python3-requests",
                                  "ansible",
                                  "puppet-agent",
                                  "salt-minion",
                                  "firmware-linux-free",
                                  "intel-microcode",
                                  "amd64-microcode",
                                  "linux-image-6.1.0-27-amd64",
                                  "grub-pc",
                                  "grub-common",
                                  "initramfs-tools",
                                  "busybox",
                                  "kmod",
                                  "e2fsprogs",
                                  "dosfstools",
                                  "parted",
                                  "gdisk",
                                  "cryptsetup",
                                  "ntfs-3g"};
constexpr std::size_t kCommonPackages = 60;

std::uint32_t Mix(std::uint64_t value) {
  auto x = static_cast<std::uint32_t>(value);
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

}  // namespace

SimHost::SimHost(int index)
    : index_(index), hostname_(Hostname(index)), random_(static_cast<unsigned>(index) * 7919U + 1) {
  units_.assign(kBaseUnits.begin(), kBaseUnits.end());
  for (const char* unit : kRoleUnits[static_cast<std::size_t>(index) % kRoleUnits.size()]) {
    units_.push_back(unit);
  }
  failed_.assign(units_.size(), false);
}

std::string SimHost::Hostname(int index) {
  return fmt::format("{}-{:05d}.dc{}.example.net",
                     kRoles[static_cast<std::size_t>(index) % kRoles.size()], index, index % 3 + 1);
}

std::string SimHost::MachineId(int index) {
  return fmt::format("{:08x}{:024x}", Mix(index), index);
}

std::string SimHost::Serial(int index) { return fmt::format("CZ{:08X}", Mix(index + 17)); }

void SimHost::AddHeartbeat(fleetdesk::v1::Report& report) {
  auto* heartbeat = report.mutable_heartbeat();
  heartbeat->set_hostname(hostname_);
  auto* os = heartbeat->mutable_os();
  os->set_name("Debian GNU/Linux");
  os->set_version("12");
  os->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  os->set_kernel("6.1.0-27-amd64");
  os->set_architecture("x86_64");
  heartbeat->set_uptime_seconds(1000000 + static_cast<std::uint64_t>(index_));
  heartbeat->set_load1(0.1 + (random_() % 300) / 100.0);
  heartbeat->set_load5(0.5);
  heartbeat->set_load15(0.4);
}

void SimHost::AddMetrics(fleetdesk::v1::Report& report) {
  auto* m = report.mutable_metrics();
  const std::uint64_t gib = 1ULL << 30;
  m->set_cpu_percent(static_cast<double>(random_() % 4000) / 100.0);
  m->set_memory_total_bytes(32 * gib);
  m->set_memory_used_bytes(8 * gib + random_() % (8 * gib));
  m->set_memory_available_bytes(m->memory_total_bytes() - m->memory_used_bytes());
  m->set_swap_total_bytes(2 * gib);
  m->set_load1(report.heartbeat().load1());
  m->set_load5(0.5);
  m->set_load15(0.4);
  for (const char* mount : {"/", "/var", "/boot"}) {
    auto* fs = m->add_filesystems();
    fs->set_mount_point(mount);
    fs->set_size_bytes(100 * gib);
    fs->set_used_bytes(20 * gib + random_() % (10 * gib));
  }
  auto* nic = m->add_interfaces();
  nic->set_name("eth0");
  nic->set_rx_bytes_per_second(random_() % 10000000);
  nic->set_tx_bytes_per_second(random_() % 5000000);
  m->set_net_rx_bytes_per_second(nic->rx_bytes_per_second());
  m->set_net_tx_bytes_per_second(nic->tx_bytes_per_second());
}

void SimHost::AddService(fleetdesk::v1::Report& report, std::size_t unit) {
  auto* s = report.add_services();
  s->set_unit(units_[unit]);
  s->set_description(units_[unit].substr(0, units_[unit].find('.')) + " daemon");
  s->set_load_state("loaded");
  s->set_active_state(failed_[unit] ? "failed" : "active");
  s->set_sub_state(failed_[unit] ? "failed" : "running");
  s->set_unit_file_state("enabled");
  *s->mutable_state_change_time() = TimeUtil::GetCurrentTime();
  s->set_main_pid(failed_[unit] ? 0 : 1000 + static_cast<std::uint32_t>(unit));
}

void SimHost::AddCheck(fleetdesk::v1::Report& report, int check) {
  auto* c = report.add_checks();
  c->set_key(check == 0 ? "web-frontend" : "database-port");
  c->set_kind(check == 0 ? fleetdesk::v1::CHECK_KIND_HTTP : fleetdesk::v1::CHECK_KIND_TCP);
  c->set_target(check == 0 ? "https://shop.example.net/healthz" : "db.example.net:5432");
  c->set_up(check_up_[check]);
  c->set_latency_ms(1.0 + (random_() % 5000) / 100.0);
  if (check == 0 && check_up_[check]) c->set_http_status(200);
  if (!check_up_[check]) c->set_message("connection refused");
  *c->mutable_checked_at() = TimeUtil::GetCurrentTime();
}

fleetdesk::v1::Report SimHost::Full(std::uint64_t seq) {
  fleetdesk::v1::Report report;
  report.set_seq(seq);
  report.set_full(true);
  *report.mutable_collected_at() = TimeUtil::GetCurrentTime();
  AddHeartbeat(report);
  const std::uint64_t gib = 1ULL << 30;
  auto section = [&report](const char* hash) {
    auto* s = report.add_inventory();
    s->set_hash(hash);
    return s;
  };
  auto* system = section("sys1")->mutable_system();
  system->set_vendor(index_ % 2 == 0 ? "Dell Inc." : "HPE");
  system->set_product(index_ % 2 == 0 ? "PowerEdge R650" : "ProLiant DL360 Gen10");
  system->set_serial(Serial(index_));
  system->set_uuid(fmt::format("{:08x}-0000-4000-8000-{:012x}", Mix(index_), index_));
  system->set_bios_vendor(system->vendor());
  system->set_bios_version("2.19.1");
  system->set_virtualization("none");
  system->set_container("none");
  auto* cpu = section("cpu1")->mutable_cpu();
  cpu->set_model("Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz");
  cpu->set_sockets(2);
  cpu->set_cores(64);
  cpu->set_threads(128);
  cpu->set_mhz(2000);
  for (const char* flag : {"aes", "avx2", "avx512f", "vmx"}) cpu->add_flags(flag);
  auto* memory = section("mem1")->mutable_memory();
  memory->set_total_bytes(32 * gib);
  memory->set_swap_bytes(2 * gib);
  for (int slot = 0; slot < 2; ++slot) {
    auto* module = memory->add_modules();
    module->set_locator(fmt::format("DIMM A{}", slot + 1));
    module->set_size_bytes(16 * gib);
    module->set_type("DDR4");
    module->set_speed_mts(3200);
    module->set_manufacturer("Samsung");
    module->set_serial(fmt::format("{:08X}", Mix(index_ * 4 + slot)));
  }
  auto* disks = section("dsk1")->mutable_disks();
  auto* disk = disks->add_disks();
  disk->set_name("nvme0n1");
  disk->set_model("SAMSUNG MZQL2960HCJR-00A07");
  disk->set_serial(fmt::format("S64FNE0R{:06d}", index_));
  disk->set_size_bytes(960 * 1000 * 1000 * 1000ULL);
  disk->set_kind("nvme");
  auto* filesystems = section("fs1")->mutable_filesystems();
  for (const char* mount : {"/", "/var", "/boot"}) {
    auto* fs = filesystems->add_filesystems();
    fs->set_mount_point(mount);
    fs->set_device(fmt::format("/dev/mapper/vg0-{}", mount[1] == 0 ? "root" : mount + 1));
    fs->set_type("ext4");
    fs->set_size_bytes(100 * gib);
    fs->set_used_bytes(20 * gib);
  }
  auto* network = section("net1")->mutable_network();
  auto* nic = network->add_interfaces();
  nic->set_name("eth0");
  nic->set_mac(fmt::format("52:54:00:{:02x}:{:02x}:{:02x}", (index_ >> 16) & 0xff,
                           (index_ >> 8) & 0xff, index_ & 0xff));
  nic->set_state("up");
  nic->set_speed_mbps(10000);
  nic->set_driver("ixgbe");
  nic->add_addresses(
      fmt::format("10.{}.{}.{}/16", 10 + index_ / 65536, (index_ / 256) % 256, index_ % 256));
  network->add_default_routes("10.0.0.1");
  auto* os = section("os1")->mutable_os();
  *os->mutable_os() = report.heartbeat().os();
  os->set_hostname(Hostname(index_).substr(0, Hostname(index_).find('.')));
  os->set_fqdn(Hostname(index_));
  os->set_timezone("Etc/UTC");
  auto* software = section("sw1")->mutable_software();
  for (std::size_t p = 0; p < kPackages.size(); ++p) {
    if (p >= kCommonPackages && Mix(index_ * 131 + p) % 2 != 0) {
      continue;
    }
    auto* package = software->add_packages();
    package->set_name(kPackages[p]);
    package->set_version(fmt::format("{}.{}-{}", 1 + p % 7, index_ % 3, 1 + p % 4));
    package->set_architecture("amd64");
  }
  for (std::size_t unit = 0; unit < units_.size(); ++unit) AddService(report, unit);
  AddCheck(report, 0);
  AddCheck(report, 1);
  AddMetrics(report);
  report.mutable_services_status()->set_available(true);
  return report;
}

fleetdesk::v1::Report SimHost::Delta(std::uint64_t seq, double change_rate) {
  fleetdesk::v1::Report report;
  Delta(seq, change_rate, report);
  return report;
}

void SimHost::Delta(std::uint64_t seq, double change_rate, fleetdesk::v1::Report& report) {
  report.Clear();
  report.set_seq(seq);
  *report.mutable_collected_at() = TimeUtil::GetCurrentTime();
  AddHeartbeat(report);
  AddMetrics(report);
  report.mutable_services_status()->set_available(true);
  int check = -1;
  if (seq % 2 == 0) check = next_check_++ % 2;
  if (std::uniform_real_distribution<double>(0, 1)(random_) < change_rate) {
    ++changes_;
    if (random_() % 2 == 0) {
      auto unit = random_() % units_.size();
      failed_[unit] = !failed_[unit];
      AddService(report, unit);
    } else {
      int flipped = static_cast<int>(random_() % 2);
      check_up_[flipped] = !check_up_[flipped];
      if (check != flipped) AddCheck(report, flipped);
    }
  }
  if (check >= 0) AddCheck(report, check);
}

}  // namespace fleetdesk::bench
