#include "server/store/sqlite/sqlite_store.hpp"

#include <array>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

#include "server/store/sql_store.hpp"
#include "server/store/sqlite/sqlite.hpp"

namespace fleetdesk::server::store::sqlite {
namespace {

// Numbered migrations; a shipped migration is never edited, only followed by a new one.
constexpr std::array<const char*, 15> kMigrations = {
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
    // 3: the asset database. Pre-registered hosts have no agent yet, so agent_id and
    // machine_id become nullable (SQLite rebuilds the table for that); people's attributes,
    // tags, lifecycle; history as events; metric samples and 5-minute rollups; installed
    // packages; the search documents and their trigram full-text index.
    R"sql(
CREATE TABLE hosts_new (
  id INTEGER PRIMARY KEY,
  agent_id TEXT UNIQUE,
  machine_id TEXT,
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
  cert_not_after INTEGER NOT NULL DEFAULT 0,
  serial TEXT NOT NULL DEFAULT '',
  owner TEXT NOT NULL DEFAULT '',
  location TEXT NOT NULL DEFAULT '',
  environment TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL DEFAULT '',
  criticality TEXT NOT NULL DEFAULT 'medium',
  notes TEXT NOT NULL DEFAULT '',
  unreachable_since_ms INTEGER,
  archived_ms INTEGER
);
INSERT INTO hosts_new (id, agent_id, machine_id, hostname, os_name, os_version, os_pretty_name,
  kernel, architecture, agent_version, first_seen_ms, last_seen_ms, connected, uptime_seconds,
  load1, load5, load15, last_seq, revoked, cert_serial, cert_not_after)
SELECT id, agent_id, machine_id, hostname, os_name, os_version, os_pretty_name, kernel,
  architecture, agent_version, first_seen_ms, last_seen_ms, connected, uptime_seconds, load1,
  load5, load15, last_seq, revoked, cert_serial, cert_not_after FROM hosts;
DROP TABLE hosts;
ALTER TABLE hosts_new RENAME TO hosts;
CREATE INDEX hosts_machine_id ON hosts (machine_id);
CREATE INDEX hosts_hostname ON hosts (hostname, id);
CREATE INDEX hosts_last_seen ON hosts (last_seen_ms, id);
CREATE INDEX hosts_environment ON hosts (environment, id);
CREATE INDEX hosts_serial ON hosts (serial);
CREATE TABLE host_tags (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  tag TEXT NOT NULL,
  PRIMARY KEY (host_id, tag)
) WITHOUT ROWID;
CREATE INDEX host_tags_tag ON host_tags (tag, host_id);
CREATE TABLE host_events (
  id INTEGER PRIMARY KEY,
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL,
  old_value TEXT NOT NULL,
  new_value TEXT NOT NULL,
  actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX host_events_host ON host_events (host_id, id);
CREATE INDEX host_events_at ON host_events (at_ms);
CREATE TABLE metric_samples (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  at_ms INTEGER NOT NULL,
  cpu REAL NOT NULL,
  memory REAL NOT NULL,
  load1 REAL NOT NULL,
  disk REAL NOT NULL,
  rx REAL NOT NULL,
  tx REAL NOT NULL,
  PRIMARY KEY (host_id, at_ms)
) WITHOUT ROWID;
CREATE TABLE metric_rollups (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  bucket_ms INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  cpu_sum REAL NOT NULL, cpu_max REAL NOT NULL,
  memory_sum REAL NOT NULL, memory_max REAL NOT NULL,
  load1_sum REAL NOT NULL, load1_max REAL NOT NULL,
  disk_sum REAL NOT NULL, disk_max REAL NOT NULL,
  rx_sum REAL NOT NULL, rx_max REAL NOT NULL,
  tx_sum REAL NOT NULL, tx_max REAL NOT NULL,
  PRIMARY KEY (host_id, bucket_ms)
) WITHOUT ROWID;
CREATE TABLE host_packages (
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (host_id, name)
) WITHOUT ROWID;
CREATE INDEX host_packages_name ON host_packages (name);
CREATE INDEX host_services_unit ON host_services (unit);
CREATE INDEX host_checks_key ON host_checks (key);
CREATE TABLE search_docs (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  ref TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  UNIQUE (kind, ref)
);
CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_docs',
  content_rowid='id', tokenize='trigram');
CREATE TRIGGER search_docs_insert AFTER INSERT ON search_docs BEGIN
  INSERT INTO search_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER search_docs_delete AFTER DELETE ON search_docs BEGIN
  INSERT INTO search_fts (search_fts, rowid, title, body)
    VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER search_docs_update AFTER UPDATE ON search_docs BEGIN
  INSERT INTO search_fts (search_fts, rowid, title, body)
    VALUES ('delete', old.id, old.title, old.body);
  INSERT INTO search_fts (rowid, title, body) VALUES (new.id, new.title, new.body);
END;
INSERT INTO search_docs (kind, ref, title, body)
  SELECT 'host', CAST(id AS TEXT), hostname, machine_id || ' ' || os_pretty_name FROM hosts;
INSERT INTO search_docs (kind, ref, title, body)
  SELECT DISTINCT 'service', unit, unit, '' FROM host_services;
INSERT INTO search_docs (kind, ref, title, body)
  SELECT DISTINCT 'check', key, key, '' FROM host_checks;
)sql",
    // 4: what ingest, enrollment and the host list look hosts up by at fleet scale: the few
    // unreachable ones (read once per group commit), names compared case-insensitively
    // (enrollment claiming a registered host, CSV import) and criticality's order (the list's
    // sort; the expression is the one ListHosts orders by).
    R"sql(
CREATE INDEX hosts_unreachable ON hosts (agent_id) WHERE unreachable_since_ms IS NOT NULL;
CREATE INDEX hosts_hostname_lower ON hosts (lower(hostname));
CREATE INDEX hosts_criticality ON hosts ((CASE criticality WHEN 'low' THEN 0 WHEN 'medium' THEN 1
  WHEN 'high' THEN 2 ELSE 3 END), id);
)sql",
    // 5: PostgreSQL drops its index on last_seen_ms so that a report's host update stays in
    // place. SQLite updates an index only when its column is written, so it keeps this one.
    "SELECT 1",
    // 6: the heartbeat (last seen, connection, uptime, load, sequence), which every report
    // rewrites, moves out of the wide host row into a narrow table of its own. A group commit of
    // 2,500 reports rewrote ~2,000 pages of hosts and of its last-seen index; the narrow rows
    // fill a fifth of the pages, and the host row changes only when a person or the agent's
    // identity changes it.
    R"sql(
CREATE TABLE host_heartbeats (
  host_id INTEGER PRIMARY KEY REFERENCES hosts (id),
  last_seen_ms INTEGER NOT NULL,
  connected INTEGER NOT NULL DEFAULT 0,
  uptime_seconds INTEGER NOT NULL DEFAULT 0,
  load1 REAL NOT NULL DEFAULT 0,
  load5 REAL NOT NULL DEFAULT 0,
  load15 REAL NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0
);
INSERT INTO host_heartbeats (host_id, last_seen_ms, connected, uptime_seconds, load1, load5,
  load15, last_seq)
SELECT id, last_seen_ms, connected, uptime_seconds, load1, load5, load15, last_seq FROM hosts;
CREATE INDEX host_heartbeats_last_seen ON host_heartbeats (last_seen_ms, host_id);
DROP INDEX hosts_last_seen;
ALTER TABLE hosts DROP COLUMN last_seen_ms;
ALTER TABLE hosts DROP COLUMN connected;
ALTER TABLE hosts DROP COLUMN uptime_seconds;
ALTER TABLE hosts DROP COLUMN load1;
ALTER TABLE hosts DROP COLUMN load5;
ALTER TABLE hosts DROP COLUMN load15;
ALTER TABLE hosts DROP COLUMN last_seq;
)sql",
    // 7: the host list filtered by environment and sorted by hostname (the usual view of one
    // environment) walks one index in order; with the environment's index alone it sorted all
    // of that environment's hosts (30-65 ms for 20,000 of them on SQLite).
    R"sql(
CREATE INDEX hosts_environment_hostname ON hosts (environment, hostname, id);
)sql",
    // 8: identity and access: named, scoped API tokens; named enrollment tokens; browser
    // sessions; the append-only audit log.
    R"sql(
ALTER TABLE api_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT 'full'
  CHECK (scope IN ('read', 'worklog', 'full'));
ALTER TABLE api_tokens ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
ALTER TABLE api_tokens ADD COLUMN last_used_ms INTEGER;
CREATE INDEX api_tokens_user ON api_tokens (user_id);
ALTER TABLE enrollment_tokens ADD COLUMN name TEXT NOT NULL DEFAULT '';
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  token_hash TEXT NOT NULL UNIQUE,
  csrf_token TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users (id),
  created_ms INTEGER NOT NULL,
  last_used_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  remote_address TEXT NOT NULL DEFAULT '',
  ended INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE TABLE audit_log (
  id INTEGER PRIMARY KEY,
  at_ms INTEGER NOT NULL,
  actor_kind TEXT NOT NULL,
  actor TEXT NOT NULL,
  user_id INTEGER,
  token_id INTEGER,
  remote_address TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  resource_id TEXT NOT NULL DEFAULT '',
  before_json TEXT,
  after_json TEXT
);
CREATE INDEX audit_log_at ON audit_log (at_ms, id);
CREATE INDEX audit_log_resource ON audit_log (resource, resource_id, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
    // 9: the ticket desk: tickets (incidents and service requests) with their SLA clocks, at
    // most one open incident per fingerprint (a partial unique index), the timeline, notes, the
    // worklog as a stream of its own, maintenance windows, monthly report rollups, the
    // notifications' outbox, and the full-text indexes of tickets, notes and worklogs
    // (contentless: the store writes search::IndexText of each row, keyed by its id).
    R"sql(
CREATE TABLE tickets (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('incident', 'request')),
  title TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL CHECK (state IN ('new', 'assigned', 'in_progress', 'pending', 'resolved',
    'closed')),
  category TEXT NOT NULL DEFAULT '',
  impact TEXT NOT NULL,
  urgency TEXT NOT NULL,
  priority INTEGER NOT NULL CHECK (priority BETWEEN 1 AND 5),
  priority_reason TEXT NOT NULL DEFAULT '',
  host_id INTEGER REFERENCES hosts (id),
  fingerprint TEXT,
  source_kind TEXT NOT NULL DEFAULT '',
  subject TEXT NOT NULL DEFAULT '',
  occurrences INTEGER NOT NULL DEFAULT 1,
  flapping INTEGER NOT NULL DEFAULT 0,
  auto_resolve INTEGER NOT NULL DEFAULT 1,
  recovered_ms INTEGER,
  last_seen_ms INTEGER NOT NULL,
  assignee_group TEXT NOT NULL DEFAULT '',
  assignee_id INTEGER REFERENCES users (id),
  requester_id INTEGER REFERENCES users (id),
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  responded_ms INTEGER,
  resolved_ms INTEGER,
  closed_ms INTEGER,
  paused_ms INTEGER NOT NULL DEFAULT 0,
  paused_since_ms INTEGER,
  response_target_ms INTEGER NOT NULL,
  resolution_target_ms INTEGER NOT NULL,
  response_breached_ms INTEGER,
  resolution_breached_ms INTEGER,
  worklog_count INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX tickets_open_fingerprint ON tickets (fingerprint)
  WHERE fingerprint IS NOT NULL AND state NOT IN ('resolved', 'closed');
CREATE INDEX tickets_fingerprint ON tickets (fingerprint, id) WHERE fingerprint IS NOT NULL;
-- The open tickets, newest first: the desk's usual list, and what the SLA, quiet-period and
-- open-incident queries look at. Each writes this very condition, so the index applies (SQLite
-- matches a partial index's condition term by term). Other states are lists of most tickets,
-- best read along the primary key.
CREATE INDEX tickets_open ON tickets (id)
  WHERE state IN ('new', 'assigned', 'in_progress', 'pending');
CREATE INDEX tickets_host ON tickets (host_id, id);
CREATE INDEX tickets_assignee ON tickets (assignee_id, id);
CREATE INDEX tickets_requester ON tickets (requester_id, id);
CREATE INDEX tickets_created ON tickets (created_ms, id);
CREATE TABLE ticket_events (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  at_ms INTEGER NOT NULL,
  kind TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  old_value TEXT NOT NULL DEFAULT '',
  new_value TEXT NOT NULL DEFAULT '',
  actor TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE TABLE ticket_notes (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  at_ms INTEGER NOT NULL,
  author TEXT NOT NULL,
  internal INTEGER NOT NULL DEFAULT 0,
  body TEXT NOT NULL
);
CREATE INDEX ticket_notes_ticket ON ticket_notes (ticket_id, id);
CREATE TABLE ticket_worklog (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  at_ms INTEGER NOT NULL,
  task TEXT NOT NULL,
  note TEXT NOT NULL,
  actor TEXT NOT NULL
);
CREATE INDEX ticket_worklog_ticket ON ticket_worklog (ticket_id, id);
CREATE TABLE maintenance_windows (
  id INTEGER PRIMARY KEY,
  host_id INTEGER REFERENCES hosts (id),
  tag TEXT,
  starts_ms INTEGER NOT NULL,
  ends_ms INTEGER NOT NULL,
  reason TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL DEFAULT '',
  created_ms INTEGER NOT NULL,
  CHECK ((host_id IS NULL) <> (tag IS NULL)),
  CHECK (ends_ms > starts_ms)
);
CREATE INDEX maintenance_windows_ends ON maintenance_windows (ends_ms);
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  event TEXT NOT NULL,
  route TEXT NOT NULL,
  channel TEXT NOT NULL CHECK (channel IN ('webhook', 'email')),
  target TEXT NOT NULL,
  subject TEXT NOT NULL DEFAULT '',
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  next_ms INTEGER NOT NULL,
  delivered_ms INTEGER,
  failed_ms INTEGER,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX notifications_due ON notifications (next_ms, id)
  WHERE delivered_ms IS NULL AND failed_ms IS NULL;
CREATE INDEX notifications_ticket ON notifications (ticket_id, id);
CREATE INDEX tickets_resolved ON tickets (resolved_ms) WHERE resolved_ms IS NOT NULL;
CREATE TABLE ticket_rollups (
  month TEXT NOT NULL,
  kind TEXT NOT NULL,
  dimension TEXT NOT NULL,
  value TEXT NOT NULL,
  opened INTEGER NOT NULL,
  resolved INTEGER NOT NULL,
  responded INTEGER NOT NULL,
  tta_sum_ms INTEGER NOT NULL,
  tta_p90_ms INTEGER NOT NULL,
  ttr_sum_ms INTEGER NOT NULL,
  ttr_p90_ms INTEGER NOT NULL,
  response_breaches INTEGER NOT NULL,
  resolution_breaches INTEGER NOT NULL,
  breached INTEGER NOT NULL,
  PRIMARY KEY (kind, dimension, month, value)
);
CREATE TABLE ticket_noise (
  month TEXT NOT NULL,
  what TEXT NOT NULL,
  key TEXT NOT NULL,
  label TEXT NOT NULL,
  incidents INTEGER NOT NULL,
  occurrences INTEGER NOT NULL,
  PRIMARY KEY (what, month, key)
);
CREATE TABLE report_months (
  month TEXT PRIMARY KEY,
  computed_ms INTEGER NOT NULL
);
CREATE VIRTUAL TABLE ticket_fts USING fts5(text, content='',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
CREATE VIRTUAL TABLE note_fts USING fts5(text, content='',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
CREATE VIRTUAL TABLE worklog_fts USING fts5(text, content='',
  tokenize='unicode61 remove_diacritics 2', prefix='2 3');
)sql",
    // 10: files attached to tickets. Their bytes are in the data directory by SHA-256, or in
    // `content` when the server is configured to keep them in the database.
    R"sql(
CREATE TABLE ticket_attachments (
  id INTEGER PRIMARY KEY,
  ticket_id INTEGER NOT NULL REFERENCES tickets (id),
  at_ms INTEGER NOT NULL,
  name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  sha256 TEXT NOT NULL,
  author TEXT NOT NULL,
  in_files INTEGER NOT NULL,
  content BLOB,
  CHECK (in_files OR content IS NOT NULL)
);
CREATE INDEX ticket_attachments_ticket ON ticket_attachments (ticket_id, id);
)sql",
    // 11: attachments by their bytes' digest: a file of the attachment directory is removed with
    // the last attachment that uses it. (PostgreSQL's text-search indexes change too; FTS5 has
    // nothing like their pending lists.)
    R"sql(
CREATE INDEX ticket_attachments_sha256 ON ticket_attachments (sha256);
)sql",
    // 12: configuration tasks: what to do and to which hosts in which batches, and each host's
    // state and result. A host's tasks are looked up when it connects (task_hosts_host); a retried
    // submission finds its task by creator and idempotency key.
    R"sql(
CREATE TABLE tasks (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  spec TEXT NOT NULL,
  selector TEXT NOT NULL DEFAULT '',
  batch_size INTEGER NOT NULL,
  max_failures INTEGER,
  timeout_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL,
  ticket_id INTEGER REFERENCES tickets (id),
  idempotency_key TEXT,
  request_digest TEXT NOT NULL DEFAULT '',
  created_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('running', 'finished', 'stopped', 'cancelled')),
  stop_reason TEXT NOT NULL DEFAULT '',
  current_batch INTEGER NOT NULL DEFAULT 0,
  batches INTEGER NOT NULL,
  -- Hosts without a final state, and hosts failed: the rollout's bookkeeping, kept as results
  -- arrive rather than counted again for each.
  pending INTEGER NOT NULL,
  failures INTEGER NOT NULL DEFAULT 0,
  finished_ms INTEGER
);
CREATE UNIQUE INDEX tasks_idempotency ON tasks (created_by, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX tasks_running ON tasks (id) WHERE state = 'running';
CREATE TABLE task_hosts (
  task_id INTEGER NOT NULL REFERENCES tasks (id),
  host_id INTEGER NOT NULL REFERENCES hosts (id),
  batch INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'running', 'succeeded', 'failed',
    'timed_out', 'cancelled', 'refused')),
  exit_code INTEGER,
  duration_ms INTEGER,
  stdout TEXT NOT NULL DEFAULT '',
  stderr TEXT NOT NULL DEFAULT '',
  stdout_size INTEGER NOT NULL DEFAULT 0,
  stderr_size INTEGER NOT NULL DEFAULT 0,
  message TEXT NOT NULL DEFAULT '',
  sent_ms INTEGER,
  finished_ms INTEGER,
  PRIMARY KEY (task_id, host_id)
);
CREATE INDEX task_hosts_host ON task_hosts (host_id, task_id);
CREATE INDEX task_hosts_open ON task_hosts (task_id, batch)
  WHERE state IN ('queued', 'sent', 'running');
)sql",
    // 13: agent profiles: agent settings kept on the server, assigned by tag (empty: every
    // host); merged per host by priority.
    R"sql(
CREATE TABLE agent_profiles (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 0,
  config TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
)sql",
    // 14: the ticket list in the dashboard's other orders: by priority (P1 first, newest first
    // within one) and by last change, each read along its index from the page's cursor.
    R"sql(
CREATE INDEX tickets_priority ON tickets (priority, id DESC);
CREATE INDEX tickets_updated ON tickets (updated_ms, id);
)sql",
    // 15: PostgreSQL's record of its indexes of ranges of the newest entries; FTS5 needs none
    // (it gives matches newest first), and the table stays empty here.
    R"sql(
CREATE TABLE search_segments (
  index_name TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  above INTEGER NOT NULL,
  up_to INTEGER
);
)sql",
};

// Runs the store's statements on one SQLite connection, each prepared once and kept.
class SqliteConn final : public SqlConn {
 public:
  SqliteConn(Database db, std::shared_ptr<WalCheckpointer> checkpointer)
      : checkpointer_(std::move(checkpointer)), db_(std::move(db)) {
    checkpointer_->Attach(db_);
  }

  Dialect dialect() const override { return Dialect::kSqlite; }
  Status Exec(std::string_view sql) override { return db_.Exec(sql); }

  Result<std::int64_t> Run(const std::string& sql, std::span<const SqlArg> args,
                           const RowFn& row) override {
    auto found = statements_.find(sql);
    if (found == statements_.end()) {
      auto prepared = db_.Prepare(sql);
      if (!prepared) return prepared.error();
      found = statements_.emplace(sql, std::move(*prepared)).first;
    }
    Statement& s = found->second;
    s.Reset();
    int index = 1;
    for (const auto& arg : args) {
      std::visit(
          [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::monostate>) {
              s.Bind(index, std::nullopt);
            } else if constexpr (std::is_same_v<T, Bytes>) {
              s.BindBlobView(index, v.value);
            } else if constexpr (std::is_same_v<T, std::string_view>) {
              s.BindView(index, v);
            } else if constexpr (std::is_same_v<T, bool>) {
              s.Bind(index, std::int64_t{v ? 1 : 0});
            } else {
              s.Bind(index, v);
            }
          },
          arg.value());
      ++index;
    }
    std::int64_t rows = 0;
    for (;;) {
      auto more = s.Step();
      if (!more) {
        s.Reset();
        s.ClearBindings();
        return more.error();
      }
      if (!*more) break;
      ++rows;
      if (row) row(Row(s));
    }
    if (rows == 0 && !s.ReadOnly()) rows = db_.Changes();
    s.Reset();
    s.ClearBindings();  // the arguments were bound without a copy and die with this call
    return rows;
  }

  // SQLite has no round trips to save: sent statements run at once.
  Status Send(const std::string& sql, std::span<const SqlArg> args) override {
    auto done = Run(sql, args, {});
    if (!done) return done.error();
    sent_changes_ += *done;
    return {};
  }

  Result<std::int64_t> Flush() override { return std::exchange(sent_changes_, 0); }

  Result<std::vector<std::int64_t>> RunEach(const std::string& sql,
                                            std::span<const std::vector<SqlArg>> each,
                                            const IndexedRowFn& row) override {
    std::vector<std::int64_t> counts;
    counts.reserve(each.size());
    for (std::size_t i = 0; i < each.size(); ++i) {
      auto done = Run(sql, each[i], row ? RowFn([&](const SqlRow& r) { row(i, r); }) : RowFn());
      if (!done) return done.error();
      counts.push_back(*done);
    }
    return counts;
  }

 private:
  class Row final : public SqlRow {
   public:
    explicit Row(const Statement& s) : s_(s) {}
    bool IsNull(int c) const override { return s_.IsNull(c); }
    std::int64_t Int(int c) const override { return s_.Int(c); }
    double Double(int c) const override { return s_.Double(c); }
    bool Bool(int c) const override { return s_.Int(c) != 0; }
    std::string Text(int c) const override { return s_.Text(c); }
    std::string Blob(int c) const override { return s_.Blob(c); }

   private:
    const Statement& s_;
  };

  std::shared_ptr<WalCheckpointer> checkpointer_;  // outlives db_, whose hook points at it
  Database db_;
  std::unordered_map<std::string, Statement> statements_;
  std::int64_t sent_changes_ = 0;
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path) {
  auto db = Database::Open(path);
  if (!db) return db.error();
  return MakeSqlStore(std::make_unique<SqliteConn>(std::move(*db), WalCheckpointer::For(path)),
                      kMigrations);
}

}  // namespace fleetdesk::server::store::sqlite
