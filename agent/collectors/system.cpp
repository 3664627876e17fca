#include "agent/collectors/system.hpp"

#include <cstdlib>

#include "agent/collectors/inventory.hpp"
#include "agent/collectors/root.hpp"

namespace fleetdesk::agent::collectors {

Result<std::string> SystemCollector::MachineId() const {
  Root root(root_);
  for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
    auto id = root.ReadLine(path);
    if (!id.empty()) return id;
  }
  return MakeError(ErrorCode::kNotFound, "no machine id in " + root.Path("/etc/machine-id"));
}

std::string SystemCollector::Hostname() const {
  Root root(root_);
  auto name = root.ReadLine("/proc/sys/kernel/hostname");
  return name.empty() ? root.ReadLine("/etc/hostname") : name;
}

fleetdesk::v1::OsInfo SystemCollector::Os() const { return ReadOsInfo(Root(root_)); }

fleetdesk::v1::Heartbeat SystemCollector::Heartbeat() const {
  Root root(root_);
  fleetdesk::v1::Heartbeat hb;
  hb.set_hostname(Hostname());
  *hb.mutable_os() = Os();
  if (auto uptime = root.Read("/proc/uptime")) {
    hb.set_uptime_seconds(static_cast<std::uint64_t>(std::strtod(uptime->c_str(), nullptr)));
  }
  if (auto load = root.Read("/proc/loadavg")) {
    auto fields = Fields(*load);
    if (fields.size() >= 3) {
      hb.set_load1(std::strtod(std::string(fields[0]).c_str(), nullptr));
      hb.set_load5(std::strtod(std::string(fields[1]).c_str(), nullptr));
      hb.set_load15(std::strtod(std::string(fields[2]).c_str(), nullptr));
    }
  }
  return hb;
}

}  // namespace fleetdesk::agent::collectors
