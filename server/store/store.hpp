// The one interface to the database. Two implementations: SQLite (embedded default) and, later,
// PostgreSQL. A Store object is one connection: not thread-safe; each thread that needs the
// database gets its own from OpenStore (the writer one, each API worker one).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "server/store/access_model.hpp"
#include "server/store/model.hpp"
#include "server/store/task_model.hpp"
#include "server/store/ticket_model.hpp"

namespace fleetdesk::server::store {

// What the writer needs of a store: group commits. Apart so a test can put a fault between the
// writer and a real store without forwarding the whole Store.
// What a change to a ticket is to be notified as (see Store::SetOutbox): the notifications of
// `event` on `ticket` at `at_ms`, none when nobody is to hear of it.
using Outbox = std::function<std::vector<NotificationRecord>(
    const std::string& event, const TicketRecord& ticket, std::int64_t at_ms)>;

class BatchWriter {
 public:
  virtual ~BatchWriter() = default;
  // Writes every row of the batch in one transaction: all or nothing. With `seen`, fills it with
  // what the incident engine watches (filled only when the commit succeeds).
  virtual Status Commit(const WriteBatch& batch, Observations* seen) = 0;
  Status Commit(const WriteBatch& batch) { return Commit(batch, nullptr); }
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
  // What changed since `after`, for the dashboard's live updates: host events and ticket
  // timeline entries with higher ids, oldest first, at most `limit` of each; `after` moves to
  // the highest ids read. Without a cursor yet (both ids -1) answers none and sets it to now.
  virtual Result<std::vector<Change>> ChangesAfter(ChangeCursor& after, int limit) = 0;
  // Hosts by status, open tickets by priority, breaches, running tasks, and tickets opened and
  // resolved per day since `since_ms`.
  virtual Result<Overview> GetOverview(std::int64_t since_ms) = 0;
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

  // Tickets (sql_tickets.cpp) -----------------------------------------------------------------
  // Every change writes its timeline entries in its own transaction; a person's first action or
  // public note on a ticket is its first response. `sla`: the targets by priority.
  // Errors: kInvalidArgument naming the field (an unknown host or level).
  virtual Result<TicketRecord> CreateTicket(const NewTicket& ticket, const SlaTargets& sla,
                                            const Actor& actor, std::int64_t now_ms) = 0;
  virtual Result<std::optional<TicketRecord>> GetTicket(std::int64_t id) = 0;
  virtual Result<TicketPage> ListTickets(const TicketQuery& query) = 0;
  // Takes one step of the workflow. Errors: kNotFound; kFailedPrecondition when the workflow has
  // no such step from the ticket's state; kInvalidArgument for an unknown or disabled assignee.
  virtual Result<TicketRecord> ActOnTicket(std::int64_t id, const TicketAction& action,
                                           const Actor& actor, std::int64_t now_ms) = 0;
  // Errors: kNotFound; kInvalidArgument (a level, a priority without its reason);
  // kFailedPrecondition for a closed ticket.
  virtual Result<TicketRecord> PatchTicket(std::int64_t id, const TicketPatch& patch,
                                           const SlaTargets& sla, const Actor& actor,
                                           std::int64_t now_ms) = 0;
  // Errors: kNotFound; kFailedPrecondition for a closed ticket.
  virtual Result<TicketNote> AddNote(std::int64_t ticket_id, const TicketNote& note,
                                     const Actor& actor, std::int64_t now_ms) = 0;
  // Oldest first; without `internal_too` the internal ones are left out.
  virtual Result<std::vector<TicketNote>> ListNotes(std::int64_t ticket_id, bool internal_too) = 0;
  // Records an attachment (a timeline event too) with its bytes in `content`, or with none when
  // they are already in the attachment directory (`attachment.in_files`). Errors: kNotFound;
  // kFailedPrecondition for a closed ticket.
  virtual Result<TicketAttachment> AddAttachment(std::int64_t ticket_id,
                                                 const TicketAttachment& attachment,
                                                 std::string_view content, const Actor& actor,
                                                 std::int64_t now_ms) = 0;
  // Oldest first, without their bytes.
  virtual Result<std::vector<TicketAttachment>> ListAttachments(std::int64_t ticket_id) = 0;
  // One attachment of the ticket and, when they are in the database, its bytes; nullopt when
  // the ticket has no such attachment.
  virtual Result<std::optional<std::pair<TicketAttachment, std::string>>> GetAttachment(
      std::int64_t ticket_id, std::int64_t attachment_id) = 0;
  // Removes one of the ticket's attachments, with its bytes when they are in the database, and
  // says on the timeline who did; in any state of the ticket, since a file attached by mistake
  // (a key, a password in a log) may have to go from a closed one too. Returns what it removed;
  // the caller removes a file of the attachment directory that no attachment uses any more.
  // Errors: kNotFound.
  virtual Result<TicketAttachment> RemoveAttachment(std::int64_t ticket_id,
                                                    std::int64_t attachment_id, const Actor& actor,
                                                    std::int64_t now_ms) = 0;
  // Whether any attachment has its bytes in the attachment directory under `sha256`.
  virtual Result<bool> AttachmentFileUsed(const std::string& sha256) = 0;
  virtual Result<TicketEventPage> ListTicketEvents(std::int64_t ticket_id,
                                                   std::optional<std::int64_t> before_id,
                                                   int limit) = 0;
  // Appends to the ticket's worklog: no timeline entry, no response, only the entry and the
  // ticket's count. Errors: kNotFound; kFailedPrecondition for a closed ticket.
  virtual Result<WorklogEntry> AppendWorklog(std::int64_t ticket_id, const WorklogEntry& entry,
                                             const Actor& actor) = 0;
  virtual Result<WorklogPage> ListWorklog(std::int64_t ticket_id,
                                          std::optional<std::int64_t> before_id, int limit) = 0;
  // Words, prefixes and phrases (search::ParseQuery) in tickets' titles and descriptions, notes
  // and worklogs, English or CJK, within the filters; ranked, best first, with snippets.
  // Errors: kInvalidArgument for a query with nothing to search for.
  virtual Result<std::vector<TicketSearchHit>> SearchTickets(const TicketSearchQuery& query) = 0;
  // PostgreSQL: keeps GIN indexes of ranges of each searched table's (tickets, notes, worklog)
  // newest ids, besides its whole one, for searches that want the newest matches: the newest
  // `segment` to 2 x `segment` entries, and four ranges of `segment` ids before them. Does one
  // step a call: builds one index (concurrently with writes), or drops those no longer wanted.
  // Answers what it did ("ticket_notes id > 1800000"), or empty when nothing was due. The
  // leader calls it each tick. SQLite: none needed (FTS5 gives matches newest first); answers
  // empty.
  virtual Result<std::string> RollSearchIndexes(std::int64_t segment) = 0;
  // The ranges the leader keeps: a tenth or less of a large table each, a few seconds' build.
  static constexpr std::int64_t kSearchRecentEntries = 200'000;

  // Incidents: what the incident engine does to tickets -------------------------------------
  // In one transaction: suppressed by a maintenance window of the host (or of a tag it has) or,
  // for everything but the host itself, by the host being unreachable; else one more occurrence
  // of the fingerprint's open incident, or its resolved one reopened inside the reopen window,
  // or a new incident, prioritised from the host's criticality and the signal's urgency. Two
  // servers raising one fingerprint at once make one incident (the unique index decides).
  virtual Result<IncidentOutcome> RaiseIncident(const IncidentSignal& signal,
                                                const SlaTargets& sla) = 0;
  // The fingerprint's open incident recovered at `at_ms`: one timeline entry, and the quiet
  // period starts. Answers the ticket, or 0 when none is open.
  virtual Result<std::int64_t> RecoverIncident(const std::string& fingerprint,
                                               std::int64_t at_ms) = 0;
  virtual Result<std::int64_t> SetFlapping(const std::string& fingerprint, bool flapping,
                                           std::int64_t at_ms) = 0;
  // Resolves the open incidents that recovered at or before `recovered_before_ms`, may resolve
  // themselves and are not flapping; answers their ids.
  virtual Result<std::vector<std::int64_t>> ResolveQuietIncidents(std::int64_t recovered_before_ms,
                                                                  std::int64_t now_ms) = 0;
  // The fingerprints of every open incident.
  virtual Result<std::vector<std::string>> OpenFingerprints() = 0;
  // Records each SLA clock of an open ticket that passed its target by `now_ms` and was not
  // recorded yet: on the ticket and as a timeline entry. Answers what it recorded.
  virtual Result<std::vector<SlaBreach>> RecordSlaBreaches(std::int64_t now_ms) = 0;

  // Reports (sql_reports.cpp) -----------------------------------------------------------------
  // Months whose figures are final are read from the monthly rollups; the rest (the current
  // month, a month not rolled up yet) are computed from the tickets. Rows by month, then value.
  virtual Result<std::vector<MonthlyRow>> MonthlyReport(const ReportQuery& query,
                                                        std::int64_t now_ms) = 0;
  // The `limit` noisiest hosts (`what` "hosts") or failing things ("sources") of the incidents
  // created in the months, most incidents first.
  virtual Result<std::vector<NoiseRow>> NoiseReport(const std::string& from_month,
                                                    const std::string& to_month,
                                                    const std::string& what, int limit,
                                                    std::int64_t now_ms) = 0;
  // Rolls up at most one month that needs it (never rolled up, or rolled up before its figures
  // settled); answers the month, or empty when none needed it. The leader calls it each tick.
  virtual Result<std::string> RollUpReports(std::int64_t now_ms) = 0;

  // Notifications (sql_outbox.cpp) -------------------------------------------------------------
  // The notifications of the changes made through this connection that people hear of (an
  // incident opened or reopened, a ticket resolved or reopened, an SLA breach: `event` opened,
  // reopened, resolved, escalated) are composed by `outbox` and written in the change's own
  // transaction, so a crash keeps both or neither. Unset (the default): none are written.
  virtual void SetOutbox(Outbox outbox) = 0;
  // Messages written on their own, about no change made here (tests seed the outbox with it).
  virtual Status EnqueueNotifications(const std::vector<NotificationRecord>& items) = 0;
  // The oldest notification due at `now_ms`, taken for `lease_ms`: its attempt counted and its
  // due time moved past the lease, so no other server takes it meanwhile, and it is due again if
  // this one dies before it says how it went. nullopt when none is due.
  virtual Result<std::optional<NotificationRecord>> ClaimNotification(std::int64_t now_ms,
                                                                      std::int64_t lease_ms) = 0;
  // Delivered; or failed, to be tried again at `retry_at_ms`, or given up without one.
  virtual Status FinishNotification(std::int64_t id, bool delivered, std::int64_t now_ms,
                                    const std::string& error,
                                    std::optional<std::int64_t> retry_at_ms) = 0;
  // A ticket's notifications, oldest first.
  virtual Result<std::vector<NotificationRecord>> ListNotifications(std::int64_t ticket_id) = 0;

  // Maintenance windows: errors kInvalidArgument (no host nor tag, or both; an empty span),
  // kNotFound.
  virtual Result<MaintenanceWindow> CreateMaintenanceWindow(const MaintenanceWindow& window,
                                                            const Actor& actor) = 0;
  // The windows that have not ended by `now_ms`, or every one with `past_too`.
  virtual Result<std::vector<MaintenanceWindow>> ListMaintenanceWindows(bool past_too,
                                                                        std::int64_t now_ms) = 0;
  // Ends a window now (a future one never starts).
  virtual Status EndMaintenanceWindow(std::int64_t id, const Actor& actor, std::int64_t now_ms) = 0;

  // Configuration tasks (sql_tasks.cpp) --------------------------------------------------------
  // The hosts a task would go to, in rollout order (by id). Listed hosts must each be enrolled,
  // not archived and not revoked; a selector takes every such host with all its tags (and its
  // environment). Errors: kInvalidArgument naming the first listed host that may not have it, or
  // saying the selector chose none.
  virtual Result<std::vector<TaskTarget>> ResolveTaskTargets(const TaskTargeting& targeting) = 0;
  // Records the task and its hosts, queued in their batches, audited `task.create`, with a
  // timeline entry on its ticket, in one transaction. A key its creator used before answers
  // that task (`replayed`), or kAlreadyExists when the request was a different one.
  // Errors: kInvalidArgument (no hosts, an unknown ticket or host).
  virtual Result<TaskRecord> CreateTask(const NewTask& task, const Actor& actor,
                                        std::int64_t now_ms) = 0;
  virtual Result<std::optional<TaskRecord>> GetTask(std::int64_t id) = 0;
  // Newest first, at most `limit`, older than `before_id` when given.
  virtual Result<TaskPage> ListTasks(std::optional<std::int64_t> before_id, int limit) = 0;
  // A task's hosts by host id after `after_host`, only those in `state` when it is not empty.
  virtual Result<std::vector<TaskHostRecord>> ListTaskHosts(std::int64_t task_id,
                                                            const std::string& state,
                                                            std::int64_t after_host, int limit) = 0;
  // A host's tasks, newest first, at most `limit`.
  virtual Result<std::vector<TaskHostRecord>> HostTasks(std::int64_t host_id, int limit) = 0;
  // What the agent said: running, or an outcome. Only a task sent or running takes it (false
  // otherwise: a repeat, or a host already timed out or cancelled). Then the rollout: past its
  // failure threshold it stops, and its hosts not sent the task are cancelled; a batch done
  // opens the next; the last outcome finishes the task. Errors: kNotFound (the host has no such
  // task), kInvalidArgument (not a state an agent reports).
  virtual Result<bool> RecordTaskResult(std::int64_t task_id, std::int64_t host_id,
                                        const TaskResultRecord& result, std::int64_t now_ms) = 0;
  // The hosts due a task now (queued, in a batch its rollout has reached, of a running task, not
  // expired), by task and host after (`after_task`, `after_host`), at most `limit`: a server
  // takes those whose agents it holds.
  virtual Result<std::vector<DueTaskHost>> DueTaskHosts(std::int64_t now_ms,
                                                        std::int64_t after_task,
                                                        std::int64_t after_host, int limit) = 0;
  // queued -> sent for each (task, host), in one transaction; answers which were marked. A host
  // no longer queued (cancelled, expired, or sent by another server) is not, and must not be
  // sent the task.
  virtual Result<std::vector<bool>> MarkTasksSent(
      const std::vector<std::pair<std::int64_t, std::int64_t>>& task_hosts,
      std::int64_t now_ms) = 0;
  // RecordTaskResult for each, its host found by agent id, in one transaction; answers each
  // one's outcome (an error for that one alone: no such host or task, a bad state).
  virtual Result<std::vector<Result<bool>>> RecordTaskResults(
      const std::vector<AgentTaskResult>& results, std::int64_t now_ms) = 0;
  // Stops a running task: its hosts not sent it yet are cancelled; those that have it report as
  // they will. Audited `task.cancel`. Errors: kNotFound; kFailedPrecondition when not running.
  virtual Result<TaskRecord> CancelTask(std::int64_t id, const Actor& actor,
                                        std::int64_t now_ms) = 0;
  // Hosts still queued when their task expired are cancelled; hosts sent or running past the
  // task's timeout are timed out; the rollouts go on as for results. The leader's job.
  virtual Result<TaskSweep> SweepTasks(std::int64_t now_ms) = 0;

  // Agent profiles ----------------------------------------------------------------------------
  // By priority, then id: the order they merge in (later wins).
  virtual Result<std::vector<AgentProfileRecord>> ListAgentProfiles() = 0;
  // Creates (id 0) or replaces a profile; audited agent_profile.create / agent_profile.update.
  // Errors: kAlreadyExists when another profile has the name; kNotFound for an unknown id.
  virtual Result<AgentProfileRecord> SaveAgentProfile(const AgentProfileRecord& profile,
                                                      const Actor& actor, std::int64_t now_ms) = 0;
  // Audited agent_profile.delete. Errors: kNotFound.
  virtual Status DeleteAgentProfile(std::int64_t id, const Actor& actor, std::int64_t now_ms) = 0;
  // The tags of these agents' hosts (live ones), by agent id; agents without a host are left out.
  virtual Result<std::map<std::string, std::vector<std::string>>> AgentTags(
      const std::vector<std::string>& agent_ids) = 0;

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

// The channel on which a server tells the others sharing its PostgreSQL database that hosts may
// be due a task (one was submitted, a rollout opened its next batch). Sent with the change, in
// its transaction, so it arrives with the commit.
inline constexpr const char* kTasksChannel = "fleetdesk_tasks";

// A connection of its own that LISTENs on a channel of a PostgreSQL database. SQLite has no
// peers: there is nothing to listen to.
class Listener {
 public:
  virtual ~Listener() = default;
  // Waits up to `timeout`; answers how many notifications arrived (0: the time passed).
  // Errors: kUnavailable when the connection broke (open a new Listener).
  virtual Result<int> Wait(std::chrono::milliseconds timeout) = 0;
};

// Errors: kFailedPrecondition for SQLite; kUnavailable when the database cannot be reached.
Result<std::unique_ptr<Listener>> Listen(const std::string& database, const std::string& channel);

}  // namespace fleetdesk::server::store
