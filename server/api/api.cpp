#include "server/api/api.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "server/api/auth.hpp"
#include "server/api/hosts_io.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

// Enrollment bodies are a CSR and three short strings; 64 KiB is generous.
constexpr std::size_t kMaxEnrollBody = 64 * 1024;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

// systemd's machine-id is 32 hex digits; other init systems use other forms, so allow any short
// token of safe characters.
bool ValidMachineId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  return id.find_first_not_of(
             "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") ==
         std::string::npos;
}

std::string ProcessMetrics() {
  std::ifstream stat("/proc/self/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = content.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream fields(content.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  // Fields after the command name start at field 3 (state); utime is 14, stime 15, rss 24.
  if (f.size() < 22) return {};
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  const double rss = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ostringstream out;
  out << "# HELP process_cpu_seconds_total User and system CPU time.\n"
      << "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total " << cpu << "\n"
      << "# HELP process_resident_memory_bytes Resident memory.\n"
      << "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes "
      << static_cast<std::uint64_t>(rss) << "\n";
  return out.str();
}

}  // namespace

// REST answers carry every field, defaults too ("items": [], "connected": false), so clients
// need not know proto3's omission rules.
http::Response Json(int status, const google::protobuf::Message& message) {
  http::Response response;
  response.status = status;
  response.body = codec::ToApiJson(message);
  return response;
}

Result<std::map<std::string, std::string>> ParseQuery(const std::string& query) {
  auto decode = [](std::string_view text) -> std::optional<std::string> {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] == '+') {
        out += ' ';
      } else if (text[i] == '%') {
        if (i + 2 >= text.size()) return std::nullopt;
        unsigned value = 0;
        auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
        if (ec != std::errc() || end != text.data() + i + 3) return std::nullopt;
        out += static_cast<char>(value);
        i += 2;
      } else {
        out += text[i];
      }
    }
    return out;
  };
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto end = query.find('&', start);
    if (end == std::string::npos) end = query.size();
    std::string_view part(query.data() + start, end - start);
    start = end + 1;
    if (part.empty()) continue;
    auto eq = part.find('=');
    auto key = decode(part.substr(0, eq));
    auto value = decode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!key || !value) {
      return Invalid("the query string has a malformed %-escape in '" + std::string(part) + "'");
    }
    if (!out.emplace(*key, *value).second) {
      return Invalid("query parameter '" + *key + "' is given twice");
    }
  }
  return out;
}

int HttpStatus(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kPermissionDenied:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kAlreadyExists:
      return 409;
    case ErrorCode::kFailedPrecondition:
      return 412;
    case ErrorCode::kResourceExhausted:
      return 413;
    case ErrorCode::kMethodNotAllowed:
      return 405;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

http::Response ErrorResponse(const Error& error) {
  fleetdesk::v1::ErrorResponse body;
  body.mutable_error()->set_code(ErrorCodeName(error.code));
  body.mutable_error()->set_message(error.message);
  auto response = Json(HttpStatus(error.code), body);
  if (error.code == ErrorCode::kUnauthenticated) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  return response;
}

http::Response Api::Handle(const http::Request& request) {
  metrics_.http_requests_total.fetch_add(1, std::memory_order_relaxed);
  auto result = Route(request);
  if (!result) {
    metrics_.http_errors_total.fetch_add(1, std::memory_order_relaxed);
    if (result.error().code == ErrorCode::kInternal ||
        result.error().code == ErrorCode::kUnavailable) {
      spdlog::error("{} {}: {}", request.method, request.path, result.error().message);
    }
    return ErrorResponse(result.error());
  }
  if (result->status >= 400) metrics_.http_errors_total.fetch_add(1, std::memory_order_relaxed);
  return std::move(*result);
}

Result<http::Response> Api::Route(const http::Request& request) {
  const std::string& path = request.path;
  // A wrong method is answered 405 with the Allow header HTTP asks for.
  auto only = [&](const char* method) -> std::optional<http::Response> {
    if (request.method == method) return std::nullopt;
    auto response =
        ErrorResponse(MakeError(ErrorCode::kMethodNotAllowed,
                                request.method + " is not allowed on " + path + "; use " + method));
    response.headers.emplace_back("Allow", method);
    return response;
  };
  if (path == "/healthz") {
    if (auto wrong = only("GET")) return *wrong;
    return Healthz();
  }
  if (path == "/metrics") {
    if (auto wrong = only("GET")) return *wrong;
    http::Response response;
    response.content_type = "text/plain; version=0.0.4";
    response.body = metrics_.Render() + ProcessMetrics();
    return response;
  }
  if (path == "/api/v1/ca") {
    // The CA certificate is public; agents compare it with their pinned fingerprint before
    // sending an enrollment token.
    if (auto wrong = only("GET")) return *wrong;
    http::Response response;
    response.content_type = "application/x-pem-file";
    response.body = pki_.ca.certificate_pem;
    return response;
  }
  if (path == "/api/v1/enroll") {
    if (auto wrong = only("POST")) return *wrong;
    return Enroll(request);
  }
  if (path == "/api/v1/hosts" || path.rfind("/api/v1/hosts/", 0) == 0 || path == "/api/v1/search") {
    // Who is asking comes before what they ask: an unauthenticated caller learns nothing of
    // which methods or resources exist.
    auto principal = Authenticate(request);
    if (!principal) return principal.error();
    if (path == "/api/v1/search") {
      if (auto wrong = only("GET")) return *wrong;
      return Search(request);
    }
    return RouteHosts(request, *principal);
  }
  return MakeError(ErrorCode::kNotFound, "no resource at " + path);
}

Result<store::Principal> Api::Authenticate(const http::Request& request) {
  static constexpr std::string_view kBearer = "Bearer ";
  if (request.authorization.empty()) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "this call needs an API token: send 'Authorization: Bearer TOKEN'");
  }
  if (request.authorization.rfind(kBearer, 0) != 0) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "the Authorization header must be 'Bearer TOKEN'");
  }
  auto token = request.authorization.substr(kBearer.size());
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto principal = (*store)->FindApiToken(auth::HashToken(token), NowMs());
  if (!principal) return principal.error();
  if (!*principal) {
    return MakeError(ErrorCode::kUnauthenticated, "the API token is unknown, revoked or expired");
  }
  return **principal;
}

Result<http::Response> Api::Healthz() {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto version = (*store)->SchemaVersion();
  if (!version) return version.error();
  http::Response response;
  response.body = R"({"status":"ok","schemaVersion":)" + std::to_string(*version) + R"(,"hosts":)" +
                  std::to_string(engine_.size()) + "}";
  return response;
}

Result<http::Response> Api::Enroll(const http::Request& request) {
  if (request.body.size() > kMaxEnrollBody) {
    return MakeError(ErrorCode::kResourceExhausted, "enrollment body is larger than 64 KiB");
  }
  auto parsed = codec::Parse<fleetdesk::v1::EnrollRequest>(request.body);
  if (!parsed) return parsed.error();
  const auto& req = *parsed;
  if (req.token().empty()) return Invalid("token is required");
  if (req.csr().empty()) return Invalid("csr is required (a PEM certificate request)");
  if (!ValidHostname(req.hostname())) {
    return Invalid("hostname must be 1 to 253 letters, digits, '-' or '.'");
  }
  if (!ValidMachineId(req.machine_id())) {
    return Invalid("machineId must be 1 to 128 letters, digits, '-', '_' or '.'");
  }
  if (auto s = CheckAttribute("serial", req.serial()); !s) return s.error();

  auto store = stores_.Acquire();
  if (!store) return store.error();
  const auto token_hash = auth::HashToken(req.token());
  // Refuse a bad token before spending a signature on an unauthenticated request.
  if (auto usable = (*store)->CheckEnrollmentToken(token_hash, NowMs()); !usable) {
    spdlog::warn("enrollment of {} from {} refused: {}", req.hostname(), request.remote_address,
                 usable.error().message);
    return usable.error();
  }
  const auto agent_id = crypto::NewUuid();
  auto certificate = crypto::Sign(
      pki_.ca,
      {req.csr(), agent_id, {}, crypto::Usage::kClient, options_.agent_certificate_validity});
  if (!certificate) return Invalid("csr: " + certificate.error().message);
  store::NewAgent agent{agent_id,     req.machine_id(),        req.hostname(),
                        req.serial(), certificate->serial_hex, certificate->not_after_unix,
                        NowMs()};
  auto host = (*store)->EnrollAgent(token_hash, agent);
  if (!host) {
    spdlog::warn("enrollment of {} from {} refused: {}", req.hostname(), request.remote_address,
                 host.error().message);
    return host.error();
  }
  engine_.Upsert(*host);
  metrics_.enrollments_total.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("enrolled {} (machine {}) as agent {} from {}", req.hostname(), req.machine_id(),
               agent_id, request.remote_address);

  fleetdesk::v1::EnrollResponse response;
  response.set_agent_id(agent_id);
  response.set_certificate(certificate->certificate_pem);
  response.set_ca_certificate(pki_.ca.certificate_pem);
  for (const auto& url : options_.gateway_urls) response.add_gateway_urls(url);
  if (options_.gateway_urls.empty()) {
    std::string host = request.host;
    // Strip the API port: "name:8443" or "[::1]:8443".
    auto colon = host.rfind(':');
    if (colon != std::string::npos && host.find(']', colon) == std::string::npos) {
      host.resize(colon);
    }
    if (host.empty()) host = "localhost";
    response.add_gateway_urls("wss://" + host + ":" + std::to_string(options_.agent_port) +
                              "/agent/v1/channel");
  }
  return Json(200, response);
}

}  // namespace fleetdesk::server::api
