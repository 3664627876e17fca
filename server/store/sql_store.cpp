#include "server/store/sql_store.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "common/time_text.hpp"
#include "fleetdesk/v1/agent.pb.h"
#include "server/store/inventory_diff.hpp"
#include "server/store/sql_base.hpp"
#include "server/store/sql_common.hpp"

namespace fleetdesk::server::store {
namespace {

// Several servers may start on one PostgreSQL database at once: the first to take this lock
// migrates, the others wait and then find nothing left to do. ("fleetdes" in ASCII.)
constexpr std::int64_t kMigrationLock = 0x666c656574646573;
// The lock of the jobs that run once per fleet (silent hosts, retention): two int4 keys,
// "flee" and 2, so pg_locks shows them as classid and objid.
constexpr const char* kLeaderKeys = "1718379877, 2";

// A HostView's columns: the HostRecord's, then what people and the lifecycle add.
const std::string kViewColumns = std::string(kHostColumns) +
                                 ", serial, owner, location, environment, role, criticality, "
                                 "notes, unreachable_since_ms, archived_ms";

// Sections whose values (serials, addresses, the FQDN) the host's search document carries.
const std::set<std::string> kSearchedSections = {"system", "network", "disks", "memory", "os"};

// The metrics of a sample, each a column of metric_samples and a pair <name>_sum, <name>_max of
// metric_rollups.
constexpr std::array<const char*, 6> kMetricColumns = {"cpu",  "memory", "load1",
                                                       "disk", "rx",     "tx"};

// How many candidates a search ranks before it cuts to what was asked for.
constexpr int kSearchCandidates = 1000;

std::int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

HostRecord ReadHost(const SqlRow& r) {
  HostRecord h;
  h.id = r.Int(0);
  h.agent_id = r.Text(1);
  h.machine_id = r.Text(2);
  h.hostname = r.Text(3);
  h.os_name = r.Text(4);
  h.os_version = r.Text(5);
  h.os_pretty_name = r.Text(6);
  h.kernel = r.Text(7);
  h.architecture = r.Text(8);
  h.agent_version = r.Text(9);
  h.first_seen_ms = r.Int(10);
  h.last_seen_ms = r.Int(11);
  h.connected = r.Bool(12);
  h.uptime_seconds = static_cast<std::uint64_t>(r.Int(13));
  h.load1 = r.Double(14);
  h.load5 = r.Double(15);
  h.load15 = r.Double(16);
  h.last_seq = static_cast<std::uint64_t>(r.Int(17));
  h.revoked = r.Bool(18);
  h.cert_serial = r.Text(19);
  h.cert_not_after = r.Int(20);
  return h;
}

HostView ReadView(const SqlRow& r) {
  HostView v;
  v.record = ReadHost(r);
  v.serial = r.Text(21);
  v.attributes.owner = r.Text(22);
  v.attributes.location = r.Text(23);
  v.attributes.environment = r.Text(24);
  v.attributes.role = r.Text(25);
  v.attributes.criticality = r.Text(26);
  v.attributes.notes = r.Text(27);
  v.unreachable_since_ms = r.OptInt(28);
  v.archived_ms = r.OptInt(29);
  return v;
}

std::string Lower(std::string text) {
  for (auto& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

// A LIKE pattern matching `text` anywhere, with its wildcards escaped (ESCAPE '\').
std::string Contains(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

std::size_t CodePoints(const std::string& text) {
  return static_cast<std::size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string out;
  for (const auto& tag : tags) out += (out.empty() ? "" : ",") + tag;
  return out;
}

// Host ids by agent id, for one group commit.
using HostIds = std::unordered_map<std::string_view, std::int64_t>;

class SqlStore final : public SqlTasks {
 public:
  SqlStore(std::unique_ptr<SqlConn> db, std::span<const char* const> migrations)
      : SqlTasks(std::move(db)), migrations_(migrations) {}

  // Schema ----------------------------------------------------------------------------------
  Status Migrate() override {
    if (Pg()) {
      if (auto s = db_->Exec("SELECT pg_advisory_lock(" + std::to_string(kMigrationLock) + ")");
          !s) {
        return s;
      }
      auto status = MigrateLocked();
      (void)db_->Exec("SELECT pg_advisory_unlock(" + std::to_string(kMigrationLock) + ")");
      return status;
    }
    // A migration may rebuild a table that others reference (SQLite cannot drop NOT NULL);
    // SQLite wants foreign keys off for that, outside any transaction, and checked after.
    if (auto s = db_->Exec("PRAGMA foreign_keys=OFF"); !s) return s;
    auto status = MigrateLocked();
    if (status) {
      bool broken = false;
      auto check = Run("PRAGMA foreign_key_check", {}, [&](const SqlRow&) { broken = true; });
      if (!check) status = check.error();
      if (broken) status = MakeError(ErrorCode::kInternal, "migration left dangling references");
    }
    (void)db_->Exec("PRAGMA foreign_keys=ON");
    return status;
  }

  Status MigrateLocked() {
    if (auto s = db_->Exec(std::string("CREATE TABLE IF NOT EXISTS schema_migrations (version "
                                       "INTEGER PRIMARY KEY, applied_ms ") +
                           (Pg() ? "BIGINT" : "INTEGER") + " NOT NULL)");
        !s) {
      return s;
    }
    auto current = SchemaVersion();
    if (!current) return current.error();
    for (int version = *current + 1; version <= static_cast<int>(migrations_.size()); ++version) {
      auto tx = BeginTx();
      if (!tx) return tx.error();
      if (auto s = db_->Exec(migrations_[static_cast<std::size_t>(version - 1)]); !s) {
        return MakeError(s.error().code,
                         "migration " + std::to_string(version) + ": " + s.error().message);
      }
      if (auto s = Do("INSERT INTO schema_migrations (version, applied_ms) VALUES (?, ?)",
                      {version, WallMs()});
          !s) {
        return s;
      }
      if (auto s = tx->Commit(); !s) return s;
    }
    return {};
  }

  Result<int> SchemaVersion() override {
    int version = 0;
    auto done = Run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", {},
                    [&](const SqlRow& r) { version = static_cast<int>(r.Int(0)); });
    if (!done) return done.error();
    return version;
  }

  // Hosts -----------------------------------------------------------------------------------
  Result<std::vector<HostRecord>> LoadHosts() override {
    std::vector<HostRecord> hosts;
    auto done = Run(std::string("SELECT ") + kHostColumns + " FROM " + kHostTables +
                        " WHERE agent_id IS NOT NULL AND archived_ms IS NULL ORDER BY id",
                    {}, [&](const SqlRow& r) { hosts.push_back(ReadHost(r)); });
    if (!done) return done.error();
    return hosts;
  }

  Result<std::optional<HostRecord>> GetHost(std::int64_t id) override {
    std::optional<HostRecord> host;
    auto done =
        Run(std::string("SELECT ") + kHostColumns + " FROM " + kHostTables + " WHERE id = ?", {id},
            [&](const SqlRow& r) { host = ReadHost(r); });
    if (!done) return done.error();
    return host;
  }

  Result<std::optional<HostRecord>> FindAgent(const std::string& agent_id) override {
    std::optional<HostRecord> host;
    auto done = Run(std::string("SELECT ") + kHostColumns + " FROM " + kHostTables +
                        " WHERE agent_id = ? AND archived_ms IS NULL",
                    {agent_id}, [&](const SqlRow& r) { host = ReadHost(r); });
    if (!done) return done.error();
    return host;
  }

  Status FillTags(std::vector<HostView>& views) {
    if (views.empty()) return {};
    std::map<std::int64_t, HostView*> by_id;
    std::string in;
    std::vector<SqlArg> args;
    for (auto& v : views) {
      by_id[v.record.id] = &v;
      in += in.empty() ? "?" : ", ?";
      args.emplace_back(v.record.id);
    }
    auto done = db_->Run(
        "SELECT host_id, tag FROM host_tags WHERE host_id IN (" + in + ") ORDER BY " +
            Ordered("tag"),
        args, [&](const SqlRow& r) { by_id[r.Int(0)]->attributes.tags.push_back(r.Text(1)); });
    if (!done) return done.error();
    return {};
  }

  Result<std::optional<HostView>> GetHostView(std::int64_t id) override {
    std::vector<HostView> views;
    auto done = Run("SELECT " + kViewColumns + " FROM " + kHostTables + " WHERE id = ?", {id},
                    [&](const SqlRow& r) { views.push_back(ReadView(r)); });
    if (!done) return done.error();
    if (views.empty()) return std::optional<HostView>();
    if (auto s = FillTags(views); !s) return s.error();
    return std::optional<HostView>(std::move(views.front()));
  }

  // The hosts whose search document holds `text`, as a subquery of ids.
  std::string TextMatchIds(const std::string& text, std::vector<std::string>& strings) {
    if (!Pg() && CodePoints(text) >= 3) {
      strings.push_back(FtsPhrase(text));
      // The full-text match runs once, as a subquery: written as a join, SQLite may walk the
      // host documents and run the MATCH once per document (a minute at 100,000 hosts).
      return "SELECT CAST(ref AS INTEGER) FROM search_docs WHERE kind = 'host' AND id IN "
             "(SELECT rowid FROM search_fts WHERE search_fts MATCH ?)";
    }
    auto [condition, argument] = DocContains(text);
    strings.push_back(std::move(argument));
    return "SELECT CAST(ref AS BIGINT) FROM search_docs WHERE kind = 'host' AND " + condition;
  }
  // A document whose text holds `text`, ignoring case: the condition and its one argument.
  // PostgreSQL matches the lower-cased copy of the text that migration 5 keeps (ILIKE folds every
  // row's text again for each query, four times the cost of a scan), through the trigram index
  // from three characters on. Shorter text has no trigram, and a statement whose cached generic
  // plan took the index for it would fetch every document through the index: as strpos() it is
  // a plain scan whatever the plan.
  std::pair<std::string, std::string> DocContains(const std::string& text) const {
    if (!Pg()) return {"(title || ' ' || body) LIKE ? ESCAPE '\\'", Contains(text)};
    if (CodePoints(text) < 3) return {"strpos(folded, lower(?)) > 0", text};
    return {"folded LIKE lower(?) ESCAPE '\\'", Contains(text)};
  }
  static std::string FtsPhrase(const std::string& text) {
    std::string out = "\"";
    for (char c : text) {
      if (c == '"') out += '"';
      out += c;
    }
    return out + "\"";
  }

  Result<HostPage> ListHosts(const HostQuery& q) override {
    // Filters first, bound in the order they appear; `strings` keeps the texts alive.
    std::vector<std::string> where;
    std::vector<std::string> strings;
    strings.reserve(16);
    std::vector<SqlArg> args;
    auto text_arg = [&](std::string value) {
      strings.push_back(std::move(value));
      args.emplace_back(std::string_view(strings.back()));
    };
    if (q.status.empty()) {
      where.push_back("archived_ms IS NULL");
    } else if (q.status == "archived") {
      where.push_back("archived_ms IS NOT NULL");
    } else if (q.status == "pending") {
      where.push_back("archived_ms IS NULL AND agent_id IS NULL");
    } else if (q.status == "unreachable") {
      where.push_back("archived_ms IS NULL AND unreachable_since_ms IS NOT NULL");
    } else if (q.status == "online" || q.status == "offline") {
      where.push_back(std::string("archived_ms IS NULL AND agent_id IS NOT NULL AND "
                                  "unreachable_since_ms IS NULL AND ") +
                      (q.status == "online" ? "connected" : "NOT connected"));
    } else {
      return MakeError(ErrorCode::kInvalidArgument, "unknown host status '" + q.status + "'");
    }
    if (!q.tag.empty()) {
      where.push_back(
          "EXISTS (SELECT 1 FROM host_tags t WHERE t.host_id = hosts.id AND t.tag = ?)");
      text_arg(q.tag);
    }
    if (!q.environment.empty()) {
      where.push_back("environment = ?");
      text_arg(q.environment);
    }
    if (!q.os.empty()) {
      where.push_back(std::string("(os_name = ? OR os_pretty_name ") + Like() + " ? ESCAPE '\\')");
      text_arg(q.os);
      text_arg(Contains(q.os));
    }
    if (!q.service.empty()) {
      where.push_back(
          "EXISTS (SELECT 1 FROM host_services s WHERE s.host_id = hosts.id AND s.unit = ?)");
      text_arg(q.service);
    }
    if (!q.package.empty()) {
      where.push_back(
          "EXISTS (SELECT 1 FROM host_packages p WHERE p.host_id = hosts.id AND p.name = ?)");
      text_arg(q.package);
    }
    if (!q.text.empty()) {
      std::vector<std::string> texts;
      auto ids = TextMatchIds(q.text, texts);
      where.push_back("id IN (" + ids + ")");
      text_arg(texts.front());
    }

    std::string key;
    // Equal keys are ordered by host id, named from the table whose index serves the sort.
    std::string tie = "id";
    bool numeric = false;
    switch (q.sort) {
      case HostSort::kId:
        key = "id";
        numeric = true;
        break;
      case HostSort::kHostname:
        key = Ordered("hostname");
        break;
      case HostSort::kLastSeen:
        key = "last_seen_ms";
        tie = "host_heartbeats.host_id";
        numeric = true;
        break;
      case HostSort::kEnvironment:
        key = Ordered("environment");
        break;
      case HostSort::kCriticality:
        // Migration 4 indexes this very expression (hosts_criticality): change both together.
        key =
            "CASE criticality WHEN 'low' THEN 0 WHEN 'medium' THEN 1 WHEN 'high' THEN 2 ELSE 3 "
            "END";
        numeric = true;
        break;
    }
    const char* dir = q.descending ? "DESC" : "ASC";
    const char* cmp = q.descending ? "<" : ">";
    if (q.after) {
      std::int64_t number = 0;
      if (numeric) {
        try {
          number = std::stoll(q.after->value);
        } catch (...) {
          return MakeError(ErrorCode::kInvalidArgument, "cursor does not fit this sort");
        }
      }
      if (q.sort == HostSort::kId) {
        where.push_back(std::string("id ") + cmp + " ?");
        args.emplace_back(q.after->id);
      } else {
        // A row value: both stores start the index range at the cursor instead of walking the
        // index from its first entry and filtering.
        where.push_back("(" + key + ", " + tie + ") " + cmp + " (?, ?)");
        if (numeric) {
          args.emplace_back(number);
        } else {
          text_arg(q.after->value);
        }
        args.emplace_back(q.after->id);
      }
    }
    std::string sql = "SELECT " + kViewColumns + ", " + key + " FROM " + kHostTables;
    for (std::size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
    sql += " ORDER BY " + key + " " + dir;
    if (q.sort != HostSort::kId) sql += ", " + tie + " " + dir;
    sql += " LIMIT ?";
    // One row more than asked tells whether another page follows.
    args.emplace_back(std::int64_t{q.limit} + 1);

    HostPage page;
    std::vector<std::string> keys;
    auto done = db_->Run(sql, args, [&](const SqlRow& r) {
      page.items.push_back(ReadView(r));
      keys.push_back(numeric ? std::to_string(r.Int(30)) : r.Text(30));
    });
    if (!done) return done.error();
    if (static_cast<int>(page.items.size()) > q.limit) {
      page.items.pop_back();
      page.next =
          HostCursor{keys[static_cast<std::size_t>(q.limit) - 1], page.items.back().record.id};
    }
    if (auto s = FillTags(page.items); !s) return s.error();
    return page;
  }

  Result<HostDetail> GetHostDetail(std::int64_t id) override {
    HostDetail detail;
    auto collect = [&](const std::string& sql, std::vector<std::string>* out) -> Status {
      auto done = Run(sql, {id}, [&](const SqlRow& r) { out->push_back(r.Blob(0)); });
      if (!done) return done.error();
      return {};
    };
    if (auto s = collect(
            "SELECT body FROM host_inventory WHERE host_id = ? ORDER BY " + Ordered("section"),
            &detail.inventory);
        !s) {
      return s.error();
    }
    if (auto s =
            collect("SELECT body FROM host_services WHERE host_id = ? ORDER BY " + Ordered("unit"),
                    &detail.services);
        !s) {
      return s.error();
    }
    if (auto s =
            collect("SELECT body FROM host_checks WHERE host_id = ? ORDER BY " + Ordered("key"),
                    &detail.checks);
        !s) {
      return s.error();
    }
    auto done = Run("SELECT metrics, services_status, journal FROM host_status WHERE host_id = ?",
                    {id}, [&](const SqlRow& r) {
                      detail.metrics = r.OptBlob(0);
                      detail.services_status = r.OptBlob(1);
                      detail.journal = r.OptBlob(2);
                    });
    if (!done) return done.error();
    return detail;
  }

  // The ingest path -------------------------------------------------------------------------
  Status Commit(const WriteBatch& batch, Observations* seen) override {
    // AddEvent keeps the transitions while `seen_` is set; handed out only once committed.
    Observations observed;
    seen_ = seen != nullptr ? &observed : nullptr;
    Status status = CommitBatch(batch);
    seen_ = nullptr;
    if (status && seen != nullptr) *seen = std::move(observed);
    return status;
  }

  Status CommitBatch(const WriteBatch& batch) {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    // Each host's row answers what the agent said it was (name, OS, version), written again only
    // when that changed, and whether it was unreachable: a sign of life from such a host (a hello
    // or a report; a closing channel is not one) is its return. The heartbeat itself goes to the
    // host's narrow row (migration 6). Two pipelines, however many hosts; a vanished host has no
    // row, and its deltas are dropped. A heartbeat_only row (most of them) is not read back: the
    // state engine vouches that nothing but its heartbeat changed.
    std::vector<std::vector<SqlArg>> beats;
    beats.reserve(batch.hosts.size());
    const auto beat = [&](const HostRecord& h, std::int64_t id) {
      beats.push_back({h.last_seen_ms, h.connected, h.uptime_seconds, h.load1, h.load5, h.load15,
                       h.last_seq, id});
    };
    // Keyed by views of the batch's own agent ids, which outlive the commit.
    HostIds ids;
    ids.reserve(batch.hosts.size() + batch.deltas.size());
    std::vector<const HostRecord*> unsure;
    std::vector<std::vector<SqlArg>> agents;
    for (const auto& h : batch.hosts) {
      if (h.heartbeat_only && h.id > 0) {
        ids[h.agent_id] = h.id;
        beat(h, h.id);
      } else {
        unsure.push_back(&h);
        agents.push_back({h.agent_id});
      }
    }
    std::vector<std::pair<const HostRecord*, std::int64_t>> renamed;
    std::vector<std::pair<const HostRecord*, std::int64_t>> back;
    auto read = db_->RunEach(
        "SELECT id, hostname, os_name, os_version, os_pretty_name, kernel, architecture, "
        "agent_version, unreachable_since_ms IS NOT NULL FROM hosts WHERE agent_id = ?",
        agents, [&](std::size_t i, const SqlRow& r) {
          const HostRecord& h = *unsure[i];
          const std::int64_t id = r.Int(0);
          ids[h.agent_id] = id;
          if (r.Text(1) != h.hostname || r.Text(2) != h.os_name || r.Text(3) != h.os_version ||
              r.Text(4) != h.os_pretty_name || r.Text(5) != h.kernel ||
              r.Text(6) != h.architecture || r.Text(7) != h.agent_version) {
            renamed.emplace_back(&h, id);
          }
          if (h.connected && r.Bool(8)) back.emplace_back(&h, id);
          beat(h, id);
        });
    if (!read) return read.error();
    auto counts = db_->RunEach(
        std::string("UPDATE host_heartbeats SET last_seen_ms = ?, connected = ?, uptime_seconds "
                    "= ?, load1 = ?, load5 = ?, load15 = ?, last_seq = ") +
            Greatest() + "(last_seq, ?) WHERE host_id = ?",
        beats, {});
    if (!counts) return counts.error();
    for (auto n : *counts) rows_written_ += static_cast<std::uint64_t>(n);
    for (const auto& [h, id] : back) {
      if (auto s = Write("UPDATE hosts SET unreachable_since_ms = NULL WHERE id = ?", {id}); !s) {
        return s;
      }
      if (auto s = AddEvent(id, h->last_seen_ms, "reachability", "", "unreachable", "reachable");
          !s) {
        return s;
      }
    }
    for (const auto& [h, id] : renamed) {
      if (auto s = Write(
              "UPDATE hosts SET hostname = ?, os_name = ?, os_version = ?, os_pretty_name = ?, "
              "kernel = ?, architecture = ?, agent_version = ? WHERE id = ?",
              {h->hostname, h->os_name, h->os_version, h->os_pretty_name, h->kernel,
               h->architecture, h->agent_version, id});
          !s) {
        return s;
      }
      // The name and OS are searched.
      if (auto s = RefreshHostDoc(id); !s) return s;
    }

    for (const auto& delta : batch.deltas) {
      if (ids.count(delta.agent_id) != 0) continue;
      // Its report came without its row (not from the writer): look the host up.
      auto found = Run("SELECT id FROM hosts WHERE agent_id = ?", {delta.agent_id},
                       [&](const SqlRow& r) { ids[delta.agent_id] = r.Int(0); });
      if (!found) return found.error();
    }
    auto repeated = RepeatedChecks(batch, ids);
    if (!repeated) return repeated.error();
    for (std::size_t i = 0; i < batch.deltas.size(); ++i) {
      const auto& delta = batch.deltas[i];
      auto id = ids.find(delta.agent_id);
      if (id == ids.end()) continue;  // enrolled hosts only: a vanished one has no rows
      if (auto status = ApplyDelta(id->second, delta, (*repeated)[i]); !status) return status;
      if (seen_ != nullptr) {
        for (const auto& check : delta.checks) {
          seen_->checks.push_back({id->second, check.key, check.up, check.checked_ms});
        }
        if (delta.metric_point) {
          seen_->metrics.emplace_back(id->second, *delta.metric_point);
          seen_->metrics.back().second.at_ms = delta.collected_ms;
        }
      }
    }
    auto sent = db_->Flush();
    if (!sent) return sent.error();
    rows_written_ += static_cast<std::uint64_t>(*sent);
    for (const auto& entry : batch.audits) {
      if (auto st = Audit(entry); !st) return st;
    }
    return tx->Commit();
  }

  // Most check results repeat their last state: one pipelined statement per result updates those
  // in place, and answers which they were (per delta, the indexes of its checks). Only a host's
  // single delta in the batch goes this way: with two, the second's result must not be compared
  // before the first's change is written.
  Result<std::vector<std::set<std::size_t>>> RepeatedChecks(const WriteBatch& batch,
                                                            const HostIds& ids) {
    std::vector<std::set<std::size_t>> repeated(batch.deltas.size());
    std::unordered_map<std::string_view, int> deltas_of;
    deltas_of.reserve(batch.deltas.size());
    for (const auto& delta : batch.deltas) ++deltas_of[delta.agent_id];
    std::vector<std::vector<SqlArg>> each;
    std::vector<std::pair<std::size_t, std::size_t>> which;  // (delta, check)
    for (std::size_t i = 0; i < batch.deltas.size(); ++i) {
      const auto& delta = batch.deltas[i];
      auto id = ids.find(delta.agent_id);
      if (delta.full || id == ids.end() || deltas_of[delta.agent_id] != 1) continue;
      for (std::size_t c = 0; c < delta.checks.size(); ++c) {
        const auto& check = delta.checks[c];
        each.push_back({check.checked_ms, Bytes{check.body}, id->second, check.key, check.up});
        which.emplace_back(i, c);
      }
    }
    auto counts = db_->RunEach(
        "UPDATE host_checks SET checked_ms = ?, body = ? WHERE host_id = ? AND key = ? AND up = ?",
        each, {});
    if (!counts) return counts.error();
    for (std::size_t k = 0; k < counts->size(); ++k) {
      if ((*counts)[k] == 0) continue;
      rows_written_ += static_cast<std::uint64_t>((*counts)[k]);
      repeated[which[k].first].insert(which[k].second);
    }
    return repeated;
  }

  Status AddEvent(std::int64_t host, std::int64_t at_ms, const char* kind,
                  const std::string& subject, const std::string& old_value,
                  const std::string& new_value, const std::string& actor = {}) {
    if (seen_ != nullptr && actor.empty()) {
      seen_->transitions.push_back(
          HostEvent{0, host, at_ms, kind, subject, old_value, new_value, actor});
    }
    return Write(
        "INSERT INTO host_events (host_id, at_ms, kind, subject, old_value, new_value, actor) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        {host, at_ms, kind, subject, old_value, new_value, actor});
  }

  // `repeated`: the checks RepeatedChecks already wrote.
  Status ApplyDelta(const std::int64_t host, const HostDelta& d,
                    const std::set<std::size_t>& repeated) {
    const std::int64_t at = d.collected_ms;
    bool host_doc_stale = false;

    for (const auto& section : d.inventory) {
      std::optional<std::string> old;
      auto read = Run("SELECT body FROM host_inventory WHERE host_id = ? AND section = ?",
                      {host, section.name}, [&](const SqlRow& r) { old = r.Blob(0); });
      if (!read) return read.error();
      if (old && *old == section.body) continue;
      fleetdesk::v1::InventorySection after;
      after.ParseFromString(section.body);  // DeltaFromReport serialized it
      if (old) {
        fleetdesk::v1::InventorySection before;
        before.ParseFromString(*old);
        for (const auto& change : DiffSections(before, after)) {
          if (auto s =
                  AddEvent(host, at, "inventory", change.path, change.old_value, change.new_value);
              !s) {
            return s;
          }
        }
      }
      if (auto s =
              Write("INSERT INTO host_inventory (host_id, section, hash, body, updated_ms) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (host_id, section) DO UPDATE SET "
                    "hash = excluded.hash, body = excluded.body, updated_ms = excluded.updated_ms",
                    {host, section.name, section.hash, Bytes{section.body}, at});
          !s) {
        return s;
      }
      if (after.has_system() && !after.system().serial().empty()) {
        if (auto s =
                Write("UPDATE hosts SET serial = ? WHERE id = ?", {after.system().serial(), host});
            !s) {
          return s;
        }
      }
      if (after.has_software()) {
        if (auto s = ReplacePackages(host, after.software()); !s) return s;
      }
      host_doc_stale = host_doc_stale || kSearchedSections.count(section.name) != 0;
    }

    if (auto s = ApplyServices(host, at, d); !s) return s;
    if (auto s = ApplyChecks(host, at, d, repeated); !s) return s;

    if (d.metric_point) {
      MetricPoint point = *d.metric_point;
      point.at_ms = at;
      if (auto s = AddSample(host, point); !s) return s;
    }
    if (d.metrics || d.services_status || d.journal) {
      // COALESCE keeps what this report did not carry.
      auto s = Write(
          "INSERT INTO host_status (host_id, metrics, metrics_ms, services_status, journal) "
          "VALUES (?, ?, ?, ?, ?) ON CONFLICT (host_id) DO UPDATE SET "
          "metrics = COALESCE(excluded.metrics, host_status.metrics), "
          "metrics_ms = COALESCE(excluded.metrics_ms, host_status.metrics_ms), "
          "services_status = COALESCE(excluded.services_status, host_status.services_status), "
          "journal = COALESCE(excluded.journal, host_status.journal)",
          {host, d.metrics ? SqlArg(Bytes{*d.metrics}) : SqlArg(std::nullopt),
           d.metrics ? SqlArg(at) : SqlArg(std::nullopt),
           d.services_status ? SqlArg(Bytes{*d.services_status}) : SqlArg(std::nullopt),
           d.journal ? SqlArg(Bytes{*d.journal}) : SqlArg(std::nullopt)});
      if (!s) return s;
    }
    if (host_doc_stale) return RefreshHostDoc(host);
    return {};
  }

  Status ApplyServices(std::int64_t host, std::int64_t at, const HostDelta& d) {
    // A full report replaces the set: read what was there first, so its changes are history.
    std::map<std::string, std::string> before;
    auto state_of = [&](const std::string& unit) -> Result<std::optional<std::string>> {
      if (d.full) {
        auto it = before.find(unit);
        if (it == before.end()) return std::optional<std::string>();
        return std::optional<std::string>(it->second);
      }
      std::optional<std::string> state;
      auto done = Run("SELECT active_state FROM host_services WHERE host_id = ? AND unit = ?",
                      {host, unit}, [&](const SqlRow& r) { state = r.Text(0); });
      if (!done) return done.error();
      return state;
    };
    if (d.full) {
      auto done = Run("SELECT unit, active_state FROM host_services WHERE host_id = ?", {host},
                      [&](const SqlRow& r) { before[r.Text(0)] = r.Text(1); });
      if (!done) return done.error();
      if (auto s = Write("DELETE FROM host_services WHERE host_id = ?", {host}); !s) return s;
    }
    for (const auto& unit : d.services_removed) {
      auto old = state_of(unit);
      if (!old) return old.error();
      if (!*old) continue;
      if (auto s = Write("DELETE FROM host_services WHERE host_id = ? AND unit = ?", {host, unit});
          !s) {
        return s;
      }
      if (auto s = AddEvent(host, at, "service", unit, **old, "removed"); !s) return s;
    }
    std::set<std::string> present;
    for (const auto& service : d.services) {
      present.insert(service.unit);
      auto old = state_of(service.unit);
      if (!old) return old.error();
      if (*old && **old != service.active_state) {
        if (auto s = AddEvent(host, at, "service", service.unit, **old, service.active_state); !s) {
          return s;
        }
      }
      auto s = Write(
          "INSERT INTO host_services (host_id, unit, active_state, sub_state, since_ms, body, "
          "updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id, unit) DO UPDATE SET "
          "active_state = excluded.active_state, sub_state = excluded.sub_state, since_ms = "
          "excluded.since_ms, body = excluded.body, updated_ms = excluded.updated_ms",
          {host, service.unit, service.active_state, service.sub_state, service.since_ms,
           Bytes{service.body}, at});
      if (!s) return s;
      if (!*old) {
        if (auto s2 = AddDoc("service", service.unit, service.description); !s2) return s2;
      }
    }
    for (const auto& [unit, state] : before) {
      if (present.count(unit) != 0) continue;
      if (auto s = AddEvent(host, at, "service", unit, state, "removed"); !s) return s;
    }
    return {};
  }

  Status ApplyChecks(std::int64_t host, std::int64_t at, const HostDelta& d,
                     const std::set<std::size_t>& repeated) {
    std::map<std::string, bool> before;
    if (d.full) {
      auto done = Run("SELECT key, up FROM host_checks WHERE host_id = ?", {host},
                      [&](const SqlRow& r) { before[r.Text(0)] = r.Bool(1); });
      if (!done) return done.error();
      if (auto s = Write("DELETE FROM host_checks WHERE host_id = ?", {host}); !s) return s;
    }
    auto word = [](bool up) { return up ? "up" : "down"; };
    for (std::size_t c = 0; c < d.checks.size(); ++c) {
      if (repeated.count(c) != 0) continue;
      const auto& check = d.checks[c];
      std::optional<bool> old;
      if (d.full) {
        if (auto it = before.find(check.key); it != before.end()) old = it->second;
        before.erase(check.key);
      } else {
        auto done = Run("SELECT up FROM host_checks WHERE host_id = ? AND key = ?",
                        {host, check.key}, [&](const SqlRow& r) { old = r.Bool(0); });
        if (!done) return done.error();
      }
      if (old && *old != check.up) {
        if (auto s = AddEvent(host, at, "check", check.key, word(*old), word(check.up)); !s) {
          return s;
        }
      }
      auto s = Write(
          "INSERT INTO host_checks (host_id, key, up, checked_ms, body) VALUES (?, ?, ?, ?, ?) "
          "ON CONFLICT (host_id, key) DO UPDATE SET up = excluded.up, checked_ms = "
          "excluded.checked_ms, body = excluded.body",
          {host, check.key, check.up, check.checked_ms, Bytes{check.body}});
      if (!s) return s;
      if (!old) {
        if (auto s2 = AddDoc("check", check.key, check.target); !s2) return s2;
      }
    }
    for (const auto& [key, up] : before) {
      if (auto s = AddEvent(host, at, "check", key, word(up), "removed"); !s) return s;
    }
    return {};
  }

  // A raw sample only: its 5-minute rollup is made when retention removes it (Prune), and
  // series of the raw period are rolled up as they are read (MetricSeries).
  Status AddSample(std::int64_t host, const MetricPoint& p) {
    return Write(
        "INSERT INTO metric_samples (host_id, at_ms, cpu, memory, load1, disk, rx, tx) VALUES "
        "(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (host_id, at_ms) DO NOTHING",
        {host, p.at_ms, p.cpu_percent, p.memory_percent, p.load1, p.disk_percent, p.net_rx_bps,
         p.net_tx_bps});
  }

  // Raw samples grouped into 5-minute buckets: the bucket, then the columns of a rollup from
  // `samples` on, in metric_rollups' order. The caller adds FROM, WHERE and GROUP BY 1, 2.
  static std::string SampleBuckets() {
    const std::string width = std::to_string(kRollupMs);
    std::string sql = "host_id, at_ms - at_ms % " + width + ", COUNT(*)";
    for (const char* column : kMetricColumns) {
      sql += std::string(", SUM(") + column + "), MAX(" + column + ")";
    }
    return sql;
  }
  // metric_rollups' columns, in the order SampleBuckets() computes them.
  static std::string RollupColumns() {
    std::string sql = "host_id, bucket_ms, samples";
    for (const std::string column : kMetricColumns) {
      sql += ", " + column + "_sum, " + column + "_max";
    }
    return sql;
  }
  // Adds a rollup row to the one already stored for its bucket.
  std::string RollupUpsert() const {
    std::string sql =
        " ON CONFLICT (host_id, bucket_ms) DO UPDATE SET samples = metric_rollups.samples + "
        "excluded.samples";
    for (const std::string column : kMetricColumns) {
      sql += ", " + column + "_sum = metric_rollups." + column + "_sum + excluded." + column +
             "_sum, " + column + "_max = " + Greatest() + "(metric_rollups." + column +
             "_max, excluded." + column + "_max)";
    }
    return sql;
  }

  // Search documents ------------------------------------------------------------------------
  // Services, checks and packages have one document each, whatever the number of hosts that
  // have them: the host count comes from the current tables when a search finds one.
  Status AddDoc(const char* kind, const std::string& ref, const std::string& body) {
    return Write(
        "INSERT INTO search_docs (kind, ref, title, body) VALUES (?, ?, ?, ?) ON CONFLICT "
        "(kind, ref) DO NOTHING",
        {kind, ref, ref, body});
  }

  Status ReplacePackages(std::int64_t host, const fleetdesk::v1::SoftwareInventory& software) {
    if (auto s = Write("DELETE FROM host_packages WHERE host_id = ?", {host}); !s) return s;
    for (const auto& package : software.packages()) {
      if (package.name().empty()) continue;
      auto s = Write(
          "INSERT INTO host_packages (host_id, name, version) VALUES (?, ?, ?) ON CONFLICT "
          "(host_id, name) DO NOTHING",
          {host, package.name(), package.version()});
      if (!s) return s;
      if (auto s2 = AddDoc("package", package.name(), ""); !s2) return s2;
    }
    return {};
  }

  // The host's document: its name as the title; serials, addresses and what people wrote as
  // the body. Rewritten only when its text changed, so the full-text index does not churn.
  Status RefreshHostDoc(std::int64_t host) {
    std::string title;
    std::vector<std::string> words;
    auto add = [&](const std::string& word) {
      if (!word.empty()) words.push_back(word);
    };
    auto done = Run(
        "SELECT hostname, serial, machine_id, os_pretty_name, owner, location, environment, role, "
        "notes FROM hosts WHERE id = ?",
        {host}, [&](const SqlRow& r) {
          title = r.Text(0);
          for (int c = 1; c <= 8; ++c) add(r.Text(c));
        });
    if (!done) return done.error();
    done = Run("SELECT tag FROM host_tags WHERE host_id = ?", {host},
               [&](const SqlRow& r) { add(r.Text(0)); });
    if (!done) return done.error();
    done = Run(
        "SELECT body FROM host_inventory WHERE host_id = ? AND section IN ('system', 'network', "
        "'disks', 'memory', 'os')",
        {host}, [&](const SqlRow& r) {
          fleetdesk::v1::InventorySection s;
          if (!s.ParseFromString(r.Blob(0))) return;
          if (s.has_system()) {
            add(s.system().serial());
            add(s.system().product());
          }
          for (const auto& i : s.network().interfaces()) {
            add(i.mac());
            for (const auto& a : i.addresses()) add(a.substr(0, a.find('/')));
          }
          for (const auto& disk : s.disks().disks()) add(disk.serial());
          for (const auto& module : s.memory().modules()) add(module.serial());
          if (s.has_os()) add(s.os().fqdn());
        });
    if (!done) return done.error();
    std::string body;
    for (const auto& w : words) body += (body.empty() ? "" : " ") + w;
    return Do(
        "INSERT INTO search_docs (kind, ref, title, body) VALUES ('host', ?, ?, ?) ON CONFLICT "
        "(kind, ref) DO UPDATE SET title = excluded.title, body = excluded.body WHERE "
        "search_docs.title <> excluded.title OR search_docs.body <> excluded.body",
        {std::to_string(host), title, body});
  }

  Result<std::vector<SearchHit>> Search(const std::string& text, int limit) override {
    std::vector<SearchHit> hits;
    std::set<std::int64_t> seen;
    auto collect = [&](const SqlRow& r) {
      if (seen.insert(r.Int(4)).second) {
        hits.push_back({r.Text(0), r.Text(1), r.Text(2), r.Text(3), 0, 0});
      }
    };
    Result<std::int64_t> done = 0;
    // FTS5's trigram index answers substrings of three characters or more; shorter ones (two
    // Chinese characters make a word) scan the documents, which are one per host and per
    // distinct service, check and package, not one per row.
    if (!Pg() && CodePoints(text) >= 3) {
      // Candidates in two takes, neither ordered by FTS5's rank: ordering would score every
      // match first (half a second when half of 100,000 hosts match), and the ranking below is
      // ours anyway. Documents whose title matches come first, then any match.
      const std::string sql =
          "SELECT kind, ref, title, body, id FROM search_docs WHERE id IN (SELECT rowid FROM "
          "search_fts WHERE search_fts MATCH ? LIMIT ?)";
      done = Run(sql, {"title : " + FtsPhrase(text), kSearchCandidates}, collect);
      if (done) done = Run(sql, {FtsPhrase(text), kSearchCandidates}, collect);
    } else {
      auto [condition, argument] = DocContains(text);
      done =
          Run("SELECT kind, ref, title, body, id FROM search_docs WHERE " + condition + " LIMIT ?",
              {argument, kSearchCandidates}, collect);
    }
    if (!done) return done.error();
    const std::string needle = Lower(text);
    auto kind_order = [](const std::string& kind) {
      return kind == "host" ? 0 : kind == "service" ? 1 : kind == "check" ? 2 : 3;
    };
    for (auto& hit : hits) {
      const std::string title = Lower(hit.title);
      hit.rank = title == needle                           ? 0
                 : title.rfind(needle, 0) == 0             ? 1
                 : title.find(needle) != std::string::npos ? 2
                                                           : 3;
      hit.detail = Snippet(hit.detail, needle);
    }
    std::stable_sort(hits.begin(), hits.end(), [&](const SearchHit& a, const SearchHit& b) {
      if (a.rank != b.rank) return a.rank < b.rank;
      if (kind_order(a.kind) != kind_order(b.kind)) return kind_order(a.kind) < kind_order(b.kind);
      return a.title < b.title;
    });
    if (static_cast<int>(hits.size()) > limit) hits.resize(static_cast<std::size_t>(limit));
    for (auto& hit : hits) {
      const char* count_sql =
          hit.kind == "service"   ? "SELECT COUNT(*) FROM host_services WHERE unit = ?"
          : hit.kind == "check"   ? "SELECT COUNT(*) FROM host_checks WHERE key = ?"
          : hit.kind == "package" ? "SELECT COUNT(*) FROM host_packages WHERE name = ?"
                                  : nullptr;
      if (count_sql == nullptr) continue;
      auto counted = Run(count_sql, {hit.ref}, [&](const SqlRow& r) { hit.host_count = r.Int(0); });
      if (!counted) return counted.error();
    }
    return hits;
  }

  // Up to 80 bytes of `body` around the first match, cut at character boundaries.
  static std::string Snippet(const std::string& body, const std::string& needle) {
    constexpr std::size_t kWidth = 80;
    if (body.size() <= kWidth) return body;
    auto at = Lower(body).find(needle);
    std::size_t start = at == std::string::npos || at < kWidth / 2 ? 0 : at - kWidth / 2;
    while (start > 0 && (static_cast<unsigned char>(body[start]) & 0xC0) == 0x80) --start;
    std::size_t end = std::min(body.size(), start + kWidth);
    while (end < body.size() && (static_cast<unsigned char>(body[end]) & 0xC0) == 0x80) ++end;
    return (start > 0 ? "..." : "") + body.substr(start, end - start) +
           (end < body.size() ? "..." : "");
  }

  // What people say about hosts -------------------------------------------------------------
  // Applies `patch` to `before` inside the caller's transaction; answers how many fields it
  // changed, each recorded as an event and in `audit`'s before and after.
  Result<int> ApplyPatch(const HostView& before, const AttributePatch& patch, const Actor& actor,
                         std::int64_t now_ms, AuditEntry& audit) {
    const std::int64_t id = before.record.id;
    int changed = 0;
    auto set = [&](const char* column, const std::string& old,
                   const std::optional<std::string>& value) -> Status {
      if (!value || *value == old) return {};
      ++changed;
      if (auto s =
              Do(std::string("UPDATE hosts SET ") + column + " = ? WHERE id = ?", {*value, id});
          !s) {
        return s;
      }
      audit.before[column] = old;
      audit.after[column] = *value;
      return AddEvent(id, now_ms, "attribute", column, old, *value, actor.name);
    };
    const bool enrolled = !before.record.agent_id.empty();
    if (enrolled && ((patch.hostname && *patch.hostname != before.record.hostname) ||
                     (patch.serial && *patch.serial != before.serial))) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "hostname and serial of an enrolled host come from its agent");
    }
    if (patch.criticality && std::find(std::begin(kCriticalities), std::end(kCriticalities),
                                       *patch.criticality) == std::end(kCriticalities)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "criticality must be low, medium, high or critical");
    }
    const auto& a = before.attributes;
    for (auto s :
         {set("hostname", before.record.hostname, patch.hostname),
          set("serial", before.serial, patch.serial), set("owner", a.owner, patch.owner),
          set("location", a.location, patch.location),
          set("environment", a.environment, patch.environment), set("role", a.role, patch.role),
          set("criticality", a.criticality, patch.criticality),
          set("notes", a.notes, patch.notes)}) {
      if (!s) return s.error();
    }
    if (patch.tags) {
      std::vector<std::string> tags = *patch.tags;
      std::sort(tags.begin(), tags.end());
      tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
      if (tags != a.tags) {
        ++changed;
        if (auto s = Do("DELETE FROM host_tags WHERE host_id = ?", {id}); !s) return s.error();
        for (const auto& tag : tags) {
          if (auto s = Do("INSERT INTO host_tags (host_id, tag) VALUES (?, ?)", {id, tag}); !s) {
            return s.error();
          }
        }
        audit.before["tags"] = JoinTags(a.tags);
        audit.after["tags"] = JoinTags(tags);
        if (auto s = AddEvent(id, now_ms, "attribute", "tags", JoinTags(a.tags), JoinTags(tags),
                              actor.name);
            !s) {
          return s.error();
        }
      }
    }
    if (changed > 0) {
      if (auto s = RefreshHostDoc(id); !s) return s.error();
    }
    return changed;
  }

  // The host `id` when it exists and is not archived (an archived record is read-only).
  Result<HostView> LiveHost(std::int64_t id) {
    auto view = GetHostView(id);
    if (!view) return view.error();
    if (!*view) return MakeError(ErrorCode::kNotFound, "no host with id " + std::to_string(id));
    if ((*view)->archived_ms) {
      return MakeError(ErrorCode::kFailedPrecondition,
                       "host " + std::to_string(id) + " is archived; its record is read-only");
    }
    return std::move(**view);
  }

  // The audit entry of a change to host `id`.
  static AuditEntry HostAudit(const char* action, std::int64_t id, const Actor& actor,
                              std::int64_t now_ms) {
    AuditEntry entry;
    entry.at_ms = now_ms;
    entry.actor = actor;
    entry.action = action;
    entry.resource = "host";
    entry.resource_id = std::to_string(id);
    return entry;
  }

  Result<HostView> PatchHost(std::int64_t id, const AttributePatch& patch, const Actor& actor,
                             std::int64_t now_ms) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    auto before = LiveHost(id);
    if (!before) return before.error();
    auto audit = HostAudit("host.update", id, actor, now_ms);
    auto changed = ApplyPatch(*before, patch, actor, now_ms, audit);
    if (!changed) return changed.error();
    if (*changed > 0) {
      if (auto s = Audit(audit); !s) return s.error();
    }
    auto after = GetHostView(id);
    if (!after) return after.error();
    if (auto s = tx->Commit(); !s) return s.error();
    return **after;
  }

  Result<HostRecord> RevokeAgent(const std::string& agent_id, const Actor& actor,
                                 std::int64_t now_ms) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    std::optional<std::pair<std::int64_t, bool>> host;
    auto done = Run(std::string("SELECT id, revoked FROM hosts WHERE agent_id = ? AND archived_ms "
                                "IS NULL") +
                        (Pg() ? " FOR UPDATE" : ""),
                    {agent_id}, [&](const SqlRow& r) { host.emplace(r.Int(0), r.Bool(1)); });
    if (!done) return done.error();
    if (!host) return MakeError(ErrorCode::kNotFound, "no live host has agent " + agent_id);
    const auto [id, revoked] = *host;
    if (!revoked) {
      if (auto s = Do("UPDATE hosts SET revoked = ? WHERE id = ?", {true, id}); !s) {
        return s.error();
      }
      if (auto s = AddEvent(id, now_ms, "lifecycle", "", "", "revoked", actor.name); !s) {
        return s.error();
      }
      auto audit = HostAudit("agent.revoke", id, actor, now_ms);
      audit.resource = "agent";
      audit.resource_id = agent_id;
      audit.before = {{"revoked", "false"}};
      audit.after = {{"revoked", "true"}, {"agentId", agent_id}, {"hostId", std::to_string(id)}};
      if (auto s = Audit(audit); !s) return s.error();
    }
    auto row = GetHost(id);
    if (!row) return row.error();
    if (auto s = tx->Commit(); !s) return s.error();
    return **row;
  }

  Status RecordRenewal(const CertificateRenewal& renewal) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    std::optional<std::tuple<std::int64_t, std::string, std::int64_t>> host;
    auto found = Run(std::string("SELECT id, cert_serial, cert_not_after FROM hosts WHERE agent_id "
                                 "= ? AND archived_ms IS NULL AND revoked = ?") +
                         (Pg() ? " FOR UPDATE" : ""),
                     {renewal.agent_id, false},
                     [&](const SqlRow& r) { host.emplace(r.Int(0), r.Text(1), r.Int(2)); });
    if (!found) return found.error();
    if (!host) {
      return MakeError(ErrorCode::kNotFound,
                       "no live, unrevoked host has agent " + renewal.agent_id);
    }
    const auto& [id, old_serial, old_not_after] = *host;
    if (auto s = Do("UPDATE hosts SET cert_serial = ?, cert_not_after = ? WHERE id = ?",
                    {renewal.serial_hex, renewal.not_after, id});
        !s) {
      return s.error();
    }
    const std::string actor = "agent " + renewal.agent_id;
    if (auto s = AddEvent(id, renewal.at_ms, "lifecycle", "certificate", old_serial,
                          renewal.serial_hex, actor);
        !s) {
      return s;
    }
    AuditEntry audit;
    audit.at_ms = renewal.at_ms;
    audit.actor.kind = "agent";
    audit.actor.name = renewal.agent_id;
    audit.actor.address = renewal.address;
    audit.action = "agent.renew";
    audit.resource = "agent";
    audit.resource_id = renewal.agent_id;
    audit.before = {{"certificateSerial", old_serial},
                    {"certificateNotAfter", UtcSecondsText(old_not_after)}};
    audit.after = {{"certificateSerial", renewal.serial_hex},
                   {"certificateNotAfter", UtcSecondsText(renewal.not_after)},
                   {"hostId", std::to_string(id)}};
    if (auto s = Audit(audit); !s) return s;
    return tx->Commit();
  }

  // The live host (not archived) with this hostname (case-insensitively) or serial.
  Result<std::optional<std::int64_t>> FindLive(const std::string& hostname,
                                               const std::string& serial) {
    std::optional<std::int64_t> id;
    auto done =
        Run("SELECT id FROM hosts WHERE archived_ms IS NULL AND (lower(hostname) = lower(?) OR "
            "(serial <> '' AND serial = ?)) ORDER BY id LIMIT 1",
            {hostname, serial}, [&](const SqlRow& r) { id = r.Int(0); });
    if (!done) return done.error();
    return id;
  }

  Result<std::int64_t> InsertPending(const std::string& hostname, const std::string& serial,
                                     const Actor& actor, std::int64_t now_ms) {
    std::int64_t id = 0;
    auto done =
        Run("INSERT INTO hosts (hostname, serial, first_seen_ms) VALUES (?, ?, ?) RETURNING id",
            {hostname, serial, now_ms}, [&](const SqlRow& r) { id = r.Int(0); });
    if (!done) return done.error();
    if (auto s = Do("INSERT INTO host_heartbeats (host_id, last_seen_ms) VALUES (?, 0)", {id});
        !s) {
      return s.error();
    }
    if (auto s = AddEvent(id, now_ms, "lifecycle", "", "", "registered", actor.name); !s) {
      return s.error();
    }
    return id;
  }

  Result<HostView> RegisterHost(const NewHost& host, const Actor& actor,
                                std::int64_t now_ms) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    auto existing = FindLive(host.hostname, host.serial);
    if (!existing) return existing.error();
    if (*existing) {
      return MakeError(ErrorCode::kAlreadyExists, "host " + std::to_string(**existing) +
                                                      " already has this hostname or serial");
    }
    auto id = InsertPending(host.hostname, host.serial, actor, now_ms);
    if (!id) return id.error();
    auto view = GetHostView(*id);
    if (!view) return view.error();
    AttributePatch patch = host.attributes;
    patch.hostname.reset();
    patch.serial.reset();
    auto audit = HostAudit("host.create", *id, actor, now_ms);
    audit.after["hostname"] = host.hostname;
    audit.after["serial"] = host.serial;
    auto changed = ApplyPatch(**view, patch, actor, now_ms, audit);
    if (!changed) return changed.error();
    if (*changed == 0) {
      if (auto s = RefreshHostDoc(*id); !s) return s.error();
    }
    audit.before.clear();
    if (auto s = Audit(audit); !s) return s.error();
    view = GetHostView(*id);
    if (!view) return view.error();
    if (auto s = tx->Commit(); !s) return s.error();
    return **view;
  }

  Result<HostView> ArchiveHost(std::int64_t id, const Actor& actor, std::int64_t now_ms) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    auto before = LiveHost(id);
    if (!before) return before.error();
    // Revoked too: the agent of a decommissioned host is refused from now on.
    if (auto s =
            Do("UPDATE hosts SET archived_ms = ?, revoked = ? WHERE id = ?", {now_ms, true, id});
        !s) {
      return s.error();
    }
    if (auto s = Do("UPDATE host_heartbeats SET connected = ? WHERE host_id = ?", {false, id});
        !s) {
      return s.error();
    }
    if (auto s =
            AddEvent(id, now_ms, "lifecycle", "", before->StatusName(), "archived", actor.name);
        !s) {
      return s.error();
    }
    auto audit = HostAudit("host.archive", id, actor, now_ms);
    audit.before["status"] = before->StatusName();
    audit.after["status"] = "archived";
    // Read by every server (AgentsCutOffAfter) to close the agent's channel.
    audit.after["agentId"] = before->record.agent_id;
    if (auto s = Audit(audit); !s) return s.error();
    auto after = GetHostView(id);
    if (!after) return after.error();
    if (auto s = tx->Commit(); !s) return s.error();
    return **after;
  }

  Result<ImportSummary> ImportHosts(const std::vector<ImportRow>& rows, const Actor& actor,
                                    std::int64_t now_ms) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    ImportSummary summary;
    for (const auto& row : rows) {
      auto fail = [&](const Error& e) {
        return MakeError(e.code, "line " + std::to_string(row.line) + ": " + e.message);
      };
      std::optional<std::int64_t> id = row.id;
      if (!id) {
        auto found = FindLive(row.hostname, row.serial);
        if (!found) return fail(found.error());
        id = *found;
      }
      AttributePatch patch = row.patch;
      const bool created = !id;
      if (created) {
        auto made = InsertPending(row.hostname, row.serial, actor, now_ms);
        if (!made) return fail(made.error());
        id = *made;
        ++summary.created;
      }
      auto view = LiveHost(*id);
      if (!view) return fail(view.error());
      // The key columns identify an enrolled host; they are not edits of it.
      if (!view->record.agent_id.empty()) {
        patch.hostname.reset();
        patch.serial.reset();
      }
      // One entry per host the import created or changed, so a host's audit trail is whole.
      auto audit = HostAudit(created ? "host.create" : "host.update", *id, actor, now_ms);
      auto changed = ApplyPatch(*view, patch, actor, now_ms, audit);
      if (!changed) return fail(changed.error());
      if (!created) (*changed > 0 ? summary.updated : summary.unchanged) += 1;
      if (created && *changed == 0) {
        if (auto s = RefreshHostDoc(*id); !s) return fail(s.error());
      }
      if (created) {
        audit.before.clear();
        audit.after["hostname"] = row.hostname;
        audit.after["serial"] = row.serial;
      }
      audit.after["via"] = "import";
      if (created || *changed > 0) {
        if (auto s = Audit(audit); !s) return fail(s.error());
      }
    }
    if (auto s = tx->Commit(); !s) return s.error();
    return summary;
  }

  // History ---------------------------------------------------------------------------------
  Result<std::vector<Change>> ChangesAfter(ChangeCursor& after, int limit) override {
    std::vector<Change> out;
    if (after.host_event < 0 || after.ticket_event < 0) {
      auto done =
          Run("SELECT (SELECT COALESCE(MAX(id), 0) FROM host_events), "
              "(SELECT COALESCE(MAX(id), 0) FROM ticket_events)",
              {}, [&](const SqlRow& r) {
                after.host_event = r.Int(0);
                after.ticket_event = r.Int(1);
              });
      if (!done) return done.error();
      return out;
    }
    // A gap wider than this (ids taken by a bulk insert that failed) is not waited for.
    constexpr std::int64_t kMaxGap = 1000;
    auto read = [&](const char* columns, const char* table, std::int64_t& cursor,
                    std::map<std::int64_t, std::int64_t>& gaps, Change::Source source) -> Status {
      const std::string select = std::string("SELECT ") + columns + " FROM " + table;
      auto row = [&](const SqlRow& r) {
        out.push_back(
            Change{source, r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Text(4), r.Text(5)});
      };
      if (!gaps.empty()) {
        std::vector<std::int64_t> keys;
        for (const auto& [id, since] : gaps) keys.push_back(id);
        const auto first = out.size();
        auto found = RunForKeys(select + " WHERE id IN ", keys, "", row);
        if (!found) return found.error();
        for (auto i = first; i < out.size(); ++i) gaps.erase(out[i].id);
      }
      const auto first = out.size();
      auto done =
          Run(select + " WHERE id > ? ORDER BY id LIMIT ?", {cursor, std::int64_t{limit}}, row);
      if (!done) return done.error();
      for (auto i = first; i < out.size(); ++i) {
        const auto id = out[i].id;
        if (id - cursor > 1 && id - cursor <= kMaxGap) {
          // Stamped 0: the reader dates and drops them.
          for (auto missing = cursor + 1; missing < id; ++missing) gaps.emplace(missing, 0);
        }
        cursor = id;
      }
      return {};
    };
    if (auto s = read("id, host_id, at_ms, kind, subject, new_value", "host_events",
                      after.host_event, after.host_gaps, Change::Source::kHost);
        !s) {
      return s.error();
    }
    if (auto s = read("id, ticket_id, at_ms, kind, subject, new_value", "ticket_events",
                      after.ticket_event, after.ticket_gaps, Change::Source::kTicket);
        !s) {
      return s.error();
    }
    return out;
  }

  Result<Overview> GetOverview(std::int64_t since_ms) override {
    Overview out;
    auto done = Run(
        "SELECT CASE WHEN h.agent_id IS NULL THEN 'pending' WHEN h.unreachable_since_ms IS NOT "
        "NULL THEN 'unreachable' WHEN b.connected = ? THEN 'online' ELSE 'offline' END AS status, "
        "COUNT(*) FROM hosts h LEFT JOIN host_heartbeats b ON b.host_id = h.id WHERE "
        "h.archived_ms IS NULL GROUP BY status",
        {true}, [&](const SqlRow& r) { out.hosts[r.Text(0)] = r.Int(1); });
    if (!done) return done.error();
    // The open states spelled as the tickets_open index's condition, so the index applies.
    const std::string open = "state IN ('new', 'assigned', 'in_progress', 'pending')";
    done =
        Run("SELECT priority, COUNT(*), SUM(CASE WHEN kind = 'incident' THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN response_breached_ms IS NOT NULL OR resolution_breached_ms IS NOT "
            "NULL THEN 1 ELSE 0 END) FROM tickets WHERE " +
                open + " GROUP BY priority",
            {}, [&](const SqlRow& r) {
              out.open_by_priority[static_cast<int>(r.Int(0))] = r.Int(1);
              out.open_incidents += r.Int(2);
              out.open_breached += r.Int(3);
            });
    if (!done) return done.error();
    done = Run("SELECT COUNT(*) FROM tasks WHERE state = 'running'", {},
               [&](const SqlRow& r) { out.tasks_running = r.Int(0); });
    if (!done) return done.error();
    std::map<std::int64_t, Overview::Day> days;
    done =
        Run("SELECT created_ms / 86400000 AS day, COUNT(*) FROM tickets WHERE created_ms >= ? "
            "GROUP BY day",
            {since_ms}, [&](const SqlRow& r) {
              auto& d = days[r.Int(0)];
              d.day = r.Int(0);
              d.opened = r.Int(1);
            });
    if (!done) return done.error();
    done =
        Run("SELECT resolved_ms / 86400000 AS day, COUNT(*) FROM tickets WHERE resolved_ms >= ? "
            "GROUP BY day",
            {since_ms}, [&](const SqlRow& r) {
              auto& d = days[r.Int(0)];
              d.day = r.Int(0);
              d.resolved = r.Int(1);
            });
    if (!done) return done.error();
    for (auto& [day, d] : days) out.days.push_back(d);
    return out;
  }

  Result<EventPage> ListEvents(const EventQuery& q) override {
    std::string sql =
        "SELECT id, host_id, at_ms, kind, subject, old_value, new_value, actor FROM host_events "
        "WHERE host_id = ?";
    std::vector<SqlArg> args{q.host_id};
    if (q.before_id) {
      sql += " AND id < ?";
      args.emplace_back(*q.before_id);
    }
    if (q.from_ms) {
      sql += " AND at_ms >= ?";
      args.emplace_back(*q.from_ms);
    }
    if (q.to_ms) {
      sql += " AND at_ms < ?";
      args.emplace_back(*q.to_ms);
    }
    if (!q.kind.empty()) {
      sql += " AND kind = ?";
      args.emplace_back(std::string_view(q.kind));
    }
    sql += " ORDER BY id DESC LIMIT ?";
    args.emplace_back(std::int64_t{q.limit} + 1);
    EventPage page;
    auto done = db_->Run(sql, args, [&](const SqlRow& r) {
      page.items.push_back(
          {r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Text(4), r.Text(5), r.Text(6), r.Text(7)});
    });
    if (!done) return done.error();
    if (static_cast<int>(page.items.size()) > q.limit) {
      page.items.pop_back();
      page.next_before_id = page.items.back().id;
    }
    return page;
  }

  Result<std::vector<MetricPoint>> MetricSeries(std::int64_t host_id, std::int64_t from_ms,
                                                std::int64_t to_ms,
                                                MetricResolution resolution) override {
    std::vector<MetricPoint> points;
    Result<std::int64_t> done = 0;
    if (resolution == MetricResolution::kRaw) {
      done = Run(
          "SELECT at_ms, cpu, memory, load1, disk, rx, tx FROM metric_samples WHERE host_id = ? "
          "AND at_ms >= ? AND at_ms < ? ORDER BY at_ms",
          {host_id, from_ms, to_ms}, [&](const SqlRow& r) {
            MetricPoint p;
            p.at_ms = r.Int(0);
            p.cpu_percent = p.cpu_percent_max = r.Double(1);
            p.memory_percent = p.memory_percent_max = r.Double(2);
            p.load1 = p.load1_max = r.Double(3);
            p.disk_percent = p.disk_percent_max = r.Double(4);
            p.net_rx_bps = p.net_rx_bps_max = r.Double(5);
            p.net_tx_bps = p.net_tx_bps_max = r.Double(6);
            points.push_back(p);
          });
    } else {
      // Stored rollups hold what retention has taken from the raw samples; what is still raw is
      // rolled up here. A bucket half pruned is in both, and its two parts add up.
      struct Bucket {
        std::int64_t samples = 0;
        std::array<double, kMetricColumns.size()> sum{}, max{};
      };
      std::map<std::int64_t, Bucket> buckets;
      auto add = [&](const SqlRow& r) {  // host_id, bucket, samples, then sum and max per metric
        Bucket& b = buckets[r.Int(1)];
        const bool first = b.samples == 0;
        b.samples += r.Int(2);
        for (std::size_t m = 0; m < kMetricColumns.size(); ++m) {
          const int c = 3 + 2 * static_cast<int>(m);
          b.sum[m] += r.Double(c);
          b.max[m] = first ? r.Double(c + 1) : std::max(b.max[m], r.Double(c + 1));
        }
      };
      const std::int64_t from_bucket = from_ms - from_ms % kRollupMs;
      done = Run("SELECT " + RollupColumns() +
                     " FROM metric_rollups WHERE host_id = ? AND bucket_ms >= ? AND bucket_ms < ?",
                 {host_id, from_bucket, to_ms}, add);
      if (!done) return done.error();
      done = Run("SELECT " + SampleBuckets() +
                     " FROM metric_samples WHERE host_id = ? AND at_ms >= ? AND at_ms < ? GROUP "
                     "BY 1, 2",
                 {host_id, from_bucket, to_ms}, add);
      for (const auto& [at_ms, b] : buckets) {
        MetricPoint p;
        p.at_ms = at_ms;
        p.samples = static_cast<int>(b.samples);
        const double n = b.samples > 0 ? static_cast<double>(b.samples) : 1;
        double* mean[] = {&p.cpu_percent,  &p.memory_percent, &p.load1,
                          &p.disk_percent, &p.net_rx_bps,     &p.net_tx_bps};
        double* max[] = {&p.cpu_percent_max,  &p.memory_percent_max, &p.load1_max,
                         &p.disk_percent_max, &p.net_rx_bps_max,     &p.net_tx_bps_max};
        for (std::size_t m = 0; m < kMetricColumns.size(); ++m) {
          *mean[m] = b.sum[m] / n;
          *max[m] = b.max[m];
        }
        points.push_back(p);
      }
    }
    if (!done) return done.error();
    return points;
  }

  Result<std::vector<std::int64_t>> MarkSilentHosts(std::int64_t silent_before_ms,
                                                    std::int64_t now_ms) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    // One statement decides, through the last-seen index. On PostgreSQL the silent heartbeat
    // rows are locked: a report committed meanwhile by another server moves last_seen_ms, and
    // the locking read checks the condition again on the row as that report left it.
    std::vector<std::int64_t> ids;
    auto done =
        Run(std::string("UPDATE hosts SET unreachable_since_ms = ? WHERE agent_id IS NOT NULL AND "
                        "archived_ms IS NULL AND unreachable_since_ms IS NULL AND id IN (SELECT "
                        "host_id FROM host_heartbeats WHERE last_seen_ms < ?") +
                (Pg() ? " FOR UPDATE" : "") + ") RETURNING id",
            {now_ms, silent_before_ms}, [&](const SqlRow& r) { ids.push_back(r.Int(0)); });
    if (!done) return done.error();
    std::sort(ids.begin(), ids.end());
    for (auto id : ids) {
      if (auto s = AddEvent(id, now_ms, "reachability", "", "reachable", "unreachable"); !s) {
        return s.error();
      }
    }
    if (auto s = tx->Commit(); !s) return s.error();
    return ids;
  }

  // Moves a host's raw samples older than `before_ms` into its rollups; answers how many.
  Result<std::int64_t> RollUpAndDelete(std::int64_t host, std::int64_t before_ms) {
    const std::string insert =
        "INSERT INTO metric_rollups (" + RollupColumns() + ") SELECT " + SampleBuckets() + " FROM ";
    if (Pg()) {
      std::int64_t deleted = 0;
      auto done =
          Run("WITH gone AS (DELETE FROM metric_samples WHERE host_id = ? AND at_ms < ? "
              "RETURNING *), rolled AS (" +
                  insert + "gone GROUP BY 1, 2" + RollupUpsert() + ") SELECT COUNT(*) FROM gone",
              {host, before_ms}, [&](const SqlRow& r) { deleted = r.Int(0); });
      if (!done) return done.error();
      return deleted;
    }
    // SQLite has one writer: the two statements see the same samples.
    auto rolled = Run(
        insert + "metric_samples WHERE host_id = ? AND at_ms < ? GROUP BY 1, 2" + RollupUpsert(),
        {host, before_ms});
    if (!rolled) return rolled.error();
    return Run("DELETE FROM metric_samples WHERE host_id = ? AND at_ms < ?", {host, before_ms});
  }

  Result<PruneCounts> Prune(const Retention& retention, std::int64_t now_ms) override {
    PruneCounts counts;
    std::vector<std::int64_t> hosts;
    auto listed = Run("SELECT id FROM hosts ORDER BY id", {},
                      [&](const SqlRow& r) { hosts.push_back(r.Int(0)); });
    if (!listed) return listed.error();
    // Host by host in short transactions: each delete walks its primary key's range, and the
    // writer never waits long for the lock.
    constexpr std::size_t kHostsPerTransaction = 200;
    for (std::size_t start = 0; start < hosts.size(); start += kHostsPerTransaction) {
      auto tx = BeginTx();
      if (!tx) return tx.error();
      for (std::size_t i = start; i < std::min(hosts.size(), start + kHostsPerTransaction); ++i) {
        // Raw samples leave for their 5-minute rollups: each is counted there once, in the
        // transaction that deletes it. PostgreSQL does both in one statement, so that a late
        // sample committed in between by another server cannot be deleted unrolled.
        const std::int64_t raw_before = now_ms - retention.raw_metrics_ms;
        auto samples = RollUpAndDelete(hosts[i], raw_before);
        if (!samples) return samples.error();
        counts.samples += *samples;
        auto rollups = Run("DELETE FROM metric_rollups WHERE host_id = ? AND bucket_ms < ?",
                           {hosts[i], now_ms - retention.rollup_metrics_ms});
        if (!rollups) return rollups.error();
        counts.rollups += *rollups;
      }
      if (auto s = tx->Commit(); !s) return s.error();
    }
    auto events = Run("DELETE FROM host_events WHERE at_ms < ?", {now_ms - retention.events_ms});
    if (!events) return events.error();
    counts.events = *events;
    return counts;
  }

  Result<bool> TryLeadership() override {
    if (!Pg()) return true;
    // A session lock: it goes with the connection, so a server that dies hands it on.
    bool held = false;
    auto done =
        Run("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND "
            "classid = 1718379877 AND objid = 2 AND objsubid = 2 AND granted",
            {}, [&](const SqlRow&) { held = true; });
    if (!done) return done.error();
    if (held) return true;
    done = Run(std::string("SELECT pg_try_advisory_lock(") + kLeaderKeys + ")", {},
               [&](const SqlRow& r) { held = r.Bool(0); });
    if (!done) return done.error();
    return held;
  }

  // Enrollment ------------------------------------------------------------------------------
  // The token's id when it may enroll one more host at `now_ms`; else why not. `lock` (inside
  // a transaction) keeps the row locked until it ends, so two servers enrolling on one token at
  // once cannot both take its last use.
  Result<std::int64_t> UsableToken(const std::string& token_hash, std::int64_t now_ms, bool lock) {
    std::optional<Status> verdict;
    std::int64_t id = 0;
    auto done = Run(std::string("SELECT id, expires_ms, max_hosts, used_count, revoked FROM "
                                "enrollment_tokens WHERE token_hash = ?") +
                        (lock && Pg() ? " FOR UPDATE" : ""),
                    {token_hash}, [&](const SqlRow& r) {
                      id = r.Int(0);
                      verdict = TokenUsable(r.Bool(4), r.Int(1), r.OptInt(2), r.Int(3), now_ms);
                    });
    if (!done) return done.error();
    if (!verdict) return MakeError(ErrorCode::kUnauthenticated, "enrollment token is not known");
    if (!*verdict) return verdict->error();
    return id;
  }

  Status CheckEnrollmentToken(const std::string& token_hash, std::int64_t now_ms) override {
    auto token = UsableToken(token_hash, now_ms, false);
    if (!token) return token.error();
    return {};
  }

  Result<HostRecord> EnrollAgent(const std::string& token_hash, const NewAgent& agent) override {
    auto tx = BeginTx();
    if (!tx) return tx.error();
    auto usable = UsableToken(token_hash, agent.now_ms, true);
    if (!usable) return usable.error();
    if (auto s =
            Do("UPDATE enrollment_tokens SET used_count = used_count + 1 WHERE id = ?", {*usable});
        !s) {
      return s.error();
    }
    const std::string lock = Pg() ? " FOR UPDATE" : "";
    // A machine that enrolls again (reinstall, lost state dir) keeps its host row and history;
    // its old certificate stops working because the agent id changes.
    std::optional<std::int64_t> host_id;
    auto done = Run(
        "SELECT id FROM hosts WHERE machine_id = ? AND NOT revoked AND archived_ms IS NULL ORDER "
        "BY id LIMIT 1" +
            lock,
        {agent.machine_id}, [&](const SqlRow& r) { host_id = r.Int(0); });
    if (!done) return done.error();
    const char* step = "re-enrolled";
    if (!host_id) {
      // A host a person registered ahead, by its name or its serial.
      done =
          Run("SELECT id FROM hosts WHERE agent_id IS NULL AND archived_ms IS NULL AND "
              "(lower(hostname) = lower(?) OR (serial <> '' AND serial = ?)) ORDER BY id LIMIT 1" +
                  lock,
              {agent.hostname, agent.serial}, [&](const SqlRow& r) { host_id = r.Int(0); });
      if (!done) return done.error();
      step = "enrolled";
    }
    if (host_id) {
      auto rekey =
          Do("UPDATE hosts SET agent_id = ?, machine_id = ?, hostname = ?, cert_serial = ?, "
             "cert_not_after = ? WHERE id = ?",
             {agent.agent_id, agent.machine_id, agent.hostname, agent.cert_serial,
              agent.cert_not_after, *host_id});
      if (!rekey) return rekey.error();
      if (auto s = Do("UPDATE host_heartbeats SET last_seq = 0, last_seen_ms = ? WHERE host_id = ?",
                      {agent.now_ms, *host_id});
          !s) {
        return s.error();
      }
      if (!agent.serial.empty()) {
        if (auto s = Do("UPDATE hosts SET serial = ? WHERE id = ? AND serial = ''",
                        {agent.serial, *host_id});
            !s) {
          return s.error();
        }
      }
    } else {
      done =
          Run("INSERT INTO hosts (agent_id, machine_id, hostname, serial, first_seen_ms, "
              "cert_serial, cert_not_after) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
              {agent.agent_id, agent.machine_id, agent.hostname, agent.serial, agent.now_ms,
               agent.cert_serial, agent.cert_not_after},
              [&](const SqlRow& r) { host_id = r.Int(0); });
      if (!done) return done.error();
      if (auto s = Do("INSERT INTO host_heartbeats (host_id, last_seen_ms) VALUES (?, ?)",
                      {*host_id, agent.now_ms});
          !s) {
        return s.error();
      }
      step = "enrolled";
    }
    if (auto s =
            AddEvent(*host_id, agent.now_ms, "lifecycle", "", "", step, "agent " + agent.agent_id);
        !s) {
      return s.error();
    }
    AuditEntry audit;
    audit.at_ms = agent.now_ms;
    audit.actor.kind = "enrollment";
    audit.actor.name = "enrollment token " + std::to_string(*usable);
    audit.actor.address = agent.remote_address;
    audit.action =
        std::string("agent.") + (std::string(step) == "enrolled" ? "enroll" : "reenroll");
    audit.resource = "host";
    audit.resource_id = std::to_string(*host_id);
    audit.after = {{"agentId", agent.agent_id},
                   {"machineId", agent.machine_id},
                   {"hostname", agent.hostname},
                   {"certificateSerial", agent.cert_serial},
                   {"certificateNotAfter", UtcSecondsText(agent.cert_not_after)}};
    if (auto s = Audit(audit); !s) return s.error();
    if (auto s = RefreshHostDoc(*host_id); !s) return s.error();
    auto host = GetHost(*host_id);
    if (!host) return host.error();
    if (auto s = tx->Commit(); !s) return s.error();
    return **host;
  }

 private:
  std::span<const char* const> migrations_;
  Observations* seen_ = nullptr;  // during Commit only
};

}  // namespace

std::unique_ptr<Store> MakeSqlStore(std::unique_ptr<SqlConn> conn,
                                    std::span<const char* const> migrations) {
  return std::make_unique<SqlStore>(std::move(conn), migrations);
}

}  // namespace fleetdesk::server::store
