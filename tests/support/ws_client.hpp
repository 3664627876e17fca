// A blocking WebSocket-over-TLS client for tests that speak the agent protocol by hand (to send
// what a real agent never would). Each call has a timeout.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "common/net/tls_options.hpp"
#include "common/result.hpp"

namespace fleetdesk::testing {

class WsClient {
 public:
  // Errors name the step that failed: "connect", "TLS handshake", "WebSocket handshake".
  static Result<std::unique_ptr<WsClient>> Connect(
      const std::string& url, const net::ClientTlsOptions& tls,
      std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~WsClient();

  Status Send(const std::string& text);
  // A binary frame (the negotiated "protobuf" encoding).
  Status SendBinary(const std::string& bytes);
  // Whether the last message Read returned came in a text frame.
  bool last_was_text() const;
  // The next message; an error when the channel closed ("closed: <reason>") or on timeout.
  Result<std::string> Read(std::chrono::milliseconds timeout = std::chrono::seconds(5));
  // Reads for `duration` expecting nothing but control frames (pings are answered, as a real
  // agent's WebSocket does); an error when a message arrived or the channel ended. The read stays
  // pending for the next Read.
  Status Listen(std::chrono::milliseconds duration);

  struct Impl;

 private:
  explicit WsClient(std::unique_ptr<Impl> impl);
  static Status Write(Impl& impl, const std::string& bytes);
  std::unique_ptr<Impl> impl_;
};

}  // namespace fleetdesk::testing
