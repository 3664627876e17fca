#include <catch2/catch.hpp>

#include "agent/collectors/system.hpp"

using fleetdesk::agent::collectors::SystemCollector;

namespace {
std::string Fixture(const char* name) {
  return std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/" + name;
}
}  // namespace

TEST_CASE("the system collector reads a Debian 12 VM's identity and load", "[agent][collectors]") {
  SystemCollector system(Fixture("debian12-vm"));
  CHECK(*system.MachineId() == "3d1219c7c4c5404aaa1f6d2a48adfda4");
  auto hb = system.Heartbeat();
  CHECK(hb.hostname() == "vm");
  CHECK(hb.os().name() == "Debian GNU/Linux");
  CHECK(hb.os().version() == "12");
  CHECK(hb.os().pretty_name() == "Debian GNU/Linux 12 (bookworm)");
  CHECK(hb.os().kernel() == "6.1.0-27-amd64");
  CHECK(hb.uptime_seconds() == 635);
  CHECK(hb.load1() == Approx(1.60));
  CHECK(hb.load5() == Approx(1.27));
  CHECK(hb.load15() == Approx(0.59));
}

TEST_CASE("the system collector copes with odd and truncated files", "[agent][collectors]") {
  SystemCollector system(Fixture("odd"));
  // An empty /etc/machine-id falls back to D-Bus's copy.
  CHECK(*system.MachineId() == "fallbackmachineid");
  auto hb = system.Heartbeat();
  CHECK(hb.hostname() == "odd-host");
  CHECK(hb.os().name() == "Odd Linux");
  CHECK(hb.os().pretty_name() == "Odd \"Quoted\" Linux 3");
  CHECK(hb.os().version() == "3");
  CHECK(hb.uptime_seconds() == 12);
  CHECK(hb.load1() == 0);  // empty loadavg: no load rather than garbage
  CHECK(hb.os().kernel().empty());
}

TEST_CASE("a root with no machine id is an error naming the file", "[agent][collectors]") {
  SystemCollector system("/nonexistent-root");
  auto id = system.MachineId();
  REQUIRE_FALSE(id.ok());
  CHECK_THAT(id.error().message, Catch::Contains("/nonexistent-root/etc/machine-id"));
  CHECK(system.Heartbeat().hostname().empty());
}
