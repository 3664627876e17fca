// An API request and response as plain structs: what the Beast adapter in http_server.cpp hands
// to the API and gets back. Nothing here knows about sockets.
#pragma once

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
  std::string content_type;
  std::string body;
  std::string remote_address;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

}  // namespace fleetdesk::server::http
