// An API request and response as plain structs: what the Beast adapter in http_server.cpp hands
// to the API and gets back. Nothing here knows about sockets.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fleetdesk::server::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query, not percent-decoded
  std::string query;   // after '?', not decoded
  std::string host;    // the Host header, as the client addressed us
  std::string authorization;
  std::string cookie;           // the Cookie header
  std::string csrf_token;       // the X-CSRF-Token header
  std::string idempotency_key;  // the Idempotency-Key header
  std::string accept_encoding;  // the Accept-Encoding header
  std::string if_none_match;    // the If-None-Match header
  std::string last_event_id;    // the Last-Event-ID header (an event stream resumed)
  std::string content_type;
  std::string body;
  std::string remote_address;
};

// What a response that stays open sends, after its headers, until it ends: server-sent events.
// The listener asks Next() on the connection's strand every `poll` and after each write, and
// never from two threads at once; Next() must not block.
class StreamSource {
 public:
  virtual ~StreamSource() = default;
  // The bytes to send now (empty: nothing yet), or nullopt when the stream is over.
  virtual std::optional<std::string> Next() = 0;
  std::chrono::milliseconds poll{200};
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Set: `body` is ignored, and what the source gives is sent as it comes, in chunks.
  std::shared_ptr<StreamSource> stream;
};

}  // namespace fleetdesk::server::http
