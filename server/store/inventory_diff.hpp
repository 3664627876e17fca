// What changed between two versions of an inventory section, field by field: "memory.total_bytes
// 68719476736 -> 34359738368", "software.packages[openssl].version 3.0.11 -> 3.0.13". Pure
// function of two messages; the store records its answer as history.
#pragma once

#include <string>
#include <vector>

#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::server::store {

struct FieldChange {
  std::string path;       // section.field, with [key] for an element of a list
  std::string old_value;  // empty: the element appeared
  std::string new_value;  // empty: the element went
};

// Changes of note: fields that move all the time (a filesystem's used bytes, the CPU clock)
// are left out, so the history holds what a person would call a change. A list element (a
// disk, a package) that appears or goes is one change, not one per field.
std::vector<FieldChange> DiffSections(const fleetdesk::v1::InventorySection& before,
                                      const fleetdesk::v1::InventorySection& after);

}  // namespace fleetdesk::server::store
