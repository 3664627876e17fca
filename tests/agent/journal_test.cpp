#include "agent/journal/journal.hpp"

#include <catch2/catch.hpp>

#include "common/codec.hpp"
#include "tests/support/temp_dir.hpp"

using fleetdesk::agent::journal::Journal;
using fleetdesk::testing::TempDir;

TEST_CASE("sequence numbers survive a restart of the agent", "[agent][journal]") {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path(), 100);
    REQUIRE(journal.ok());
    for (int i = 0; i < 3; ++i) {
      fleetdesk::v1::Report report;
      REQUIRE(journal->Append(&report).ok());
      CHECK(report.seq() == static_cast<std::uint64_t>(i + 1));
    }
  }
  auto reopened = Journal::Open(dir.path(), 100);
  REQUIRE(reopened.ok());
  CHECK(reopened->last_seq() == 3);
  fleetdesk::v1::Report next;
  REQUIRE(reopened->Append(&next).ok());
  CHECK(next.seq() == 4);
}

TEST_CASE("acked reports are dropped and unacked ones kept for resending", "[agent][journal]") {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), 100);
  for (int i = 0; i < 5; ++i) {
    fleetdesk::v1::Report report;
    REQUIRE(journal->Append(&report).ok());
  }
  journal->Ack(3);
  auto pending = journal->Pending();
  REQUIRE(pending.size() == 2);
  fleetdesk::v1::AgentMessage first;
  REQUIRE(first.ParseFromString(pending[0]));
  CHECK(first.report().seq() == 4);
  CHECK(first.protocol_version() == 1);
}

TEST_CASE("past its bound the journal evicts the oldest and counts it", "[agent][journal]") {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), 2);
  fleetdesk::v1::Report report;
  for (int i = 0; i < 4; ++i) REQUIRE(journal->Append(&report).ok());
  CHECK(journal->pending_count() == 2);
  CHECK(journal->evicted() == 2);
  // The next report tells the server what was lost.
  REQUIRE(journal->Append(&report).ok());
  CHECK(report.journal().evicted_reports() == 3);
}

TEST_CASE("a journal behind the server's committed sequence moves past it", "[agent][journal]") {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), 10);
  REQUIRE(journal->AdvanceTo(41).ok());
  fleetdesk::v1::Report report;
  REQUIRE(journal->Append(&report).ok());
  CHECK(report.seq() == 42);
  REQUIRE(journal->AdvanceTo(7).ok());  // never backwards
  CHECK(journal->last_seq() == 42);
}

TEST_CASE("a corrupt sequence file is an error naming it", "[agent][journal]") {
  TempDir dir;
  fleetdesk::testing::WriteFile(dir / "seq", "garbage");
  auto journal = Journal::Open(dir.path(), 10);
  REQUIRE_FALSE(journal.ok());
  CHECK_THAT(journal.error().message, Catch::Contains("seq"));
}
