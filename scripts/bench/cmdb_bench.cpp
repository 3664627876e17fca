// fleetdesk-cmdb-bench: the asset database at fleet scale. Three steps, each a subcommand, on a
// database named as the server names it (a SQLite path or a postgresql:// URL):
//
//   load    enrolls N hosts through the store and commits each one's full report (inventory,
//           ~30 units, two checks, ~120 packages) as the writer does, then gives them the
//           attributes people give hosts (environment, owner, location, tags) by CSV import;
//   ingest  commits delta reports (heartbeat, metrics, a check result, --change-rate of them with
//           a state change) in the writer's group commits, with no network: what the database
//           alone sustains, reports/s and rows/s;
//   query   asks a running server's REST API for 100 host-list pages and 100 global searches of
//           the kinds people type, and prints p50/p95/max of each.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <regex>

#include "common/files.hpp"
#include "common/net/https_client.hpp"
#include "scripts/bench/bench_util.hpp"
#include "scripts/bench/sim_host.hpp"
#include "server/api/auth.hpp"
#include "server/engine/delta.hpp"
#include "server/store/store.hpp"

namespace {

using namespace fleetdesk::bench;
using fleetdesk::bench::SimHost;
namespace store = fleetdesk::server::store;

// The hosts the store knows, enrolled by `load`; their rows as the writer would commit them.
std::vector<store::HostRecord> EnrolledHosts(store::Store& db) {
  auto hosts = Must(db.LoadHosts(), "loading hosts");
  std::sort(hosts.begin(), hosts.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return hosts;
}

// Every host's full report, committed `batch` hosts per transaction as the writer does.
void Load(store::Store& db, int count, int batch) {
  Must(db.Migrate(), "migrating");
  const std::string hash = fleetdesk::server::auth::HashToken("cmdb-bench");
  Must(db.CreateEnrollmentToken({hash, NowMs(), NowMs() + 86400000, std::nullopt, "bench"}, {}),
       "creating the enrollment token");
  auto started = Clock::now();
  std::vector<store::HostRecord> hosts;
  hosts.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    store::NewAgent agent{"agent-" + std::to_string(i),
                          SimHost::MachineId(i),
                          SimHost::Hostname(i),
                          SimHost::Serial(i),
                          "",
                          0,
                          NowMs()};
    hosts.push_back(Must(db.EnrollAgent(hash, agent), "enrolling host " + std::to_string(i)));
  }
  const double enroll_s = Seconds(started);
  std::cerr << "enrolled " << count << " hosts in " << enroll_s << " s\n";

  started = Clock::now();
  for (int first = 0; first < count; first += batch) {
    store::WriteBatch write;
    for (int i = first; i < std::min(count, first + batch); ++i) {
      SimHost host(i);
      auto report = host.Full(1);
      auto& row = hosts[static_cast<std::size_t>(i)];
      row.hostname = report.heartbeat().hostname();
      row.os_name = report.heartbeat().os().name();
      row.os_version = report.heartbeat().os().version();
      row.os_pretty_name = report.heartbeat().os().pretty_name();
      row.kernel = report.heartbeat().os().kernel();
      row.architecture = report.heartbeat().os().architecture();
      row.agent_version = "bench";
      row.last_seen_ms = NowMs();
      row.connected = i % 20 != 0;  // one host in twenty offline
      row.last_seq = 1;
      write.hosts.push_back(row);
      write.deltas.push_back(Must(
          fleetdesk::server::engine::DeltaFromReport(row.agent_id, report, NowMs()), "report"));
    }
    Must(db.Commit(write), "committing full reports");
  }
  const double reports_s = Seconds(started);
  std::cerr << "committed " << count << " full reports in " << reports_s << " s\n";

  // What people add: environment, owner, location (some in Chinese), criticality, tags.
  started = Clock::now();
  const std::vector<std::string> environments = {"production", "production", "production",
                                                 "staging", "development"};
  const std::vector<std::string> owners = {"team-web", "dba-team", "platform", "张伟", "李娜"};
  const std::vector<std::string> locations = {"上海数据中心 A栋", "北京机房 3层",
                                              "Frankfurt FRA2 rack 12", "Ashburn IAD1 row 4"};
  const std::vector<std::string> tags = {"pci", "tier1", "backup", "dmz", "monitoring", "gpu"};
  for (int first = 0; first < count; first += 5000) {
    std::vector<store::ImportRow> rows;
    for (int i = first; i < std::min(count, first + 5000); ++i) {
      store::ImportRow row;
      row.line = i + 2;
      row.hostname = SimHost::Hostname(i);
      auto at = [i](const auto& list, int salt) { return list[(i * salt + i / 7) % list.size()]; };
      row.patch.environment = at(environments, 1);
      row.patch.owner = at(owners, 3);
      row.patch.location = at(locations, 5);
      row.patch.criticality = store::kCriticalities[(i / 3) % 4];
      std::vector<std::string> own = {at(tags, 1), at(tags, 7)};
      std::sort(own.begin(), own.end());
      own.erase(std::unique(own.begin(), own.end()), own.end());
      row.patch.tags = own;
      rows.push_back(std::move(row));
    }
    Must(db.ImportHosts(rows, fleetdesk::server::store::Actor{"cli", "bench"}, NowMs()),
         "importing attributes");
  }
  const double import_s = Seconds(started);
  std::printf("| hosts | enroll s | full reports s | attribute import s |\n");
  std::printf("| ---: | ---: | ---: | ---: |\n");
  std::printf("| %d | %.1f | %.1f | %.1f |\n", count, enroll_s, reports_s, import_s);
}

// Delta reports of every loaded host, `rounds` times, `batch` per group commit.
void Ingest(store::Store& db, int rounds, int batch, double change_rate, const std::string& label) {
  auto hosts = EnrolledHosts(db);
  if (hosts.empty()) Die("no hosts: run load first");
  std::vector<SimHost> sims;
  sims.reserve(hosts.size());
  for (std::size_t i = 0; i < hosts.size(); ++i) sims.emplace_back(static_cast<int>(i));
  std::vector<double> commit_ms;
  std::uint64_t reports = 0;
  std::uint64_t changes = 0;
  const auto rows_before = db.RowsWritten();
  auto started = Clock::now();
  std::uint64_t seq = 1;
  for (int round = 0; round < rounds; ++round) {
    ++seq;
    for (std::size_t first = 0; first < hosts.size(); first += static_cast<std::size_t>(batch)) {
      store::WriteBatch write;
      for (std::size_t i = first; i < std::min(hosts.size(), first + batch); ++i) {
        auto before = sims[i].changes();
        auto report = sims[i].Delta(seq, change_rate);
        changes += sims[i].changes() - before;
        auto& row = hosts[i];
        row.last_seen_ms = NowMs();
        row.connected = true;
        row.last_seq = seq;
        row.load1 = report.heartbeat().load1();
        write.hosts.push_back(row);
        write.deltas.push_back(Must(
            fleetdesk::server::engine::DeltaFromReport(row.agent_id, report, NowMs()), "report"));
      }
      auto commit_started = Clock::now();
      Must(db.Commit(write), "committing");
      commit_ms.push_back(Seconds(commit_started) * 1000);
      reports += write.deltas.size();
    }
  }
  const double elapsed = Seconds(started);
  const double rows = static_cast<double>(db.RowsWritten() - rows_before);
  std::printf(
      "| store | hosts | batch | reports | reports/s | state changes | rows written/s | commit p50 "
      "ms | commit p99 ms |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf("| %s | %zu | %d | %llu | %.0f | %llu | %.0f | %.1f | %.1f |\n", label.c_str(),
              hosts.size(), batch, static_cast<unsigned long long>(reports),
              static_cast<double>(reports) / elapsed, static_cast<unsigned long long>(changes),
              rows / elapsed, Percentile(commit_ms, 0.5), Percentile(commit_ms, 0.99));
}

struct Timed {
  std::string kind;
  std::vector<double> ms;
  std::size_t results = 0;
};

// Host-list pages and searches of the kinds people ask for, over HTTPS as a script would.
void Query(const std::string& api, const std::string& ca_file, const std::string& token, int count,
           const std::string& label, bool each) {
  const ApiClient client(api, ca_file, token, each);
  auto get = [&](const std::string& target, std::string* body = nullptr) {
    return client.Get(target, body);
  };
  auto count_of = [](const std::string& body, const std::string& key) {
    std::size_t n = 0;
    for (auto at = body.find(key); at != std::string::npos; at = body.find(key, at + 1)) ++n;
    return n;
  };
  std::mt19937 random(42);
  auto any = [&] { return static_cast<int>(random() % static_cast<unsigned>(count)); };
  auto digits = [](int i, int n) {
    auto text = std::to_string(i);
    return text.substr(0, std::min<std::size_t>(text.size(), static_cast<std::size_t>(n)));
  };

  // The baseline: a new TLS connection and the smallest answer.
  Timed baseline{"GET /healthz (connect, TLS, HTTP)", {}, 0};
  for (int i = 0; i < 20; ++i) baseline.ms.push_back(get("/healthz"));

  Timed list{"GET /api/v1/hosts (a page of 50)", {}, 0};
  const std::vector<std::string> list_kinds = {"",
                                               "&sort=hostname",
                                               "&sort=-lastSeen",
                                               "&environment=production",
                                               "&environment=staging&sort=hostname",
                                               "&tag=pci",
                                               "&os=debian&sort=-criticality",
                                               "&service=nginx.service",
                                               "&package=redis-server",
                                               "&q=web-0"};
  for (int i = 0; i < 100; ++i) {
    std::string target = "/api/v1/hosts?limit=50" + list_kinds[static_cast<std::size_t>(i) % 10];
    std::string body;
    if (i % 10 == 9) target = "/api/v1/hosts?limit=50&q=" + SimHost::Hostname(any()).substr(0, 8);
    if (i >= 50) {
      // The second half follows a cursor to the page after, as a scrolling client does.
      get(target, &body);
      std::smatch next;
      if (std::regex_search(body, next, std::regex("\"nextCursor\":\"([^\"]+)\""))) {
        target += "&cursor=" + next[1].str();
      }
    }
    list.ms.push_back(get(target, &body));
    list.results += count_of(body, "\"agentId\"");
  }

  Timed search{"GET /api/v1/search (20 best hits)", {}, 0};
  for (int i = 0; i < 100; ++i) {
    const int h = any();
    std::string q;
    switch (i % 10) {
      case 0:
        q = SimHost::Hostname(h);
        break;  // a whole name
      case 1:
        q = SimHost::Hostname(h).substr(0, 6 + i % 4);
        break;  // its first letters
      case 2:
        q = SimHost::Serial(h).substr(0, 5 + i % 6);
        break;  // a serial, partly
      case 3:
        q = "10.10." + std::to_string(h / 256 % 256) + "." + std::to_string(h % 256);
        break;
      case 4:
        q = "52:54:00:00:" + digits(h % 100 + 10, 2);
        break;  // a MAC prefix
      case 5:
        q = std::vector<std::string>{"openssl", "nginx",        "redis",   "postgresql-15",
                                     "libssl",  "kubelet",      "haproxy", "samba",
                                     "chrony",  "elasticsearch"}[static_cast<std::size_t>(i / 10)];
        break;
      case 6:
        q = std::vector<std::string>{"nginx.service",  "ssh",       "docker",
                                     "journald",       "cron",      "slapd",
                                     "bind9",          "pgbouncer", "rabbit",
                                     "kubelet.service"}[static_cast<std::size_t>(i / 10)];
        break;
      case 7:
        q = std::vector<std::string>{
            "上海", "北京机房",  "数据中心", "张伟",    "李娜",
            "机房", "Frankfurt", "IAD1",     "rack 12", "dba"}[static_cast<std::size_t>(i / 10)];
        break;
      case 8:
        q =
            std::vector<std::string>{
                "db",    "k8",   "web-0001", "dc3",      "R650",
                "gen10", "xeon", "nvme",     "S64FNE0R", "PowerEdge"}[static_cast<std::size_t>(i /
                                                                                               10)];
        break;
      default:
        q = "web-frontend";
        break;
    }
    std::string body;
    search.ms.push_back(get("/api/v1/search?q=" + Encode(q), &body));
    search.results += count_of(body, "\"kind\"");
  }

  std::printf("| store | hosts | request | requests | results | p50 ms | p95 ms | max ms |\n");
  std::printf("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
  for (const auto* t : {&baseline, &list, &search}) {
    std::printf("| %s | %d | %s | %zu | %zu | %.1f | %.1f | %.1f |\n", label.c_str(), count,
                t->kind.c_str(), t->ms.size(), t->results, Percentile(t->ms, 0.5),
                Percentile(t->ms, 0.95), *std::max_element(t->ms.begin(), t->ms.end()));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fleetdesk-cmdb-bench: the asset database at fleet scale"};
  std::string database;
  std::string label = "sqlite";
  int hosts = 100000;
  int batch = 500;
  int rounds = 3;
  double change_rate = 0.01;
  std::string api;
  std::string ca;
  std::string token;
  app.add_option("--database", database, "a SQLite path or a postgresql:// URL");
  app.add_option("--store", label, "the store's name in the table")->capture_default_str();
  auto* load = app.add_subcommand("load", "enroll hosts and commit their full reports");
  load->add_option("--hosts", hosts)->capture_default_str();
  load->add_option("--batch", batch, "hosts per transaction")->capture_default_str();
  auto* ingest = app.add_subcommand("ingest", "commit delta reports of every loaded host");
  ingest->add_option("--rounds", rounds, "reports per host")->capture_default_str();
  ingest->add_option("--batch", batch, "reports per group commit")->capture_default_str();
  ingest->add_option("--change-rate", change_rate)->capture_default_str();
  auto* query = app.add_subcommand("query", "time host-list pages and searches over the API");
  query->add_option("--api", api, "the server's API URL")->required();
  query->add_option("--ca", ca, "the server's CA certificate")->required();
  query->add_option("--token", token, "an API token")->required();
  query->add_option("--hosts", hosts, "hosts loaded")->capture_default_str();
  bool each = false;
  query->add_flag("--each", each, "print every request's time and target to stderr");
  app.require_subcommand(1);
  fleetdesk::bench::program = "fleetdesk-cmdb-bench";
  CLI11_PARSE(app, argc, argv);

  if (query->parsed()) {
    Query(api, ca, token, hosts, label, each);
    return 0;
  }
  if (database.empty()) Die("--database is required");
  auto db = Must(store::OpenStore(database), "opening " + database);
  Must(db->Migrate(), "migrating");
  if (load->parsed()) Load(*db, hosts, batch);
  if (ingest->parsed()) Ingest(*db, rounds, batch, change_rate, label);
  return 0;
}
