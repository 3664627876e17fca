// /etc/fleetdesk/agent.toml, read into a plain struct. packaging/config/agent.toml documents
// every key; an unknown key is an error naming it and its line.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"

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
  // Bytes of reports kept while the server has not acked them; the oldest go first past this.
  std::uint64_t journal_max_size = 64ULL << 20U;
  // How often hardware and software inventory is collected (sections that did not change are
  // not sent); the first report after connecting always carries all of it.
  std::chrono::seconds inventory_interval{3600};

  struct Services {
    bool enabled = true;
    std::vector<std::string> include = {"*.service"};
    std::vector<std::string> exclude;
    std::chrono::seconds snapshot_interval{300};
  } services;

  // What the server may ask of this host: the agent has the last word. A task outside these is
  // answered `refused`, naming the key that refuses it.
  struct Tasks {
    bool enabled = true;
    // Task kinds accepted at all.
    std::vector<std::string> kinds = {"service.start",    "service.stop", "service.restart",
                                      "service.reload",   "file.write",   "command.run",
                                      "inventory.refresh"};
    // Shell patterns on the units service tasks may act on.
    std::vector<std::string> units = {"*.service"};
    // Directories file.write may write under (none by default: it needs saying).
    std::vector<std::string> file_paths;
    // Commands command.run may run, each an argv prefix: "/usr/sbin/nginx -t" allows exactly that
    // command and arguments after it (none by default).
    std::vector<std::vector<std::string>> commands;
    // A task's own timeout is capped to this; a task without one gets `default_timeout`.
    std::chrono::seconds default_timeout{300};
    std::chrono::seconds max_timeout{3600};
  } tasks;

  // Link checks, normalized (defaults filled) and validated.
  std::vector<fleetdesk::v1::CheckSpec> checks;

  // Where each value the server may also set came from: "file" (this agent's own, which wins),
  // "server (profile NAME)", or "default". Keys: inventory_interval, services.include,
  // services.exclude, services.snapshot_interval, checks.NAME.
  std::map<std::string, std::string> sources;
};

// The server's settings (its agent profiles, merged for this host) laid under the file's: every
// value the file sets stays; the others come from the server when it sets them; a server check
// is added unless the file has one of that name. Fills `sources`.
AgentConfig WithServerConfig(const AgentConfig& file, const fleetdesk::v1::AgentConfig& server);

// The server's settings as last received, kept in the state directory so a restart applies them
// before the first connection. Absent or unreadable: none.
fleetdesk::v1::AgentConfig LoadServerConfig(const std::string& state_dir);
Status SaveServerConfig(const std::string& state_dir, const fleetdesk::v1::AgentConfig& config);
// The merged settings and their sources as JSON, for `collect`.
std::string DescribeConfig(const AgentConfig& config);

// A path as the kernel will take it: absolute, without empty, "." or ".." parts (one trailing
// slash allowed), so that comparing prefixes means what it says.
bool CleanAbsolutePath(const std::string& path);

Result<AgentConfig> LoadAgentConfig(const std::string& path, bool must_exist);
// The same from text; `name` stands for the file in messages.
Result<AgentConfig> ParseAgentConfig(const std::string& text, const std::string& name);
Result<AgentConfig> ReadAgentConfig(config::ConfigReader& reader, const std::string& name);

}  // namespace fleetdesk::agent
