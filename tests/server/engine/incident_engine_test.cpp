// The incident engine over a real store, on both stores: what commits saw becomes tickets, with
// confirmations, flapping, reopening, suppression, thresholds, assignment and restarts.
#include "server/engine/incident_engine.hpp"

#include <catch2/catch.hpp>
#include <thread>

#include "server/engine/clock.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/wait.hpp"

using namespace fleetdesk::server;
using store::IncidentOutcome;
using store::Observations;

namespace {

constexpr std::int64_t kMinute = 60'000;

std::int64_t Enroll(store::Store& s, const std::string& agent, std::vector<std::string> tags = {}) {
  (void)s.CreateEnrollmentToken({"t", NowMs(), NowMs() + 3'600'000, std::nullopt, "test"}, {});
  auto host = s.EnrollAgent("t", store::NewAgent{agent, "m-" + agent, agent, "", "01", 0, NowMs()});
  REQUIRE(host.ok());
  if (!tags.empty()) {
    store::AttributePatch patch;
    patch.tags = tags;
    REQUIRE(s.PatchHost(host->id, patch, {}, NowMs()).ok());
  }
  return host->id;
}

Observations Unit(std::int64_t host, const std::string& unit, const std::string& from,
                  const std::string& to, std::int64_t at) {
  Observations seen;
  seen.transitions.push_back({0, host, at, "service", unit, from, to, ""});
  return seen;
}

Observations Check(std::int64_t host, const std::string& key, bool up, std::int64_t at) {
  Observations seen;
  seen.checks.push_back({host, key, up, at});
  return seen;
}

std::vector<store::TicketRecord> Tickets(store::Store& s) {
  store::TicketQuery q;
  q.limit = 100;
  auto page = s.ListTickets(q);
  REQUIRE(page.ok());
  return page->items;
}

struct Engine {
  ServerMetrics metrics;
  std::unique_ptr<engine::IncidentEngine> engine;
  Engine(const fleetdesk::testing::TestDatabase& db, engine::IncidentEngineOptions options = {}) {
    engine = std::make_unique<engine::IncidentEngine>(db.Open(), std::move(options), metrics);
    engine->Start();
  }
  void Feed(Observations seen) {
    engine->Submit(std::move(seen));
    engine->Flush();
  }
};

}  // namespace

TEST_CASE("a unit that fails makes one incident, however often it says so",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "web-1");
  Engine e(db);
  const auto t0 = NowMs();
  e.Feed(Unit(host, "nginx.service", "active", "failed", t0));
  // A repeat of the same state is no transition; a full report re-sending it changes nothing.
  e.Feed(Unit(host, "nginx.service", "active", "failed", t0 + 1));
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].title == "nginx.service failed on web-1");
  CHECK(tickets[0].category == "service");
  CHECK(tickets[0].urgency == "high");
  CHECK(tickets[0].priority == 3);  // medium host x high urgency
  CHECK(tickets[0].description == "nginx.service went from active to failed");
  CHECK(e.metrics.incidents_opened_total == 1);
  // Inactive is not failed: a unit someone stopped raises nothing.
  e.Feed(Unit(host, "cron.service", "active", "inactive", t0 + 2));
  CHECK(Tickets(*s).size() == 1);
}

TEST_CASE("ten flaps in a minute make one flapping incident, not ten",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "web-2");
  Engine e(db);
  const auto t0 = NowMs();
  for (int i = 0; i < 10; ++i) {
    e.Feed(Unit(host, "app.service", "active", "failed", t0 + i * 6'000));
    e.Feed(Unit(host, "app.service", "failed", "active", t0 + i * 6'000 + 3'000));
  }
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].flapping);
  CHECK(tickets[0].state == "new");
  // Opened, then repeats until it was marked flapping (6 changes): no churn after that.
  CHECK(tickets[0].occurrences == 3);
  auto events = s->ListTicketEvents(tickets[0].id, std::nullopt, 100);
  int flapping = 0;
  for (const auto& ev : events->items) flapping += ev.kind == "flapping" ? 1 : 0;
  CHECK(flapping == 1);
  CHECK(events->items.size() < 10);
}

TEST_CASE("a check is down after its rule's failures in a row, and recovers after its successes",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "web-3");
  Engine e(db);
  const auto t0 = NowMs();
  // The default check rule: three failures in a row, two successes.
  e.Feed(Check(host, "https-home", false, t0));
  e.Feed(Check(host, "https-home", false, t0 + 30'000));
  e.Feed(Check(host, "https-home", true, t0 + 60'000));
  e.Feed(Check(host, "https-home", false, t0 + 90'000));
  e.Feed(Check(host, "https-home", false, t0 + 120'000));
  CHECK(Tickets(*s).empty());
  e.Feed(Check(host, "https-home", false, t0 + 150'000));
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].title == "check https-home is down on web-3");
  CHECK(tickets[0].last_seen_ms == t0 + 150'000);
  e.Feed(Check(host, "https-home", true, t0 + 180'000));
  CHECK(!(*s->GetTicket(tickets[0].id))->recovered_ms.has_value());
  e.Feed(Check(host, "https-home", true, t0 + 210'000));
  CHECK((*s->GetTicket(tickets[0].id))->recovered_ms == t0 + 210'000);
}

TEST_CASE("recovery then a failure inside the reopen window reopens the same ticket",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "db-1");
  Engine e(db);
  const auto t0 = NowMs() - 30 * kMinute;
  e.Feed(Unit(host, "postgresql.service", "active", "failed", t0));
  e.Feed(Unit(host, "postgresql.service", "failed", "active", t0 + kMinute));
  // The leader's job: five quiet minutes after the recovery.
  auto resolved = s->ResolveQuietIncidents(t0 + kMinute, t0 + 6 * kMinute);
  REQUIRE(resolved->size() == 1);
  e.Feed(Unit(host, "postgresql.service", "active", "failed", t0 + 20 * kMinute));
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].state == "new");
  CHECK(tickets[0].occurrences == 2);
  CHECK(e.metrics.incidents_reopened_total == 1);
}

TEST_CASE("an unreachable host raises one incident and suppresses its services'",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "edge-1");
  Engine e(db);
  const auto t0 = NowMs();
  REQUIRE(s->MarkSilentHosts(t0 + 1, t0).ok());
  e.engine->HostsUnreachable({host}, t0);
  e.engine->Flush();
  e.Feed(Unit(host, "nginx.service", "active", "failed", t0 + 1));
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].title == "edge-1 is unreachable");
  CHECK(tickets[0].priority == 2);  // medium host x critical urgency
  CHECK(e.metrics.incidents_suppressed_total == 1);
  // Back: its recovery is noted on the host incident.
  // (Its agent reports again: the commit clears its unreachable mark and sees the transition.)
  auto row = s->GetHost(host);
  REQUIRE((row.ok() && row->has_value()));
  (*row)->connected = true;
  (*row)->last_seen_ms = t0 + 2;
  store::WriteBatch batch;
  batch.hosts.push_back(**row);
  Observations back;
  REQUIRE(s->Commit(batch, &back).ok());
  REQUIRE(back.transitions.size() == 1);
  e.Feed(back);
  CHECK((*s->GetTicket(tickets[0].id))->recovered_ms == t0 + 2);
  // The unit it suppressed is still failed: raised now that the host is back.
  REQUIRE(fleetdesk::testing::WaitFor([&] { return Tickets(*s).size() == 2; },
                                      std::chrono::seconds(10)));
  CHECK(Tickets(*s)[0].title == "nginx.service failed on edge-1");
}

TEST_CASE(
    "a unit that failed in a maintenance window is raised when the window ends, if still failed",
    "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "web-9");
  const auto t0 = NowMs();
  store::MaintenanceWindow window;
  window.host_id = host;
  window.starts_ms = t0 - kMinute;
  window.ends_ms = t0 + 1'500;
  window.reason = "kernel upgrade";
  REQUIRE(s->CreateMaintenanceWindow(window, {}).ok());
  engine::IncidentEngineOptions options;
  options.tick = std::chrono::milliseconds(100);
  Engine e(db, options);
  // One unit fails and stays failed (a transition says so once); another fails and comes back
  // before the window ends.
  e.Feed(Unit(host, "nginx.service", "active", "failed", t0));
  e.Feed(Unit(host, "cron.service", "active", "failed", t0));
  e.Feed(Unit(host, "cron.service", "failed", "active", t0 + 500));
  CHECK(Tickets(*s).empty());
  CHECK(e.metrics.incidents_suppressed_total == 2);
  REQUIRE(fleetdesk::testing::WaitFor([&] { return Tickets(*s).size() == 1; },
                                      std::chrono::seconds(10)));
  auto tickets = Tickets(*s);
  CHECK(tickets[0].title == "nginx.service failed on web-9");
  CHECK(tickets[0].created_ms >= t0 + 1'500);
  // Once: the tracker's incident is open now.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  e.engine->Flush();
  CHECK(Tickets(*s).size() == 1);
}

TEST_CASE("a disk over its threshold raises a capacity incident, routed by the assignment rules",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto db_host = Enroll(*s, "db-2", {"db"});
  auto web_host = Enroll(*s, "web-4", {"web"});
  REQUIRE(s->AddUser({0, "dora", "operator", "x", false, NowMs()}, {}).ok());
  engine::IncidentEngineOptions options;
  options.rules.assignment.push_back({"capacity", "*", {"db"}, "dba", "dora"});
  options.rules.thresholds.insert(options.rules.thresholds.begin(), {"disk_percent", 80, {"db"}});
  Engine e(db, options);
  const auto t0 = NowMs();
  Observations seen;
  store::MetricPoint full;
  full.at_ms = t0;
  full.disk_percent = 85;
  seen.metrics.emplace_back(db_host, full);
  seen.metrics.emplace_back(web_host, full);  // under the default 90
  e.Feed(seen);
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].hostname == "db-2");
  CHECK(tickets[0].title == "disk_percent over its threshold on db-2");
  CHECK(tickets[0].description == "disk_percent is 85.0");
  CHECK(tickets[0].group == "dba");
  CHECK(tickets[0].assignee == "dora");
  CHECK(tickets[0].state == "assigned");
}

TEST_CASE("a disk gone from the inventory raises a hardware incident that people resolve",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "db-3");
  Engine e(db);
  const auto t0 = NowMs();
  Observations seen;
  seen.transitions.push_back({0, host, t0, "inventory", "disks.disks[sdb]", "sdb 4.0 TB", "", ""});
  seen.transitions.push_back({0, host, t0, "inventory", "software.packages[vim]", "", "9.0", ""});
  seen.transitions.push_back(
      {0, host, t0, "inventory", "memory.total_bytes", "68719476736", "34359738368", ""});
  e.Feed(seen);
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 2);
  CHECK(tickets[0].title == "memory shrank on db-3");
  CHECK(tickets[1].title == "disk sdb gone from db-3");
  CHECK_FALSE(tickets[1].auto_resolve);
  CHECK(tickets[1].category == "hardware");
}

TEST_CASE("an incident open before a restart has its recovery recognised",
          "[server][engine][incidents]") {
  EACH_STORE();
  auto s = db.Open();
  auto host = Enroll(*s, "web-5");
  const auto t0 = NowMs();
  {
    Engine before(db);
    before.Feed(Unit(host, "nginx.service", "active", "failed", t0));
  }
  Engine after(db);  // a fresh process: no trackers, only the store
  after.Feed(Unit(host, "nginx.service", "failed", "active", t0 + kMinute));
  auto tickets = Tickets(*s);
  REQUIRE(tickets.size() == 1);
  CHECK(tickets[0].recovered_ms == t0 + kMinute);
}
