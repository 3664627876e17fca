// Turns a report into the rows it changes beyond the host row, checking first that what the
// agent sent is sane (names present, sizes bounded): a report that fails is refused whole.
#pragma once

#include <string>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"
#include "server/store/model.hpp"

namespace fleetdesk::server::engine {

Result<store::HostDelta> DeltaFromReport(const std::string& agent_id,
                                         const fleetdesk::v1::Report& report, std::int64_t now_ms);

}  // namespace fleetdesk::server::engine
