// Ticket reports on both stores: monthly counts, times to acknowledge and resolve, breaches and
// noise, computed from the tickets, and the same from the rollups once a month is final.
#include <catch2/catch.hpp>
#include <ctime>

#include "server/store/store.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;

namespace {

constexpr std::int64_t kMinute = 60'000;
constexpr std::int64_t kHour = 60 * kMinute;

std::int64_t At(int year, int month, int day, int hour = 0) {
  std::tm t{};
  t.tm_year = year - 1900;
  t.tm_mon = month - 1;
  t.tm_mday = day;
  t.tm_hour = hour;
  return static_cast<std::int64_t>(timegm(&t)) * 1000;
}

Actor Person(const std::string& name) {
  Actor a;
  a.kind = "user";
  a.name = name;
  a.staff = true;  // an operator
  return a;
}

// A request of `urgency` (impact low: P4 for high, P3 for critical) opened at `at`, responded to
// after `respond` and resolved after `resolve` (0: neither).
std::int64_t Ticket(Store& store, std::int64_t at, const std::string& urgency, std::int64_t respond,
                    std::int64_t resolve) {
  NewTicket n;
  n.title = "ticket";
  n.urgency = urgency;
  n.category = urgency == "critical" ? "outage" : "";
  auto t = store.CreateTicket(n, DefaultSlaTargets(), Actor{}, at);
  REQUIRE(t.ok());
  if (respond > 0) {
    REQUIRE(store
                .ActOnTicket(t->id, {"start", std::nullopt, std::nullopt, ""}, Person("o"),
                             at + respond)
                .ok());
  }
  if (resolve > 0) {
    REQUIRE(store
                .ActOnTicket(t->id, {"resolve", std::nullopt, std::nullopt, ""}, Person("o"),
                             at + resolve)
                .ok());
  }
  return t->id;
}

const MonthlyRow* Row(const std::vector<MonthlyRow>& rows, const std::string& month,
                      const std::string& value) {
  for (const auto& r : rows) {
    if (r.month == month && r.value == value) return &r;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("monthly reports count, time and breach tickets, from tickets and from rollups alike",
          "[server][store][reports]") {
  EACH_STORE();
  auto store = db.Open();
  // March: three high (P4) requests answered in 10, 20 and 30 minutes, two resolved in 2 h and
  // 4 h; one critical (P3) request answered after 5 h (its target: 4 h), resolved in April.
  Ticket(*store, At(2026, 3, 2), "high", 10 * kMinute, 2 * kHour);
  Ticket(*store, At(2026, 3, 3), "high", 20 * kMinute, 4 * kHour);
  Ticket(*store, At(2026, 3, 4), "high", 30 * kMinute, 0);
  Ticket(*store, At(2026, 3, 31, 20), "critical", 5 * kHour, 10 * kHour);
  const std::int64_t may = At(2026, 5, 20);

  ReportQuery q;
  q.from_month = "2026-03";
  q.to_month = "2026-04";
  q.by = "priority";
  auto live = store->MonthlyReport(q, may);
  REQUIRE(live.ok());
  const auto* p4 = Row(*live, "2026-03", "P4");
  REQUIRE(p4 != nullptr);
  CHECK(p4->opened == 3);
  CHECK(p4->responded == 3);
  CHECK(p4->tta_sum_ms == 60 * kMinute);
  CHECK(p4->tta_p90_ms == 30 * kMinute);
  CHECK(p4->resolved == 2);
  CHECK(p4->ttr_sum_ms == 6 * kHour);
  CHECK(p4->ttr_p90_ms == 4 * kHour);
  CHECK_FALSE(p4->final);
  const auto* p3 = Row(*live, "2026-03", "P3");
  REQUIRE(p3 != nullptr);
  CHECK(p3->response_breaches == 1);
  CHECK(p3->breached == 1);
  CHECK(p3->resolved == 0);  // resolved on 1 April
  const auto* april = Row(*live, "2026-04", "P3");
  REQUIRE(april != nullptr);
  CHECK(april->opened == 0);
  CHECK(april->resolved == 1);

  // The leader rolls up the months before this one, one per call; then they read as final,
  // with the same figures.
  CHECK(*store->RollUpReports(may) == "2026-03");
  CHECK(*store->RollUpReports(may) == "2026-04");
  CHECK(*store->RollUpReports(may) == "2026-05");  // the current month, kept fresh
  CHECK(store->RollUpReports(may)->empty());
  CHECK(store->RollUpReports(may + 4 * 60'000)->empty());
  CHECK(*store->RollUpReports(may + 5 * 60'000) == "2026-05");  // five minutes on
  auto rolled = store->MonthlyReport(q, may);
  REQUIRE(rolled.ok());
  REQUIRE(rolled->size() == live->size());
  for (std::size_t i = 0; i < live->size(); ++i) {
    CAPTURE(i);
    CHECK((*rolled)[i].final);
    CHECK((*rolled)[i].value == (*live)[i].value);
    CHECK((*rolled)[i].opened == (*live)[i].opened);
    CHECK((*rolled)[i].tta_p90_ms == (*live)[i].tta_p90_ms);
    CHECK((*rolled)[i].ttr_sum_ms == (*live)[i].ttr_sum_ms);
    CHECK((*rolled)[i].breached == (*live)[i].breached);
  }
  q.by = "category";
  q.kind = "request";
  auto categories = *store->MonthlyReport(q, may);
  CHECK(Row(categories, "2026-03", "outage")->opened == 1);
  CHECK(Row(categories, "2026-03", "(none)")->opened == 3);

  q.by = "colour";
  CHECK(store->MonthlyReport(q, may).error().code == fleetdesk::ErrorCode::kInvalidArgument);
  q.by = "all";
  for (const char* bad : {"2026-13", "2026-+3", "2026- 3", "26-03"}) {
    q.from_month = bad;
    CHECK_FALSE(store->MonthlyReport(q, may).ok());
  }
}

TEST_CASE("the noise report ranks hosts and failures by their incidents",
          "[server][store][reports]") {
  EACH_STORE();
  auto store = db.Open();
  (void)store->CreateEnrollmentToken({"t", 0, At(2030, 1, 1), std::nullopt, "test"}, {});
  std::vector<std::int64_t> hosts;
  for (const std::string name : {"noisy-1", "calm-1"}) {
    auto h =
        store->EnrollAgent("t", NewAgent{name, "m-" + name, name, "", "01", 0, At(2026, 1, 1)});
    REQUIRE(h.ok());
    hosts.push_back(h->id);
  }
  auto raise = [&](std::int64_t host, const std::string& unit, std::int64_t at) {
    IncidentSignal s;
    s.host_id = host;
    s.kind = "service";
    s.subject = unit;
    s.title = unit + " failed";
    s.at_ms = at;
    auto out = store->RaiseIncident(s, DefaultSlaTargets());
    REQUIRE(out.ok());
    return out->ticket_id;
  };
  raise(hosts[0], "nginx.service", At(2026, 3, 1));
  raise(hosts[0], "nginx.service", At(2026, 3, 1, 1));  // a repeat: one incident, 2 occurrences
  raise(hosts[0], "php-fpm.service", At(2026, 3, 2));
  raise(hosts[1], "nginx.service", At(2026, 3, 3));
  auto by_host = store->NoiseReport("2026-01", "2026-03", "hosts", 10, At(2026, 3, 20));
  REQUIRE(by_host.ok());
  REQUIRE(by_host->size() == 2);
  CHECK((*by_host)[0].label == "noisy-1");
  CHECK((*by_host)[0].incidents == 2);
  CHECK((*by_host)[0].occurrences == 3);
  auto by_source = store->NoiseReport("2026-03", "2026-03", "sources", 1, At(2026, 3, 20));
  REQUIRE(by_source->size() == 1);
  CHECK((*by_source)[0].label == "nginx.service (service)");
  CHECK((*by_source)[0].incidents == 2);
}
