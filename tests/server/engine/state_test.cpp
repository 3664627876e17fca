#include "server/engine/state.hpp"

#include <catch2/catch.hpp>

using fleetdesk::ErrorCode;
using fleetdesk::server::engine::IngestOutcome;
using fleetdesk::server::engine::StateEngine;
using fleetdesk::server::store::HostRecord;

namespace {

HostRecord Host(const std::string& agent_id, std::uint64_t last_seq = 0) {
  HostRecord h;
  h.id = 1;
  h.agent_id = agent_id;
  h.machine_id = "machine-1";
  h.hostname = "web-1";
  h.last_seq = last_seq;
  h.connected = true;  // as a crashed server may have left it
  return h;
}

fleetdesk::v1::Report Report(std::uint64_t seq) {
  fleetdesk::v1::Report r;
  r.set_seq(seq);
  r.mutable_heartbeat()->set_load1(1.5);
  return r;
}

}  // namespace

TEST_CASE("loading the store's hosts marks every one disconnected", "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a", 4)});
  auto found = engine.Find("a");
  REQUIRE(found.has_value());
  CHECK_FALSE(found->connected);
  CHECK(found->last_seq == 4);
}

TEST_CASE("a new sequence is accepted, a committed one acked at once, an in-flight one waited for",
          "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a", 4)});
  auto old = engine.Ingest("a", Report(3), 1000);
  REQUIRE(old.ok());
  CHECK(old->kind == IngestOutcome::Kind::kCommitted);
  CHECK(old->committed_seq == 4);

  auto fresh = engine.Ingest("a", Report(5), 1000);
  REQUIRE(fresh.ok());
  CHECK(fresh->kind == IngestOutcome::Kind::kAccepted);
  CHECK(fresh->row.last_seq == 5);
  CHECK(fresh->row.load1 == 1.5);
  // Not committed yet: the engine still reports 4 as committed.
  CHECK(engine.Find("a")->last_seq == 4);

  auto again = engine.Ingest("a", Report(5), 1000);
  CHECK(again->kind == IngestOutcome::Kind::kInFlight);

  CHECK(engine.MarkCommitted("a", 5) == 5);
  CHECK(engine.Ingest("a", Report(5), 1000)->kind == IngestOutcome::Kind::kCommitted);
}

TEST_CASE("a failed commit lets the same sequence be accepted again", "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a", 0)});
  REQUIRE(engine.Ingest("a", Report(1), 1)->kind == IngestOutcome::Kind::kAccepted);
  engine.ForgetUncommitted("a");
  CHECK(engine.Ingest("a", Report(1), 1)->kind == IngestOutcome::Kind::kAccepted);
}

TEST_CASE("a report with sequence zero is refused", "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a")});
  auto outcome = engine.Ingest("a", Report(0), 1);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a hello from another machine id is refused as a clone", "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a")});
  fleetdesk::v1::Hello hello;
  hello.set_machine_id("machine-2");
  auto outcome = engine.Connect("a", hello, 1);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().code == ErrorCode::kPermissionDenied);
  CHECK_THAT(outcome.error().message, Catch::Contains("clone"));
  hello.set_machine_id("machine-1");
  hello.set_hostname("web-1b");
  auto ok = engine.Connect("a", hello, 2);
  REQUIRE(ok.ok());
  CHECK(ok->row.connected);
  CHECK(ok->row.hostname == "web-1b");
}

TEST_CASE("an unknown or revoked agent is refused", "[server][engine]") {
  StateEngine engine;
  auto revoked = Host("r");
  revoked.revoked = true;
  engine.Load({revoked});
  fleetdesk::v1::Hello hello;
  CHECK(engine.Connect("nobody", hello, 1).error().code == ErrorCode::kNotFound);
  CHECK(engine.Connect("r", hello, 1).error().code == ErrorCode::kPermissionDenied);
}

TEST_CASE("a disconnect keeps the committed sequence", "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a", 7)});
  REQUIRE(engine.Ingest("a", Report(8), 1).ok());
  auto row = engine.Disconnect("a", 5);
  REQUIRE(row.has_value());
  CHECK_FALSE(row->connected);
  CHECK(row->last_seq == 7);
  CHECK_FALSE(engine.Disconnect("nobody", 5).has_value());
}

TEST_CASE("a hello without a machine id is refused, so the clone check cannot be skipped",
          "[server][engine]") {
  StateEngine engine;
  engine.Load({Host("a")});
  fleetdesk::v1::Hello hello;
  auto outcome = engine.Connect("a", hello, 1);
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(outcome.error().message, Catch::Contains("machineId"));
}

TEST_CASE("a host re-keyed under a new agent id is known by the new id only, others untouched",
          "[server][engine]") {
  StateEngine engine;
  auto other = Host("b");
  other.id = 2;
  engine.Load({Host("a"), other});
  engine.Upsert(Host("a2"));  // row 1 enrolled again from its machine
  CHECK_FALSE(engine.Find("a").has_value());
  CHECK(engine.Find("a2").has_value());
  CHECK(engine.Find("b").has_value());
  engine.Upsert(Host("a3"));
  CHECK_FALSE(engine.Find("a2").has_value());
  CHECK(engine.size() == 2);
}

TEST_CASE("only a heartbeat soon after the previous report on this server skips the read-back",
          "[server][engine]") {
  StateEngine engine;
  engine.SetFreshWindow(45'000);
  engine.Load({Host("a", 0)});
  fleetdesk::v1::Hello hello;
  hello.set_machine_id("machine-1");
  hello.set_hostname("web-1");
  auto connected = engine.Connect("a", hello, 1'000);
  REQUIRE(connected.ok());
  CHECK_FALSE(connected->row.heartbeat_only);  // a hello is always read back

  CHECK(engine.Ingest("a", Report(1), 2'000)->row.heartbeat_only);
  auto renamed = Report(2);
  renamed.mutable_heartbeat()->set_hostname("web-1b");
  CHECK_FALSE(engine.Ingest("a", renamed, 3'000)->row.heartbeat_only);
  auto same_name = Report(3);
  same_name.mutable_heartbeat()->set_hostname("web-1b");
  CHECK(engine.Ingest("a", same_name, 4'000)->row.heartbeat_only);
  auto upgraded = Report(4);
  upgraded.mutable_heartbeat()->mutable_os()->set_kernel("6.1.0-99");
  CHECK_FALSE(engine.Ingest("a", upgraded, 5'000)->row.heartbeat_only);
  // Silent for longer than the window: it may have been marked unreachable meanwhile.
  CHECK_FALSE(engine.Ingest("a", Report(5), 5'000 + 45'001)->row.heartbeat_only);
  CHECK(engine.Ingest("a", Report(6), 5'000 + 46'000)->row.heartbeat_only);
  // After a disconnect the next channel starts with a hello, read back again.
  engine.Disconnect("a", 52'000);
  CHECK_FALSE(engine.Ingest("a", Report(7), 53'000)->row.heartbeat_only);

  StateEngine unset;  // no window: every row is read back
  unset.Load({Host("b", 0)});
  hello.set_machine_id("machine-1");
  REQUIRE(unset.Connect("b", hello, 1'000).ok());
  CHECK_FALSE(unset.Ingest("b", Report(1), 1'001)->row.heartbeat_only);
}
