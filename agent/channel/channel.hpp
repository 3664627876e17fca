// The agent's one outbound connection: mutual TLS WebSocket to the gateway. Sends the hello,
// resends unacked reports, then a report every interval and one at once for each state change;
// reads acks. Reconnects with exponential backoff and full jitter. Runs on one thread; no Beast
// in this header.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/agent_config.hpp"
#include "agent/collectors/system.hpp"
#include "agent/identity.hpp"
#include "agent/journal/journal.hpp"
#include "agent/reporter.hpp"

namespace boost::asio {
class io_context;
}

namespace fleetdesk::agent::channel {

// What the channel hands to the task runner and asks of it; all on the io thread.
struct TaskHooks {
  std::function<void(const fleetdesk::v1::Task&)> received;
  std::function<void(const std::string& task_id)> acked;
  // Final results the server has not acked: sent first on each new connection.
  std::function<std::vector<fleetdesk::v1::TaskResult>()> unacked;
};

class Channel {
 public:
  // Makes the report of the given kind; nullopt when there is nothing to send.
  using ReportSource = std::function<std::optional<fleetdesk::v1::Report>(ReportKind)>;

  // `config` is read again at each use, so a reload that changes it takes effect.
  Channel(boost::asio::io_context& io, const AgentConfig& config, Identity identity,
          journal::Journal& journal, const collectors::SystemCollector& system,
          ReportSource source);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Starts connecting (after the splay); runs until Stop.
  void Start();
  // Closes the channel politely and ends the loops; io.run() then returns.
  void Stop();
  // Something changed that should not wait for the next interval: make an event report now.
  void ReportSoon();
  // Set before Start.
  void SetTaskHooks(TaskHooks hooks);
  // Set before Start: the settings the server sends (its agent profiles, merged for this host),
  // on each connection and whenever they change. io thread.
  void OnServerConfig(std::function<void(const fleetdesk::v1::AgentConfig&)> handler);
  // Whether this agent holds settings a server sent, said in each hello. io thread.
  void SetHoldsServerConfig(bool holds);
  // Sends a task's result now when connected; dropped otherwise (a final result is in the task
  // log and goes out on the next connection). io thread.
  void SendTaskResult(const fleetdesk::v1::TaskResult& result);
  // Journals a report made outside the interval (an inventory refresh) and wakes the sender;
  // answers its sequence number. io thread.
  Result<std::uint64_t> Enqueue(fleetdesk::v1::Report report);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::agent::channel
