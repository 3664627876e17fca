#include "server/engine/incident_tracker.hpp"

#include <catch2/catch.hpp>

using namespace fleetdesk::server::engine::incidents;
using D = Decision;

namespace {

constexpr std::int64_t kMinute = 60'000;

std::string Names(const std::vector<Decision>& decisions) {
  std::string out;
  for (auto d : decisions) out += (out.empty() ? "" : " ") + std::string(DecisionName(d));
  return out;
}

}  // namespace

TEST_CASE(
    "an incident opens after N failures and recovers after M successes, then resolves "
    "after the quiet period",
    "[server][incidents]") {
  IncidentPolicy policy;
  policy.fail_after = 3;
  policy.ok_after = 2;
  IncidentTracker t(policy);
  CHECK(Names(t.Observe(true, 0)) == "");
  CHECK(Names(t.Observe(false, 1 * kMinute)) == "");  // one success resets the run
  CHECK(Names(t.Observe(true, 2 * kMinute)) == "");
  CHECK(Names(t.Observe(true, 3 * kMinute)) == "");
  CHECK(Names(t.Observe(true, 4 * kMinute)) == "open");
  CHECK(t.incident_open());
  // Still failing: nothing new, never a note per observation.
  CHECK(Names(t.Observe(true, 5 * kMinute)) == "");
  CHECK(Names(t.Observe(false, 6 * kMinute)) == "");
  CHECK(Names(t.Observe(false, 7 * kMinute)) == "recovered");
  CHECK(t.incident_open());
  CHECK(Names(t.Tick(11 * kMinute)) == "");
  CHECK(Names(t.Tick(12 * kMinute)) == "resolve");  // 5 minutes up
  CHECK_FALSE(t.incident_open());
  CHECK(Names(t.Tick(13 * kMinute)) == "");
}

TEST_CASE("a failure inside the quiet period is one more occurrence of the same incident",
          "[server][incidents]") {
  IncidentTracker t(IncidentPolicy{});
  CHECK(Names(t.Observe(true, 0)) == "open");
  CHECK(Names(t.Observe(false, 1 * kMinute)) == "recovered");
  CHECK(Names(t.Observe(true, 3 * kMinute)) == "repeat");
  CHECK(t.occurrences() == 2);
  CHECK(Names(t.Tick(10 * kMinute)) == "");  // down: no resolve
  CHECK(Names(t.Observe(false, 11 * kMinute)) == "recovered");
  CHECK(Names(t.Observe(false, 16 * kMinute)) == "resolve");
}

TEST_CASE("a failure soon after the resolve reopens the ticket; a later one opens a new one",
          "[server][incidents]") {
  IncidentTracker t(IncidentPolicy{});
  t.Observe(true, 0);
  t.Observe(false, 1 * kMinute);
  CHECK(Names(t.Tick(6 * kMinute)) == "resolve");
  CHECK(Names(t.Observe(true, 30 * kMinute)) == "reopen");  // within the hour
  CHECK(t.occurrences() == 1);
  t.Observe(false, 31 * kMinute);
  CHECK(Names(t.Tick(36 * kMinute)) == "resolve");
  CHECK(Names(t.Observe(true, 36 * kMinute + 61 * kMinute)) == "open");
}

TEST_CASE("a flapping check keeps one quiet incident until it settles", "[server][incidents]") {
  IncidentPolicy policy;
  policy.flap_changes = 4;
  IncidentTracker t(policy);
  CHECK(Names(t.Observe(true, 0)) == "open");
  CHECK(Names(t.Observe(false, 1 * kMinute)) == "recovered");
  CHECK(Names(t.Observe(true, 2 * kMinute)) == "repeat");
  CHECK(Names(t.Observe(false, 3 * kMinute)) == "flapping");  // the fourth change
  CHECK(t.flapping());
  // Changes while flapping say nothing and resolve nothing.
  for (int m = 4; m < 20; ++m) CHECK(Names(t.Observe(m % 2 == 0, m * kMinute)) == "");
  CHECK(Names(t.Tick(25 * kMinute)) == "");
  CHECK(t.incident_open());
  // Up since minute 19: half an hour without a change settles it, and the quiet period has long
  // passed, so it resolves at once.
  CHECK(Names(t.Tick(50 * kMinute)) == "settled resolve");
  CHECK_FALSE(t.flapping());
  CHECK(t.occurrences() == 10);
}

TEST_CASE("a flapping check that settles down stays open", "[server][incidents]") {
  IncidentPolicy policy;
  policy.flap_changes = 3;
  IncidentTracker t(policy);
  t.Observe(true, 0);
  t.Observe(false, 1 * kMinute);
  CHECK(Names(t.Observe(true, 2 * kMinute)) == "flapping");
  CHECK(Names(t.Tick(40 * kMinute)) == "settled");
  CHECK(t.incident_open());
  CHECK(t.down());
  CHECK(Names(t.Observe(false, 41 * kMinute)) == "recovered");
}
