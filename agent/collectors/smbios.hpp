// The SMBIOS structure table (/sys/firmware/dmi/tables/DMI, root-only on most hosts): what the
// sysfs DMI files do not carry, chiefly the memory modules (type 17). Parsing stops cleanly at a
// truncated or inconsistent structure and keeps what came before it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::collectors {

struct SmbiosTable {
  // Type 0 and type 1: used when /sys/class/dmi/id is missing.
  std::string bios_vendor, bios_version, bios_date;
  std::string vendor, product, serial, uuid;
  int processor_sockets = 0;                         // type 4 structures with a populated socket
  std::vector<fleetdesk::v1::MemoryModule> modules;  // populated slots only
  bool truncated = false;                            // the table ended mid-structure
};

SmbiosTable ParseSmbios(std::string_view table);

}  // namespace fleetdesk::agent::collectors
