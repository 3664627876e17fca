#include "agent/collectors/system.hpp"

#include <sys/utsname.h>

#include <cstdlib>
#include <sstream>

#include "common/files.hpp"

namespace fleetdesk::agent::collectors {
namespace {

std::string Trim(std::string s) {
  auto end = s.find_last_not_of(" \t\r\n");
  s.erase(end == std::string::npos ? 0 : end + 1);
  auto start = s.find_first_not_of(" \t\r\n");
  return start == std::string::npos ? std::string() : s.substr(start);
}

// os-release values may be quoted with " or '; backslash escapes only matter inside quotes.
std::string Unquote(std::string value) {
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

}  // namespace

std::string SystemCollector::Path(const char* relative) const {
  if (root_.empty() || root_ == "/") return relative;
  return root_ + relative;
}

Result<std::string> SystemCollector::MachineId() const {
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    auto content = files::Read(Path(path));
    if (content) {
      auto id = Trim(*content);
      if (!id.empty()) return id;
    }
  }
  return MakeError(ErrorCode::kNotFound, "no machine id in " + Path("/etc/machine-id"));
}

std::string SystemCollector::Hostname() const {
  auto content = files::Read(Path("/proc/sys/kernel/hostname"));
  if (content) return Trim(*content);
  content = files::Read(Path("/etc/hostname"));
  return content ? Trim(*content) : std::string();
}

fleetdesk::v1::OsInfo SystemCollector::Os() const {
  fleetdesk::v1::OsInfo os;
  auto release = files::Read(Path("/etc/os-release"));
  if (!release) release = files::Read(Path("/usr/lib/os-release"));
  if (release) {
    std::istringstream lines(*release);
    std::string line;
    while (std::getline(lines, line)) {
      auto eq = line.find('=');
      if (eq == std::string::npos || line.starts_with('#')) continue;
      auto key = Trim(line.substr(0, eq));
      auto value = Unquote(Trim(line.substr(eq + 1)));
      if (key == "NAME") os.set_name(value);
      if (key == "VERSION_ID") os.set_version(value);
      if (key == "PRETTY_NAME") os.set_pretty_name(value);
    }
  }
  if (auto kernel = files::Read(Path("/proc/sys/kernel/osrelease"))) os.set_kernel(Trim(*kernel));
  utsname names{};
  if (uname(&names) == 0) os.set_architecture(names.machine);
  return os;
}

fleetdesk::v1::Heartbeat SystemCollector::Heartbeat() const {
  fleetdesk::v1::Heartbeat hb;
  hb.set_hostname(Hostname());
  *hb.mutable_os() = Os();
  if (auto uptime = files::Read(Path("/proc/uptime"))) {
    hb.set_uptime_seconds(static_cast<std::uint64_t>(std::strtod(uptime->c_str(), nullptr)));
  }
  if (auto load = files::Read(Path("/proc/loadavg"))) {
    std::istringstream in(*load);
    double l1 = 0;
    double l5 = 0;
    double l15 = 0;
    if (in >> l1 >> l5 >> l15) {
      hb.set_load1(l1);
      hb.set_load5(l5);
      hb.set_load15(l15);
    }
  }
  return hb;
}

}  // namespace fleetdesk::agent::collectors
