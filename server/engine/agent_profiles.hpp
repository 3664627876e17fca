// Agent profiles: agent settings kept on the server and assigned by tag. What a profile may set
// is checked here (for the API), and the profiles a host has are merged here (for the task
// thread, which pushes the result to the host's agent, and for the API, which shows it).
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"
#include "server/store/task_model.hpp"

namespace fleetdesk::server::engine {

// Checks a profile's settings and fills the checks' defaults. Errors: kInvalidArgument naming
// the field.
Status NormalizeProfileConfig(fleetdesk::v1::AgentConfig* config);

struct ParsedProfile {
  std::string name;
  std::string tag;  // empty: every host
  fleetdesk::v1::AgentConfig config;
};

// The stored profiles, in merge order (by priority, then id); one whose stored config does not
// parse is left out, and logged.
std::vector<ParsedProfile> ParseProfiles(const std::vector<store::AgentProfileRecord>& records);

// The settings of a host with `tags`: its profiles merged in order, each value from the last
// profile that sets it, checks by name; `sources` says which profile set each value.
fleetdesk::v1::AgentConfig Effective(const std::vector<ParsedProfile>& profiles,
                                     const std::vector<std::string>& tags);

}  // namespace fleetdesk::server::engine
