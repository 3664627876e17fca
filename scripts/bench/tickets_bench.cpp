// fleetdesk-tickets-bench: the ticket desk at scale. Two steps, each a subcommand, on a database
// named as the server names it (a SQLite path or a postgresql:// URL):
//
//   load   migrates, then writes --tickets tickets over two years (incidents and requests, most
//          of them closed, with SLA times) and --docs notes and worklog entries of realistic ops
//          text, English and Chinese mixed, in bulk, with each store's full-text index; one
//          ticket gets 100,000 worklog entries;
//   query  asks a running server's REST API for 100 ticket searches of the kinds people type
//          (a word, two words, a prefix, a phrase, Chinese, with filters), ticket-list pages,
//          the ticket with 100,000 worklog entries and 50 reports, and prints p50/p95/max of
//          each.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>

#include "common/files.hpp"
#include "common/net/https_client.hpp"
#include "scripts/bench/bench_util.hpp"
#include "server/store/postgres/pq.hpp"
#include "server/store/search_text.hpp"
#include "server/store/sqlite/sqlite.hpp"
#include "server/store/store.hpp"

namespace {

using namespace fleetdesk::bench;
namespace store = fleetdesk::server::store;

constexpr std::int64_t kDay = 86'400'000;
constexpr std::int64_t kSpan = 730 * kDay;  // two years of tickets
constexpr int kHosts = 2000;
constexpr int kUsers = 40;
// Worklog lines of the newest ticket (a job that logs every step), by default.
constexpr int kHeavyWorklog = 100'000;

// What ops people write, in English and Chinese. Picked with a skew (Pick), so a few words are
// everywhere and most are rare, as in real tickets.
const std::vector<std::string> kServices = {
    "nginx",   "postgresql", "redis",   "kafka",    "haproxy", "sshd",      "cron",
    "docker",  "kubelet",    "etcd",    "rabbitmq", "mysql",   "bind9",     "chrony",
    "slapd",   "pgbouncer",  "grafana", "vault",    "consul",  "memcached", "samba",
    "postfix", "dovecot",    "jenkins", "gitlab",   "minio",   "ceph-osd",  "zookeeper"};
const std::vector<std::string> kProblems = {"failed",
                                            "is down",
                                            "disk full",
                                            "high memory usage",
                                            "connection refused",
                                            "timeout",
                                            "certificate expired",
                                            "restarted unexpectedly",
                                            "OOM killed",
                                            "slow responses",
                                            "replication lag",
                                            "too many open files",
                                            "packet loss",
                                            "high load",
                                            "segfault",
                                            "cannot resolve hostname",
                                            "backup failed",
                                            "permission denied",
                                            "read-only filesystem",
                                            "clock skew"};
const std::vector<std::string> kChinese = {
    "数据库连接失败", "磁盘空间不足",   "内存使用率过高", "服务无响应",     "证书即将过期",
    "网络延迟较高",   "备份任务失败",   "重启后恢复正常", "负载过高",       "日志轮转异常",
    "机房断电",       "交换机故障",     "已联系供应商",   "等待用户确认",   "问题已修复",
    "升级内核版本",   "回滚到上一版本", "主从同步延迟",   "防火墙规则变更", "时钟不同步"};
const std::vector<std::string> kSentences = {
    "Checked the logs, nothing obvious yet.",
    "Restarted the service and it came back.",
    "The vendor confirmed a known bug in this release.",
    "Disk usage is climbing again after the cleanup.",
    "Rolled back to the previous package version.",
    "Waiting for the change window tonight.",
    "Monitoring shows the latency back to normal.",
    "Customer reports the issue is gone.",
    "Opened a case with the storage team.",
    "Increased the connection pool from 100 to 200.",
    "The certificate was renewed and deployed to all nodes.",
    "Traced it to a misconfigured firewall rule.",
    "Replaced the failed disk in slot 3.",
    "Memory leak suspected, collecting heap profiles.",
    "Applied the kernel patch and rebooted."};
const std::vector<std::string> kTasks = {"backup",     "deploy", "db-migrate",   "cert-renew",
                                         "log-rotate", "patch",  "restore-test", "cleanup"};
const std::vector<std::string> kCategories = {"service",  "link check", "availability", "capacity",
                                              "hardware", "access",     "software"};
const std::vector<std::string> kGroups = {"web", "dba", "network", "storage", "desktop", "sre"};

class Text {
 public:
  explicit Text(unsigned seed) : random_(seed) {}
  // Skewed: low indexes far more often than high ones.
  const std::string& Pick(const std::vector<std::string>& from) {
    const double u = Uniform();
    return from[static_cast<std::size_t>(u * u * static_cast<double>(from.size()))];
  }
  double Uniform() { return std::uniform_real_distribution<double>(0, 1)(random_); }
  int Int(int below) { return static_cast<int>(random_() % static_cast<unsigned>(below)); }
  std::string Host() { return "web-" + std::to_string(Int(kHosts)); }
  std::string Title() {
    if (Uniform() < 0.3) return Pick(kChinese) + " " + Pick(kServices) + " " + Host();
    return Pick(kServices) + " " + Pick(kProblems) + " on " + Host();
  }
  std::string Note() {
    std::string out = Pick(kSentences);
    if (Uniform() < 0.5) out += " " + Pick(kChinese) + "。";
    if (Uniform() < 0.4) out += " " + Pick(kServices) + " " + Pick(kProblems) + ".";
    return out;
  }
  std::string Worklog() {
    return "step " + std::to_string(Int(40)) + " done in " + std::to_string(Int(600)) +
           " s, exit " + (Uniform() < 0.9 ? "0" : "1") +
           (Uniform() < 0.2 ? " " + Pick(kChinese) : "");
  }
  // Minutes drawn from a long tail: most responses are quick, some take days.
  std::int64_t Delay(double median_minutes) {
    return static_cast<std::int64_t>(median_minutes * 60'000 *
                                     std::exp(std::normal_distribution<double>(0, 1.2)(random_)));
  }

 private:
  std::mt19937_64 random_;
};

// One row to insert: its values in column order.
using Row = std::vector<std::variant<std::monostate, std::int64_t, std::string>>;

// Writes rows in big transactions, through whichever database the URL names.
class Loader {
 public:
  explicit Loader(const std::string& database) {
    if (auto path = store::SqlitePath(database)) {
      sqlite_.emplace(Must(store::sqlite::Database::Open(*path), "opening " + *path));
      Must(sqlite_->Exec("PRAGMA synchronous = OFF"), "pragma");
    } else {
      pg_.emplace(Must(store::postgres::Connection::Open(database), "opening " + database));
    }
  }
  bool pg() const { return pg_.has_value(); }
  void Exec(const std::string& sql) {
    Must(sqlite_ ? sqlite_->Exec(sql) : pg_->Exec(sql), sql.substr(0, 60));
  }
  // `sql` with ? placeholders (SQLite) or $n (PostgreSQL); rows in one transaction.
  void Insert(const std::string& sql, const std::vector<Row>& rows) {
    Exec("BEGIN");
    if (sqlite_) {
      auto statement = Must(sqlite_->Prepare(sql), sql);
      for (const auto& row : rows) {
        for (std::size_t i = 0; i < row.size(); ++i) {
          const int at = static_cast<int>(i + 1);
          if (const auto* n = std::get_if<std::int64_t>(&row[i])) statement.Bind(at, *n);
          if (const auto* s = std::get_if<std::string>(&row[i])) statement.BindView(at, *s);
          if (std::holds_alternative<std::monostate>(row[i])) statement.Bind(at, std::nullopt);
        }
        Must(statement.Run(), sql);
        statement.Reset();
        statement.ClearBindings();
      }
    } else {
      std::string numbered;
      int n = 0;
      for (char c : sql) numbered += c == '?' ? "$" + std::to_string(++n) : std::string(1, c);
      for (const auto& row : rows) {
        store::postgres::Params params;
        for (const auto& value : row) {
          if (const auto* i = std::get_if<std::int64_t>(&value)) params.Add(*i);
          if (const auto* s = std::get_if<std::string>(&value)) params.Add(std::string_view(*s));
          if (std::holds_alternative<std::monostate>(value)) params.Add(std::nullopt);
        }
        Must(pg_->Send(numbered, params), "sending");
      }
      Must(pg_->Sync(), "inserting");
    }
    Exec("COMMIT");
  }

 private:
  std::optional<store::sqlite::Database> sqlite_;
  std::optional<store::postgres::Connection> pg_;
};

// `hosts_loaded`: hosts already in the database (ids 1 to it) to put the tickets on; 0 adds
// kHosts of its own. `heavy_worklog`: the newest ticket's worklog lines.
void Load(const std::string& database, int tickets, int docs, int hosts_loaded, int heavy_worklog) {
  std::vector<std::int64_t> users;
  {
    auto db = Must(store::OpenStore(database), "opening");
    Must(db->Migrate(), "migrating");
    for (int u = 0; u < kUsers; ++u) {
      users.push_back(
          Must(db->AddUser({0, "op" + std::to_string(u), "operator", "x", false, NowMs()}, {}),
               "adding users"));
    }
  }
  Loader db(database);
  const bool pg = db.pg();
  // PostgreSQL builds its text-search indexes faster over loaded tables than row by row.
  if (pg) {
    db.Exec(
        "DROP INDEX tickets_search; DROP INDEX ticket_notes_search;"
        " DROP INDEX ticket_worklog_search");
  }
  Text text(7);
  const std::int64_t now = NowMs();
  const std::int64_t start = now - kSpan;
  auto started = Clock::now();
  std::vector<Row> rows;
  if (hosts_loaded == 0) {
    for (int h = 0; h < kHosts; ++h) {
      rows.push_back({"web-" + std::to_string(h), start});
    }
    db.Insert("INSERT INTO hosts (hostname, first_seen_ms) VALUES (?, ?)", rows);
    db.Exec(
        "INSERT INTO host_heartbeats (host_id, last_seen_ms) SELECT id, first_seen_ms FROM "
        "hosts");
    rows.clear();
  }
  const int hosts = hosts_loaded == 0 ? kHosts : hosts_loaded;

  const auto sla = store::DefaultSlaTargets();
  const std::vector<std::string> levels = {"low", "medium", "high", "critical"};
  std::vector<std::int64_t> created(static_cast<std::size_t>(tickets) + 1);
  auto flush_tickets = [&] {
    db.Insert(
        "INSERT INTO tickets (id, kind, title, description, state, category, impact, urgency, "
        "priority, host_id, last_seen_ms, assignee_group, assignee_id, created_by, created_ms, "
        "updated_ms, responded_ms, resolved_ms, closed_ms, response_target_ms, "
        "resolution_target_ms, response_breached_ms, resolution_breached_ms) VALUES (?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows);
    if (!pg) {
      std::vector<Row> words;
      for (const auto& r : rows) {
        words.push_back({std::get<std::int64_t>(r[0]),
                         store::search::IndexText(std::get<std::string>(r[2]) + " " +
                                                  std::get<std::string>(r[3]))});
      }
      db.Insert("INSERT INTO ticket_fts (rowid, text) VALUES (?, ?)", words);
    }
    rows.clear();
  };
  for (int i = 1; i <= tickets; ++i) {
    const std::int64_t at = start + kSpan * (i - 1) / tickets;
    created[static_cast<std::size_t>(i)] = at;
    const int impact = text.Int(4);
    const int urgency = text.Int(4);
    static const int kMatrix[4][4] = {{5, 4, 4, 3}, {4, 3, 3, 2}, {4, 3, 2, 1}, {3, 2, 1, 1}};
    const int priority = kMatrix[impact][urgency];
    const auto& target = sla[static_cast<std::size_t>(priority - 1)];
    const std::int64_t responded = at + text.Delay(20);
    const std::int64_t resolved = responded + text.Delay(180);
    const bool recent = now - at < 7 * kDay;
    const double u = text.Uniform();
    std::string state = recent ? (u < 0.3   ? "new"
                                  : u < 0.6 ? "in_progress"
                                            : "resolved")
                               : (u < 0.02   ? "pending"
                                  : u < 0.12 ? "resolved"
                                             : "closed");
    const bool done = state == "resolved" || state == "closed";
    Row row;
    row.push_back(std::int64_t{i});
    row.push_back(std::string(text.Uniform() < 0.7 ? "incident" : "request"));
    row.push_back(text.Title());
    row.push_back(text.Note());
    row.push_back(state);
    row.push_back(text.Pick(kCategories));
    row.push_back(levels[static_cast<std::size_t>(impact)]);
    row.push_back(levels[static_cast<std::size_t>(urgency)]);
    row.push_back(std::int64_t{priority});
    row.push_back(std::int64_t{1 + text.Int(hosts)});
    row.push_back(at);
    row.push_back(text.Pick(kGroups));
    row.push_back(users[static_cast<std::size_t>(text.Int(kUsers))]);
    row.push_back(std::string("bench"));
    row.push_back(at);
    row.push_back(done ? resolved : responded);
    row.push_back(state == "new" ? Row::value_type{} : Row::value_type{responded});
    row.push_back(done ? Row::value_type{resolved} : Row::value_type{});
    row.push_back(state == "closed" ? Row::value_type{resolved + kDay} : Row::value_type{});
    row.push_back(target.first_response_ms);
    row.push_back(target.resolution_ms);
    row.push_back(responded - at > target.first_response_ms
                      ? Row::value_type{at + target.first_response_ms}
                      : Row::value_type{});
    row.push_back(done && resolved - at > target.resolution_ms
                      ? Row::value_type{at + target.resolution_ms}
                      : Row::value_type{});
    rows.push_back(std::move(row));
    if (rows.size() == 20'000) flush_tickets();
  }
  flush_tickets();
  std::printf("| load | %d tickets | %.1f s |\n", tickets, Seconds(started));

  // Notes (40 %) and worklog entries (60 %), on tickets drawn towards the recent ones, written
  // a while after their ticket; ids follow time, as they do in service. One ticket, the newest,
  // gets a job's 100,000 worklog lines.
  started = Clock::now();
  const int notes = docs * 2 / 5;
  const int worklog = docs - notes;
  auto ticket_for = [&] {
    const double u = text.Uniform();
    return std::int64_t{1} +
           static_cast<std::int64_t>((1 - u * u) * static_cast<double>(tickets - 1));
  };
  auto when = [&](std::int64_t ticket, double median_minutes) {
    return std::min(now, created[static_cast<std::size_t>(ticket)] + text.Delay(median_minutes));
  };
  struct Entry {
    std::int64_t at;
    std::int64_t ticket;
  };
  auto in_time_order = [](std::vector<Entry>& entries) {
    std::sort(entries.begin(), entries.end(),
              [](const Entry& a, const Entry& b) { return a.at < b.at; });
  };
  std::vector<Entry> entries(static_cast<std::size_t>(notes));
  for (auto& e : entries) {
    e.ticket = ticket_for();
    e.at = when(e.ticket, 60);
  }
  in_time_order(entries);
  std::vector<Row> words;
  for (int i = 1; i <= notes; ++i) {
    const auto& e = entries[static_cast<std::size_t>(i - 1)];
    std::string body = text.Note();
    rows.push_back({std::int64_t{i}, e.ticket, e.at, "op" + std::to_string(text.Int(kUsers)),
                    std::int64_t{text.Uniform() < 0.3 ? 1 : 0}, body});
    if (!pg) words.push_back({std::int64_t{i}, store::search::IndexText(body)});
    if (rows.size() == 20'000 || i == notes) {
      db.Insert(pg ? "INSERT INTO ticket_notes (id, ticket_id, at_ms, author, internal, body) "
                     "VALUES (?, ?, ?, ?, ?::int::boolean, ?)"
                   : "INSERT INTO ticket_notes (id, ticket_id, at_ms, author, internal, body) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                rows);
      if (!pg) db.Insert("INSERT INTO note_fts (rowid, text) VALUES (?, ?)", words);
      rows.clear();
      words.clear();
    }
  }
  const std::int64_t heavy = tickets;  // the newest ticket: a job that logs every step
  entries.assign(static_cast<std::size_t>(worklog), {});
  for (std::size_t i = 0; i < entries.size(); ++i) {
    auto& e = entries[i];
    e.ticket = static_cast<int>(i) < heavy_worklog ? heavy : ticket_for();
    e.at = e.ticket == heavy ? created[static_cast<std::size_t>(heavy)] + static_cast<int>(i)
                             : when(e.ticket, 240);
  }
  in_time_order(entries);
  for (int i = 1; i <= worklog; ++i) {
    const auto& e = entries[static_cast<std::size_t>(i - 1)];
    const std::string task = text.Pick(kTasks);
    const std::string note = text.Worklog();
    rows.push_back({std::int64_t{i}, e.ticket, e.at, task, note, std::string("ci-bot")});
    if (!pg) words.push_back({std::int64_t{i}, store::search::IndexText(task + " " + note)});
    if (rows.size() == 20'000 || i == worklog) {
      db.Insert(
          "INSERT INTO ticket_worklog (id, ticket_id, at_ms, task, note, actor) VALUES (?, "
          "?, ?, ?, ?, ?)",
          rows);
      if (!pg) db.Insert("INSERT INTO worklog_fts (rowid, text) VALUES (?, ?)", words);
      rows.clear();
      words.clear();
    }
  }
  db.Exec(
      "UPDATE tickets SET worklog_count = (SELECT COUNT(*) FROM ticket_worklog w WHERE "
      "w.ticket_id = tickets.id) WHERE id IN (SELECT DISTINCT ticket_id FROM ticket_worklog)");
  if (pg) {
    db.Exec(
        "SELECT setval(pg_get_serial_sequence('tickets', 'id'), (SELECT MAX(id) FROM tickets));"
        "SELECT setval(pg_get_serial_sequence('ticket_notes', 'id'), "
        "(SELECT MAX(id) FROM ticket_notes));"
        "SELECT setval(pg_get_serial_sequence('ticket_worklog', 'id'), "
        "(SELECT MAX(id) FROM ticket_worklog))");
    auto indexes = Clock::now();
    db.Exec("SET maintenance_work_mem = '1GB'");
    // As migrations 9 and 11 leave them.
    db.Exec("CREATE INDEX tickets_search ON tickets USING gin (search) WITH (fastupdate = off)");
    db.Exec(
        "CREATE INDEX ticket_notes_search ON ticket_notes USING gin (search) "
        "WITH (gin_pending_list_limit = 1024)");
    db.Exec(
        "CREATE INDEX ticket_worklog_search ON ticket_worklog USING gin (search) "
        "WITH (gin_pending_list_limit = 1024)");
    std::printf("| load | text-search indexes built | %.1f s |\n", Seconds(indexes));
  }
  std::printf("| load | %d notes, %d worklog entries | %.1f s |\n", notes, worklog,
              Seconds(started));
  // What the leader does a month per tick after such a history arrives: every month rolled up.
  started = Clock::now();
  auto reports = Must(store::OpenStore(database), "opening");
  int months = 0;
  while (!Must(reports->RollUpReports(now), "rolling up").empty()) ++months;
  std::printf("| load | %d months of reports rolled up | %.1f s |\n", months, Seconds(started));
  // And the indexes of the newest search entries it keeps on PostgreSQL, one a tick.
  started = Clock::now();
  int built = 0;
  while (!Must(reports->RollSearchIndexes(store::Store::kSearchRecentEntries),
               "indexing the newest entries")
              .empty()) {
    ++built;
  }
  std::printf("| load | %d indexes of the newest search entries | %.1f s |\n", built,
              Seconds(started));
}

struct Timed {
  std::string kind;
  std::vector<double> ms;
  std::size_t results = 0;
};

void Query(const std::string& api, const std::string& ca_file, const std::string& token,
           int tickets, const std::string& label, bool each) {
  const ApiClient client(api, ca_file, token, each);
  auto get = [&](const std::string& target, std::string* body = nullptr) {
    return client.Get(target, body);
  };
  auto count_of = [](const std::string& body, const std::string& key) {
    std::size_t n = 0;
    for (auto at = body.find(key); at != std::string::npos; at = body.find(key, at + 1)) ++n;
    return n;
  };
  Timed baseline{"GET /healthz (connect, TLS, HTTP)", {}, 0};
  for (int i = 0; i < 20; ++i) baseline.ms.push_back(get("/healthz"));

  // The kinds people type, ten of each: a common word, a rare one, two words, a prefix while
  // typing, a phrase, Chinese, Chinese and English, each of those with a filter.
  const std::vector<std::string> queries = {
      "nginx ", "zookeeper ",       "disk full ",  "certif", "\"connection refused\"",
      "数据库", "磁盘 postgresql ", "vendor bug ", "replic", "\"问题已修复\" backup "};
  const std::vector<std::string> filters = {"",
                                            "&state=open",
                                            "&priority=1",
                                            "&assignee=5",
                                            "&host=17",
                                            "&from=" + std::string("2026-01-01T00:00:00Z"),
                                            "&kind=request",
                                            "&state=closed&priority=2",
                                            "&group=dba",
                                            "&breached=true"};
  Timed search{"GET /api/v1/tickets/search (20 best)", {}, 0};
  for (int i = 0; i < 100; ++i) {
    std::string body;
    const auto& q = queries[static_cast<std::size_t>(i % 10)];
    const auto& filter = filters[static_cast<std::size_t>(i / 10)];
    search.ms.push_back(get("/api/v1/tickets/search?q=" + Encode(q) + filter, &body));
    search.results += count_of(body, "\"ticket\"");
  }
  Timed list{"GET /api/v1/tickets (a page of 50)", {}, 0};
  for (int i = 0; i < 20; ++i) {
    std::string body;
    list.ms.push_back(
        get("/api/v1/tickets?limit=50" + filters[static_cast<std::size_t>(i % 10)], &body));
    list.results += count_of(body, "\"title\"");
  }
  Timed heavy{
      "the ticket with 100,000 worklog entries: ticket, timeline, notes, worklog page", {}, 0};
  const std::string path = "/api/v1/tickets/" + std::to_string(tickets);
  for (int i = 0; i < 20; ++i) {
    double ms = get(path) + get(path + "/timeline") + get(path + "/notes");
    std::string body;
    ms += get(path + "/worklog?limit=50", &body);
    heavy.ms.push_back(ms);
    heavy.results += count_of(body, "\"task\"");
  }
  Timed reports{"GET /api/v1/reports/monthly and /noise (12 months)", {}, 0};
  const std::vector<std::string> report_kinds = {
      "/api/v1/reports/monthly",
      "/api/v1/reports/monthly?by=priority",
      "/api/v1/reports/monthly?by=category&kind=incident",
      "/api/v1/reports/monthly?by=group",
      "/api/v1/reports/monthly?by=environment&kind=request",
      "/api/v1/reports/monthly?by=priority&format=csv",
      "/api/v1/reports/monthly?from=2025-01&to=2025-12&by=category",
      "/api/v1/reports/noise?what=hosts",
      "/api/v1/reports/noise?what=sources&limit=20",
      "/api/v1/reports/noise?what=hosts&from=2025-06&to=2026-05"};
  for (int i = 0; i < 50; ++i) {
    std::string body;
    reports.ms.push_back(get(report_kinds[static_cast<std::size_t>(i % 10)], &body));
    reports.results += count_of(body, "\"month\"") + count_of(body, "\"key\"");
  }
  std::printf("| store | request | requests | results | p50 ms | p95 ms | max ms |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto* t : {&baseline, &search, &list, &heavy, &reports}) {
    std::printf("| %s | %s | %zu | %zu | %.1f | %.1f | %.1f |\n", label.c_str(), t->kind.c_str(),
                t->ms.size(), t->results, Percentile(t->ms, 0.5), Percentile(t->ms, 0.95),
                *std::max_element(t->ms.begin(), t->ms.end()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fleetdesk-tickets-bench: the ticket desk at scale"};
  app.require_subcommand(1);
  std::string database;
  std::string store_name = "sqlite";
  int tickets = 1'000'000;
  int docs = 5'000'000;
  auto* load = app.add_subcommand("load", "write tickets, notes and worklogs in bulk");
  load->add_option("--database", database, "SQLite path or postgresql:// URL")->required();
  load->add_option("--tickets", tickets);
  load->add_option("--docs", docs, "notes and worklog entries");
  int hosts_loaded = 0;
  int heavy_worklog = kHeavyWorklog;
  load->add_option("--hosts-loaded", hosts_loaded,
                   "put the tickets on the hosts already loaded (ids 1 to N), none of its own");
  load->add_option("--heavy-worklog", heavy_worklog, "worklog lines of the newest ticket");
  std::string api;
  std::string ca;
  std::string token;
  bool each = false;
  auto* query = app.add_subcommand("query", "time searches and reads over the REST API");
  query->add_option("--api", api)->required();
  query->add_option("--ca", ca)->required();
  query->add_option("--token", token)->required();
  query->add_option("--tickets", tickets);
  query->add_option("--store", store_name);
  query->add_flag("--each", each);
  fleetdesk::bench::program = "fleetdesk-tickets-bench";
  CLI11_PARSE(app, argc, argv);
  if (*load) Load(database, tickets, docs, hosts_loaded, heavy_worklog);
  if (*query) Query(api, ca, token, tickets, store_name, each);
  return 0;
}
