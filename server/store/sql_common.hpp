// What the SQLite and PostgreSQL stores share beyond the Store interface: the host row's columns
// and the all-or-nothing transaction guard.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/result.hpp"

namespace fleetdesk::server::store {

// The columns of a HostRecord, in the order both stores read them.
inline constexpr const char* kHostColumns =
    "id, agent_id, machine_id, hostname, os_name, os_version, os_pretty_name, kernel, "
    "architecture, agent_version, first_seen_ms, last_seen_ms, connected, uptime_seconds, load1, "
    "load5, load15, last_seq, revoked, cert_serial, cert_not_after";
// Where they come from: the host row and its heartbeat row (migration 6), one of each per host.
inline constexpr const char* kHostTables =
    "hosts JOIN host_heartbeats ON host_heartbeats.host_id = hosts.id";

// Whether an enrollment token may enroll one more host at `now_ms`, or why not: the same words
// from both stores.
inline Status TokenUsable(bool revoked, std::int64_t expires_ms,
                          std::optional<std::int64_t> max_hosts, std::int64_t used_count,
                          std::int64_t now_ms) {
  if (revoked) return MakeError(ErrorCode::kPermissionDenied, "enrollment token has been revoked");
  if (expires_ms <= now_ms) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token has expired");
  }
  if (max_hosts && used_count >= *max_hosts) {
    return MakeError(ErrorCode::kPermissionDenied, "enrollment token is used up: it allowed " +
                                                       std::to_string(*max_hosts) + " host(s)");
  }
  return {};
}

// Rolls back unless Commit() was called; keeps every early return all-or-nothing. `Db` is a
// connection with Exec(sql) -> Status.
template <typename Db>
class Transaction {
 public:
  // `begin`: "BEGIN", or "BEGIN IMMEDIATE" to take SQLite's write lock at once.
  static Result<Transaction> Begin(Db& db, const char* begin = "BEGIN") {
    if (auto s = db.Exec(begin); !s) return s.error();
    return Transaction(db);
  }
  Transaction(Transaction&& other) noexcept : db_(other.db_), open_(other.open_) {
    other.open_ = false;
  }
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  ~Transaction() {
    if (open_) (void)db_.Exec("ROLLBACK");
  }
  // A failed COMMIT leaves the transaction to the destructor's ROLLBACK: SQLite keeps it open
  // (busy), and PostgreSQL, which has ended it, answers the ROLLBACK with a mere warning.
  Status Commit() {
    auto status = db_.Exec("COMMIT");
    if (status) open_ = false;
    return status;
  }

 private:
  explicit Transaction(Db& db) : db_(db) {}
  Db& db_;
  bool open_ = true;
};

}  // namespace fleetdesk::server::store
