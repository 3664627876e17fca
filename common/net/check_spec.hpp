// What makes a link check valid, whether it comes from the agent's config or from a server's
// agent profile. Kept apart from the runner, so the config loader and the server's API need none
// of its networking code.
#pragma once

#include <string>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::checks {

// Fills defaults (interval 60 s, timeout 5 s, method GET, up to 5 redirects) and checks every
// field; the error names the check and the field.
Status Normalize(fleetdesk::v1::CheckSpec* spec);
// "http", "tcp", "dns"; empty for an unknown kind.
std::string KindName(fleetdesk::v1::CheckKind kind);

}  // namespace fleetdesk::checks
