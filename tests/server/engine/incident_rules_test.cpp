#include "server/engine/incident_rules.hpp"

#include <catch2/catch.hpp>

#include "common/config.hpp"

using namespace fleetdesk::server::engine::incidents;
using fleetdesk::server::engine::tickets::Level;

namespace {

fleetdesk::Result<IncidentRules> Read(const std::string& toml) {
  auto reader = fleetdesk::config::ConfigReader::Parse(toml, "server.toml");
  REQUIRE(reader.ok());
  auto rules = ReadIncidentRules(*reader);
  if (!rules) return rules.error();
  if (auto finished = reader->Finish(); !finished) return finished.error();
  return rules;
}

}  // namespace

TEST_CASE("the first matching incident rule wins, and the defaults catch the rest",
          "[server][incidents]") {
  auto rules = Read(R"(
[incidents]
quiet_period = "10m"
flap_changes = 4

[[incidents.rules]]
kind = "service"
name = "postgresql*.service"
tags = ["db", "critical-db"]
category = "database"
severity = "critical"
auto_resolve = false

[[incidents.rules]]
kind = "check"
name = "intranet-*"
category = "intranet"
severity = "low"
fail_after = 5
)");
  REQUIRE(rules.ok());
  const auto& db = rules->For("service", "postgresql@15-main.service", {"web", "db"});
  CHECK(db.category == "database");
  CHECK(db.severity == Level::kCritical);
  CHECK_FALSE(db.auto_resolve);
  // Not on a tagged host, or not that unit: the default service rule.
  CHECK(rules->For("service", "postgresql@15-main.service", {"web"}).category == "service");
  CHECK(rules->For("service", "nginx.service", {"db"}).category == "service");
  const auto& intranet = rules->For("check", "intranet-wiki", {});
  CHECK(intranet.category == "intranet");
  CHECK(rules->PolicyFor(intranet).fail_after == 5);
  CHECK(rules->PolicyFor(intranet).quiet_ms == 10 * 60'000);
  CHECK(rules->PolicyFor(intranet).flap_changes == 4);
  const auto& other_check = rules->For("check", "public-site", {});
  CHECK(other_check.category == "link check");
  CHECK(other_check.fail_after == 3);  // one lost probe is not an outage
  CHECK(rules->For("host", "unreachable", {}).severity == Level::kCritical);
  CHECK_FALSE(rules->For("inventory", "disks", {}).auto_resolve);
}

TEST_CASE("an incident rule with an unknown kind, severity or key is refused, naming it",
          "[server][incidents]") {
  auto kind = Read("[[incidents.rules]]\nkind = \"disk\"\ncategory = \"x\"\n");
  REQUIRE_FALSE(kind.ok());
  CHECK_THAT(kind.error().message,
             Catch::Contains("incidents.rules[0].kind") && Catch::Contains("'disk'"));
  auto severity =
      Read("[[incidents.rules]]\nkind = \"service\"\ncategory = \"x\"\nseverity = \"urgent\"\n");
  REQUIRE_FALSE(severity.ok());
  CHECK_THAT(severity.error().message, Catch::Contains("severity") && Catch::Contains("urgent"));
  auto category = Read("[[incidents.rules]]\nkind = \"service\"\n");
  REQUIRE_FALSE(category.ok());
  CHECK_THAT(category.error().message, Catch::Contains("category"));
  auto unknown =
      Read("[[incidents.rules]]\nkind = \"service\"\ncategory = \"x\"\ncolour = \"red\"\n");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message, Catch::Contains("colour"));
  // Without any configuration every kind has its default.
  auto none = Read("");
  REQUIRE(none.ok());
  CHECK(none->rules.size() == DefaultRules().size());
  CHECK(none->thresholds.size() == DefaultThresholds().size());
}

TEST_CASE("a metric over the threshold for the host's tags is a breach", "[server][incidents]") {
  auto rules = Read(R"(
[[incidents.thresholds]]
metric = "disk_percent"
above = 97
tags = ["archive"]

[[incidents.thresholds]]
metric = "load1"
above = 16
)");
  REQUIRE(rules.ok());
  fleetdesk::server::store::MetricPoint sample;
  sample.disk_percent = 93;
  sample.memory_percent = 50;
  sample.load1 = 20;
  // The default 90 % disk threshold, and the configured load one.
  CHECK(rules->Breaches(sample, {"web"}) == MetricBreaches{{"disk_percent", 93}, {"load1", 20}});
  // An archive host may fill its disks to 97 %.
  CHECK(rules->Breaches(sample, {"archive"}) == MetricBreaches{{"load1", 20}});
  sample.load1 = 2;
  sample.memory_percent = 96;
  CHECK(rules->Breaches(sample, {"archive"}) == MetricBreaches{{"memory_percent", 96}});

  auto bad = Read("[[incidents.thresholds]]\nmetric = \"swap\"\nabove = 5\n");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("incidents.thresholds[0].metric"));
}

TEST_CASE("assignment rules route by category, name and tags; SLA targets come from the config",
          "[server][incidents]") {
  auto rules = Read(R"(
[[incidents.assign]]
category = "service"
name = "postgresql*"
tags = ["db"]
group = "dba"
assignee = "dora"

[[incidents.assign]]
category = "capacity"
group = "storage"
)");
  REQUIRE(rules.ok());
  const auto* dba = rules->AssignFor("service", "postgresql@16-main.service", {"db", "prod"});
  REQUIRE(dba != nullptr);
  CHECK(dba->group == "dba");
  CHECK(dba->assignee == "dora");
  CHECK(rules->AssignFor("service", "postgresql.service", {"web"}) == nullptr);
  CHECK(rules->AssignFor("capacity", "disk_percent", {})->group == "storage");
  CHECK(rules->AssignFor("service", "nginx.service", {"db"}) == nullptr);
  CHECK(rules->UsesTags());
  CHECK_FALSE(Read("").value().UsesTags());

  auto nobody = Read("[[incidents.assign]]\ncategory = \"service\"\n");
  REQUIRE_FALSE(nobody.ok());
  CHECK_THAT(nobody.error().message, Catch::Contains("incidents.assign[0]"));

  auto reader = fleetdesk::config::ConfigReader::Parse(
      "[tickets.sla]\np1_response = \"5m\"\np5_resolution = \"30d\"\n", "server.toml");
  auto sla = ReadSlaTargets(*reader);
  REQUIRE(sla.ok());
  CHECK((*sla)[0].first_response_ms == 5 * 60'000);
  CHECK((*sla)[0].resolution_ms == 4 * 3'600'000);  // the default
  CHECK((*sla)[4].resolution_ms == 30LL * 86'400'000);
  auto inverted = fleetdesk::config::ConfigReader::Parse("[tickets.sla]\np2_response = \"9h\"\n",
                                                         "server.toml");
  auto refused = ReadSlaTargets(*inverted);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("tickets.sla.p2_response"));
}
