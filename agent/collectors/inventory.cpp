#include "agent/collectors/inventory.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <map>
#include <set>
#include <sstream>

#include "agent/collectors/smbios.hpp"
#include "common/crypto.hpp"

namespace fleetdesk::agent::collectors {
namespace {

using google::protobuf::Timestamp;

// A file's lines, without the empty one after the final newline.
std::vector<std::string_view> Lines(std::string_view text) {
  auto lines = Split(text, '\n');
  if (!lines.empty() && lines.back().empty()) lines.pop_back();
  return lines;
}

std::string Unquote(std::string_view value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  std::string out;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) ++i;
    out += value[i];
  }
  return out;
}

// /proc/mounts escapes space, tab, newline and backslash as octal (\040).
std::string UnescapeMount(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3') {
      int value = (s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0');
      out += static_cast<char>(value);
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool StartsWithAny(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return s.starts_with(p); });
}

std::uint64_t MeminfoKib(std::string_view meminfo, std::string_view key, bool* found) {
  for (auto line : Lines(meminfo)) {
    auto value = ValueOf(line, key, ':');
    if (!value) continue;
    auto fields = Fields(*value);
    if (fields.empty()) continue;
    if (auto n = ParseUnsigned(fields[0])) {
      if (found != nullptr) *found = true;
      return *n;
    }
  }
  return 0;
}

// udev's database entry for a block device ("8:1"): its E: properties.
std::map<std::string, std::string, std::less<>> UdevProperties(const Root& root,
                                                               const std::string& dev) {
  std::map<std::string, std::string, std::less<>> properties;
  if (dev.empty()) return properties;
  auto data = root.Read("/run/udev/data/b" + dev);
  if (!data) return properties;
  for (auto line : Lines(*data)) {
    if (!line.starts_with("E:")) continue;
    auto eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    properties.emplace(std::string(line.substr(2, eq - 2)), std::string(line.substr(eq + 1)));
  }
  return properties;
}

std::string Property(const std::map<std::string, std::string, std::less<>>& properties,
                     std::string_view key) {
  auto it = properties.find(key);
  return it == properties.end() ? std::string() : it->second;
}

std::uint64_t SectorsToBytes(const Root& root, const std::string& dir) {
  auto sectors = ParseUnsigned(root.ReadLine(dir + "/size"));
  return sectors ? *sectors * 512 : 0;  // sysfs counts 512-byte sectors whatever the device's
}

std::string Ipv4FromHex(std::string_view hex) {
  auto value = std::strtoul(std::string(hex).c_str(), nullptr, 16);
  in_addr address{};
  address.s_addr = static_cast<in_addr_t>(value);  // /proc/net/route holds network order
  char text[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &address, text, sizeof text);
  return text;
}

std::string Ipv6FromHex(std::string_view hex) {
  if (hex.size() != 32) return {};
  in6_addr address{};
  for (int i = 0; i < 16; ++i) {
    address.s6_addr[i] = static_cast<std::uint8_t>(
        std::strtoul(std::string(hex.substr(i * 2, 2)).c_str(), nullptr, 16));
  }
  char text[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, &address, text, sizeof text);
  return text;
}

void SetTimestampSeconds(Timestamp* ts, std::int64_t seconds) {
  ts->set_seconds(seconds);
  ts->set_nanos(0);
}

// File systems that hold no user data; listing them would bury the real mounts.
constexpr std::array kPseudoFilesystems = {
    "autofs", "binfmt_misc", "bpf",      "cgroup",     "cgroup2",         "configfs",    "debugfs",
    "devpts", "devtmpfs",    "efivarfs", "fusectl",    "hugetlbfs",       "mqueue",      "nsfs",
    "proc",   "pstore",      "ramfs",    "rpc_pipefs", "securityfs",      "selinuxfs",   "squashfs",
    "sysfs",  "tmpfs",       "tracefs",  "fuse.lxcfs", "fuse.gvfsd-fuse", "fuse.portal", "nfsd",
    "overlay"};

// CPU flags worth knowing when placing work on a host; the full list is a hundred entries.
constexpr std::array kFlagsOfNote = {"aes", "avx", "avx2",      "avx512f", "fma",    "hypervisor",
                                     "lm",  "nx",  "pclmulqdq", "rdrand",  "sha_ni", "sse4_2",
                                     "svm", "vmx", "asimd",     "sha2",    "sve"};

}  // namespace

std::string DetectContainer(const Root& root) {
  // The order systemd-detect-virt uses: what the init system was told, then marker files.
  auto marker = root.ReadLine("/run/systemd/container");
  if (!marker.empty()) return marker;
  if (auto environ = root.Read("/proc/1/environ")) {
    for (auto entry : Split(*environ, '\0')) {
      if (entry.starts_with("container=") && entry.size() > 10) {
        return std::string(entry.substr(10));
      }
    }
  }
  if (root.Read("/run/.containerenv")) return "podman";
  if (root.Read("/.dockerenv")) return "docker";
  if (auto cgroup = root.Read("/proc/1/cgroup")) {
    if (cgroup->find("/docker/") != std::string::npos) return "docker";
    if (cgroup->find("/kubepods") != std::string::npos) return "kubernetes";
    if (cgroup->find("/lxc/") != std::string::npos) return "lxc";
  }
  return "none";
}

std::string DetectVirtualization(const Root& root) {
  std::string haystack = root.ReadLine("/sys/class/dmi/id/sys_vendor") + "\n" +
                         root.ReadLine("/sys/class/dmi/id/product_name") + "\n" +
                         root.ReadLine("/sys/class/dmi/id/bios_vendor");
  static const std::array<std::pair<const char*, const char*>, 12> kVendors = {{
      {"KVM", "kvm"},
      {"QEMU", "qemu"},
      {"VMware", "vmware"},
      {"VirtualBox", "oracle"},
      {"innotek GmbH", "oracle"},
      {"Virtual Machine", "microsoft"},
      {"Xen", "xen"},
      {"Amazon EC2", "amazon"},
      {"Google Compute Engine", "google"},
      {"Bochs", "bochs"},
      {"Parallels", "parallels"},
      {"BHYVE", "bhyve"},
  }};
  for (const auto& [needle, name] : kVendors) {
    if (haystack.find(needle) != std::string::npos) return name;
  }
  if (auto type = root.ReadLine("/sys/hypervisor/type"); !type.empty()) return type;
  if (auto cpuinfo = root.Read("/proc/cpuinfo")) {
    for (auto line : Lines(*cpuinfo)) {
      auto flags = ValueOf(line, "flags", ':');
      if (!flags) continue;
      for (auto flag : Fields(*flags)) {
        if (flag == "hypervisor") return "vm";  // a hypervisor we cannot name
      }
      break;
    }
  }
  return "none";
}

fleetdesk::v1::SystemInventory ReadSystem(const Root& root) {
  fleetdesk::v1::SystemInventory system;
  const std::string dmi = "/sys/class/dmi/id/";
  system.set_vendor(root.ReadLine(dmi + "sys_vendor"));
  system.set_product(root.ReadLine(dmi + "product_name"));
  system.set_serial(root.ReadLine(dmi + "product_serial"));
  system.set_uuid(root.ReadLine(dmi + "product_uuid"));
  system.set_bios_vendor(root.ReadLine(dmi + "bios_vendor"));
  system.set_bios_version(root.ReadLine(dmi + "bios_version"));
  system.set_bios_date(root.ReadLine(dmi + "bios_date"));
  // The raw table fills what sysfs lacks (serial and UUID are root-only there, too).
  if (auto table = root.Read("/sys/firmware/dmi/tables/DMI")) {
    auto smbios = ParseSmbios(*table);
    auto fill = [](std::string* field, const std::string& value) {
      if (field->empty()) *field = value;
    };
    fill(system.mutable_vendor(), smbios.vendor);
    fill(system.mutable_product(), smbios.product);
    fill(system.mutable_serial(), smbios.serial);
    fill(system.mutable_uuid(), smbios.uuid);
    fill(system.mutable_bios_vendor(), smbios.bios_vendor);
    fill(system.mutable_bios_version(), smbios.bios_version);
    fill(system.mutable_bios_date(), smbios.bios_date);
  }
  system.set_virtualization(DetectVirtualization(root));
  system.set_container(DetectContainer(root));
  if (auto stat = root.Read("/proc/stat")) {
    for (auto line : Lines(*stat)) {
      auto fields = Fields(line);
      if (fields.size() == 2 && fields[0] == "btime") {
        if (auto btime = ParseUnsigned(fields[1])) {
          SetTimestampSeconds(system.mutable_boot_time(), static_cast<std::int64_t>(*btime));
        }
      }
    }
  }
  return system;
}

fleetdesk::v1::CpuInventory ReadCpu(const Root& root) {
  fleetdesk::v1::CpuInventory cpu;
  auto cpuinfo = root.Read("/proc/cpuinfo");
  if (!cpuinfo) return cpu;
  std::set<std::string> sockets;
  std::set<std::string> cores;
  std::uint32_t threads = 0;
  std::string physical_id;
  std::set<std::string, std::less<>> flags;
  double mhz = 0;
  for (auto line : Lines(*cpuinfo)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto key = Trim(line.substr(0, colon));
    auto value = Trim(line.substr(colon + 1));
    if (key == "processor") {
      ++threads;
      physical_id.clear();
    } else if ((key == "model name" || key == "Model" || key == "Hardware") &&
               cpu.model().empty()) {
      cpu.set_model(std::string(value));
    } else if (key == "physical id") {
      physical_id = std::string(value);
      sockets.insert(physical_id);
    } else if (key == "core id") {
      cores.insert(physical_id + "/" + std::string(value));
    } else if (key == "cpu MHz" && mhz == 0) {
      mhz = std::strtod(std::string(value).c_str(), nullptr);
    } else if ((key == "flags" || key == "Features") && flags.empty()) {
      for (auto flag : Fields(value)) flags.emplace(flag);
    }
  }
  cpu.set_threads(threads);
  cpu.set_sockets(sockets.empty() ? (threads > 0 ? 1 : 0)
                                  : static_cast<std::uint32_t>(sockets.size()));
  cpu.set_cores(cores.empty() ? threads : static_cast<std::uint32_t>(cores.size()));
  // The rated maximum is what a person compares hosts by; "cpu MHz" is a moment's clock.
  if (auto max_khz =
          ParseUnsigned(root.ReadLine("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq"))) {
    mhz = static_cast<double>(*max_khz) / 1000.0;
  }
  cpu.set_mhz(mhz);
  for (const char* flag : kFlagsOfNote) {
    if (flags.count(std::string_view(flag)) != 0) cpu.add_flags(flag);
  }
  return cpu;
}

fleetdesk::v1::MemoryInventory ReadMemory(const Root& root) {
  fleetdesk::v1::MemoryInventory memory;
  if (auto meminfo = root.Read("/proc/meminfo")) {
    memory.set_total_bytes(MeminfoKib(*meminfo, "MemTotal", nullptr) * 1024);
    memory.set_swap_bytes(MeminfoKib(*meminfo, "SwapTotal", nullptr) * 1024);
  }
  if (auto table = root.Read("/sys/firmware/dmi/tables/DMI")) {
    for (auto& module : ParseSmbios(*table).modules) *memory.add_modules() = std::move(module);
  }
  return memory;
}

fleetdesk::v1::DiskInventory ReadDisks(const Root& root) {
  fleetdesk::v1::DiskInventory inventory;
  for (const auto& name : root.List("/sys/block")) {
    // Logical and in-memory devices: loops, RAM disks, device-mapper and md arrays are built on
    // the disks listed here.
    if (StartsWithAny(name, {"loop", "ram", "zram", "dm-", "md", "nbd", "fd", "sr"})) continue;
    const std::string dir = "/sys/block/" + name;
    auto udev = UdevProperties(root, root.ReadLine(dir + "/dev"));
    fleetdesk::v1::Disk disk;
    disk.set_name(name);
    disk.set_size_bytes(SectorsToBytes(root, dir));
    std::string model = root.ReadLine(dir + "/device/model");
    if (model.empty()) model = Property(udev, "ID_MODEL");
    disk.set_model(model);
    std::string serial = root.ReadLine(dir + "/device/serial");
    if (serial.empty()) serial = root.ReadLine(dir + "/serial");  // virtio keeps it here
    if (serial.empty()) serial = Property(udev, "ID_SERIAL_SHORT");
    disk.set_serial(serial);
    if (name.starts_with("nvme")) {
      disk.set_kind("nvme");
    } else if (StartsWithAny(name, {"vd", "xvd"})) {
      disk.set_kind("virtual");  // virtio and Xen disks claim to rotate; they do not
    } else if (root.ReadLine(dir + "/queue/rotational") == "1") {
      disk.set_kind("hdd");
    } else {
      disk.set_kind("ssd");
    }
    for (const auto& child : root.List(dir)) {
      const std::string part_dir = dir + "/" + child;
      if (!child.starts_with(name) || !root.Read(part_dir + "/partition")) continue;
      auto* partition = disk.add_partitions();
      partition->set_name(child);
      partition->set_size_bytes(SectorsToBytes(root, part_dir));
      partition->set_fstype(
          Property(UdevProperties(root, root.ReadLine(part_dir + "/dev")), "ID_FS_TYPE"));
    }
    *inventory.add_disks() = std::move(disk);
  }
  return inventory;
}

fleetdesk::v1::FilesystemInventory ReadFilesystems(const Root& root) {
  fleetdesk::v1::FilesystemInventory inventory;
  auto mounts = root.Read("/proc/mounts");
  if (!mounts) return inventory;
  // Keyed by mount point: a later mount over the same point hides the earlier one.
  std::map<std::string, fleetdesk::v1::Filesystem> by_mount_point;
  for (auto line : Lines(*mounts)) {
    auto fields = Fields(line);
    if (fields.size() < 3) continue;
    std::string type(fields[2]);
    auto mount_point = UnescapeMount(fields[1]);
    bool pseudo = std::find(kPseudoFilesystems.begin(), kPseudoFilesystems.end(), type) !=
                  kPseudoFilesystems.end();
    // A container's root is an overlay: that one is the host's "/" as far as anyone cares.
    if (pseudo && !(type == "overlay" && mount_point == "/")) continue;
    if (StartsWithAny(mount_point, {"/proc/", "/sys/", "/dev/", "/run/credentials/",
                                    "/var/lib/docker/", "/var/lib/containers/"})) {
      continue;
    }
    fleetdesk::v1::Filesystem fs;
    fs.set_mount_point(mount_point);
    fs.set_device(UnescapeMount(fields[0]));
    fs.set_type(type);
    // Sizes come from the kernel, not from files: only the live root has them.
    struct statvfs st {};
    if (root.live() && ::statvfs(mount_point.c_str(), &st) == 0) {
      fs.set_size_bytes(static_cast<std::uint64_t>(st.f_blocks) * st.f_frsize);
      fs.set_used_bytes(static_cast<std::uint64_t>(st.f_blocks - st.f_bfree) * st.f_frsize);
    }
    by_mount_point[mount_point] = std::move(fs);
  }
  for (auto& [mount_point, fs] : by_mount_point) *inventory.add_filesystems() = std::move(fs);
  return inventory;
}

fleetdesk::v1::NetworkInventory ReadNetwork(const Root& root) {
  fleetdesk::v1::NetworkInventory inventory;
  std::map<std::string, std::vector<std::string>> addresses;
  if (root.live()) {
    ifaddrs* list = nullptr;
    if (::getifaddrs(&list) == 0) {
      for (auto* a = list; a != nullptr; a = a->ifa_next) {
        if (a->ifa_addr == nullptr || a->ifa_netmask == nullptr) continue;
        int family = a->ifa_addr->sa_family;
        if (family != AF_INET && family != AF_INET6) continue;
        char text[INET6_ADDRSTRLEN];
        int prefix = 0;
        if (family == AF_INET) {
          const auto* in = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
          inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
          const auto* mask = reinterpret_cast<const sockaddr_in*>(a->ifa_netmask);
          prefix = __builtin_popcount(mask->sin_addr.s_addr);
        } else {
          const auto* in6 = reinterpret_cast<const sockaddr_in6*>(a->ifa_addr);
          inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
          const auto* mask = reinterpret_cast<const sockaddr_in6*>(a->ifa_netmask);
          for (auto byte : mask->sin6_addr.s6_addr) prefix += __builtin_popcount(byte);
        }
        addresses[a->ifa_name].push_back(std::string(text) + "/" + std::to_string(prefix));
      }
      ::freeifaddrs(list);
    }
  }
  for (const auto& name : root.List("/sys/class/net")) {
    const std::string dir = "/sys/class/net/" + name;
    // bonding_masters and other plain files sit among the interfaces.
    if (name == "lo" || !root.Read(dir + "/address")) continue;
    auto* nic = inventory.add_interfaces();
    nic->set_name(name);
    nic->set_mac(root.ReadLine(dir + "/address"));
    nic->set_state(root.ReadLine(dir + "/operstate"));
    // A down link reads -1 or fails; either means "no speed".
    if (auto speed = ParseUnsigned(root.ReadLine(dir + "/speed"))) {
      nic->set_speed_mbps(static_cast<std::uint32_t>(*speed));
    }
    nic->set_driver(root.LinkBasename(dir + "/device/driver"));
    if (nic->driver().empty() && root.Read(dir + "/bonding/mode")) nic->set_driver("bonding");
    if (nic->driver().empty() && root.Read(dir + "/bridge/bridge_id")) nic->set_driver("bridge");
    for (auto& address : addresses[name]) nic->add_addresses(std::move(address));
  }
  if (auto routes = root.Read("/proc/net/route")) {
    for (auto line : Lines(*routes)) {
      auto f = Fields(line);
      // Iface Destination Gateway Flags RefCnt Use Metric Mask ...
      if (f.size() < 8 || f[0] == "Iface") continue;
      if (f[1] == "00000000" && f[7] == "00000000") {
        inventory.add_default_routes("0.0.0.0/0 via " + Ipv4FromHex(f[2]) + " dev " +
                                     std::string(f[0]));
      }
    }
  }
  if (auto routes = root.Read("/proc/net/ipv6_route")) {
    for (auto line : Lines(*routes)) {
      auto f = Fields(line);
      // dest plen src splen nexthop metric refcnt use flags iface
      if (f.size() < 10) continue;
      auto flags = std::strtoul(std::string(f[8]).c_str(), nullptr, 16);
      constexpr unsigned long kRtfReject = 0x0200;
      if (f[0] == std::string(32, '0') && f[1] == "00" && (flags & kRtfReject) == 0 &&
          f[9] != "lo") {
        inventory.add_default_routes("::/0 via " + Ipv6FromHex(f[4]) + " dev " + std::string(f[9]));
      }
    }
  }
  return inventory;
}

fleetdesk::v1::OsInfo ReadOsInfo(const Root& root) {
  fleetdesk::v1::OsInfo os;
  auto* info = &os;
  auto release = root.Read("/etc/os-release");
  if (!release) release = root.Read("/usr/lib/os-release");
  if (release) {
    for (auto line : Lines(*release)) {
      if (line.starts_with('#')) continue;
      auto eq = line.find('=');
      if (eq == std::string_view::npos) continue;
      auto key = Trim(line.substr(0, eq));
      auto value = Unquote(Trim(line.substr(eq + 1)));
      if (key == "NAME") info->set_name(value);
      if (key == "VERSION_ID") info->set_version(value);
      if (key == "PRETTY_NAME") info->set_pretty_name(value);
    }
  }
  info->set_kernel(root.ReadLine("/proc/sys/kernel/osrelease"));
  utsname names{};
  if (::uname(&names) == 0) info->set_architecture(names.machine);
  return os;
}

fleetdesk::v1::OsInventory ReadOs(const Root& root) {
  fleetdesk::v1::OsInventory os;
  *os.mutable_os() = ReadOsInfo(root);
  std::string hostname = root.ReadLine("/proc/sys/kernel/hostname");
  if (hostname.empty()) hostname = root.ReadLine("/etc/hostname");
  os.set_hostname(hostname);
  // The FQDN as the host itself knows it: its /etc/hosts line, else the NIS/DNS domain. No DNS
  // query: a collector must not block on a resolver.
  std::string fqdn;
  if (auto hosts = root.Read("/etc/hosts"); hosts && !hostname.empty()) {
    for (auto line : Lines(*hosts)) {
      line = line.substr(0, line.find('#'));
      auto fields = Fields(line);
      if (fields.size() < 2) continue;
      bool names_us = std::any_of(fields.begin() + 1, fields.end(), [&](std::string_view n) {
        return n == hostname || n.substr(0, n.find('.')) == hostname;
      });
      if (!names_us) continue;
      for (auto it = fields.begin() + 1; it != fields.end(); ++it) {
        if (it->find('.') != std::string_view::npos) {
          fqdn = std::string(*it);
          break;
        }
      }
      if (!fqdn.empty()) break;
    }
  }
  if (fqdn.empty()) {
    auto domain = root.ReadLine("/proc/sys/kernel/domainname");
    fqdn = (domain.empty() || domain == "(none)") ? hostname : hostname + "." + domain;
  }
  os.set_fqdn(fqdn);
  std::string zone = root.ReadLine("/etc/timezone");
  if (zone.empty()) {
    auto target = root.LinkTarget("/etc/localtime");
    auto at = target.find("zoneinfo/");
    if (at != std::string::npos) zone = target.substr(at + 9);
  }
  os.set_timezone(zone);
  return os;
}

namespace {

// dpkg's status file, line by line: a paragraph per package, blank lines between. Only the
// current paragraph's fields are kept, so the file is parsed as it streams in.
class DpkgStatusParser {
 public:
  void Line(std::string_view line) {
    if (Trim(line).empty()) {
      Flush();
      return;
    }
    if (line.front() == ' ' || line.front() == '\t') return;  // a continuation line
    auto colon = line.find(':');
    if (colon == std::string_view::npos) return;
    auto key = line.substr(0, colon);
    auto value = Trim(line.substr(colon + 1));
    if (key == "Package") {
      name_ = value;
    } else if (key == "Version") {
      version_ = value;
    } else if (key == "Architecture") {
      architecture_ = value;
    } else if (key == "Status") {
      // "want flag state": only an installed package (state "installed") counts.
      auto fields = Fields(value);
      installed_ = fields.size() == 3 && fields[2] == "installed";
    }
  }

  fleetdesk::v1::SoftwareInventory Finish() {
    Flush();
    auto* packages = software_.mutable_packages();
    std::sort(packages->begin(), packages->end(), [](const auto& a, const auto& b) {
      return std::tie(a.name(), a.architecture()) < std::tie(b.name(), b.architecture());
    });
    return std::move(software_);
  }

 private:
  void Flush() {
    if (installed_ && !name_.empty()) {
      auto* package = software_.add_packages();
      package->set_name(name_);
      package->set_version(version_);
      package->set_architecture(architecture_);
    }
    name_.clear();
    version_.clear();
    architecture_.clear();
    installed_ = false;
  }

  fleetdesk::v1::SoftwareInventory software_;
  std::string name_;
  std::string version_;
  std::string architecture_;
  bool installed_ = false;
};

}  // namespace

fleetdesk::v1::SoftwareInventory ParseDpkgStatus(std::string_view status) {
  DpkgStatusParser parser;
  while (!status.empty()) {
    auto end = status.find('\n');
    parser.Line(status.substr(0, end));
    status = end == std::string_view::npos ? std::string_view() : status.substr(end + 1);
  }
  return parser.Finish();
}

fleetdesk::v1::SoftwareInventory ReadSoftware(const Root& root) {
  // Streamed in blocks: the file is hundreds of KB on a server, and reading it whole would set
  // the agent's peak memory.
  DpkgStatusParser parser;
  std::string pending;  // a line not yet ended by the last block
  bool read = root.ReadBlocks("/var/lib/dpkg/status", [&](std::string_view data) {
    for (auto end = data.find('\n'); end != std::string_view::npos; end = data.find('\n')) {
      if (pending.empty()) {
        parser.Line(data.substr(0, end));
      } else {
        pending.append(data.substr(0, end));
        parser.Line(pending);
        pending.clear();
      }
      data.remove_prefix(end + 1);
    }
    pending.append(data);
  });
  if (!read) return {};
  if (!pending.empty()) parser.Line(pending);
  return parser.Finish();
}

std::string SectionHash(const fleetdesk::v1::InventorySection& section) {
  fleetdesk::v1::InventorySection copy = section;
  copy.clear_hash();
  std::string bytes;
  google::protobuf::io::StringOutputStream stream(&bytes);
  {
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    copy.SerializeToCodedStream(&out);
  }
  return crypto::Sha256Hex(bytes);
}

std::vector<fleetdesk::v1::InventorySection> InventoryCollector::CollectAll() {
  std::vector<fleetdesk::v1::InventorySection> sections(8);
  *sections[0].mutable_system() = ReadSystem(root_);
  *sections[1].mutable_cpu() = ReadCpu(root_);
  *sections[2].mutable_memory() = ReadMemory(root_);
  *sections[3].mutable_disks() = ReadDisks(root_);
  *sections[4].mutable_filesystems() = ReadFilesystems(root_);
  *sections[5].mutable_network() = ReadNetwork(root_);
  *sections[6].mutable_os() = ReadOs(root_);
  // dpkg's status file is the largest read by far (hundreds of KB): parse it only when dpkg
  // has rewritten it.
  struct stat st {};
  std::int64_t mtime = -1;
  std::int64_t size = -1;
  if (::stat(root_.Path("/var/lib/dpkg/status").c_str(), &st) == 0) {
    mtime = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    size = st.st_size;
  }
  if (mtime != dpkg_mtime_ns_ || size != dpkg_size_) {
    software_ = ReadSoftware(root_);
    dpkg_mtime_ns_ = mtime;
    dpkg_size_ = size;
  }
  *sections[7].mutable_software() = software_;
  for (auto& section : sections) section.set_hash(SectionHash(section));
  return sections;
}

std::vector<fleetdesk::v1::InventorySection> InventoryCollector::Changed() {
  auto sections = CollectAll();
  std::vector<fleetdesk::v1::InventorySection> changed;
  for (auto& section : sections) {
    int kind = static_cast<int>(section.section_case());
    auto it = std::find_if(sent_hashes_.begin(), sent_hashes_.end(),
                           [&](const auto& entry) { return entry.first == kind; });
    if (it != sent_hashes_.end() && it->second == section.hash()) continue;
    if (it == sent_hashes_.end()) {
      sent_hashes_.emplace_back(kind, section.hash());
    } else {
      it->second = section.hash();
    }
    changed.push_back(std::move(section));
  }
  return changed;
}

}  // namespace fleetdesk::agent::collectors
