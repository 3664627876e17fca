// Logging through spdlog: to the journal (with fields) when stderr is connected to it, to stderr
// otherwise. Call SetupLogging once at start, before other threads exist.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

#include "common/result.hpp"

namespace fleetdesk::log {

// `level` is one of trace, debug, info, warn, error; an unknown level is an error message.
Status SetupLogging(const std::string& program, const std::string& level);

}  // namespace fleetdesk::log
