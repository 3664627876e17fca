// /etc/fleetdesk/agent.toml, read into a plain struct. packaging/config/agent.toml documents
// every key; an unknown key is an error naming it and its line.
#pragma once

#include <chrono>
#include <string>

#include "common/result.hpp"

namespace fleetdesk::agent {

struct AgentConfig {
  std::string state_dir = "/var/lib/fleetdesk-agent";
  std::string log_level = "info";
  // Where /proc, /sys, /etc and /var/lib/dpkg are read from; tests point it at fixture trees.
  std::string root = "/";
  // Until the server's Welcome names one, reports go out this often.
  std::chrono::seconds report_interval{30};
  // The first connection after start waits a random time up to this, so a fleet rebooted at
  // once does not reconnect at once.
  std::chrono::seconds splay{10};
  std::chrono::milliseconds reconnect_min{1000};
  std::chrono::milliseconds reconnect_max{300000};
  // "protobuf" (binary frames, ~25x cheaper for the server to decode) or "json" (text frames, for
  // reading captures); the hello and welcome are JSON either way.
  std::string encoding = "protobuf";
  // Reports kept while the server has not acked them; the oldest go first past this.
  std::int64_t max_pending_reports = 10000;
};

Result<AgentConfig> LoadAgentConfig(const std::string& path, bool must_exist);

}  // namespace fleetdesk::agent
