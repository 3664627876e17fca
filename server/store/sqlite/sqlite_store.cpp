#include "server/store/sqlite/sqlite_store.hpp"

#include <array>

#include "server/store/sql_common.hpp"
#include "server/store/sqlite/sqlite.hpp"

namespace fleetdesk::server::store::sqlite {
namespace {

// Numbered migrations; a shipped migration is never edited, only followed by a new one.
constexpr std::array<const char*, 2> kMigrations = {
    // 1: hosts, enrollment tokens, users, API tokens.
    R"sql(
CREATE TABLE hosts (
  id INTEGER PRIMARY KEY,
  agent_id TEXT NOT NULL UNIQUE,
  machine_id TEXT NOT NULL,
  hostname TEXT NOT NULL,
  os_name TEXT NOT NULL DEFAULT '',
  os_version TEXT NOT NULL DEFAULT '',
  os_pretty_name TEXT NOT NULL DEFAULT '',
  kernel TEXT NOT NULL DEFAULT '',
  architecture TEXT NOT NULL DEFAULT '',
  agent_version TEXT NOT NULL DEFAULT '',
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  connected INTEGER NOT NULL DEFAULT 0,
  uptime_seconds INTEGER NOT NULL DEFAULT 0,
  load1 REAL NOT NULL DEFAULT 0,
  load5 REAL NOT NULL DEFAULT 0,
  load15 REAL NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0,
  cert_serial TEXT NOT NULL DEFAULT '',
  cert_not_after INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX hosts_machine_id ON hosts (machine_id);
CREATE TABLE enrollment_tokens (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  max_hosts INTEGER,
  used_count INTEGER NOT NULL DEFAULT 0,
  revoked INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL DEFAULT ''
);
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'requester', 'viewer')),
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL
);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  token_hash TEXT NOT NULL UNIQUE,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
)sql",
    // 2: what agents report beyond the heartbeat, current values only (history comes later).
    R"sql(
CREATE TABLE host_inventory (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  section TEXT NOT NULL,
  hash TEXT NOT NULL,
  body BLOB NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (host_id, section)
) WITHOUT ROWID;
CREATE TABLE host_services (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  unit TEXT NOT NULL,
  active_state TEXT NOT NULL,
  sub_state TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  body BLOB NOT NULL,
  updated_ms INTEGER NOT NULL,
  PRIMARY KEY (host_id, unit)
) WITHOUT ROWID;
CREATE TABLE host_checks (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  key TEXT NOT NULL,
  up INTEGER NOT NULL,
  checked_ms INTEGER NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (host_id, key)
) WITHOUT ROWID;
CREATE TABLE host_status (
  host_id INTEGER PRIMARY KEY REFERENCES hosts (id),
  metrics BLOB,
  metrics_ms INTEGER,
  services_status BLOB,
  journal BLOB
);
)sql",
};

HostRecord ReadHost(const Statement& s) {
  HostRecord h;
  h.id = s.Int(0);
  h.agent_id = s.Text(1);
  h.machine_id = s.Text(2);
  h.hostname = s.Text(3);
  h.os_name = s.Text(4);
  h.os_version = s.Text(5);
  h.os_pretty_name = s.Text(6);
  h.kernel = s.Text(7);
  h.architecture = s.Text(8);
  h.agent_version = s.Text(9);
  h.first_seen_ms = s.Int(10);
  h.last_seen_ms = s.Int(11);
  h.connected = s.Int(12) != 0;
  h.uptime_seconds = static_cast<std::uint64_t>(s.Int(13));
  h.load1 = s.Double(14);
  h.load5 = s.Double(15);
  h.load15 = s.Double(16);
  h.last_seq = static_cast<std::uint64_t>(s.Int(17));
  h.revoked = s.Int(18) != 0;
  h.cert_serial = s.Text(19);
  h.cert_not_after = s.Int(20);
  return h;
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(Database db) : db_(std::move(db)) {}

  Status Migrate() override {
    if (auto s = db_.Exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                          "version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL)");
        !s) {
      return s;
    }
    auto current = SchemaVersion();
    if (!current) return current.error();
    for (int version = *current + 1; version <= static_cast<int>(kMigrations.size()); ++version) {
      auto tx = Transaction<Database>::Begin(db_, "BEGIN IMMEDIATE");
      if (!tx) return tx.error();
      if (auto s = db_.Exec(kMigrations.at(version - 1)); !s) {
        return MakeError(s.error().code,
                         "migration " + std::to_string(version) + ": " + s.error().message);
      }
      auto insert = db_.Prepare(
          "INSERT INTO schema_migrations (version, applied_ms) "
          "VALUES (?, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))");
      if (!insert) return insert.error();
      if (auto s = insert->Bind(1, std::int64_t{version}).Run(); !s) return s;
      if (auto s = tx->Commit(); !s) return s;
    }
    return {};
  }

  Result<int> SchemaVersion() override {
    auto s = db_.Prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!s) return s.error();
    auto row = s->Step();
    if (!row) return row.error();
    return static_cast<int>(s->Int(0));
  }

  Result<std::vector<HostRecord>> LoadHosts() override {
    auto s = db_.Prepare(std::string("SELECT ") + kHostColumns + " FROM hosts ORDER BY id");
    if (!s) return s.error();
    std::vector<HostRecord> hosts;
    for (;;) {
      auto row = s->Step();
      if (!row) return row.error();
      if (!*row) break;
      hosts.push_back(ReadHost(*s));
    }
    return hosts;
  }

  Result<HostPage> ListHosts(const HostQuery& query) override {
    auto s = db_.Prepare(std::string("SELECT ") + kHostColumns +
                         " FROM hosts WHERE id > ? ORDER BY id LIMIT ?");
    if (!s) return s.error();
    // One row more than asked tells whether another page follows.
    s->Bind(1, query.after_id).Bind(2, std::int64_t{query.limit} + 1);
    HostPage page;
    for (;;) {
      auto row = s->Step();
      if (!row) return row.error();
      if (!*row) break;
      if (static_cast<int>(page.items.size()) == query.limit) {
        page.next_after_id = page.items.back().id;
        break;
      }
      page.items.push_back(ReadHost(*s));
    }
    return page;
  }

  Result<std::optional<HostRecord>> GetHost(std::int64_t id) override {
    auto s = db_.Prepare(std::string("SELECT ") + kHostColumns + " FROM hosts WHERE id = ?");
    if (!s) return s.error();
    s->Bind(1, id);
    auto row = s->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<HostRecord>();
    return std::optional<HostRecord>(ReadHost(*s));
  }

  Status Commit(const WriteBatch& batch) override {
    auto tx = Transaction<Database>::Begin(db_, "BEGIN IMMEDIATE");
    if (!tx) return tx.error();
    if (!update_host_) {
      auto s = db_.Prepare(
          "UPDATE hosts SET hostname = ?, os_name = ?, os_version = ?, os_pretty_name = ?, "
          "kernel = ?, architecture = ?, agent_version = ?, last_seen_ms = ?, connected = ?, "
          "uptime_seconds = ?, load1 = ?, load5 = ?, load15 = ?, "
          "last_seq = MAX(last_seq, ?) WHERE agent_id = ?");
      if (!s) return s.error();
      update_host_.emplace(std::move(*s));
    }
    Statement& s = *update_host_;
    for (const auto& h : batch.hosts) {
      s.Reset();
      s.Bind(1, h.hostname)
          .Bind(2, h.os_name)
          .Bind(3, h.os_version)
          .Bind(4, h.os_pretty_name)
          .Bind(5, h.kernel)
          .Bind(6, h.architecture)
          .Bind(7, h.agent_version)
          .Bind(8, h.last_seen_ms)
          .Bind(9, std::int64_t{h.connected ? 1 : 0})
          .Bind(10, static_cast<std::int64_t>(h.uptime_seconds))
          .Bind(11, h.load1)
          .Bind(12, h.load5)
          .Bind(13, h.load15)
          .Bind(14, static_cast<std::int64_t>(h.last_seq))
          .Bind(15, h.agent_id);
      if (auto status = s.Run(); !status) return status;
    }
    s.Reset();
    for (const auto& delta : batch.deltas) {
      if (auto status = ApplyDelta(delta); !status) return status;
    }
    return tx->Commit();
  }

  // Statements of the delta path, prepared once per connection.
  Result<Statement*> Prepared(std::optional<Statement>& slot, const char* sql) {
    if (!slot) {
      auto s = db_.Prepare(sql);
      if (!s) return s.error();
      slot.emplace(std::move(*s));
    }
    slot->Reset();
    return &*slot;
  }

  Status ApplyDelta(const HostDelta& d) {
    auto id = Prepared(host_id_, "SELECT id FROM hosts WHERE agent_id = ?");
    if (!id) return id.error();
    (*id)->Bind(1, d.agent_id);
    auto found = (*id)->Step();
    if (!found) return found.error();
    if (!*found) return {};  // enrolled hosts only; a vanished one has nothing to update
    const std::int64_t host = (*id)->Int(0);
    (*id)->Reset();
    auto run = [](Result<Statement*> s, auto&& bind) -> Status {
      if (!s) return s.error();
      bind(**s);
      auto status = (*s)->Run();
      (*s)->Reset();
      return status;
    };
    for (const auto& section : d.inventory) {
      auto status =
          run(Prepared(put_section_,
                       "INSERT INTO host_inventory (host_id, section, hash, body, "
                       "updated_ms) VALUES (?, ?, ?, ?, ?) ON CONFLICT (host_id, section) "
                       "DO UPDATE SET hash = excluded.hash, body = excluded.body, "
                       "updated_ms = excluded.updated_ms"),
              [&](Statement& s) {
                s.Bind(1, host).Bind(2, section.name).Bind(3, section.hash);
                s.BindBlob(4, section.body).Bind(5, d.collected_ms);
              });
      if (!status) return status;
    }
    if (d.full) {
      for (const char* sql : {"DELETE FROM host_services WHERE host_id = ?",
                              "DELETE FROM host_checks WHERE host_id = ?"}) {
        auto s = db_.Prepare(sql);
        if (!s) return s.error();
        if (auto status = s->Bind(1, host).Run(); !status) return status;
      }
    }
    for (const auto& unit : d.services_removed) {
      auto status =
          run(Prepared(delete_service_, "DELETE FROM host_services WHERE host_id = ? AND unit = ?"),
              [&](Statement& s) { s.Bind(1, host).Bind(2, unit); });
      if (!status) return status;
    }
    for (const auto& service : d.services) {
      auto status = run(
          Prepared(put_service_,
                   "INSERT INTO host_services (host_id, unit, active_state, sub_state, since_ms, "
                   "body, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id, unit) DO "
                   "UPDATE SET active_state = excluded.active_state, sub_state = "
                   "excluded.sub_state, since_ms = excluded.since_ms, body = excluded.body, "
                   "updated_ms = excluded.updated_ms"),
          [&](Statement& s) {
            s.Bind(1, host).Bind(2, service.unit).Bind(3, service.active_state);
            s.Bind(4, service.sub_state).Bind(5, service.since_ms).BindBlob(6, service.body);
            s.Bind(7, d.collected_ms);
          });
      if (!status) return status;
    }
    for (const auto& check : d.checks) {
      auto status = run(Prepared(put_check_,
                                 "INSERT INTO host_checks (host_id, key, up, checked_ms, body) "
                                 "VALUES (?, ?, ?, ?, ?) ON CONFLICT (host_id, key) DO UPDATE SET "
                                 "up = excluded.up, checked_ms = excluded.checked_ms, "
                                 "body = excluded.body"),
                        [&](Statement& s) {
                          s.Bind(1, host).Bind(2, check.key).Bind(3, std::int64_t{check.up});
                          s.Bind(4, check.checked_ms).BindBlob(5, check.body);
                        });
      if (!status) return status;
    }
    if (d.metrics || d.services_status || d.journal) {
      // COALESCE keeps what this report did not carry.
      auto status =
          run(Prepared(put_status_,
                       "INSERT INTO host_status (host_id, metrics, metrics_ms, services_status, "
                       "journal) VALUES (?, ?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET "
                       "metrics = COALESCE(excluded.metrics, metrics), metrics_ms = "
                       "COALESCE(excluded.metrics_ms, metrics_ms), services_status = "
                       "COALESCE(excluded.services_status, services_status), journal = "
                       "COALESCE(excluded.journal, journal)"),
              [&](Statement& s) {
                s.Bind(1, host);
                auto blob_or_null = [&](int index, const std::optional<std::string>& value) {
                  if (value) {
                    s.BindBlob(index, *value);
                  } else {
                    s.Bind(index, std::nullopt);
                  }
                };
                blob_or_null(2, d.metrics);
                if (d.metrics) {
                  s.Bind(3, d.collected_ms);
                } else {
                  s.Bind(3, std::nullopt);
                }
                blob_or_null(4, d.services_status);
                blob_or_null(5, d.journal);
              });
      if (!status) return status;
    }
    return {};
  }

  Result<HostDetail> GetHostDetail(std::int64_t id) override {
    HostDetail detail;
    auto collect = [&](const char* sql, std::vector<std::string>* out) -> Status {
      auto s = db_.Prepare(sql);
      if (!s) return s.error();
      s->Bind(1, id);
      for (;;) {
        auto row = s->Step();
        if (!row) return row.error();
        if (!*row) return {};
        out->push_back(s->Blob(0));
      }
    };
    if (auto s = collect("SELECT body FROM host_inventory WHERE host_id = ? ORDER BY section",
                         &detail.inventory);
        !s) {
      return s.error();
    }
    if (auto s = collect("SELECT body FROM host_services WHERE host_id = ? ORDER BY unit",
                         &detail.services);
        !s) {
      return s.error();
    }
    if (auto s =
            collect("SELECT body FROM host_checks WHERE host_id = ? ORDER BY key", &detail.checks);
        !s) {
      return s.error();
    }
    auto s =
        db_.Prepare("SELECT metrics, services_status, journal FROM host_status WHERE host_id = ?");
    if (!s) return s.error();
    s->Bind(1, id);
    auto row = s->Step();
    if (!row) return row.error();
    if (*row) {
      auto blob = [&](int column) -> std::optional<std::string> {
        if (s->IsNull(column)) return std::nullopt;
        return s->Blob(column);
      };
      detail.metrics = blob(0);
      detail.services_status = blob(1);
      detail.journal = blob(2);
    }
    return detail;
  }

  Status CreateEnrollmentToken(const NewEnrollmentToken& token) override {
    auto s = db_.Prepare(
        "INSERT INTO enrollment_tokens (token_hash, created_ms, expires_ms, max_hosts, created_by) "
        "VALUES (?, ?, ?, ?, ?)");
    if (!s) return s.error();
    return s->Bind(1, token.token_hash)
        .Bind(2, token.created_ms)
        .Bind(3, token.expires_ms)
        .Bind(4, token.max_hosts)
        .Bind(5, token.created_by)
        .Run();
  }

  // The token's id when it may enroll one more host at `now_ms`; else why not.
  Result<std::int64_t> UsableToken(const std::string& token_hash, std::int64_t now_ms) {
    auto token = db_.Prepare(
        "SELECT id, expires_ms, max_hosts, used_count, revoked FROM enrollment_tokens "
        "WHERE token_hash = ?");
    if (!token) return token.error();
    token->Bind(1, token_hash);
    auto found = token->Step();
    if (!found) return found.error();
    if (!*found) return MakeError(ErrorCode::kUnauthenticated, "enrollment token is not known");
    auto usable =
        TokenUsable(token->Int(4) != 0, token->Int(1),
                    token->IsNull(2) ? std::nullopt : std::optional<std::int64_t>(token->Int(2)),
                    token->Int(3), now_ms);
    if (!usable) return usable.error();
    return token->Int(0);
  }

  Status CheckEnrollmentToken(const std::string& token_hash, std::int64_t now_ms) override {
    auto token = UsableToken(token_hash, now_ms);
    if (!token) return token.error();
    return {};
  }

  Result<HostRecord> EnrollAgent(const std::string& token_hash, const NewAgent& agent) override {
    auto tx = Transaction<Database>::Begin(db_, "BEGIN IMMEDIATE");
    if (!tx) return tx.error();
    auto usable = UsableToken(token_hash, agent.now_ms);
    if (!usable) return usable.error();
    const std::int64_t token_id = *usable;
    auto use = db_.Prepare("UPDATE enrollment_tokens SET used_count = used_count + 1 WHERE id = ?");
    if (!use) return use.error();
    if (auto s = use->Bind(1, token_id).Run(); !s) return s.error();

    // A machine that enrolls again (reinstall, lost state dir) keeps its host row and history;
    // its old certificate stops working because the agent id changes.
    auto existing = db_.Prepare("SELECT id FROM hosts WHERE machine_id = ? AND revoked = 0");
    if (!existing) return existing.error();
    existing->Bind(1, agent.machine_id);
    auto have = existing->Step();
    if (!have) return have.error();
    std::int64_t host_id = 0;
    if (*have) {
      host_id = existing->Int(0);
      auto rekey = db_.Prepare(
          "UPDATE hosts SET agent_id = ?, hostname = ?, cert_serial = ?, cert_not_after = ?, "
          "last_seq = 0 WHERE id = ?");
      if (!rekey) return rekey.error();
      if (auto s = rekey->Bind(1, agent.agent_id)
                       .Bind(2, agent.hostname)
                       .Bind(3, agent.cert_serial)
                       .Bind(4, agent.cert_not_after)
                       .Bind(5, host_id)
                       .Run();
          !s) {
        return s.error();
      }
    } else {
      auto insert = db_.Prepare(
          "INSERT INTO hosts (agent_id, machine_id, hostname, first_seen_ms, last_seen_ms, "
          "cert_serial, cert_not_after) VALUES (?, ?, ?, ?, ?, ?, ?)");
      if (!insert) return insert.error();
      if (auto s = insert->Bind(1, agent.agent_id)
                       .Bind(2, agent.machine_id)
                       .Bind(3, agent.hostname)
                       .Bind(4, agent.now_ms)
                       .Bind(5, agent.now_ms)
                       .Bind(6, agent.cert_serial)
                       .Bind(7, agent.cert_not_after)
                       .Run();
          !s) {
        return s.error();
      }
      host_id = db_.LastInsertRowId();
    }
    auto host = GetHost(host_id);
    if (!host) return host.error();
    if (auto s = tx->Commit(); !s) return s.error();
    return **host;
  }

  Result<std::int64_t> AddUser(const UserRecord& user) override {
    auto s = db_.Prepare(
        "INSERT INTO users (name, role, password_hash, disabled, created_ms) VALUES (?, ?, ?, ?, "
        "?)");
    if (!s) return s.error();
    auto status = s->Bind(1, user.name)
                      .Bind(2, user.role)
                      .Bind(3, user.password_hash)
                      .Bind(4, std::int64_t{user.disabled ? 1 : 0})
                      .Bind(5, user.created_ms)
                      .Run();
    if (!status) {
      if (status.error().code == ErrorCode::kAlreadyExists) {
        return MakeError(ErrorCode::kAlreadyExists, "user '" + user.name + "' already exists");
      }
      return status.error();
    }
    return db_.LastInsertRowId();
  }

  Result<std::optional<UserRecord>> FindUser(const std::string& name) override {
    auto s = db_.Prepare(
        "SELECT id, name, role, password_hash, disabled, created_ms FROM users WHERE name = ?");
    if (!s) return s.error();
    s->Bind(1, name);
    auto row = s->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<UserRecord>();
    UserRecord u;
    u.id = s->Int(0);
    u.name = s->Text(1);
    u.role = s->Text(2);
    u.password_hash = s->Text(3);
    u.disabled = s->Int(4) != 0;
    u.created_ms = s->Int(5);
    return std::optional<UserRecord>(std::move(u));
  }

  Status CreateApiToken(const NewApiToken& token) override {
    auto user = FindUser(token.user_name);
    if (!user) return user.error();
    if (!*user) return MakeError(ErrorCode::kNotFound, "no user '" + token.user_name + "'");
    auto s = db_.Prepare(
        "INSERT INTO api_tokens (user_id, token_hash, created_ms, expires_ms) VALUES (?, ?, ?, ?)");
    if (!s) return s.error();
    return s->Bind(1, (*user)->id)
        .Bind(2, token.token_hash)
        .Bind(3, token.created_ms)
        .Bind(4, token.expires_ms)
        .Run();
  }

  Result<std::optional<Principal>> FindApiToken(const std::string& token_hash,
                                                std::int64_t now_ms) override {
    auto s = db_.Prepare(
        "SELECT u.id, u.name, u.role, t.id FROM api_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = ? AND t.revoked = 0 AND t.expires_ms > ? AND u.disabled = 0");
    if (!s) return s.error();
    s->Bind(1, token_hash).Bind(2, now_ms);
    auto row = s->Step();
    if (!row) return row.error();
    if (!*row) return std::optional<Principal>();
    return std::optional<Principal>(Principal{s->Int(0), s->Text(1), s->Text(2), s->Int(3)});
  }

 private:
  Database db_;
  std::optional<Statement> update_host_;
  std::optional<Statement> host_id_;
  std::optional<Statement> put_section_;
  std::optional<Statement> delete_service_;
  std::optional<Statement> put_service_;
  std::optional<Statement> put_check_;
  std::optional<Statement> put_status_;  // the writer's hot statement, prepared once
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  auto db = Database::Open(path);
  if (!db) return db.error();
  return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(*db)));
}

}  // namespace fleetdesk::server::store::sqlite
