// The one seam between the store's logic and its two databases: run a statement with `?`
// placeholders and read its rows. SqlStore writes every query once against it; the SQLite and
// PostgreSQL files implement it over their thin driver wrappers. Not an ORM: SQL stays SQL, and
// the few places where the dialects differ ask dialect().
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::server::store {

enum class Dialect { kSqlite, kPostgres };

// A byte string parameter (BLOB / BYTEA), as opposed to text.
struct Bytes {
  std::string_view value;
};

// One statement parameter. Views: the caller keeps the text alive until the statement ran.
class SqlArg {
 public:
  using Value = std::variant<std::monostate, std::int64_t, double, std::string_view, Bytes, bool>;
  SqlArg(std::nullopt_t) {}
  SqlArg(std::int64_t v) : value_(v) {}
  SqlArg(int v) : value_(std::int64_t{v}) {}
  SqlArg(std::uint64_t v) : value_(static_cast<std::int64_t>(v)) {}
  SqlArg(double v) : value_(v) {}
  // A BOOLEAN column (SQLite: 0 or 1).
  SqlArg(bool v) : value_(v) {}
  SqlArg(std::string_view v) : value_(v) {}
  SqlArg(const std::string& v) : value_(std::string_view(v)) {}
  SqlArg(const char* v) : value_(std::string_view(v)) {}
  SqlArg(Bytes v) : value_(v) {}
  SqlArg(const std::optional<std::int64_t>& v) {
    if (v) value_ = *v;
  }
  SqlArg(const std::optional<std::string>& v) {
    if (v) value_ = std::string_view(*v);
  }
  const Value& value() const { return value_; }

 private:
  Value value_;
};

// The row a statement is on. Columns are 0-based.
class SqlRow {
 public:
  virtual bool IsNull(int column) const = 0;
  virtual std::int64_t Int(int column) const = 0;
  virtual double Double(int column) const = 0;
  // SQLite stores booleans as integers, PostgreSQL as BOOLEAN: read either as a bool.
  virtual bool Bool(int column) const = 0;
  virtual std::string Text(int column) const = 0;
  virtual std::string Blob(int column) const = 0;
  std::optional<std::int64_t> OptInt(int column) const {
    return IsNull(column) ? std::nullopt : std::optional<std::int64_t>(Int(column));
  }
  std::optional<std::string> OptBlob(int column) const {
    return IsNull(column) ? std::nullopt : std::optional<std::string>(Blob(column));
  }

 protected:
  ~SqlRow() = default;
};

using RowFn = std::function<void(const SqlRow&)>;
// A row with the index of the argument list whose run returned it (RunEach).
using IndexedRowFn = std::function<void(std::size_t, const SqlRow&)>;

// One connection; not thread-safe. Statements are prepared on first use and kept by their text.
class SqlConn {
 public:
  virtual ~SqlConn() = default;
  virtual Dialect dialect() const = 0;
  // Statements without parameters (schema, BEGIN/COMMIT); several may be separated by ';'.
  virtual Status Exec(std::string_view sql) = 0;
  // Runs `sql`, calling `row` for each row it returns; answers the rows it changed (or returned).
  // Errors: kAlreadyExists for a unique violation, kUnavailable when the database is away.
  virtual Result<std::int64_t> Run(const std::string& sql, std::span<const SqlArg> args,
                                   const RowFn& row) = 0;

  Result<std::int64_t> Run(const std::string& sql, std::initializer_list<SqlArg> args = {},
                           const RowFn& row = {}) {
    return Run(sql, std::span<const SqlArg>(args.begin(), args.size()), row);
  }

  // The bulk of a group commit is writes nobody reads an answer from. Send runs one such statement
  // inside a transaction: SQLite at once; PostgreSQL in a pipeline, without waiting, so thousands
  // cost a few round trips rather than one each. Its error may come back from this call or from
  // the next Flush, Run, RunEach or Exec (the transaction is then lost as a whole). Statements
  // run in the order they were sent or run.
  virtual Status Send(const std::string& sql, std::span<const SqlArg> args) = 0;
  // Waits for every statement sent; answers the rows they changed since the last Flush.
  virtual Result<std::int64_t> Flush() = 0;
  // Runs `sql` once per argument list, in order (PostgreSQL: in one pipeline), calling `row`
  // with each returned row and its list's index; answers the rows each run changed or returned.
  virtual Result<std::vector<std::int64_t>> RunEach(const std::string& sql,
                                                    std::span<const std::vector<SqlArg>> each,
                                                    const IndexedRowFn& row) = 0;

  Status Send(const std::string& sql, std::initializer_list<SqlArg> args) {
    return Send(sql, std::span<const SqlArg>(args.begin(), args.size()));
  }
};

}  // namespace fleetdesk::server::store
