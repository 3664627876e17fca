// Takes the tasks the server sends and runs them, one at a time and in the order received, on a
// thread of their own so a slow command or job never holds up reports. Everything else happens
// on the agent's io_context thread: the decision to run (known id, expiry, the config's
// allow-list), the task log, and the results handed to the channel.
//
// A task runs at most once on this host: its id is written down before it starts, and an id
// seen before is never run again (its result is sent again if the server has not acked it).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent_config.hpp"
#include "agent/tasks/task_log.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace boost::asio {
class io_context;
}

namespace fleetdesk::agent::tasks {

struct RunnerHooks {
  // Each result, on the io thread: RUNNING when a task starts, then its final one.
  std::function<void(const fleetdesk::v1::TaskResult&)> result;
  // Does an inventory.refresh on the io thread and answers its final result.
  std::function<fleetdesk::v1::TaskResult(const fleetdesk::v1::Task&)> refresh_inventory;
};

class TaskRunner {
 public:
  // `config` is read again for each task, so a reload's allow-list applies to the next one.
  TaskRunner(boost::asio::io_context& io, TaskLog log, const AgentConfig& config,
             std::string config_name, RunnerHooks hooks);
  ~TaskRunner();
  TaskRunner(const TaskRunner&) = delete;
  TaskRunner& operator=(const TaskRunner&) = delete;

  // A task from the server. io thread.
  void Receive(const fleetdesk::v1::Task& task);
  // The server has a task's final result. io thread.
  void Ack(const std::string& task_id);
  // Final results the server has not acked, to send on a new connection. io thread.
  std::vector<fleetdesk::v1::TaskResult> Unacked() const;
  // No more tasks start; one under way is left to end with the process (its record says it was
  // running, and the next start reports it failed rather than running it again).
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::agent::tasks
