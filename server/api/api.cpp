#include "server/api/api.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "server/api/auth.hpp"
#include "server/api/hosts_io.hpp"
#include "server/api/params.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

// Enrollment bodies are a CSR and three short strings; 64 KiB is generous.
constexpr std::size_t kMaxEnrollBody = 64 * 1024;

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
    case ErrorCode::kRateLimited:
      return 429;
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
  // A message may quote the request's own bytes: they go back as valid UTF-8.
  body.mutable_error()->set_message(codec::Utf8Text(error.message));
  auto response = Json(HttpStatus(error.code), body);
  if (error.code == ErrorCode::kUnauthenticated) {
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
  }
  if (error.code == ErrorCode::kRateLimited && error.retry_after_seconds > 0) {
    response.headers.emplace_back("Retry-After", std::to_string(error.retry_after_seconds));
  }
  return response;
}

http::Response Api::Handle(const http::Request& request) {
  metrics_.http_requests_total.fetch_add(1, std::memory_order_relaxed);
  auto result = Dispatch(request);
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

const std::vector<Api::Endpoint>& Api::Endpoints() {
  using G = Gate;
  // Every endpoint, with who may call it. docs/API.md lists the same table; the permission-matrix
  // test calls each one as each role.
  static const std::vector<Endpoint> routes = {
      {"GET", "/healthz", G::kPublic, {}, &Api::Healthz},
      {"GET", "/metrics", G::kPublic, {}, &Api::Metrics},
      {"GET", "/api/v1/ca", G::kPublic, {}, &Api::CaCertificate},
      {"POST", "/api/v1/enroll", G::kPublic, {}, &Api::Enroll},
      {"POST", "/api/v1/session", G::kPublic, {}, &Api::SignIn},
      {"GET", "/api/v1/session", G::kSignedIn, {}, &Api::GetSession},
      {"DELETE", "/api/v1/session", G::kSignedIn, {}, &Api::SignOut},
      {"POST", "/api/v1/session/password", G::kSignedIn, {}, &Api::ChangeOwnPassword},
      {"GET", "/api/v1/events", G::kSignedIn, {}, &Api::Events},
      {"GET", "/api/v1/overview", G::kPermission, {"hosts", "read"}, &Api::Overview},
      {"GET", "/api/v1/rules", G::kPermission, {"rules", "read"}, &Api::Rules},
      {"GET", "/api/v1/hosts", G::kPermission, {"hosts", "read"}, &Api::ListHosts},
      {"POST", "/api/v1/hosts", G::kPermission, {"hosts", "write"}, &Api::RegisterHost},
      {"GET", "/api/v1/hosts/export", G::kPermission, {"hosts", "read"}, &Api::ExportHosts},
      {"POST", "/api/v1/hosts/import", G::kPermission, {"hosts", "write"}, &Api::ImportHosts},
      {"GET", "/api/v1/hosts/{id}", G::kPermission, {"hosts", "read"}, &Api::GetHost},
      {"PATCH", "/api/v1/hosts/{id}", G::kPermission, {"hosts", "write"}, &Api::PatchHost},
      {"GET", "/api/v1/hosts/{id}/history", G::kPermission, {"hosts", "read"}, &Api::HostHistory},
      {"GET", "/api/v1/hosts/{id}/metrics", G::kPermission, {"hosts", "read"}, &Api::HostMetrics},
      {"GET", "/api/v1/hosts/{id}/tasks", G::kPermission, {"tasks", "read"}, &Api::HostTasks},
      {"GET",
       "/api/v1/hosts/{id}/agent-config",
       G::kPermission,
       {"agent_profiles", "read"},
       &Api::HostAgentConfig},
      {"POST",
       "/api/v1/hosts/{id}/archive",
       G::kPermission,
       {"hosts", "archive"},
       &Api::ArchiveHost},
      {"GET", "/api/v1/search", G::kPermission, {"search", "read"}, &Api::Search},
      {"GET", "/api/v1/users", G::kPermission, {"users", "read"}, &Api::ListUsers},
      {"POST", "/api/v1/users", G::kPermission, {"users", "write"}, &Api::CreateUser},
      {"GET", "/api/v1/users/{id}", G::kPermission, {"users", "read"}, &Api::GetUser},
      {"PATCH", "/api/v1/users/{id}", G::kPermission, {"users", "write"}, &Api::PatchUser},
      {"GET", "/api/v1/tokens", G::kPermission, {"api_tokens", "own"}, &Api::ListApiTokens},
      {"POST", "/api/v1/tokens", G::kPermission, {"api_tokens", "own"}, &Api::CreateApiToken},
      {"DELETE",
       "/api/v1/tokens/{id}",
       G::kPermission,
       {"api_tokens", "own"},
       &Api::RevokeApiToken},
      {"GET",
       "/api/v1/enrollment-tokens",
       G::kPermission,
       {"enrollment_tokens", "read"},
       &Api::ListEnrollmentTokens},
      {"POST",
       "/api/v1/enrollment-tokens",
       G::kPermission,
       {"enrollment_tokens", "write"},
       &Api::CreateEnrollmentToken},
      {"DELETE",
       "/api/v1/enrollment-tokens/{id}",
       G::kPermission,
       {"enrollment_tokens", "write"},
       &Api::RevokeEnrollmentToken},
      {"GET", "/api/v1/audit", G::kPermission, {"audit", "read"}, &Api::ListAudit},
      {"POST",
       "/api/v1/agents/{agent}/revoke",
       G::kPermission,
       {"agents", "revoke"},
       &Api::RevokeAgent},
      {"GET", "/api/v1/tickets", G::kPermission, {"tickets", "read"}, &Api::ListTickets},
      {"GET", "/api/v1/tickets/search", G::kPermission, {"tickets", "read"}, &Api::SearchTickets},
      {"POST", "/api/v1/tickets", G::kPermission, {"tickets", "create"}, &Api::CreateTicket},
      {"GET", "/api/v1/tickets/{id}", G::kPermission, {"tickets", "read"}, &Api::GetTicket},
      {"PATCH", "/api/v1/tickets/{id}", G::kPermission, {"tickets", "edit"}, &Api::PatchTicket},
      // Each action is a permission of its own, checked once the body names it.
      {"POST", "/api/v1/tickets/{id}/actions", G::kSignedIn, {}, &Api::ActOnTicket},
      {"GET",
       "/api/v1/tickets/{id}/timeline",
       G::kPermission,
       {"tickets", "read"},
       &Api::TicketTimeline},
      {"GET", "/api/v1/tickets/{id}/notes", G::kPermission, {"tickets", "read"}, &Api::ListNotes},
      // Public or internal: the body says which, and so which permission.
      {"POST", "/api/v1/tickets/{id}/notes", G::kSignedIn, {}, &Api::AddNote},
      {"GET",
       "/api/v1/tickets/{id}/attachments",
       G::kPermission,
       {"tickets", "read"},
       &Api::ListAttachments},
      {"POST",
       "/api/v1/tickets/{id}/attachments",
       G::kPermission,
       {"attachments", "add"},
       &Api::AddAttachment},
      {"GET",
       "/api/v1/tickets/{id}/attachments/{id}/content",
       G::kPermission,
       {"tickets", "read"},
       &Api::GetAttachmentContent},
      {"DELETE",
       "/api/v1/tickets/{id}/attachments/{id}",
       G::kPermission,
       {"attachments", "remove"},
       &Api::RemoveAttachment},
      {"GET",
       "/api/v1/tickets/{id}/notifications",
       G::kPermission,
       {"notifications", "read"},
       &Api::ListTicketNotifications},
      {"GET",
       "/api/v1/tickets/{id}/worklog",
       G::kPermission,
       {"tickets", "read"},
       &Api::ListWorklog},
      {"POST",
       "/api/v1/tickets/{id}/worklog",
       G::kPermission,
       {"worklog", "append"},
       &Api::AppendWorklog},
      {"GET", "/api/v1/reports/monthly", G::kPermission, {"reports", "read"}, &Api::MonthlyReport},
      {"GET", "/api/v1/reports/noise", G::kPermission, {"reports", "read"}, &Api::NoiseReport},
      {"GET",
       "/api/v1/maintenance",
       G::kPermission,
       {"maintenance", "read"},
       &Api::ListMaintenance},
      {"POST",
       "/api/v1/maintenance",
       G::kPermission,
       {"maintenance", "write"},
       &Api::CreateMaintenance},
      {"POST",
       "/api/v1/maintenance/{id}/end",
       G::kPermission,
       {"maintenance", "write"},
       &Api::EndMaintenance},
      {"GET", "/api/v1/tasks", G::kPermission, {"tasks", "read"}, &Api::ListTasks},
      {"POST", "/api/v1/tasks", G::kPermission, {"tasks", "submit"}, &Api::SubmitTask},
      {"GET", "/api/v1/tasks/{id}", G::kPermission, {"tasks", "read"}, &Api::GetTaskView},
      {"POST", "/api/v1/tasks/{id}/cancel", G::kPermission, {"tasks", "cancel"}, &Api::CancelTask},
      {"GET",
       "/api/v1/agent-profiles",
       G::kPermission,
       {"agent_profiles", "read"},
       &Api::ListAgentProfiles},
      {"POST",
       "/api/v1/agent-profiles",
       G::kPermission,
       {"agent_profiles", "write"},
       &Api::CreateAgentProfile},
      {"PUT",
       "/api/v1/agent-profiles/{id}",
       G::kPermission,
       {"agent_profiles", "write"},
       &Api::UpdateAgentProfile},
      {"DELETE",
       "/api/v1/agent-profiles/{id}",
       G::kPermission,
       {"agent_profiles", "write"},
       &Api::DeleteAgentProfile},
  };
  return routes;
}

std::vector<std::pair<std::string, std::string>> Api::Routes() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& route : Endpoints()) out.emplace_back(route.method, route.pattern);
  return out;
}

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// How well `pattern` matches `path`: nullopt when it does not, else the number of {id} and
// {agent} segments (fewer is more specific: /hosts/export before /hosts/{id}).
std::optional<int> Match(std::string_view pattern, const std::vector<std::string_view>& path) {
  auto parts = Segments(pattern);
  if (parts.size() != path.size()) return std::nullopt;
  int wild = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i] == "{id}" || parts[i] == "{agent}") {
      if (path[i].empty()) return std::nullopt;
      ++wild;
    } else if (parts[i] != path[i]) {
      return std::nullopt;
    }
  }
  return wild;
}

bool Unsafe(const std::string& method) { return method != "GET" && method != "HEAD"; }

}  // namespace

Result<http::Response> Api::Dispatch(const http::Request& request) {
  const auto path = Segments(request.path);
  // The routes this path names, the most specific first.
  std::vector<const Api::Endpoint*> matched;
  int best = 1 << 20;
  for (const auto& route : Endpoints()) {
    auto wild = Match(route.pattern, path);
    if (!wild || *wild > best) continue;
    if (*wild < best) {
      matched.clear();
      best = *wild;
    }
    matched.push_back(&route);
  }
  const Api::Endpoint* route = nullptr;
  for (const auto* r : matched) {
    if (request.method == r->method) route = r;
  }
  const bool is_public = route != nullptr && route->gate == Gate::kPublic;
  const bool under_api = request.path.rfind("/api/v1/", 0) == 0;
  if (matched.empty() && !under_api) {
    return MakeError(ErrorCode::kNotFound, "no resource at " + request.path);
  }

  // Who is asking comes before what they ask: under /api/v1 an unauthenticated caller learns
  // nothing of which resources or methods exist beyond the public ones.
  std::optional<store::Principal> who;
  const bool public_path =
      !matched.empty() && std::all_of(matched.begin(), matched.end(),
                                      [](const auto* r) { return r->gate == Gate::kPublic; });
  const auto now = std::chrono::steady_clock::now();
  if (auto s = per_address_.Take(request.remote_address, "this address", now); !s) {
    return s.error();
  }
  if (!is_public && !public_path) {
    auto principal = Authenticate(request);
    if (!principal) return principal.error();
    who = std::move(*principal);
    const auto caller =
        who->token_id != 0 ? "token " + std::to_string(who->token_id) : "user " + who->user_name;
    if (auto s = per_caller_.Take(caller, caller, now); !s) return s.error();
  }
  if (matched.empty()) return MakeError(ErrorCode::kNotFound, "no resource at " + request.path);
  if (route == nullptr) {
    std::string allow;
    for (const auto* r : matched) allow += (allow.empty() ? "" : ", ") + std::string(r->method);
    auto response = ErrorResponse(
        MakeError(ErrorCode::kMethodNotAllowed,
                  request.method + " is not allowed on " + request.path + "; use " + allow));
    response.headers.emplace_back("Allow", allow);
    return response;
  }
  Call call{request, who ? &*who : nullptr, {}, {}};
  const auto pattern = Segments(route->pattern);
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    const auto text = path[i];
    if (pattern[i] == "{agent}") {
      // Agent ids are UUIDs; anything else names no agent.
      if (text.size() > 64 ||
          text.find_first_not_of("0123456789abcdefABCDEF-") != std::string_view::npos) {
        return Invalid("'" + std::string(text) + "' in " + request.path + " is not an agent id");
      }
      call.agent = std::string(text);
    } else if (pattern[i] == "{id}") {
      std::int64_t id = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
      if (ec != std::errc() || end != text.data() + text.size() || id <= 0) {
        return Invalid("'" + std::string(text) + "' in " + request.path +
                       " is not an id (a positive whole number)");
      }
      call.ids.push_back(id);
    }
  }
  if (route->gate == Gate::kPermission) {
    if (auto s = access::Authorize(*who, route->permission); !s) return s.error();
  }
  return (this->*(route->handler))(call);
}

Result<store::Principal> Api::Authenticate(const http::Request& request) {
  static constexpr std::string_view kBearer = "Bearer ";
  const auto now = NowMs();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (!request.authorization.empty()) {
    if (request.authorization.rfind(kBearer, 0) != 0) {
      return MakeError(ErrorCode::kUnauthenticated,
                       "the Authorization header must be 'Bearer TOKEN'");
    }
    auto token = request.authorization.substr(kBearer.size());
    auto principal = (*store)->FindApiToken(auth::HashToken(token), now);
    if (!principal) return principal.error();
    if (!*principal) {
      return MakeError(ErrorCode::kUnauthenticated, "the API token is unknown, revoked or expired");
    }
    // Last use is kept to the minute: a write per request would cost more than it tells.
    if (now - (*principal)->last_used_ms > 60'000) {
      (void)(*store)->TouchApiToken((*principal)->token_id, now);
    }
    return **principal;
  }
  const auto cookie = auth::SessionCookie(request.cookie);
  if (cookie.empty()) {
    return MakeError(ErrorCode::kUnauthenticated,
                     "this call needs an API token ('Authorization: Bearer TOKEN') or a session "
                     "(POST /api/v1/session)");
  }
  auto principal = (*store)->FindSession(auth::HashToken(cookie), now);
  if (!principal) return principal.error();
  if (!*principal) {
    return MakeError(ErrorCode::kUnauthenticated, "the session has ended; sign in again");
  }
  auto& who = **principal;
  const auto idle_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_idle_timeout).count();
  if (now - who.last_used_ms > idle_ms) {
    (void)(*store)->EndSession(who.session_id, store::Actor::Of(who, request.remote_address), now);
    return MakeError(ErrorCode::kUnauthenticated,
                     "the session has been idle too long; sign in again");
  }
  // A cookie goes with every request the browser makes, a forged one from another site's page
  // too; only our own page knows the CSRF token to send with it.
  if (Unsafe(request.method) && !auth::SameSecret(request.csrf_token, who.csrf_token)) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "a change made with a session cookie needs the session's X-CSRF-Token header");
  }
  if (now - who.last_used_ms > 60'000) (void)(*store)->TouchSession(who.session_id, now);
  return who;
}

Result<http::Response> Api::Metrics(const Call&) {
  http::Response response;
  response.content_type = "text/plain; version=0.0.4";
  response.body = metrics_.Render() + ProcessMetrics();
  return response;
}

// The CA certificate is public; agents compare it with their pinned fingerprint before sending
// an enrollment token.
Result<http::Response> Api::CaCertificate(const Call&) {
  http::Response response;
  response.content_type = "application/x-pem-file";
  response.body = pki_.ca.certificate_pem;
  return response;
}

Result<http::Response> Api::Healthz(const Call&) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto version = (*store)->SchemaVersion();
  if (!version) return version.error();
  http::Response response;
  response.body = R"({"status":"ok","schemaVersion":)" + std::to_string(*version) + R"(,"hosts":)" +
                  std::to_string(engine_.size()) + "}";
  return response;
}

Result<http::Response> Api::Enroll(const Call& call) {
  const auto& request = call.request;
  if (request.body.size() > kMaxEnrollBody) {
    return MakeError(ErrorCode::kResourceExhausted, "enrollment body is larger than 64 KiB");
  }
  auto parsed = codec::Parse<fleetdesk::v1::EnrollRequest>(request.body, {kMaxEnrollBody, 8});
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
                        NowMs(),      request.remote_address};
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
