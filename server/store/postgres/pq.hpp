// Thin RAII owners for libpq handles; the only file pair that calls the libpq C API.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

struct pg_conn;
struct pg_result;

namespace fleetdesk::server::store::postgres {

// The parameters of one statement ($1, $2, ...), in order. Text parameters travel in
// PostgreSQL's text form, byte strings in binary form: no escaping either way.
class Params {
 public:
  Params& Add(std::int64_t value);
  Params& Add(double value);
  Params& Add(bool value);
  Params& Add(std::string_view value);
  Params& Add(const char* value) { return Add(std::string_view(value)); }
  Params& Add(std::nullopt_t);
  Params& Add(const std::optional<std::int64_t>& value);
  Params& AddBytes(std::string_view value);
  Params& AddBytesOrNull(const std::optional<std::string>& value);

 private:
  friend class Connection;
  std::vector<std::optional<std::string>> values_;
  std::vector<int> formats_;
};

// The rows a statement returned. Column accessors take 0-based indexes.
class Rows {
 public:
  Rows(Rows&&) noexcept = default;
  Rows& operator=(Rows&&) noexcept = default;

  int size() const;
  // Rows changed by an INSERT, UPDATE or DELETE.
  std::int64_t affected() const;
  bool IsNull(int row, int column) const;
  std::string Text(int row, int column) const;
  std::int64_t Int(int row, int column) const;
  double Double(int row, int column) const;
  bool Bool(int row, int column) const;
  // A bytea column, decoded.
  std::string Bytes(int row, int column) const;

 private:
  friend class Connection;
  struct Free {
    void operator()(pg_result* result) const;
  };
  explicit Rows(pg_result* result) : result_(result) {}
  std::unique_ptr<pg_result, Free> result_;
};

// One connection. Not thread-safe (the store gives each thread its own). Statements run through
// Query are prepared on first use and reused by their text.
class Connection {
 public:
  // `url`: postgresql://user@host:port/dbname?... as libpq takes it.
  static Result<Connection> Open(const std::string& url);
  Connection(Connection&& other) noexcept;
  Connection& operator=(Connection&&) = delete;
  Connection(const Connection&) = delete;
  ~Connection();

  // Runs statements with no parameters (schema, BEGIN/COMMIT, locks). Waits for any statement
  // sent first; fails with the first of their errors, after running `sql` all the same (so a
  // COMMIT after a failed statement still ends the transaction, as a rollback).
  Status Exec(std::string_view sql);
  // Waits for any statement sent first, then runs `sql`.
  Result<Rows> Query(const std::string& sql, const Params& params = {});

  // Pipeline mode (libpq's): statements sent without waiting for their answers, so a group
  // commit of thousands costs a few round trips instead of one each. Their errors come back from
  // the next Sync, Pipeline, Query or Exec. Run inside a transaction: a failed statement aborts
  // it, and the ones after it are skipped.
  Status Send(const std::string& sql, const Params& params);
  // Sends `sql` once per parameter list and waits for all of them: their rows, in order.
  Result<std::vector<Rows>> Pipeline(const std::string& sql, const std::vector<Params>& each);
  // Waits for every statement sent; answers the rows the Send statements changed since the last
  // Sync.
  Result<std::int64_t> Sync();

  // After `LISTEN channel` (through Exec): waits up to `timeout` for notifications and answers
  // how many arrived (0 when the time passed). Errors: kUnavailable when the connection broke.
  Result<int> WaitForNotifications(std::chrono::milliseconds timeout);

 private:
  struct Wire;
  explicit Connection(pg_conn* conn) : conn_(conn) {}
  Error ResultError(pg_result* result, std::string_view what) const;
  void ReconnectIfLost();
  Result<const std::string*> Prepared(const std::string& sql);
  Status Queue(const std::string& sql, const Params& params, bool keep);
  // Reads the answers of everything queued and leaves pipeline mode.
  Status Drain();

  pg_conn* conn_;
  std::map<std::string, std::string, std::less<>> prepared_;  // sql -> statement name
  // Statements in the pipeline whose answers are not read yet: whether to keep their rows.
  std::vector<bool> queued_;
  std::vector<Rows> kept_;
  std::int64_t sent_affected_ = 0;
};

}  // namespace fleetdesk::server::store::postgres
