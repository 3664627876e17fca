// What a configuration task does on the host, kind by kind, and whether this agent's config lets
// it. Blocking calls, made on the task thread; the agent never runs a shell.
//
//   service.start|stop|restart|reload  the matching systemd Manager method (mode "replace") on
//       the system bus, then waits for the job's JobRemoved signal: "done" (or "skipped") is
//       success, any other job result is failure; the unit's state afterwards is in the message.
//   file.write  content to a temporary file beside the target, mode and owner set, fsynced, and
//       renamed over it; the previous version is kept in the task's backup directory; nothing is
//       touched when the file already has that content, mode and owner. The SHA-256 of the
//       content is in the message either way.
//   command.run  argv as given (argv[0] an absolute path), no shell; stdin /dev/null; an
//       environment of PATH, LANG and FLEETDESK_TASK_ID only; its own process group, sent
//       SIGTERM at the timeout and SIGKILL five seconds later; stdout and stderr captured up to
//       a limit, their full sizes counted.
// inventory.refresh is the reporter's and not done here.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "agent/agent_config.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::tasks {

// Why the agent's config refuses the task, or nullopt when it allows it. `config_name` names the
// config file in the answer. Also refuses tasks whose parameters are missing or malformed.
std::optional<std::string> Refusal(const fleetdesk::v1::Task& task,
                                   const AgentConfig::Tasks& policy,
                                   const std::string& config_name);

// The timeout a task runs under: its own, capped by the config; the config's default when unset.
std::chrono::seconds Timeout(const fleetdesk::v1::Task& task, const AgentConfig::Tasks& policy);

struct ExecuteOptions {
  std::chrono::seconds timeout{300};
  // Where file.write keeps the version it replaced.
  std::string backup_dir;
  // For file.write's check of where a path really leads (symbolic links resolved).
  std::vector<std::string> file_paths;
  // Bytes of stdout and of stderr kept (the server keeps 64 KiB of each).
  std::size_t output_limit = 64 * 1024;
};

// Runs a task the config allows to its end and answers its final result (task id, state,
// exit code, duration, output, message).
fleetdesk::v1::TaskResult Execute(const fleetdesk::v1::Task& task, const ExecuteOptions& options);

}  // namespace fleetdesk::agent::tasks
