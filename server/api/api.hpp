// The REST API under /api/v1, plus /healthz and /metrics: plain functions of a Request. Handlers
// run on the API worker pool (they may block on the database), never on network threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "server/api/pki.hpp"
#include "server/engine/metrics.hpp"
#include "server/engine/state.hpp"
#include "server/http/message.hpp"
#include "server/store/store_pool.hpp"

namespace google::protobuf {
class Message;
}

namespace fleetdesk::server::api {

struct ApiOptions {
  // Advertised to enrolling agents. When empty, the host the agent addressed the API by, with
  // `agent_port`, is advertised: an agent that reached us by a name reaches the gateway by it.
  std::vector<std::string> gateway_urls;
  unsigned short agent_port = 8441;
  std::chrono::hours agent_certificate_validity{24 * 365};
};

class Api {
 public:
  Api(ApiOptions options, store::StorePool& stores, engine::StateEngine& engine, const Pki& pki,
      ServerMetrics& metrics)
      : options_(std::move(options)),
        stores_(stores),
        engine_(engine),
        pki_(pki),
        metrics_(metrics) {}

  // Thread-safe. Always answers: errors become the JSON error contract of docs/API.md.
  http::Response Handle(const http::Request& request);

 private:
  Result<http::Response> Route(const http::Request& request);
  Result<http::Response> Enroll(const http::Request& request);
  // Hosts and search (hosts_api.cpp).
  Result<http::Response> RouteHosts(const http::Request& request, const store::Principal& who);
  Result<http::Response> ListHosts(const http::Request& request);
  Result<http::Response> ExportHosts(const http::Request& request);
  Result<http::Response> ImportHosts(const http::Request& request, const store::Principal& who);
  Result<http::Response> RegisterHost(const http::Request& request, const store::Principal& who);
  Result<http::Response> GetHost(std::int64_t id);
  Result<http::Response> PatchHost(std::int64_t id, const http::Request& request,
                                   const store::Principal& who);
  Result<http::Response> ArchiveHost(std::int64_t id, const store::Principal& who);
  Result<http::Response> HostHistory(std::int64_t id, const http::Request& request);
  Result<http::Response> HostMetrics(std::int64_t id, const http::Request& request);
  Result<http::Response> Search(const http::Request& request);
  Result<http::Response> Healthz();
  Result<store::Principal> Authenticate(const http::Request& request);

  ApiOptions options_;
  store::StorePool& stores_;
  engine::StateEngine& engine_;
  const Pki& pki_;
  ServerMetrics& metrics_;
};

// The query string's parameters, percent-decoded ('+' is a space). Errors: kInvalidArgument for
// a malformed escape or a parameter given twice.
Result<std::map<std::string, std::string>> ParseQuery(const std::string& query);

// A JSON answer with every field, defaults too.
http::Response Json(int status, const google::protobuf::Message& message);

// The one mapping from error codes to HTTP statuses.
int HttpStatus(ErrorCode code);
http::Response ErrorResponse(const Error& error);

}  // namespace fleetdesk::server::api
