#include "agent/agent_config.hpp"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <set>

#include "common/codec.hpp"
#include "common/config.hpp"
#include "common/files.hpp"
#include "common/net/check_spec.hpp"

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

AgentConfig WithServerConfig(const AgentConfig& file, const fleetdesk::v1::AgentConfig& server) {
  AgentConfig out = file;
  auto from_server = [&](const std::string& key, const std::string& server_key) {
    auto it = server.sources().find(server_key);
    out.sources[key] =
        "server (profile " + (it == server.sources().end() ? std::string("?") : it->second) + ")";
  };
  auto own = [&](const char* key) {
    return file.sources.count(key) != 0 && file.sources.at(key) == "file";
  };
  if (!own("inventory_interval") && server.inventory_interval_seconds() > 0) {
    out.inventory_interval = std::chrono::seconds(server.inventory_interval_seconds());
    from_server("inventory_interval", "inventoryInterval");
  }
  if (!own("services.snapshot_interval") && server.services_snapshot_interval_seconds() > 0) {
    out.services.snapshot_interval =
        std::chrono::seconds(server.services_snapshot_interval_seconds());
    from_server("services.snapshot_interval", "services.snapshotInterval");
  }
  if (!own("services.include") && !server.service_include().empty()) {
    out.services.include.assign(server.service_include().begin(), server.service_include().end());
    from_server("services.include", "services.include");
  }
  if (!own("services.exclude") && !server.service_exclude().empty()) {
    out.services.exclude.assign(server.service_exclude().begin(), server.service_exclude().end());
    from_server("services.exclude", "services.exclude");
  }
  for (const auto& check : server.checks()) {
    if (out.sources.count("checks." + check.key()) != 0) continue;  // the file's own wins
    // Checked again here: the agent runs nothing it would not take from its own file.
    auto spec = check;
    if (auto s = fleetdesk::checks::Normalize(&spec); !s) continue;
    out.checks.push_back(std::move(spec));
    from_server("checks." + check.key(), "checks." + check.key());
  }
  return out;
}

fleetdesk::v1::AgentConfig LoadServerConfig(const std::string& state_dir) {
  fleetdesk::v1::AgentConfig config;
  auto bytes = files::Read(state_dir + "/server-config.pb");
  if (!bytes || !config.ParseFromString(*bytes)) config.Clear();
  return config;
}

Status SaveServerConfig(const std::string& state_dir, const fleetdesk::v1::AgentConfig& config) {
  return files::WriteAtomically(state_dir + "/server-config.pb", config.SerializeAsString(), 0600);
}

std::string DescribeConfig(const AgentConfig& config) {
  google::protobuf::Struct root;
  auto add = [&](const std::string& key, google::protobuf::Value value) {
    auto it = config.sources.find(key);
    auto& fields = *(*root.mutable_fields())[key].mutable_struct_value()->mutable_fields();
    fields["value"] = std::move(value);
    fields["source"].set_string_value(it == config.sources.end() ? "default" : it->second);
  };
  auto text = [](const std::string& s) {
    google::protobuf::Value v;
    v.set_string_value(s);
    return v;
  };
  auto list = [&](const std::vector<std::string>& items) {
    google::protobuf::Value v;
    for (const auto& item : items) *v.mutable_list_value()->add_values() = text(item);
    if (items.empty()) v.mutable_list_value();
    return v;
  };
  add("inventory_interval", text(std::to_string(config.inventory_interval.count()) + "s"));
  add("services.include", list(config.services.include));
  add("services.exclude", list(config.services.exclude));
  add("services.snapshot_interval",
      text(std::to_string(config.services.snapshot_interval.count()) + "s"));
  for (const auto& check : config.checks) {
    add("checks." + check.key(),
        text(fleetdesk::checks::KindName(check.kind()) + " " + check.target()));
  }
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(root, &out, options);
  return out;
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
  // What the file itself sets wins over the server's agent profiles.
  for (const char* key : {"inventory_interval", "services.include", "services.exclude",
                          "services.snapshot_interval"}) {
    config.sources[key] = r.Has(key) ? "file" : "default";
  }
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
    if (auto s = fleetdesk::checks::Normalize(&spec); !s) {
      return MakeError(ErrorCode::kInvalidArgument, path + ": " + s.error().message);
    }
    if (!names.insert(spec.key()).second) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": two checks are named '" + spec.key() + "'");
    }
    config.sources["checks." + spec.key()] = "file";
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
