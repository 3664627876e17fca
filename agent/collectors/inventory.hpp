// Hardware and software inventory, in the sections the protocol carries. Each section is read
// from /proc, /sys, /etc and /var/lib/dpkg under a root path; a file that is missing, truncated
// or odd leaves its fields empty rather than failing the section.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "agent/collectors/root.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::collectors {

fleetdesk::v1::SystemInventory ReadSystem(const Root& root);
fleetdesk::v1::CpuInventory ReadCpu(const Root& root);
fleetdesk::v1::MemoryInventory ReadMemory(const Root& root);
fleetdesk::v1::DiskInventory ReadDisks(const Root& root);
fleetdesk::v1::FilesystemInventory ReadFilesystems(const Root& root);
fleetdesk::v1::NetworkInventory ReadNetwork(const Root& root);
fleetdesk::v1::OsInventory ReadOs(const Root& root);
// os-release, kernel and architecture only: what every heartbeat carries.
fleetdesk::v1::OsInfo ReadOsInfo(const Root& root);
fleetdesk::v1::SoftwareInventory ReadSoftware(const Root& root);
// Parses dpkg's status file: installed packages only, sorted by name and architecture.
fleetdesk::v1::SoftwareInventory ParseDpkgStatus(std::string_view status);

// "virtualization" and "container" as systemd-detect-virt names them ("kvm", "docker", ...), or
// "none".
std::string DetectContainer(const Root& root);
std::string DetectVirtualization(const Root& root);

// The hex SHA-256 of a section's deterministic serialization (the hash field left out).
std::string SectionHash(const fleetdesk::v1::InventorySection& section);

// Collects all sections and remembers what it last handed out, so a caller can send only the
// sections whose hash changed. The software section is re-read only when dpkg's status file
// changed (its size or modification time), which keeps a periodic collection cheap.
class InventoryCollector {
 public:
  explicit InventoryCollector(std::string root) : root_(std::move(root)) {}

  // Every section, hashed.
  std::vector<fleetdesk::v1::InventorySection> CollectAll();
  // The sections whose hash differs from the last `Changed` (or, the first time, all of them).
  std::vector<fleetdesk::v1::InventorySection> Changed();
  // Forget what was sent: the next Changed() answers every section (after a reconnect).
  void ForgetSent() { sent_hashes_.clear(); }

 private:
  Root root_;
  fleetdesk::v1::SoftwareInventory software_;
  std::int64_t dpkg_mtime_ns_ = -1;
  std::int64_t dpkg_size_ = -1;
  std::vector<std::pair<int, std::string>> sent_hashes_;  // section case -> hash
};

}  // namespace fleetdesk::agent::collectors
