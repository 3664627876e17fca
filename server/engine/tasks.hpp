// Sends configuration tasks to the agents connected to this server and records what they say.
//
// One thread. Each round it records the results the channels handed over (in one transaction),
// then acks the final ones to their agents (an agent resends a final result on every new
// connection until it is acked), then reads which hosts are due a task, keeps those whose agents
// have a channel here, marks them sent (in one transaction: a host marked by another server, or
// cancelled meanwhile, is not sent it) and hands each its task. A round runs every `tick`, and at
// once when woken: a task submitted here, an agent connected, a result arrived. Every server does
// this for its own channels, so a task submitted on one server reaches an agent connected to
// another within a tick.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fleetdesk/v1/agent.pb.h"
#include "server/store/shared_store.hpp"

namespace fleetdesk::server::engine {

// What the dispatcher needs of the gateway.
struct TaskChannels {
  // Whether the agent has a channel on this server.
  std::function<bool(const std::string& agent_id)> connected;
  // Queues the task on the agent's channel; false when it has none (any more).
  std::function<bool(const std::string& agent_id, const fleetdesk::v1::Task& task)> send;
  // Tells the agent the server is done with a task's final result, so it stops resending it.
  std::function<void(const std::string& agent_id, const std::string& task_id)> ack;
  // The agents with a channel here, and sending one its settings (false when it has no channel).
  std::function<std::vector<std::string>()> connected_agents;
  std::function<bool(const std::string& agent_id, const fleetdesk::v1::AgentConfig& config)> config;
};

struct TaskDispatcherOptions {
  std::chrono::milliseconds tick{1'000};
  // Several servers on one PostgreSQL: opens a LISTEN connection on store::kTasksChannel; each
  // notification wakes the dispatcher (a second thread waits on it). Unset on SQLite.
  std::function<Result<std::unique_ptr<store::Listener>>()> listen;
  // Due hosts read per statement; a round reads page after page, so hosts offline for a task
  // never keep one connected here from being sent the next.
  int page = 5'000;
};

class TaskDispatcher {
 public:
  TaskDispatcher(std::shared_ptr<store::SharedStore> store, TaskChannels channels,
                 TaskDispatcherOptions options = {});
  ~TaskDispatcher();
  TaskDispatcher(const TaskDispatcher&) = delete;
  TaskDispatcher& operator=(const TaskDispatcher&) = delete;

  void Start();
  void Stop();
  // Runs a round now. Thread-safe.
  void Wake();
  // An agent's word on a task, from its channel. Thread-safe, never blocks on the database.
  void Submit(std::string agent_id, fleetdesk::v1::TaskResult result);
  // An agent's channel opened: it is sent the tasks it is due, and its settings (its agent
  // profiles, merged) when it has any or holds some from before (an empty config drops them).
  // Thread-safe.
  void AgentConnected(const std::string& agent_id, bool holds_server_config);

 private:
  void Run();
  void Round();
  // Sends the hosts of one page of due ones whose agents are here.
  void SendPage(const std::vector<store::DueTaskHost>& due, std::int64_t now_ms);
  void RecordResults();
  // Sends the agents that connected their settings, and every connected agent whose settings
  // changed (a profile changed; every 30 s, for changed host tags).
  void PushConfigs();
  // The listening thread's loop: wakes the dispatcher on each notification, reconnecting (and
  // waking it once, for what it may have missed) after a lost connection.
  void Listen();

  std::shared_ptr<store::SharedStore> store_;
  TaskChannels channels_;
  TaskDispatcherOptions options_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::vector<store::AgentTaskResult> results_;
  // Agents connected since the last round, and whether each holds settings from before.
  std::map<std::string, bool> config_due_;
  // Task thread only: what each agent was sent last (a hash of its settings), the profiles as
  // last read, and when every connected agent is looked at again.
  std::map<std::string, std::size_t> config_sent_;
  std::string profiles_version_;
  std::chrono::steady_clock::time_point next_config_pass_{};
  std::thread thread_;
  std::thread listen_thread_;
};

// The result an agent sent, as the store keeps it: its fields checked and trimmed, the task id
// read. Errors: kInvalidArgument naming the field.
Result<store::AgentTaskResult> ResultFromAgent(const std::string& agent_id,
                                               const fleetdesk::v1::TaskResult& result);

}  // namespace fleetdesk::server::engine
