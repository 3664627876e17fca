#include "agent/agent_config.hpp"

#include "common/config.hpp"

namespace fleetdesk::agent {

Result<AgentConfig> LoadAgentConfig(const std::string& path, bool must_exist) {
  AgentConfig config;
  auto reader = config::ConfigReader::LoadOptional(path, must_exist);
  if (!reader) return reader.error();
  auto& r = *reader;
  r.String("state_dir", &config.state_dir);
  r.String("log_level", &config.log_level);
  r.String("root", &config.root);
  r.Duration("report_interval", &config.report_interval);
  r.Duration("splay", &config.splay);
  std::chrono::seconds min{1};
  std::chrono::seconds max{300};
  r.Duration("reconnect.min", &min);
  r.Duration("reconnect.max", &max);
  r.Int("max_pending_reports", 1, 1000000, &config.max_pending_reports);
  r.String("encoding", &config.encoding);
  if (auto status = r.Finish(); !status) return status.error();
  if (config.encoding != "protobuf" && config.encoding != "json") {
    return MakeError(
        ErrorCode::kInvalidArgument,
        path + ": encoding must be \"protobuf\" or \"json\", not \"" + config.encoding + "\"");
  }
  if (config.report_interval < std::chrono::seconds(1)) {
    return MakeError(ErrorCode::kInvalidArgument, path + ": report_interval must be 1s or more");
  }
  if (min > max || min.count() == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": reconnect.min must be at least 1s and not above reconnect.max");
  }
  config.reconnect_min = min;
  config.reconnect_max = max;
  return config;
}

}  // namespace fleetdesk::agent
