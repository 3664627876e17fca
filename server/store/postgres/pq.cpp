#include "server/store/postgres/pq.hpp"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <utility>

namespace fleetdesk::server::store::postgres {
namespace {

// SQLSTATE classes that mean "try again later" rather than "this statement is wrong": the
// connection went, the server is shutting down or out of resources, or a transaction lost a
// serialization race.
bool Transient(std::string_view state) {
  return state.rfind("08", 0) == 0 || state.rfind("53", 0) == 0 || state.rfind("57", 0) == 0 ||
         state == "40001" || state == "40P01";
}

}  // namespace

Params& Params::Add(std::int64_t value) {
  values_.emplace_back(std::to_string(value));
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(double value) {
  char buffer[32];
  // %.17g round-trips every double through text.
  int n = std::snprintf(buffer, sizeof buffer, "%.17g", value);
  values_.emplace_back(std::string(buffer, static_cast<std::size_t>(n)));
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(bool value) {
  values_.emplace_back(value ? "t" : "f");
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(std::string_view value) {
  values_.emplace_back(std::string(value));
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(std::nullopt_t) {
  values_.emplace_back(std::nullopt);
  formats_.push_back(0);
  return *this;
}

Params& Params::Add(const std::optional<std::int64_t>& value) {
  return value ? Add(*value) : Add(std::nullopt);
}

Params& Params::AddBytes(std::string_view value) {
  values_.emplace_back(std::string(value));
  formats_.push_back(1);
  return *this;
}

Params& Params::AddBytesOrNull(const std::optional<std::string>& value) {
  return value ? AddBytes(std::string_view(*value)) : Add(std::nullopt);
}

void Rows::Free::operator()(pg_result* result) const { PQclear(result); }

int Rows::size() const { return PQntuples(result_.get()); }

std::int64_t Rows::affected() const {
  const char* count = PQcmdTuples(result_.get());
  std::int64_t n = 0;
  std::from_chars(count, count + std::char_traits<char>::length(count), n);
  return n;
}

bool Rows::IsNull(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string Rows::Text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::int64_t Rows::Int(int row, int column) const {
  const char* text = PQgetvalue(result_.get(), row, column);
  std::int64_t value = 0;
  std::from_chars(text, text + PQgetlength(result_.get(), row, column), value);
  return value;
}

double Rows::Double(int row, int column) const {
  return std::strtod(PQgetvalue(result_.get(), row, column), nullptr);
}

bool Rows::Bool(int row, int column) const {
  return PQgetvalue(result_.get(), row, column)[0] == 't';
}

std::string Rows::Bytes(int row, int column) const {
  if (IsNull(row, column)) return {};
  std::size_t length = 0;
  unsigned char* bytes = PQunescapeBytea(
      reinterpret_cast<const unsigned char*>(PQgetvalue(result_.get(), row, column)), &length);
  if (bytes == nullptr) return {};
  std::string out(reinterpret_cast<const char*>(bytes), length);
  PQfreemem(bytes);
  return out;
}

Result<Connection> Connection::Open(const std::string& url) {
  pg_conn* conn = PQconnectdb(url.c_str());
  if (conn == nullptr) return MakeError(ErrorCode::kUnavailable, "postgresql: out of memory");
  if (PQstatus(conn) != CONNECTION_OK) {
    std::string message = PQerrorMessage(conn);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    PQfinish(conn);
    return MakeError(ErrorCode::kUnavailable, "cannot connect to PostgreSQL: " + message);
  }
  Connection out(conn);
  // Notices (NOTICE: relation already exists, skipping) are not errors; keep them off stderr.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  return out;
}

Result<int> Connection::WaitForNotifications(std::chrono::milliseconds timeout) {
  auto take = [this] {
    int count = 0;
    while (PGnotify* notify = PQnotifies(conn_)) {
      ++count;
      PQfreemem(notify);
    }
    return count;
  };
  auto broken = [this] {
    std::string message = PQerrorMessage(conn_);
    while (!message.empty() && message.back() == '\n') message.pop_back();
    return MakeError(ErrorCode::kUnavailable, "postgresql: " + message);
  };
  if (PQconsumeInput(conn_) == 0) return broken();
  if (int count = take(); count > 0) return count;
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  if (fd.fd < 0) return broken();
  const int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR) {
    return MakeError(ErrorCode::kUnavailable, std::string("poll: ") + strerror(errno));
  }
  if (ready <= 0) return 0;
  if (PQconsumeInput(conn_) == 0) return broken();
  return take();
}

Connection::Connection(Connection&& other) noexcept
    : conn_(other.conn_), prepared_(std::move(other.prepared_)) {
  other.conn_ = nullptr;
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Error Connection::ResultError(pg_result* result, std::string_view what) const {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string message = result != nullptr ? PQresultErrorMessage(result) : PQerrorMessage(conn_);
  while (!message.empty() && message.back() == '\n') message.pop_back();
  ErrorCode code = ErrorCode::kInternal;
  if (state != nullptr && std::string_view(state) == "23505") {
    code = ErrorCode::kAlreadyExists;
  } else if (state == nullptr || Transient(state) || PQstatus(conn_) != CONNECTION_OK) {
    code = ErrorCode::kUnavailable;
  }
  return MakeError(code, std::string(what) + ": " + message);
}

void Connection::ReconnectIfLost() {
  // A server restart or a cut leaves the handle unusable; the next statement reconnects rather
  // than failing forever. Statements prepared on the lost session are gone with it.
  if (PQstatus(conn_) == CONNECTION_BAD) {
    PQreset(conn_);
    prepared_.clear();
  }
}

Status Connection::Exec(std::string_view sql) {
  Status drained = Drain();
  ReconnectIfLost();
  pg_result* result = PQexec(conn_, std::string(sql).c_str());
  auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = ResultError(result, "postgresql");
    PQclear(result);
    return drained ? Status(error) : drained;
  }
  PQclear(result);
  return drained;
}

Result<const std::string*> Connection::Prepared(const std::string& sql) {
  auto found = prepared_.find(sql);
  if (found != prepared_.end()) return &found->second;
  // Prepared outside the pipeline, once per connection and text: a plain round trip keeps the
  // pipeline's answers one per statement.
  if (auto s = Drain(); !s) return s.error();
  ReconnectIfLost();
  std::string name = "s" + std::to_string(prepared_.size() + 1);
  pg_result* result = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
  if (PQresultStatus(result) != PGRES_COMMAND_OK) {
    Error error = ResultError(result, "postgresql: cannot prepare statement");
    PQclear(result);
    return error;
  }
  PQclear(result);
  return &prepared_.emplace(sql, std::move(name)).first->second;
}

// The parameters as libpq takes them: pointers into `params`, which must outlive the call.
struct Connection::Wire {
  explicit Wire(const Params& params) : formats(params.formats_.data()) {
    values.reserve(params.values_.size());
    lengths.reserve(params.values_.size());
    for (const auto& value : params.values_) {
      values.push_back(value ? value->data() : nullptr);
      lengths.push_back(value ? static_cast<int>(value->size()) : 0);
    }
  }
  int size() const { return static_cast<int>(values.size()); }
  std::vector<const char*> values;
  std::vector<int> lengths;
  const int* formats;
};

Result<Rows> Connection::Query(const std::string& sql, const Params& params) {
  if (auto s = Drain(); !s) return s.error();
  // Before the lookup: a reconnect forgets the statements prepared on the lost session.
  ReconnectIfLost();
  auto name = Prepared(sql);
  if (!name) return name.error();
  Wire wire(params);
  pg_result* result = PQexecPrepared(conn_, (*name)->c_str(), wire.size(), wire.values.data(),
                                     wire.lengths.data(), wire.formats, 0);
  auto status = PQresultStatus(result);
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    Error error = ResultError(result, "postgresql");
    PQclear(result);
    return error;
  }
  return Rows(result);
}

Status Connection::Queue(const std::string& sql, const Params& params, bool keep) {
  // Answers wait in the server's socket until read: read them every few hundred statements so
  // neither side's buffers grow with the batch.
  constexpr std::size_t kMaxQueued = 500;
  if (queued_.size() >= kMaxQueued) {
    if (auto s = Drain(); !s) return s;
  }
  if (queued_.empty()) ReconnectIfLost();  // before the lookup, as in Query
  auto name = Prepared(sql);
  if (!name) return name.error();
  if (queued_.empty()) {
    if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF && PQenterPipelineMode(conn_) != 1) {
      return ResultError(nullptr, "postgresql: cannot enter pipeline mode");
    }
  }
  Wire wire(params);
  if (PQsendQueryPrepared(conn_, (*name)->c_str(), wire.size(), wire.values.data(),
                          wire.lengths.data(), wire.formats, 0) != 1) {
    Error error = ResultError(nullptr, "postgresql: cannot send statement");
    (void)Drain();
    return error;
  }
  queued_.push_back(keep);
  return {};
}

Status Connection::Send(const std::string& sql, const Params& params) {
  return Queue(sql, params, false);
}

Result<std::vector<Rows>> Connection::Pipeline(const std::string& sql,
                                               const std::vector<Params>& each) {
  kept_.clear();
  for (const auto& params : each) {
    if (auto s = Queue(sql, params, true); !s) {
      kept_.clear();
      return s.error();
    }
  }
  if (auto s = Drain(); !s) {
    kept_.clear();
    return s.error();
  }
  return std::move(kept_);
}

Result<std::int64_t> Connection::Sync() {
  if (auto s = Drain(); !s) return s.error();
  return std::exchange(sent_affected_, 0);
}

Status Connection::Drain() {
  if (PQpipelineStatus(conn_) == PQ_PIPELINE_OFF) return {};
  std::optional<Error> failed;
  if (PQpipelineSync(conn_) != 1) failed = ResultError(nullptr, "postgresql: pipeline");
  for (bool keep : queued_) {
    // Each statement's answer is one result, then a null.
    pg_result* answer = PQgetResult(conn_);
    while (pg_result* extra = answer != nullptr ? PQgetResult(conn_) : nullptr) PQclear(extra);
    if (answer == nullptr) {
      if (!failed) failed = ResultError(nullptr, "postgresql: pipeline ended early");
      continue;
    }
    auto status = PQresultStatus(answer);
    if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
      Rows rows(answer);
      if (keep) {
        kept_.push_back(std::move(rows));
      } else {
        sent_affected_ += rows.affected();
      }
      continue;
    }
    // After a failure the rest answer "aborted": the first error is the one to report.
    if (!failed) failed = ResultError(answer, "postgresql");
    PQclear(answer);
  }
  queued_.clear();
  if (pg_result* sync = PQgetResult(conn_); sync != nullptr) {
    if (PQresultStatus(sync) != PGRES_PIPELINE_SYNC && !failed) {
      failed = ResultError(sync, "postgresql: pipeline");
    }
    PQclear(sync);
  } else if (!failed) {
    failed = ResultError(nullptr, "postgresql: pipeline ended early");
  }
  if (PQexitPipelineMode(conn_) != 1 && !failed) {
    failed = ResultError(nullptr, "postgresql: cannot leave pipeline mode");
  }
  if (failed) {
    sent_affected_ = 0;
    kept_.clear();
    return *failed;
  }
  return {};
}

}  // namespace fleetdesk::server::store::postgres
