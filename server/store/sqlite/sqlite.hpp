// Thin RAII owners for sqlite3 handles; the only file pair that calls the sqlite3 C API.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "common/result.hpp"

namespace fleetdesk::server::store::sqlite {

class Statement;

// One database connection. Not thread-safe (the store gives each thread its own).
class Database {
 public:
  static Result<Database> Open(const std::string& path);
  Database(Database&& other) noexcept : db_(other.db_) { other.db_ = nullptr; }
  Database& operator=(Database&&) = delete;
  Database(const Database&) = delete;
  ~Database();

  // Runs one or more statements with no parameters (schema, pragmas, BEGIN/COMMIT).
  Status Exec(std::string_view sql);
  Result<Statement> Prepare(std::string_view sql);
  std::int64_t LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
  int Changes() const { return sqlite3_changes(db_); }
  // The raw handle, for the few APIs this wrapper does not cover (online backup).
  sqlite3* handle() const { return db_; }
  Error LastError(std::string_view what) const;

 private:
  explicit Database(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

// A prepared statement. Bind* take 1-based indexes, as sqlite3 does.
class Statement {
 public:
  Statement(Statement&& other) noexcept : stmt_(other.stmt_), db_(other.db_) {
    other.stmt_ = nullptr;
  }
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(stmt_); }

  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, double value);
  Statement& Bind(int index, std::string_view value);
  Statement& BindBlob(int index, std::string_view value);
  // Without a copy: the bytes must stay valid until the statement is reset and its bindings
  // cleared (ClearBindings), which the store's Run does before it returns.
  Statement& BindView(int index, std::string_view value);
  Statement& BindBlobView(int index, std::string_view value);
  void ClearBindings();
  Statement& Bind(int index, std::nullopt_t);
  Statement& Bind(int index, const std::optional<std::int64_t>& value);

  // True when a row is ready to read, false when done; an error when the statement failed.
  Result<bool> Step();
  // Steps to the end, for statements that return no rows.
  Status Run();
  void Reset();

  std::int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  double Double(int column) const { return sqlite3_column_double(stmt_, column); }
  std::string Text(int column) const;
  std::string Blob(int column) const;
  bool IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }
  // Whether the statement only reads (a SELECT): then it changed no rows, whatever
  // sqlite3_changes() still says of the last write.
  bool ReadOnly() const { return sqlite3_stmt_readonly(stmt_) != 0; }

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, sqlite3* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_;
  sqlite3* db_;
};

// Keeps a database's WAL short without making a committing thread copy it back. SQLite's own
// checkpoint runs in the connection whose commit filled the WAL, so at 10,000 reports/s the writer
// stopped for the whole copy and fsync of 64 MiB every few seconds, and the reports queued behind
// it missed their ack target. Here a thread of its own copies the bulk (a PASSIVE checkpoint never
// blocks the writer), and the committing connection copies only the last few frames the writer
// added meanwhile: the WAL is then fully copied and the next write transaction starts it from the
// beginning. One per database file, shared by its connections (Attach).
class WalCheckpointer {
 public:
  // Pages of 4 KiB. Background copying starts once `start` frames are not yet copied; the WAL
  // restarts once it holds `restart` frames and at most `catch_up` of them are uncopied; at `limit`
  // the committing connection copies whatever is left (the background thread cannot keep up).
  // Passes of 32 MiB copy a page written again within the pass once: at 10,000 reports/s the
  // thread spends half the CPU it did with passes of 4 MiB (see BENCHMARKS.md).
  struct Limits {
    int start = 8192;
    int restart = 32768;
    int catch_up = 2048;
    int limit = 131072;
  };
  // The checkpointer of `path`, made on first use and shared while any connection holds it.
  static std::shared_ptr<WalCheckpointer> For(const std::string& path, Limits limits);
  static std::shared_ptr<WalCheckpointer> For(const std::string& path) {
    return For(path, Limits{});
  }
  ~WalCheckpointer();
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // Replaces the connection's automatic checkpoint by this one. The connection must be closed
  // before the checkpointer is released.
  void Attach(Database& db);

  // How many checkpoints each side ran; for tests and the server's log.
  std::int64_t background_runs() const;
  std::int64_t in_place_runs() const;

 private:
  WalCheckpointer(std::string path, Limits limits);
  static int OnCommit(void* self, sqlite3* db, const char* schema, int frames);
  void Committed(sqlite3* db, int frames);
  void Run();

  const std::string path_;
  const Limits limits_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // the background thread: a checkpoint is wanted
  std::condition_variable idle_;  // a committer at the limit: the background pass has ended
  bool wanted_ = false;           // the background thread has a checkpoint to run
  bool running_ = false;          // it is running one
  bool stopping_ = false;
  int copied_ = 0;  // frames of the current WAL copied back, as the last checkpoint reported
  std::int64_t background_runs_ = 0;
  std::int64_t in_place_runs_ = 0;
  std::thread thread_;
};

}  // namespace fleetdesk::server::store::sqlite
