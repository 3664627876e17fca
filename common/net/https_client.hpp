// A blocking HTTPS client for the few calls made outside the agent channel: enrollment, the CA
// fetch, command-line tools and tests. No Beast in this header.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "common/net/tls_options.hpp"
#include "common/result.hpp"

namespace fleetdesk::net {

struct Url {
  std::string scheme;  // "https", "wss", "http" or "ws"
  std::string host;    // without brackets for IPv6
  std::string port;
  std::string target;  // path and query, "/" at least
};

// Accepts https:// and wss:// URLs; the port defaults to 443.
Result<Url> ParseUrl(const std::string& text);
// Accepts http://, https://, ws:// and wss://; the port defaults to 80 or 443.
Result<Url> ParseAnyUrl(const std::string& text);

struct HttpsRequest {
  std::string method = "GET";
  std::string url;
  std::string body;
  std::string content_type = "application/json";
  std::map<std::string, std::string> headers;
  ClientTlsOptions tls;
  std::chrono::milliseconds timeout{10000};
  // Check the server certificate names the URL's host (skipped only when tls.ca_pem is empty).
  bool verify_host_name = true;
};

struct HttpsResponse {
  int status = 0;
  std::string body;
  std::string content_type;
  // The server's leaf and chain certificates as PEM, leaf first.
  std::string peer_chain_pem;
};

// Transport failures (refused, TLS, timeout) are kUnavailable errors; any HTTP status is a value.
Result<HttpsResponse> Fetch(const HttpsRequest& request);

}  // namespace fleetdesk::net
