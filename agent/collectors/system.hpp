// The host's identity and load: hostname, machine id, OS, kernel, uptime, load averages. Reads
// files under a root path (/ in production, a fixture tree in tests) and nothing else.
#pragma once

#include <string>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::collectors {

class SystemCollector {
 public:
  explicit SystemCollector(std::string root) : root_(std::move(root)) {}

  // /etc/machine-id, else /var/lib/dbus/machine-id; an error when neither is readable.
  Result<std::string> MachineId() const;
  std::string Hostname() const;
  fleetdesk::v1::OsInfo Os() const;
  // Fills hostname, OS, uptime and load; missing files leave fields empty rather than fail.
  fleetdesk::v1::Heartbeat Heartbeat() const;

 private:
  std::string root_;
};

}  // namespace fleetdesk::agent::collectors
