// Times as people and CSV files read them: "2027-11-22T09:30:00Z", whole seconds, UTC.
#pragma once

#include <cstdint>
#include <string>

namespace fleetdesk {

// Empty for 0 and earlier (a time never set).
std::string UtcSecondsText(std::int64_t unix_seconds);

}  // namespace fleetdesk
