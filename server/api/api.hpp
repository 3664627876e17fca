// The REST API under /api/v1, plus /healthz and /metrics: plain functions of a Request. Handlers
// run on the API worker pool (they may block on the database), never on network threads.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "server/api/access.hpp"
#include "server/api/attachments.hpp"
#include "server/api/pki.hpp"
#include "server/engine/incident_rules.hpp"
#include "server/engine/live.hpp"
#include "server/engine/metrics.hpp"
#include "server/engine/notify.hpp"
#include "server/engine/rate_limit.hpp"
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
  std::chrono::seconds agent_certificate_validity{std::chrono::hours(24 * 365)};
  // A browser session ends after this long without a request, and at the latest after
  // `session_max_age` however busy it is.
  std::chrono::seconds session_idle_timeout{30 * 60};
  std::chrono::seconds session_max_age{12 * 60 * 60};
  access::LoginThrottle::Limits login_limits;
  // Requests per second, on average and in a burst, per API token or signed-in user; each
  // address gets four times that before its credential is even looked at.
  double rate_limit = 50;
  double rate_burst = 200;
  // The SLA targets by priority ([tickets.sla]).
  store::SlaTargets sla = store::DefaultSlaTargets();
  // [[incidents.assign]]: a ticket filed with no group goes where they say, by its category and
  // its host's tags (rules naming a unit or check pattern route raised incidents only).
  std::vector<engine::incidents::AssignmentRule> assignment;
  // Everything [incidents] sets, for GET /api/v1/rules.
  engine::incidents::IncidentRules rules;
  // Who hears of incidents people resolve or reopen; `notified` wakes the notifier.
  engine::notify::NotifyOptions notify;
  std::function<void()> notified;
  // [tickets] attachment_*: size, types, and where the bytes go.
  AttachmentOptions attachments;
};

// One request on its way through the API: the request, who made it (nobody on the public
// endpoints), the numbers in its path ({id}) and its agent id ({agent}).
struct Call {
  const http::Request& request;
  const store::Principal* who = nullptr;
  std::vector<std::int64_t> ids;
  std::string agent;

  std::int64_t id() const { return ids.at(0); }
  // Who the audit log and the host history name for a change made by this call.
  store::Actor Actor() const {
    return who != nullptr ? store::Actor::Of(*who, request.remote_address) : store::Actor{};
  }
};

class Api {
 public:
  Api(ApiOptions options, store::StorePool& stores, engine::StateEngine& engine, const Pki& pki,
      ServerMetrics& metrics)
      : options_(std::move(options)),
        outbox_(engine::notify::MakeOutbox(options_.notify)),
        stores_(stores),
        engine_(engine),
        pki_(pki),
        metrics_(metrics) {}

  // Called with an agent id and a reason when an agent is revoked or its host archived, to close
  // its open channel. Set before serving.
  void OnAgentCutOff(std::function<void(const std::string&, const std::string&)> close) {
    close_channel_ = std::move(close);
  }

  // Called after a task is submitted, to send it at once rather than at the next round. Set
  // before serving.
  void OnTaskSubmitted(std::function<void()> submitted) { task_submitted_ = std::move(submitted); }

  // Where GET /api/v1/events reads what changed; without one it answers 503.
  void SetLiveHub(engine::LiveHub* hub) { live_ = hub; }

  // Thread-safe. Always answers: errors become the JSON error contract of docs/API.md.
  http::Response Handle(const http::Request& request);

  // Every endpoint's method and path pattern, in the route table's order: for tests that must
  // reach every endpoint, so a new one cannot be missed.
  static std::vector<std::pair<std::string, std::string>> Routes();

 private:
  using Handler = Result<http::Response> (Api::*)(const Call&);
  // Which callers reach an endpoint: anyone, anyone signed in, or holders of a permission of
  // the table in access.hpp.
  enum class Gate { kPublic, kSignedIn, kPermission };
  struct Endpoint {
    const char* method;
    // "/api/v1/hosts/{id}/history": {id} is a positive whole number, {agent} an agent id.
    const char* pattern;
    Gate gate;
    access::Permission permission;  // kPermission only
    Handler handler;
  };
  static const std::vector<Endpoint>& Endpoints();

  Result<http::Response> Dispatch(const http::Request& request);
  // The caller, from a bearer token or a session cookie; with a cookie, a call that changes
  // something must carry the session's CSRF token.
  Result<store::Principal> Authenticate(const http::Request& request);

  Result<http::Response> Healthz(const Call& call);
  Result<http::Response> Metrics(const Call& call);
  Result<http::Response> CaCertificate(const Call& call);
  Result<http::Response> Enroll(const Call& call);
  // Hosts and search (hosts_api.cpp).
  Result<http::Response> ListHosts(const Call& call);
  Result<http::Response> ExportHosts(const Call& call);
  Result<http::Response> ImportHosts(const Call& call);
  Result<http::Response> RegisterHost(const Call& call);
  Result<http::Response> GetHost(const Call& call);
  Result<http::Response> PatchHost(const Call& call);
  Result<http::Response> ArchiveHost(const Call& call);
  Result<http::Response> HostHistory(const Call& call);
  Result<http::Response> HostMetrics(const Call& call);
  Result<http::Response> Search(const Call& call);
  // Sessions, users, tokens and the audit log (access_api.cpp).
  Result<http::Response> SignIn(const Call& call);
  Result<http::Response> GetSession(const Call& call);
  Result<http::Response> SignOut(const Call& call);
  Result<http::Response> ChangeOwnPassword(const Call& call);
  Result<http::Response> ListUsers(const Call& call);
  Result<http::Response> CreateUser(const Call& call);
  Result<http::Response> GetUser(const Call& call);
  Result<http::Response> PatchUser(const Call& call);
  Result<http::Response> ListApiTokens(const Call& call);
  Result<http::Response> CreateApiToken(const Call& call);
  Result<http::Response> RevokeApiToken(const Call& call);
  Result<http::Response> ListEnrollmentTokens(const Call& call);
  Result<http::Response> CreateEnrollmentToken(const Call& call);
  Result<http::Response> RevokeEnrollmentToken(const Call& call);
  Result<http::Response> ListAudit(const Call& call);
  Result<http::Response> RevokeAgent(const Call& call);
  // Tickets, notes, worklog and maintenance windows (tickets_api.cpp).
  Result<http::Response> ListTickets(const Call& call);
  Result<http::Response> SearchTickets(const Call& call);
  Result<http::Response> CreateTicket(const Call& call);
  Result<http::Response> GetTicket(const Call& call);
  Result<http::Response> PatchTicket(const Call& call);
  Result<http::Response> ActOnTicket(const Call& call);
  Result<http::Response> TicketTimeline(const Call& call);
  Result<http::Response> ListNotes(const Call& call);
  Result<http::Response> AddNote(const Call& call);
  Result<http::Response> ListAttachments(const Call& call);
  Result<http::Response> AddAttachment(const Call& call);
  Result<http::Response> GetAttachmentContent(const Call& call);
  Result<http::Response> RemoveAttachment(const Call& call);
  Result<http::Response> ListTicketNotifications(const Call& call);
  Result<http::Response> ListWorklog(const Call& call);
  Result<http::Response> AppendWorklog(const Call& call);
  Result<http::Response> ListMaintenance(const Call& call);
  Result<http::Response> CreateMaintenance(const Call& call);
  Result<http::Response> EndMaintenance(const Call& call);
  // Configuration tasks (tasks_api.cpp).
  Result<http::Response> SubmitTask(const Call& call);
  Result<http::Response> ListTasks(const Call& call);
  Result<http::Response> GetTaskView(const Call& call);
  Result<http::Response> CancelTask(const Call& call);
  Result<http::Response> HostTasks(const Call& call);
  // Agent profiles (agent_profiles_api.cpp).
  Result<http::Response> ListAgentProfiles(const Call& call);
  Result<http::Response> CreateAgentProfile(const Call& call);
  Result<http::Response> UpdateAgentProfile(const Call& call);
  Result<http::Response> DeleteAgentProfile(const Call& call);
  Result<http::Response> HostAgentConfig(const Call& call);
  // Reports (reports_api.cpp).
  Result<http::Response> Events(const Call& call);
  Result<http::Response> Overview(const Call& call);
  Result<http::Response> Rules(const Call& call);

  Result<http::Response> MonthlyReport(const Call& call);
  Result<http::Response> NoiseReport(const Call& call);
  // The ticket of the call's {id}, when the caller may see it (requesters: their own only;
  // another's is not found).
  Result<store::TicketRecord> VisibleTicket(const Call& call, store::Store& store);

  ApiOptions options_;
  store::Outbox outbox_;  // the routes' notifications, for the connection a change is made on
  store::StorePool& stores_;
  engine::StateEngine& engine_;
  const Pki& pki_;
  ServerMetrics& metrics_;
  access::LoginThrottle throttle_{options_.login_limits};
  engine::RateLimiter per_caller_{options_.rate_limit, options_.rate_burst};
  engine::RateLimiter per_address_{4 * options_.rate_limit, 4 * options_.rate_burst};
  std::function<void(const std::string&, const std::string&)> close_channel_;
  std::function<void()> task_submitted_;
  engine::LiveHub* live_ = nullptr;
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
