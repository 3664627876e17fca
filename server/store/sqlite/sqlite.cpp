#include "server/store/sqlite/sqlite.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <map>
#include <thread>

namespace fleetdesk::server::store::sqlite {

namespace {

// Another connection holds the write lock (the incident engine filing a ticket, an API request,
// a job): try again soon. SQLite's own handler (busy_timeout) sleeps 1, 2, 5, 10, 15, 20, 25 and
// then up to 100 ms between tries, so a connection that found the lock taken two or three times
// slept tens of milliseconds past the moment it was free; behind the writer that was every
// agent's ack. Holders keep the lock for one commit, a few milliseconds: polling every quarter of
// a millisecond, then every millisecond, costs little next to that. Gives up after about 5 s, as
// busy_timeout=5000 did.
int RetryBusy(void* /*unused*/, int tries) {
  constexpr int kFastTries = 40;  // 10 ms at 250 µs
  constexpr int kSlowTries = 4990;
  if (tries >= kFastTries + kSlowTries) return 0;
  std::this_thread::sleep_for(tries < kFastTries ? std::chrono::microseconds(250)
                                                 : std::chrono::microseconds(1000));
  return 1;
}

}  // namespace

Result<Database> Database::Open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return MakeError(ErrorCode::kUnavailable, "cannot open database " + path + ": " + message);
  }
  Database out(db);
  // The busy handler first: the writer and the enrollment path may want the write lock at the
  // same time, and even switching to WAL waits for a lock while another connection writes.
  // WAL lets API readers run while the writer commits. synchronous=FULL makes a commit durable
  // before the agent's ack goes out; group commit pays the fsync once per batch.
  // cache_size: SQLite's 2 MiB default makes the writer re-read the hosts' pages from the OS on
  // every report of a large fleet (pread was the writer's top cost with 10,000 agents); 64 MiB
  // holds their working set and is taken only as it is used.
  // The store's connections checkpoint through a WalCheckpointer (see there).
  sqlite3_busy_handler(db, RetryBusy, nullptr);
  auto status = out.Exec(
      "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
      "PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;");
  if (!status) return status.error();
  return out;
}

Database::~Database() { sqlite3_close(db_); }

Error Database::LastError(std::string_view what) const {
  return MakeError(ErrorCode::kUnavailable, std::string(what) + ": " + sqlite3_errmsg(db_));
}

Status Database::Exec(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    Error error = MakeError(ErrorCode::kUnavailable,
                            std::string("sqlite: ") + (message != nullptr ? message : "error"));
    sqlite3_free(message);
    return error;
  }
  return {};
}

Result<Statement> Database::Prepare(std::string_view sql) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr) !=
      SQLITE_OK) {
    return LastError("cannot prepare statement");
  }
  return Statement(stmt, db_);
}

Statement& Statement::Bind(int index, std::int64_t value) {
  sqlite3_bind_int64(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, double value) {
  sqlite3_bind_double(stmt_, index, value);
  return *this;
}
Statement& Statement::Bind(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindBlob(int index, std::string_view value) {
  sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::BindView(int index, std::string_view value) {
  sqlite3_bind_text(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}
Statement& Statement::BindBlobView(int index, std::string_view value) {
  sqlite3_bind_blob(stmt_, index, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
  return *this;
}
void Statement::ClearBindings() { sqlite3_clear_bindings(stmt_); }
Statement& Statement::Bind(int index, std::nullopt_t) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}
Statement& Statement::Bind(int index, const std::optional<std::int64_t>& value) {
  return value ? Bind(index, *value) : Bind(index, std::nullopt);
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ErrorCode code =
      (rc & 0xFF) == SQLITE_CONSTRAINT ? ErrorCode::kAlreadyExists : ErrorCode::kUnavailable;
  return MakeError(code, std::string("sqlite: ") + sqlite3_errmsg(db_));
}

Status Statement::Run() {
  for (;;) {
    auto row = Step();
    if (!row) return row.error();
    if (!*row) return {};
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int column) const {
  const auto* text = sqlite3_column_text(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::string Statement::Blob(int column) const {
  const auto* data = sqlite3_column_blob(stmt_, column);
  if (data == nullptr) return {};
  return {static_cast<const char*>(data),
          static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}

std::shared_ptr<WalCheckpointer> WalCheckpointer::For(const std::string& path, Limits limits) {
  static std::mutex registry_mutex;
  static std::map<std::string, std::weak_ptr<WalCheckpointer>> registry;
  std::lock_guard lock(registry_mutex);
  auto& slot = registry[path];
  if (auto shared = slot.lock()) return shared;
  std::shared_ptr<WalCheckpointer> made(new WalCheckpointer(path, limits));
  slot = made;
  return made;
}

WalCheckpointer::WalCheckpointer(std::string path, Limits limits)
    : path_(std::move(path)), limits_(limits) {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fd-checkpoint");
    Run();
  });
}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::Attach(Database& db) { sqlite3_wal_hook(db.handle(), &OnCommit, this); }

std::int64_t WalCheckpointer::background_runs() const {
  std::lock_guard lock(mutex_);
  return background_runs_;
}

std::int64_t WalCheckpointer::in_place_runs() const {
  std::lock_guard lock(mutex_);
  return in_place_runs_;
}

int WalCheckpointer::OnCommit(void* self, sqlite3* db, const char* /*schema*/, int frames) {
  static_cast<WalCheckpointer*>(self)->Committed(db, frames);
  return SQLITE_OK;
}

void WalCheckpointer::Committed(sqlite3* db, int frames) {
  std::unique_lock lock(mutex_);
  if (frames < copied_) copied_ = 0;  // the WAL restarted since the last checkpoint
  const int uncopied = frames - copied_;
  if (frames >= limits_.limit) {
    // The background thread cannot keep up: wait for its pass and copy the rest here, so the WAL
    // stays bounded.
    idle_.wait(lock, [this] { return !running_; });
    wanted_ = false;
  } else {
    const bool idle = !running_ && !wanted_;
    // Copying the last frames here is what lets the WAL restart: the background thread never
    // catches a writer that keeps committing.
    if (!idle || frames < limits_.restart || uncopied > limits_.catch_up) {
      // Below `restart` the thread copies in passes of at least `start` frames: a page written
      // again within a pass is copied once. Past it, it copies whenever idle, to bring the
      // uncopied frames within `catch_up` soon.
      const bool due =
          uncopied >= limits_.start || (frames >= limits_.restart && uncopied > limits_.catch_up);
      if (idle && due) {
        wanted_ = true;
        wake_.notify_one();
      }
      return;
    }
  }
  lock.unlock();
  int log = 0;
  int copied = 0;
  const int rc = sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &copied);
  lock.lock();
  ++in_place_runs_;
  if (rc == SQLITE_OK) copied_ = copied;
}

void WalCheckpointer::Run() {
  std::optional<Database> db;
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || wanted_; });
    if (stopping_) return;
    wanted_ = false;
    running_ = true;
    lock.unlock();
    if (!db) {
      auto opened = Database::Open(path_);
      if (opened) {
        db.emplace(std::move(*opened));
      } else {
        spdlog::warn("WAL checkpoints stay in the committing thread: {}", opened.error().message);
      }
    }
    int log = 0;
    int copied = 0;
    int rc = db ? sqlite3_wal_checkpoint_v2(db->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log,
                                            &copied)
                : SQLITE_ERROR;
    lock.lock();
    running_ = false;
    ++background_runs_;
    if (rc == SQLITE_OK) copied_ = copied;
    idle_.notify_all();
  }
}

}  // namespace fleetdesk::server::store::sqlite
