// The agent's one outbound connection: mutual TLS WebSocket to the gateway. Sends the hello,
// resends unacked reports, then a heartbeat report every interval; reads acks. Reconnects with
// exponential backoff and full jitter. Runs on one thread; no Beast in this header.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "agent/agent_config.hpp"
#include "agent/collectors/system.hpp"
#include "agent/identity.hpp"
#include "agent/journal/journal.hpp"

namespace boost::asio {
class io_context;
}

namespace fleetdesk::agent::channel {

class Channel {
 public:
  Channel(boost::asio::io_context& io, const AgentConfig& config, Identity identity,
          journal::Journal& journal, const collectors::SystemCollector& system);
  ~Channel();
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // Starts connecting (after the splay); runs until Stop.
  void Start();
  // Closes the channel politely and ends the loops; io.run() then returns.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::agent::channel
