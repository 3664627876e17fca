// The agent gateway (:8441): mutual TLS, then one WebSocket per agent at /agent/v1/channel.
// Reports are decoded here, judged by the state engine, committed by the writer, and acked on
// the same channel once committed. Network threads never wait for the database.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/crypto.hpp"
#include "common/result.hpp"
#include "server/engine/metrics.hpp"
#include "server/engine/state.hpp"
#include "server/engine/writer.hpp"

namespace boost::asio {
class io_context;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace fleetdesk::v1 {
class Task;
class TaskResult;
}  // namespace fleetdesk::v1

namespace fleetdesk::server::gateway {

struct GatewayOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 8441;
  // TLS plus WebSocket upgrade must finish within this; a stalled client is dropped.
  std::chrono::seconds handshake_timeout{10};
  // Told to agents in the Welcome; a channel silent for 3 intervals is closed.
  std::chrono::seconds heartbeat_interval{30};
  // The largest message taken from an agent (a full report with every package is ~2 MiB).
  std::size_t max_message_bytes = 4U << 20U;
  // Messages a second per channel, on average and in a burst. A faster agent is not refused:
  // its channel is read more slowly (TCP pushes back), so a resend after an outage is paced.
  double rate_limit = 200;
  double rate_burst = 1000;
  // Signs renewed agent certificates (RenewRequest); without a key, renewals are refused.
  crypto::KeyAndCertificate ca;
  std::chrono::seconds certificate_validity{std::chrono::hours(24 * 365)};
  // How many threads run the io_context. With one, a channel needs no strand: its handlers run
  // in turn on that thread already, and skipping the strand saves a queue per handler.
  int network_threads = 1;
};

class Gateway {
 public:
  Gateway(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
          GatewayOptions options, engine::StateEngine& engine, engine::Writer& writer,
          ServerMetrics& metrics);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  Status Start();
  unsigned short port() const;
  // Closes the agent's channel, if it has one here, telling it why (revoked, archived). Thread-
  // safe. The agent's next hello is refused by the state engine.
  void Disconnect(const std::string& agent_id, const std::string& reason);

  // Whether the agent has a channel here. Thread-safe.
  bool Connected(const std::string& agent_id) const;
  // The agents with a channel here. Thread-safe.
  std::vector<std::string> ConnectedAgents() const;
  // Queues a message (a task, a task's ack) on the agent's channel; false when it has none here.
  // Thread-safe.
  bool Send(const std::string& agent_id, fleetdesk::v1::ServerMessage message);
  // Set before Start: called on a network thread with each task result an agent sends (to be
  // handed on, never to block), and with each agent once its channel is open.
  void OnTaskResult(
      std::function<void(const std::string& agent_id, const fleetdesk::v1::TaskResult&)> handler);
  void OnAgentConnected(
      std::function<void(const std::string& agent_id, bool holds_server_config)> handler);

  // Stops accepting and closes every channel with "going away"; agents reconnect elsewhere or
  // later. Reports already received are committed by the writer, which outlives the gateway.
  void Stop();

  // Opaque; public only so the sessions in gateway.cpp can name it.
  struct Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::server::gateway
