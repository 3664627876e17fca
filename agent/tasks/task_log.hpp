// What this agent remembers of the tasks it was sent, in <state_dir>/tasks: so that no task runs
// twice on the host, and no final result is lost before the server has it.
//
// A task is written down (and fsynced) before it starts; its final result replaces that record
// the same way; the server's ack marks it done. Each record is one file named after the task id:
//   <id>.pending  a serialized TaskResult: RUNNING while the task runs, then the final result
//                 that the agent sends again on each new connection until it is acked;
//   <id>.done     the same, acked.
// A task found RUNNING when the agent starts was cut short by a stop or a crash: it becomes
// FAILED, saying so, and is not run again. Records are kept for `keep` after they were acked
// (the server never sends a task twice, so this guards against mistakes, not a protocol rule),
// and together with a task's kept previous file versions (<id>.backup/).
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::tasks {

class TaskLog {
 public:
  // Creates the directory when missing, drops half-written files, turns interrupted tasks into
  // failed ones and forgets records acked longer ago than `keep`.
  static Result<TaskLog> Open(const std::string& dir,
                              std::chrono::hours keep = std::chrono::hours(24 * 30));

  // A task id the agent can use as a file name: decimal digits, as the server writes them.
  static bool ValidId(const std::string& id);

  // Whether the task was ever sent to this agent (running, finished or acked).
  bool Known(const std::string& id) const { return entries_.contains(id); }
  // Written down before the task starts. Errors: kUnavailable when the disk refuses; the task
  // must then not run.
  Status Begin(const std::string& id);
  // The task's final result, kept until the server acks it.
  Status Finish(const fleetdesk::v1::TaskResult& result);
  // The server has the result; unknown ids are ignored.
  void Ack(const std::string& id);
  // Final results the server has not acked, oldest task first.
  std::vector<fleetdesk::v1::TaskResult> Unacked() const;
  // Where a task keeps the previous versions of the files it replaced.
  std::string BackupDir(const std::string& id) const { return dir_ + "/" + id + ".backup"; }
  const std::string& dir() const { return dir_; }

 private:
  explicit TaskLog(std::string dir) : dir_(std::move(dir)) {}
  Status Write(const std::string& id, const fleetdesk::v1::TaskResult& result);

  struct Entry {
    bool acked = false;
    std::optional<fleetdesk::v1::TaskResult> result;  // unacked ones only
  };
  std::string dir_;
  std::map<std::string, Entry> entries_;
};

}  // namespace fleetdesk::agent::tasks
