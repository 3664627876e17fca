#include "agent/collectors/inventory.hpp"

#include <catch2/catch.hpp>
#include <filesystem>

#include "agent/collectors/metrics.hpp"
#include "agent/collectors/smbios.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fleetdesk::agent::collectors;

namespace {

Root Fixture(const char* name) {
  return Root(std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/" + name);
}

const fleetdesk::v1::Disk* FindDisk(const fleetdesk::v1::DiskInventory& inventory,
                                    const std::string& name) {
  for (const auto& disk : inventory.disks()) {
    if (disk.name() == name) return &disk;
  }
  return nullptr;
}

const fleetdesk::v1::NetworkInterface* FindNic(const fleetdesk::v1::NetworkInventory& inventory,
                                               const std::string& name) {
  for (const auto& nic : inventory.interfaces()) {
    if (nic.name() == name) return &nic;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a rack server's DMI identity, boot time and bare-metal status are read",
          "[agent][inventory]") {
  auto system = ReadSystem(Fixture("baremetal"));
  CHECK(system.vendor() == "Dell Inc.");
  CHECK(system.product() == "PowerEdge R740");
  CHECK(system.serial() == "7XK4Q23");
  CHECK(system.uuid() == "4c4c4544-0058-4b10-8034-b7c04f513233");
  CHECK(system.bios_vendor() == "Dell Inc.");
  CHECK(system.bios_version() == "2.19.1");
  CHECK(system.bios_date() == "06/13/2023");
  CHECK(system.virtualization() == "none");
  // Docker running on the host does not make the host a container.
  CHECK(system.container() == "none");
  CHECK(system.boot_time().seconds() == 1762150000);
}

TEST_CASE("a rack server's CPUs are counted by socket, core and thread", "[agent][inventory]") {
  auto cpu = ReadCpu(Fixture("baremetal"));
  CHECK(cpu.model() == "Intel(R) Xeon(R) Gold 6230 CPU @ 2.10GHz");
  CHECK(cpu.sockets() == 2);
  CHECK(cpu.cores() == 40);
  CHECK(cpu.threads() == 80);
  CHECK(cpu.mhz() == Approx(3900));
  std::vector<std::string> flags(cpu.flags().begin(), cpu.flags().end());
  CHECK(flags == std::vector<std::string>{"aes", "avx", "avx2", "avx512f", "fma", "lm", "nx",
                                          "pclmulqdq", "rdrand", "sse4_2", "vmx"});
}

TEST_CASE("memory modules come from the SMBIOS table, empty slots left out", "[agent][inventory]") {
  auto memory = ReadMemory(Fixture("baremetal"));
  CHECK(memory.total_bytes() == 270171897856ULL);
  CHECK(memory.swap_bytes() == 8589930496ULL);
  REQUIRE(memory.modules_size() == 8);
  const auto& a1 = memory.modules(0);
  CHECK(a1.locator() == "A1");
  CHECK(a1.size_bytes() == 34359738368ULL);
  CHECK(a1.type() == "DDR4");
  CHECK(a1.speed_mts() == 2933);
  CHECK(a1.manufacturer() == "Samsung");
  CHECK(a1.serial() == "36A1B2C4");
  CHECK(memory.modules(7).locator() == "B4");
  CHECK(memory.modules(7).manufacturer() == "Hynix");
  CHECK(memory.modules(7).serial() == "2A3B4C72");
}

TEST_CASE("disks are classified as NVMe, SSD and HDD, with serials from udev and partitions",
          "[agent][inventory]") {
  auto disks = ReadDisks(Fixture("baremetal"));
  CHECK(disks.disks_size() == 8);  // dm-0 and loop0 are not disks
  CHECK(FindDisk(disks, "dm-0") == nullptr);
  CHECK(FindDisk(disks, "loop0") == nullptr);
  const auto* nvme = FindDisk(disks, "nvme0n1");
  REQUIRE(nvme != nullptr);
  CHECK(nvme->kind() == "nvme");
  CHECK(nvme->size_bytes() == 1600321314816ULL);
  CHECK(nvme->model() == "Dell Express Flash PM1725b 1.6TB SFF");
  CHECK(nvme->serial() == "S4EMNE0N700123");
  REQUIRE(nvme->partitions_size() == 2);
  CHECK(nvme->partitions(0).name() == "nvme0n1p1");
  CHECK(nvme->partitions(0).size_bytes() == 536870912ULL);
  CHECK(nvme->partitions(0).fstype() == "vfat");
  CHECK(nvme->partitions(1).fstype() == "ext4");
  const auto* ssd = FindDisk(disks, "sda");
  REQUIRE(ssd != nullptr);
  CHECK(ssd->kind() == "ssd");
  CHECK(ssd->serial() == "S47MNA0N301234");
  CHECK(ssd->model() == "MZ7KH960HAJR0D3");
  const auto* hdd = FindDisk(disks, "sdf");
  REQUIRE(hdd != nullptr);
  CHECK(hdd->kind() == "hdd");
  CHECK(hdd->size_bytes() == 4000787030016ULL);
  CHECK(hdd->serial() == "ZC1A2C19");
  REQUIRE(hdd->partitions_size() == 1);
  CHECK(hdd->partitions(0).fstype() == "xfs");
  CHECK(FindDisk(disks, "sdb")->partitions_size() == 0);
}

TEST_CASE("filesystems are the device-backed mounts, escapes undone", "[agent][inventory]") {
  auto filesystems = ReadFilesystems(Fixture("baremetal"));
  std::vector<std::string> points;
  for (const auto& fs : filesystems.filesystems()) points.push_back(fs.mount_point());
  CHECK(points == std::vector<std::string>{"/", "/boot/efi", "/srv/archive 2023", "/srv/backup",
                                           "/srv/data", "/srv/nfs/export", "/var/lib/postgresql",
                                           "/var/lib/postgresql/15/main/pg_wal"});
  CHECK(filesystems.filesystems(0).device() == "/dev/nvme0n1p2");
  CHECK(filesystems.filesystems(0).type() == "ext4");
  // Sizes come from statvfs, which only means something on the live root.
  CHECK(filesystems.filesystems(0).size_bytes() == 0);
}

TEST_CASE("interfaces carry MAC, state, speed and driver, bonds and bridges named as such",
          "[agent][inventory]") {
  auto network = ReadNetwork(Fixture("baremetal"));
  CHECK(network.interfaces_size() == 6);  // not lo, not the bonding_masters file
  const auto* bond = FindNic(network, "bond0");
  REQUIRE(bond != nullptr);
  CHECK(bond->mac() == "a0:36:9f:8c:3e:10");
  CHECK(bond->state() == "up");
  CHECK(bond->speed_mbps() == 20000);
  CHECK(bond->driver() == "bonding");
  CHECK(FindNic(network, "docker0")->driver() == "bridge");
  CHECK(FindNic(network, "ens2f0")->driver() == "ixgbe");
  CHECK(FindNic(network, "ens2f0")->speed_mbps() == 10000);
  const auto* down = FindNic(network, "eno2");
  REQUIRE(down != nullptr);
  CHECK(down->state() == "down");
  CHECK(down->speed_mbps() == 0);  // -1 in sysfs: unknown
  CHECK(down->driver() == "tg3");
  std::vector<std::string> routes(network.default_routes().begin(), network.default_routes().end());
  CHECK(routes ==
        std::vector<std::string>{"0.0.0.0/0 via 10.0.1.1 dev bond0", "::/0 via fe80::1 dev bond0"});
}

TEST_CASE("the OS section has the FQDN from /etc/hosts and the time zone", "[agent][inventory]") {
  auto os = ReadOs(Fixture("baremetal"));
  CHECK(os.os().name() == "Debian GNU/Linux");
  CHECK(os.os().version() == "12");
  CHECK(os.os().kernel() == "6.1.0-28-amd64");
  CHECK(os.hostname() == "db-07");
  CHECK(os.fqdn() == "db-07.dc1.example.net");
  CHECK(os.timezone() == "Europe/Berlin");
}

TEST_CASE("installed packages are read from dpkg's status, removed ones left out",
          "[agent][inventory]") {
  auto software = ReadSoftware(Fixture("baremetal"));
  CHECK(software.packages_size() == 31);
  bool amd64 = false;
  bool i386 = false;
  for (const auto& p : software.packages()) {
    CHECK(p.name() != "linux-image-6.1.0-26-amd64");
    if (p.name() == "libc6" && p.architecture() == "amd64") amd64 = true;
    if (p.name() == "libc6" && p.architecture() == "i386") {
      i386 = true;
      CHECK(p.version() == "2.36-9+deb12u13");
    }
    if (p.name() == "openssh-server") CHECK(p.version() == "1:9.2p1-2+deb12u7");
    if (p.name() == "docker-ce") CHECK(p.version() == "5:28.5.1-1~debian.12~bookworm");
  }
  CHECK(amd64);
  CHECK(i386);
}

TEST_CASE("a dpkg status file far larger than one read is streamed without losing a line",
          "[agent][inventory]") {
  // Paragraphs of uneven length put line ends on every side of the 16 KiB read blocks.
  std::string status;
  for (int i = 0; i < 3000; ++i) {
    status += "Package: pkg-" + std::to_string(i) + "\n";
    status +=
        std::string("Status: install ok ") + (i % 7 == 0 ? "config-files" : "installed") + "\n";
    status += "Architecture: amd64\nVersion: 1." + std::to_string(i) + "-1\n";
    status += "Description: package " + std::string(static_cast<std::size_t>(i % 97), 'x') +
              "\n continued\n\n";
  }
  status.pop_back();  // the last paragraph ends without a blank line
  fleetdesk::testing::TempDir dir;
  std::filesystem::create_directories(dir / "var/lib/dpkg");
  fleetdesk::testing::WriteFile(dir / "var/lib/dpkg/status", status);
  REQUIRE(status.size() > 10 * 16384);

  auto streamed = ReadSoftware(Root(dir.path()));
  auto whole = ParseDpkgStatus(status);
  CHECK(streamed.packages_size() == 3000 - 3000 / 7 - 1);
  CHECK(streamed.SerializeAsString() == whole.SerializeAsString());
  bool found = false;
  for (const auto& p : streamed.packages()) {
    if (p.name() == "pkg-2999") found = p.version() == "1.2999-1";
  }
  CHECK(found);
}

TEST_CASE("a Debian VM in a container is seen as both, with a virtual disk", "[agent][inventory]") {
  auto root = Fixture("debian12-vm");
  auto system = ReadSystem(root);
  CHECK(system.vendor().empty());
  CHECK(system.virtualization() == "vm");
  CHECK(system.container() == "docker");
  CHECK(system.boot_time().seconds() == 1795286749);
  auto cpu = ReadCpu(root);
  CHECK(cpu.sockets() == 1);
  CHECK(cpu.cores() == 2);
  CHECK(cpu.threads() == 2);
  CHECK(cpu.mhz() == Approx(2100).epsilon(0.01));
  auto memory = ReadMemory(root);
  CHECK(memory.total_bytes() == 25325268992ULL);
  CHECK(memory.modules_size() == 0);
  auto disks = ReadDisks(root);
  REQUIRE(disks.disks_size() == 1);
  CHECK(disks.disks(0).name() == "vda");
  CHECK(disks.disks(0).kind() == "virtual");
  CHECK(disks.disks(0).size_bytes() == 274877906944ULL);
  auto filesystems = ReadFilesystems(root);
  REQUIRE(filesystems.filesystems_size() == 1);
  CHECK(filesystems.filesystems(0).device() == "/dev/vda");
  auto network = ReadNetwork(root);
  CHECK(network.interfaces_size() == 3);
  CHECK(FindNic(network, "eth0")->driver() == "virtio_net");
  std::vector<std::string> routes(network.default_routes().begin(), network.default_routes().end());
  CHECK(routes ==
        std::vector<std::string>{"0.0.0.0/0 via 192.0.2.1 dev eth0", "::/0 via fd00::1 dev eth0"});
  auto os = ReadOs(root);
  CHECK(os.hostname() == "vm");
  CHECK(os.timezone() == "Etc/UTC");
  CHECK(ReadSoftware(root).packages_size() == 40);
}

TEST_CASE("truncated, garbage and missing files leave fields empty and never fail",
          "[agent][inventory]") {
  auto root = Fixture("odd");
  auto system = ReadSystem(root);
  // No sysfs DMI files: the SMBIOS table's type 0 and 1 fill in.
  CHECK(system.vendor() == "Dell Inc.");
  CHECK(system.serial() == "7XK4Q23");
  CHECK(system.container() == "lxc");
  CHECK(system.virtualization() == "none");
  CHECK_FALSE(system.has_boot_time());
  auto cpu = ReadCpu(root);
  CHECK(cpu.threads() == 2);
  CHECK(cpu.model() == "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz");
  auto memory = ReadMemory(root);
  CHECK(memory.total_bytes() == 4125548544ULL);
  CHECK(memory.swap_bytes() == 0);
  REQUIRE(memory.modules_size() == 1);  // the table is cut inside the second module
  CHECK(memory.modules(0).locator() == "A1");
  auto disks = ReadDisks(root);
  REQUIRE(disks.disks_size() == 1);
  CHECK(disks.disks(0).size_bytes() == 0);
  CHECK(disks.disks(0).kind() == "hdd");
  CHECK(ReadFilesystems(root).filesystems_size() == 2);
  CHECK(ReadNetwork(root).interfaces_size() == 0);
  auto os = ReadOs(root);
  CHECK(os.hostname() == "odd-host");
  CHECK(os.fqdn() == "odd-host");
  auto software = ReadSoftware(root);
  REQUIRE(software.packages_size() == 3);
  CHECK(software.packages(0).name() == "good-one");
  CHECK(software.packages(1).name() == "last-one");
  CHECK(software.packages(1).version() == "2.5-3");
  CHECK(software.packages(2).version().empty());
}

TEST_CASE("an SMBIOS table cut short keeps the structures before the cut", "[agent][inventory]") {
  auto table = Fixture("odd").Read("/sys/firmware/dmi/tables/DMI");
  REQUIRE(table);
  auto parsed = ParseSmbios(*table);
  CHECK(parsed.truncated);
  CHECK(parsed.modules.size() == 1);
  for (std::size_t cut = 0; cut < table->size(); ++cut) {
    auto partial = ParseSmbios(std::string_view(*table).substr(0, cut));
    CHECK(partial.modules.size() <= 1);
  }
  auto full = ParseSmbios(*Fixture("baremetal").Read("/sys/firmware/dmi/tables/DMI"));
  CHECK_FALSE(full.truncated);
  CHECK(full.processor_sockets == 2);
}

TEST_CASE("a section is sent again only when its hash changes", "[agent][inventory]") {
  InventoryCollector inventory(std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/baremetal");
  auto first = inventory.Changed();
  CHECK(first.size() == 8);
  for (const auto& section : first) CHECK(section.hash().size() == 64);
  CHECK(inventory.Changed().empty());
  // After a reconnect everything goes again.
  inventory.ForgetSent();
  CHECK(inventory.Changed().size() == 8);
  auto a = inventory.CollectAll();
  auto b = inventory.CollectAll();
  for (std::size_t i = 0; i < a.size(); ++i) CHECK(a[i].hash() == b[i].hash());
}

TEST_CASE("metrics report interface counters and rates between two readings",
          "[agent][inventory]") {
  MetricsCollector metrics(std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/baremetal");
  auto now = std::chrono::steady_clock::now();
  auto first = metrics.Collect(now);
  CHECK(first.memory_total_bytes() == 270171897856ULL);
  CHECK(first.memory_used_bytes() == 270171897856ULL - 206691651584ULL);
  CHECK(first.load1() == Approx(3.42));
  bool eno1 = false;
  for (const auto& nic : first.interfaces()) {
    CHECK(nic.name() != "lo");
    if (nic.name() == "eno1") {
      eno1 = true;
      CHECK(nic.rx_bytes() == 8123456789ULL);
      CHECK(nic.rx_packets() == 45123456ULL);
      CHECK(nic.tx_bytes() == 2345678901ULL);
      CHECK(nic.rx_bytes_per_second() == 0);  // no earlier reading
    }
  }
  CHECK(eno1);
  // The same counters a second later: a rate of zero, not garbage.
  auto second = metrics.Collect(now + std::chrono::seconds(1));
  for (const auto& nic : second.interfaces()) CHECK(nic.rx_bytes_per_second() == 0);
}
