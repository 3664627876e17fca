// Thin RAII owners for sqlite3 handles; the only file pair that calls the sqlite3 C API.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

}  // namespace fleetdesk::server::store::sqlite
