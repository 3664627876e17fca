// The one interface to the database. Two implementations: SQLite (embedded default) and, later,
// PostgreSQL. A Store object is one connection: not thread-safe; each thread that needs the
// database gets its own from OpenStore (the writer one, each API worker one).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "server/store/access_model.hpp"
#include "server/store/model.hpp"

namespace fleetdesk::server::store {

// What the writer needs of a store: group commits. Apart so a test can put a fault between the
// writer and a real store without forwarding the whole Store.
class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  // Writes every row of the batch in one transaction: all or nothing.
  virtual Status Commit(const WriteBatch& batch) = 0;
  // Rows this connection has inserted, updated or deleted so far, rolled-back ones included:
  // the writer exports the committed share as fleetdesk_store_rows_written_total.
  virtual std::uint64_t RowsWritten() const = 0;
  // Records the agent's new certificate (serial and expiry), with a host event and an audit entry
  // `agent.renew`, in a transaction of its own. Refused (not_found) when no live, unrevoked host
  // has the agent: a revocation that raced the renewal wins.
  virtual Status RecordRenewal(const CertificateRenewal& renewal) = 0;
};

class Store : public BatchWriter {
 public:
  // Applies every numbered migration not yet applied, each in its own transaction.
  virtual Status Migrate() = 0;
  virtual Result<int> SchemaVersion() = 0;

  // Hosts -------------------------------------------------------------------------------------
  virtual Result<std::vector<HostRecord>> LoadHosts() = 0;
  virtual Result<HostPage> ListHosts(const HostQuery& query) = 0;
  virtual Result<std::optional<HostRecord>> GetHost(std::int64_t id) = 0;
  virtual Result<std::optional<HostView>> GetHostView(std::int64_t id) = 0;
  // The committed row of the agent's host; nullopt when no live host has this agent id.
  virtual Result<std::optional<HostRecord>> FindAgent(const std::string& agent_id) = 0;
  virtual Result<HostDetail> GetHostDetail(std::int64_t id) = 0;

  // What people say about hosts ---------------------------------------------------------------
  // Every change below is recorded as host events and in the audit log, by `actor`, in the
  // change's own transaction.
  // Errors: kNotFound, and
  // kInvalidArgument for a hostname or serial change on an enrolled host.
  virtual Result<HostView> PatchHost(std::int64_t id, const AttributePatch& patch,
                                     const Actor& actor, std::int64_t now_ms) = 0;
  // Revokes the agent's certificate: its host is refused from now on, while the host and its
  // history stay. Answers the host's row. Errors: kNotFound when no live host has this agent.
  virtual Result<HostRecord> RevokeAgent(const std::string& agent_id, const Actor& actor,
                                         std::int64_t now_ms) = 0;
  // Pre-registers a host. Errors: kAlreadyExists when a host (not archived) has its hostname or
  // serial.
  virtual Result<HostView> RegisterHost(const NewHost& host, const Actor& actor,
                                        std::int64_t now_ms) = 0;
  // Decommissions: the host leaves the lists, its agent is refused, its history stays.
  // Errors: kNotFound; kFailedPrecondition when already archived.
  virtual Result<HostView> ArchiveHost(std::int64_t id, const Actor& actor,
                                       std::int64_t now_ms) = 0;
  // Applies every row in one transaction: a row whose key matches no host creates a
  // pre-registered one. All or nothing; an error names the row's line.
  virtual Result<ImportSummary> ImportHosts(const std::vector<ImportRow>& rows, const Actor& actor,
                                            std::int64_t now_ms) = 0;

  // History -----------------------------------------------------------------------------------
  virtual Result<EventPage> ListEvents(const EventQuery& query) = 0;
  virtual Result<std::vector<MetricPoint>> MetricSeries(std::int64_t host_id, std::int64_t from_ms,
                                                        std::int64_t to_ms,
                                                        MetricResolution resolution) = 0;
  // Marks every enrolled host not heard from since `silent_before_ms` unreachable, with a
  // "reachability" event each; answers the hosts it marked. Its next report marks it back.
  virtual Result<std::vector<std::int64_t>> MarkSilentHosts(std::int64_t silent_before_ms,
                                                            std::int64_t now_ms) = 0;
  virtual Result<PruneCounts> Prune(const Retention& retention, std::int64_t now_ms) = 0;

  // Global search over hosts, services, checks and packages: case-insensitive substrings, any
  // script. Ranked: exact names first, then prefixes, then the rest.
  virtual Result<std::vector<SearchHit>> Search(const std::string& text, int limit) = 0;

  // Several servers on one database ---------------------------------------------------------
  // Takes (or confirms holding) the lock of the jobs that run once per fleet; false when another
  // server holds it. SQLite: always true, one server owns the file.
  virtual Result<bool> TryLeadership() = 0;

  // Enrollment --------------------------------------------------------------------------------
  // Answers the token's id.
  virtual Result<std::int64_t> CreateEnrollmentToken(const NewEnrollmentToken& token,
                                                     const Actor& actor) = 0;
  virtual Result<std::vector<EnrollmentTokenRecord>> ListEnrollmentTokens() = 0;
  // Errors: kNotFound.
  virtual Status RevokeEnrollmentToken(std::int64_t id, const Actor& actor,
                                       std::int64_t now_ms) = 0;
  // The same checks as EnrollAgent, reading only: lets the API refuse a bad token before it
  // spends a signature on the request.
  virtual Status CheckEnrollmentToken(const std::string& token_hash, std::int64_t now_ms) = 0;
  // In one transaction: checks the token (known, not revoked, not expired, not used up), counts
  // one use, and creates the host (or re-keys the existing host of the same machine id), audited
  // as the enrollment token's work from the agent's address.
  // Errors: kUnauthenticated for an unknown token, kPermissionDenied naming why for the rest.
  virtual Result<HostRecord> EnrollAgent(const std::string& token_hash, const NewAgent& agent) = 0;

  // Users -------------------------------------------------------------------------------------
  // Errors: kAlreadyExists.
  virtual Result<std::int64_t> AddUser(const UserRecord& user, const Actor& actor) = 0;
  virtual Result<std::optional<UserRecord>> FindUser(const std::string& name) = 0;
  virtual Result<std::optional<UserRecord>> GetUser(std::int64_t id) = 0;
  virtual Result<std::vector<UserRecord>> ListUsers() = 0;
  // Disabling ends the user's sessions and revokes their API tokens; a new password ends their
  // sessions. Errors: kNotFound; kFailedPrecondition when no enabled admin would be left.
  virtual Result<UserRecord> UpdateUser(std::int64_t id, const UserPatch& patch, const Actor& actor,
                                        std::int64_t now_ms) = 0;

  // API tokens --------------------------------------------------------------------------------
  // Answers the token's id. Errors: kNotFound for an unknown user.
  virtual Result<std::int64_t> CreateApiToken(const NewApiToken& token, const Actor& actor) = 0;
  // Every token, or the user's; revoked and expired ones too (they say why they stopped).
  virtual Result<std::vector<ApiTokenRecord>> ListApiTokens(
      std::optional<std::int64_t> user_id) = 0;
  virtual Result<std::optional<ApiTokenRecord>> GetApiToken(std::int64_t id) = 0;
  // Errors: kNotFound.
  virtual Status RevokeApiToken(std::int64_t id, const Actor& actor, std::int64_t now_ms) = 0;
  // The token's user, when the token exists, is not revoked, has not expired at `now_ms` and
  // its user is enabled.
  virtual Result<std::optional<Principal>> FindApiToken(const std::string& token_hash,
                                                        std::int64_t now_ms) = 0;
  virtual Status TouchApiToken(std::int64_t id, std::int64_t now_ms) = 0;

  // Browser sessions --------------------------------------------------------------------------
  virtual Result<std::int64_t> CreateSession(const NewSession& session, const Actor& actor) = 0;
  // The session's user, when the session has not ended, has not passed its absolute expiry and
  // its user is enabled; the idle expiry is the caller's to check (Principal::last_used_ms).
  virtual Result<std::optional<Principal>> FindSession(const std::string& token_hash,
                                                       std::int64_t now_ms) = 0;
  virtual Status TouchSession(std::int64_t id, std::int64_t now_ms) = 0;
  virtual Status EndSession(std::int64_t id, const Actor& actor, std::int64_t now_ms) = 0;

  // Audit log ---------------------------------------------------------------------------------
  // Append-only: both stores refuse UPDATE and DELETE on it. Changes made through the Store
  // write their own entries; this is for what is audited without a change (a refused clone).
  virtual Status AppendAudit(const AuditEntry& entry) = 0;
  virtual Result<AuditPage> ListAudit(const AuditQuery& query) = 0;
  // The agents revoked or archived after audit entry `after_id`, read from the audit log, so
  // every server can close their channels; with after_id < 0 only the newest entry's id.
  virtual Result<CutOffAgents> AgentsCutOffAfter(std::int64_t after_id) = 0;
};

// The SQLite file `database` names ("PATH" or "sqlite://PATH"), or nullopt for a PostgreSQL URL.
std::optional<std::string> SqlitePath(const std::string& database);

// Opens a connection to `database`: a file path (SQLite) or a postgresql:// URL.
Result<std::unique_ptr<Store>> OpenStore(const std::string& database);

}  // namespace fleetdesk::server::store
