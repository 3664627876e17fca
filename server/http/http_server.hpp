// The HTTPS listener of the API and dashboard (:8443). The only Beast user on the API side: it
// turns requests into http::Request, runs the handler on the worker pool (handlers may block on
// the database) and writes the http::Response back on the connection's strand.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.hpp"
#include "server/http/message.hpp"

namespace boost::asio {
class io_context;
class thread_pool;
namespace ssl {
class context;
}
}  // namespace boost::asio

namespace fleetdesk::server::http {

using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  std::string address = "0.0.0.0";
  unsigned short port = 8443;
  std::size_t max_body_bytes = 1U << 20U;  // 1 MiB: the largest body most of the API takes
  // Paths that take a bigger body, read only once the headers are in: a CSV import, an
  // attachment. A "{id}" segment stands for any one segment.
  std::vector<std::pair<std::string, std::size_t>> larger_bodies;
  std::size_t max_header_bytes = 16U << 10U;
  std::chrono::seconds request_timeout{30};  // a slow client is cut off after this
};

// Parses one whole request from `bytes` with the listener's own parser and limits, as the
// listener would hand it to the handler; for the fuzzer and tests. Errors: kInvalidArgument for a
// malformed or incomplete request, kResourceExhausted past the size limits.
Result<Request> ParseRequest(std::string_view bytes, const HttpServerOptions& options,
                             const std::string& remote_address);

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, std::shared_ptr<boost::asio::ssl::context> tls,
             boost::asio::thread_pool& workers, HttpServerOptions options, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; an error names the address that could not be bound.
  Status Start();
  // The port actually bound (useful when 0 was asked for).
  unsigned short port() const;
  // Stops accepting and closes idle connections; requests in progress finish.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::server::http
