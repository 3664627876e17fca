#include "agent/agent_config.hpp"

#include <set>

#include "agent/checks/spec.hpp"
#include "common/config.hpp"

namespace fleetdesk::agent {
namespace {

const std::set<std::string> kTaskKinds = {"service.start",    "service.stop", "service.restart",
                                          "service.reload",   "file.write",   "command.run",
                                          "inventory.refresh"};

Status ReadTaskPolicy(const std::string& path, const std::vector<std::string>& commands,
                      AgentConfig::Tasks* tasks) {
  for (const auto& kind : tasks->kinds) {
    if (!kTaskKinds.contains(kind)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": tasks.kinds: unknown task kind '" + kind +
                           "' (service.start, service.stop, service.restart, service.reload, "
                           "file.write, command.run, inventory.refresh)");
    }
  }
  for (auto& prefix : tasks->file_paths) {
    if (!CleanAbsolutePath(prefix) || prefix == "/") {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": tasks.file_paths: '" + prefix +
                           "' is not an absolute directory below / without '.' or '..' parts");
    }
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
  }
  tasks->commands.clear();
  for (const auto& command : commands) {
    std::vector<std::string> argv;
    std::size_t start = 0;
    while (start < command.size()) {
      auto end = command.find(' ', start);
      if (end == std::string::npos) end = command.size();
      if (end > start) argv.push_back(command.substr(start, end - start));
      start = end + 1;
    }
    if (argv.empty() || !CleanAbsolutePath(argv[0])) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": tasks.commands: '" + command +
                           "' must start with the program's absolute path (no shell is used)");
    }
    tasks->commands.push_back(std::move(argv));
  }
  if (tasks->default_timeout < std::chrono::seconds(1) ||
      tasks->max_timeout < tasks->default_timeout) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path +
                         ": tasks.default_timeout must be 1s or more and not above "
                         "tasks.max_timeout");
  }
  return {};
}

}  // namespace

bool CleanAbsolutePath(const std::string& path) {
  if (path.empty() || path[0] != '/' || path.find('\0') != std::string::npos) return false;
  for (std::size_t start = 1; start < path.size();) {
    const auto end = std::min(path.find('/', start), path.size());
    const auto part = std::string_view(path).substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

Result<AgentConfig> LoadAgentConfig(const std::string& path, bool must_exist) {
  auto reader = config::ConfigReader::LoadOptional(path, must_exist);
  if (!reader) return reader.error();
  return ReadAgentConfig(*reader, path);
}

Result<AgentConfig> ParseAgentConfig(const std::string& text, const std::string& name) {
  auto reader = config::ConfigReader::Parse(text, name);
  if (!reader) return reader.error();
  return ReadAgentConfig(*reader, name);
}

Result<AgentConfig> ReadAgentConfig(config::ConfigReader& r, const std::string& path) {
  AgentConfig config;
  r.String("state_dir", &config.state_dir);
  r.String("log_level", &config.log_level);
  r.String("root", &config.root);
  r.Duration("report_interval", &config.report_interval);
  r.Duration("splay", &config.splay);
  std::chrono::seconds min{1};
  std::chrono::seconds max{300};
  r.Duration("reconnect.min", &min);
  r.Duration("reconnect.max", &max);
  r.Size("journal_max_size", 1ULL << 20U, 16ULL << 30U, &config.journal_max_size);
  r.Duration("inventory_interval", &config.inventory_interval);
  r.String("encoding", &config.encoding);
  r.Bool("services.enabled", &config.services.enabled);
  r.StringList("services.include", &config.services.include);
  r.StringList("services.exclude", &config.services.exclude);
  r.Duration("services.snapshot_interval", &config.services.snapshot_interval);
  r.Bool("tasks.enabled", &config.tasks.enabled);
  r.StringList("tasks.kinds", &config.tasks.kinds);
  r.StringList("tasks.units", &config.tasks.units);
  r.StringList("tasks.file_paths", &config.tasks.file_paths);
  std::vector<std::string> commands;
  r.StringList("tasks.commands", &commands);
  r.Duration("tasks.default_timeout", &config.tasks.default_timeout);
  r.Duration("tasks.max_timeout", &config.tasks.max_timeout);
  std::set<std::string> names;
  const std::size_t count = r.TableCount("checks");
  for (std::size_t i = 0; i < count; ++i) {
    const std::string at = "checks[" + std::to_string(i) + "].";
    fleetdesk::v1::CheckSpec spec;
    std::string type;
    r.String(at + "name", spec.mutable_key());
    r.String(at + "type", &type);
    r.String(at + "target", spec.mutable_target());
    std::chrono::seconds interval{60};
    r.Duration(at + "interval", &interval);
    std::chrono::milliseconds timeout{0};  // Normalize picks the default
    r.Milliseconds(at + "timeout", &timeout);
    r.String(at + "method", spec.mutable_method());
    std::vector<std::int64_t> statuses;
    r.IntList(at + "expect_status", 100, 599, &statuses);
    r.String(at + "body_contains", spec.mutable_body_contains());
    r.String(at + "body_regex", spec.mutable_body_regex());
    std::map<std::string, std::string> headers;
    r.StringMap(at + "headers", &headers);
    std::int64_t redirects = 5;
    r.Int(at + "max_redirects", 0, 20, &redirects);
    bool verify = true;
    r.Bool(at + "tls_verify", &verify);
    r.String(at + "ca_file", spec.mutable_ca_file());
    r.String(at + "record_type", spec.mutable_record_type());
    r.String(at + "expect_address", spec.mutable_expect_address());
    if (type == "http") spec.set_kind(fleetdesk::v1::CHECK_KIND_HTTP);
    if (type == "tcp") spec.set_kind(fleetdesk::v1::CHECK_KIND_TCP);
    if (type == "dns") spec.set_kind(fleetdesk::v1::CHECK_KIND_DNS);
    spec.set_interval_seconds(
        static_cast<std::uint32_t>(std::min<std::int64_t>(interval.count(), 86400)));
    spec.set_timeout_ms(
        static_cast<std::uint32_t>(std::min<std::int64_t>(timeout.count(), 3600000)));
    for (auto status : statuses) spec.add_expect_status(static_cast<std::uint32_t>(status));
    for (auto& [name, value] : headers) (*spec.mutable_headers())[name] = value;
    spec.set_max_redirects(static_cast<std::uint32_t>(redirects));
    spec.set_tls_insecure(!verify);
    config.checks.push_back(std::move(spec));
  }
  if (auto status = r.Finish(); !status) return status.error();
  for (auto& spec : config.checks) {
    if (auto s = checks::Normalize(&spec); !s) {
      return MakeError(ErrorCode::kInvalidArgument, path + ": " + s.error().message);
    }
    if (!names.insert(spec.key()).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": two checks are named '" + spec.key() + "'");
    }
  }
  if (config.services.snapshot_interval < std::chrono::seconds(10)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": services.snapshot_interval must be 10s or more");
  }
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
  if (auto s = ReadTaskPolicy(path, commands, &config.tasks); !s) return s.error();
  return config;
}

}  // namespace fleetdesk::agent
