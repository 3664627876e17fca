// The parts of the SQL store that every area of it uses: the connection, the dialect's few
// differences, statement helpers and the audit log's writer. SqlAccess (sql_access.cpp) adds
// identity and access on top; SqlStore (sql_store.cpp) adds hosts and their history.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/store/sql.hpp"
#include "server/store/sql_common.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server::store {

// An audit entry of `action` on the resource with this id, by `actor`; the caller adds the
// fields it changed.
inline AuditEntry AuditOf(const char* action, const char* resource, std::int64_t id,
                          const Actor& actor, std::int64_t now_ms) {
  AuditEntry entry;
  entry.at_ms = now_ms;
  entry.actor = actor;
  entry.action = action;
  entry.resource = resource;
  entry.resource_id = std::to_string(id);
  return entry;
}

class SqlBase : public Store {
 public:
  explicit SqlBase(std::unique_ptr<SqlConn> db) : db_(std::move(db)) {}
  std::uint64_t RowsWritten() const override { return rows_written_; }

 protected:
  bool Pg() const { return db_->dialect() == Dialect::kPostgres; }
  // SQLite takes its write lock at BEGIN IMMEDIATE, so a transaction never fails half-way for
  // want of it; PostgreSQL locks rows as it goes.
  const char* BeginWrite() const { return Pg() ? "BEGIN" : "BEGIN IMMEDIATE"; }
  const char* Like() const { return Pg() ? "ILIKE" : "LIKE"; }
  const char* Greatest() const { return Pg() ? "GREATEST" : "MAX"; }
  // Text ordered by bytes in both (PostgreSQL would otherwise follow the database's locale).
  std::string Ordered(const std::string& column) const {
    return Pg() ? column + " COLLATE \"C\"" : column;
  }
  Result<Transaction<SqlConn>> BeginTx() { return Transaction<SqlConn>::Begin(*db_, BeginWrite()); }

  Result<std::int64_t> Run(const std::string& sql, std::initializer_list<SqlArg> args = {},
                           const RowFn& row = {}) {
    return db_->Run(sql, args, row);
  }
  // Runs `before + "(?, ?, ...)" + after` for the keys, 500 to a statement (a task to 10,000
  // listed hosts is 20 statements, and no database's parameter limit is near), each statement's
  // rows to `row`.
  template <typename Key>
  Status RunForKeys(const std::string& before, const std::vector<Key>& keys,
                    const std::string& after, const RowFn& row) {
    constexpr std::size_t kPerStatement = 500;
    for (std::size_t first = 0; first < keys.size(); first += kPerStatement) {
      const std::size_t last = std::min(keys.size(), first + kPerStatement);
      std::vector<SqlArg> args;
      std::string in = "(";
      for (std::size_t k = first; k < last; ++k) {
        args.emplace_back(keys[k]);
        in += k == first ? "?" : ", ?";
      }
      auto done = db_->Run(before + in + ")" + after, args, row);
      if (!done) return done.error();
    }
    return {};
  }
  Status Do(const std::string& sql, std::initializer_list<SqlArg> args = {}) {
    auto done = db_->Run(sql, args, {});
    if (!done) return done.error();
    rows_written_ += static_cast<std::uint64_t>(std::max<std::int64_t>(*done, 0));
    return {};
  }
  // A write whose answer nothing reads (the ingest path's): sent without waiting where the
  // database allows (SqlConn::Send); its error ends the transaction at the latest at its commit.
  // Its rows count once the next group commit flushes.
  Status Write(const std::string& sql, std::initializer_list<SqlArg> args = {}) {
    return db_->Send(sql, args);
  }

  // Appends one entry to the audit log; inside the change's own transaction, so a change and
  // its entry are committed together or not at all.
  Status Audit(const AuditEntry& entry);

  std::unique_ptr<SqlConn> db_;
  std::uint64_t rows_written_ = 0;
};

// Users, API tokens, enrollment tokens, sessions and the audit log (sql_access.cpp).
class SqlAccess : public SqlBase {
 public:
  using SqlBase::SqlBase;

  Result<std::int64_t> AddUser(const UserRecord& user, const Actor& actor) override;
  Result<std::optional<UserRecord>> FindUser(const std::string& name) override;
  Result<std::optional<UserRecord>> GetUser(std::int64_t id) override;
  Result<std::vector<UserRecord>> ListUsers() override;
  Result<UserRecord> UpdateUser(std::int64_t id, const UserPatch& patch, const Actor& actor,
                                std::int64_t now_ms) override;

  Result<std::int64_t> CreateApiToken(const NewApiToken& token, const Actor& actor) override;
  Result<std::vector<ApiTokenRecord>> ListApiTokens(std::optional<std::int64_t> user_id) override;
  Result<std::optional<ApiTokenRecord>> GetApiToken(std::int64_t id) override;
  Status RevokeApiToken(std::int64_t id, const Actor& actor, std::int64_t now_ms) override;
  Result<std::optional<Principal>> FindApiToken(const std::string& token_hash,
                                                std::int64_t now_ms) override;
  Status TouchApiToken(std::int64_t id, std::int64_t now_ms) override;

  Result<std::int64_t> CreateEnrollmentToken(const NewEnrollmentToken& token,
                                             const Actor& actor) override;
  Result<std::vector<EnrollmentTokenRecord>> ListEnrollmentTokens() override;
  Status RevokeEnrollmentToken(std::int64_t id, const Actor& actor, std::int64_t now_ms) override;

  Result<std::int64_t> CreateSession(const NewSession& session, const Actor& actor) override;
  Result<std::optional<Principal>> FindSession(const std::string& token_hash,
                                               std::int64_t now_ms) override;
  Status TouchSession(std::int64_t id, std::int64_t now_ms) override;
  Status EndSession(std::int64_t id, const Actor& actor, std::int64_t now_ms) override;

  Status AppendAudit(const AuditEntry& entry) override;
  Result<AuditPage> ListAudit(const AuditQuery& query) override;
  Result<CutOffAgents> AgentsCutOffAfter(std::int64_t after_id) override;

 private:
  Result<std::optional<UserRecord>> ReadUser(const std::string& where, const SqlArg& key);
  // Ends every session of the user, and with `tokens` revokes every API token too.
  Status EndSessions(std::int64_t user_id, bool tokens);
  Result<std::int64_t> EnabledAdmins();
};

// The ticket desk: tickets, their timeline, notes and worklog, what the incident engine does to
// them, and maintenance windows (sql_tickets.cpp).
class SqlTickets : public SqlAccess {
 public:
  using SqlAccess::SqlAccess;

  Result<TicketRecord> CreateTicket(const NewTicket& ticket, const SlaTargets& sla,
                                    const Actor& actor, std::int64_t now_ms) override;
  Result<std::optional<TicketRecord>> GetTicket(std::int64_t id) override;
  Result<TicketPage> ListTickets(const TicketQuery& query) override;
  Result<TicketRecord> ActOnTicket(std::int64_t id, const TicketAction& action, const Actor& actor,
                                   std::int64_t now_ms) override;
  Result<TicketRecord> PatchTicket(std::int64_t id, const TicketPatch& patch, const SlaTargets& sla,
                                   const Actor& actor, std::int64_t now_ms) override;
  Result<TicketNote> AddNote(std::int64_t ticket_id, const TicketNote& note, const Actor& actor,
                             std::int64_t now_ms) override;
  Result<std::vector<TicketNote>> ListNotes(std::int64_t ticket_id, bool internal_too) override;
  Result<TicketAttachment> AddAttachment(std::int64_t ticket_id, const TicketAttachment& attachment,
                                         std::string_view content, const Actor& actor,
                                         std::int64_t now_ms) override;
  Result<std::vector<TicketAttachment>> ListAttachments(std::int64_t ticket_id) override;
  Result<std::optional<std::pair<TicketAttachment, std::string>>> GetAttachment(
      std::int64_t ticket_id, std::int64_t attachment_id) override;
  Result<TicketAttachment> RemoveAttachment(std::int64_t ticket_id, std::int64_t attachment_id,
                                            const Actor& actor, std::int64_t now_ms) override;
  Result<bool> AttachmentFileUsed(const std::string& sha256) override;
  Result<TicketEventPage> ListTicketEvents(std::int64_t ticket_id,
                                           std::optional<std::int64_t> before_id,
                                           int limit) override;
  Result<WorklogEntry> AppendWorklog(std::int64_t ticket_id, const WorklogEntry& entry,
                                     const Actor& actor) override;
  Result<WorklogPage> ListWorklog(std::int64_t ticket_id, std::optional<std::int64_t> before_id,
                                  int limit) override;
  Result<std::vector<TicketSearchHit>> SearchTickets(const TicketSearchQuery& query) override;
  Result<std::string> RollSearchIndexes(std::int64_t segment) override;

  Result<IncidentOutcome> RaiseIncident(const IncidentSignal& signal,
                                        const SlaTargets& sla) override;
  Result<std::int64_t> RecoverIncident(const std::string& fingerprint, std::int64_t at_ms) override;
  Result<std::int64_t> SetFlapping(const std::string& fingerprint, bool flapping,
                                   std::int64_t at_ms) override;
  Result<std::vector<std::int64_t>> ResolveQuietIncidents(std::int64_t recovered_before_ms,
                                                          std::int64_t now_ms) override;
  Result<std::vector<std::string>> OpenFingerprints() override;
  Result<std::vector<SlaBreach>> RecordSlaBreaches(std::int64_t now_ms) override;

  void SetOutbox(Outbox outbox) override { outbox_ = std::move(outbox); }
  Status EnqueueNotifications(const std::vector<NotificationRecord>& items) override;
  Result<std::optional<NotificationRecord>> ClaimNotification(std::int64_t now_ms,
                                                              std::int64_t lease_ms) override;
  Status FinishNotification(std::int64_t id, bool delivered, std::int64_t now_ms,
                            const std::string& error,
                            std::optional<std::int64_t> retry_at_ms) override;
  Result<std::vector<NotificationRecord>> ListNotifications(std::int64_t ticket_id) override;

  Result<MaintenanceWindow> CreateMaintenanceWindow(const MaintenanceWindow& window,
                                                    const Actor& actor) override;
  Result<std::vector<MaintenanceWindow>> ListMaintenanceWindows(bool past_too,
                                                                std::int64_t now_ms) override;
  Status EndMaintenanceWindow(std::int64_t id, const Actor& actor, std::int64_t now_ms) override;

 protected:
  // A timeline entry of the ticket, inside the caller's transaction.
  Status Event(std::int64_t ticket_id, std::int64_t at_ms, const std::string& kind,
               const std::string& subject, const std::string& old_value,
               const std::string& new_value, const std::string& actor);

 private:
  // A range of a searched table's ids with a GIN index of its own (PostgreSQL): above `above`,
  // up to `up_to` (none: the newest entries).
  struct SearchSegment {
    std::int64_t above = 0;
    std::optional<std::int64_t> up_to;
    bool operator==(const SearchSegment&) const = default;
  };
  // The ranges of each table (by name), newest first.
  Status ReadSearchSegments(std::map<std::string, std::vector<SearchSegment>, std::less<>>& out);
  // The ticket's row; inside a write transaction locked against other servers (PostgreSQL).
  Result<std::optional<TicketRecord>> ReadTicket(std::int64_t id, bool lock);
  Result<TicketRecord> MustRead(std::int64_t id, bool lock);
  // Locked; kFailedPrecondition when the ticket is closed.
  Result<TicketRecord> MustReadOpen(std::int64_t id);
  // The open incident of a fingerprint, locked.
  Result<std::optional<TicketRecord>> OpenIncident(const std::string& fingerprint);
  // Writes every field a change may touch.
  Status Save(const TicketRecord& ticket);
  // Moves the ticket to `to` with its SLA bookkeeping (clocks paused while pending or resolved)
  // and a timeline entry.
  Status MoveTo(TicketRecord& ticket, engine::tickets::State to, const std::string& action,
                const std::string& actor, std::int64_t now_ms);
  // A person acted: the first time is the first response.
  Status Responded(TicketRecord& ticket, const std::string& actor, std::int64_t now_ms);
  Result<IncidentOutcome> TryRaise(const IncidentSignal& signal, const SlaTargets& sla);
  // A service incident names, in a `task` timeline entry, each task that was acting on that
  // unit of the host when it failed (a restart that left it failed): inside the caller's
  // transaction.
  Status LinkServiceTasks(std::int64_t ticket_id, const IncidentSignal& signal);
  // Writes the outbox's notifications of `event` on `ticket`, inside the caller's transaction.
  Status Notify(const std::string& event, const TicketRecord& ticket, std::int64_t at_ms);
  Status InsertNotifications(const std::vector<NotificationRecord>& items);
  // SQLite's full-text tables are contentless: the store adds each row's words, and takes them
  // out again with the text they were added with. PostgreSQL indexes an expression instead.
  Status AddWords(const char* table, std::int64_t id, const std::string& text);
  Status RemoveWords(const char* table, std::int64_t id, const std::string& text);
  // The WHERE conditions of a ticket list's filters, over `tickets t`.
  static void Filters(const TicketQuery& q, std::vector<std::string>& where,
                      std::vector<SqlArg>& args);

  Outbox outbox_;
};

// Monthly reports and their rollups (sql_reports.cpp).
class SqlReports : public SqlTickets {
 public:
  using SqlTickets::SqlTickets;

  Result<std::vector<MonthlyRow>> MonthlyReport(const ReportQuery& query,
                                                std::int64_t now_ms) override;
  Result<std::vector<NoiseRow>> NoiseReport(const std::string& from_month,
                                            const std::string& to_month, const std::string& what,
                                            int limit, std::int64_t now_ms) override;
  Result<std::string> RollUpReports(std::int64_t now_ms) override;

 private:
  struct MonthFigures;
  // One month's rows for every kind and dimension, and its noise, from the tickets.
  Result<MonthFigures> Figures(const std::string& month);
  // When each month of the range was rolled up.
  Result<std::map<std::string, std::int64_t>> RolledUp(const std::string& from,
                                                       const std::string& to);
  // Whether a rollup made at `computed_ms` holds the month's final figures.
  static bool Final(const std::string& month, std::int64_t computed_ms);
  // Whether a report reads it: final, or recent enough for a month still moving.
  static bool Usable(const std::string& month, std::int64_t computed_ms, std::int64_t now_ms);
};

// Configuration tasks: their hosts, results and rollouts (sql_tasks.cpp).
class SqlTasks : public SqlReports {
 public:
  using SqlReports::SqlReports;

  Result<std::vector<TaskTarget>> ResolveTaskTargets(const TaskTargeting& targeting) override;
  Result<TaskRecord> CreateTask(const NewTask& task, const Actor& actor,
                                std::int64_t now_ms) override;
  Result<std::optional<TaskRecord>> GetTask(std::int64_t id) override;
  Result<TaskPage> ListTasks(std::optional<std::int64_t> before_id, int limit) override;
  Result<std::vector<TaskHostRecord>> ListTaskHosts(std::int64_t task_id, const std::string& state,
                                                    std::int64_t after_host, int limit) override;
  Result<std::vector<TaskHostRecord>> HostTasks(std::int64_t host_id, int limit) override;
  Result<bool> RecordTaskResult(std::int64_t task_id, std::int64_t host_id,
                                const TaskResultRecord& result, std::int64_t now_ms) override;
  Result<std::vector<DueTaskHost>> DueTaskHosts(std::int64_t now_ms, std::int64_t after_task,
                                                std::int64_t after_host, int limit) override;
  Result<std::vector<bool>> MarkTasksSent(
      const std::vector<std::pair<std::int64_t, std::int64_t>>& task_hosts,
      std::int64_t now_ms) override;
  Result<std::vector<Result<bool>>> RecordTaskResults(const std::vector<AgentTaskResult>& results,
                                                      std::int64_t now_ms) override;
  Result<TaskRecord> CancelTask(std::int64_t id, const Actor& actor, std::int64_t now_ms) override;
  Result<TaskSweep> SweepTasks(std::int64_t now_ms) override;
  Result<std::vector<AgentProfileRecord>> ListAgentProfiles() override;
  Result<AgentProfileRecord> SaveAgentProfile(const AgentProfileRecord& profile, const Actor& actor,
                                              std::int64_t now_ms) override;
  Status DeleteAgentProfile(std::int64_t id, const Actor& actor, std::int64_t now_ms) override;
  Result<std::map<std::string, std::vector<std::string>>> AgentTags(
      const std::vector<std::string>& agent_ids) override;

 private:
  // The tasks the statement's rows name (its first column their ids), with their counts.
  Result<std::vector<TaskRecord>> ReadTasks(const std::string& where, std::vector<SqlArg> args,
                                            const std::string& tail = "");
  // Hosts settled by a batch of results (or the sweep), and how many of them failed.
  struct Settled {
    std::int64_t hosts = 0;
    std::int64_t failures = 0;
  };
  // One host of a task to a final state, if it is in one of the `from` states (an SQL list);
  // answers whether it was. The sweep's: results go many to a statement.
  Result<bool> SettleHost(std::int64_t task_id, std::int64_t host_id, const char* from,
                          const std::string& state, const TaskResultRecord& result,
                          std::int64_t now_ms);
  // The rollout's bookkeeping once hosts settled, inside the caller's transaction: the counts
  // kept, the threshold checked, the next batch opened, the task finished with its last host.
  Status Advance(std::int64_t task_id, const Settled& settled, std::int64_t now_ms);
  // A host that ended a task: its state, for the host's history.
  struct Ended {
    std::int64_t task_id = 0;
    std::int64_t host_id = 0;
    std::string state;
  };
  // A `task` event in each host's history, inside the caller's transaction: subject "task 42
  // service.restart nginx.service", the final state, and who submitted the task.
  Status AddTaskEvents(const std::vector<Ended>& ended, std::int64_t now_ms);
  // PostgreSQL: tells the other servers (their task threads) that hosts may be due a task.
  Status NotifyPeers();
};

}  // namespace fleetdesk::server::store
