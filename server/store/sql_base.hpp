// The parts of the SQL store that every area of it uses: the connection, the dialect's few
// differences, statement helpers and the audit log's writer. SqlAccess (sql_access.cpp) adds
// identity and access on top; SqlStore (sql_store.cpp) adds hosts and their history.
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "server/store/sql.hpp"
#include "server/store/sql_common.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server::store {

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

}  // namespace fleetdesk::server::store
