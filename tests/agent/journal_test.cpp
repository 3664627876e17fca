#include "agent/journal/journal.hpp"

#include <catch2/catch.hpp>

#include "common/codec.hpp"
#include "tests/support/temp_dir.hpp"

using fleetdesk::agent::journal::Journal;
using fleetdesk::testing::TempDir;

TEST_CASE("sequence numbers survive a restart of the agent", "[agent][journal]") {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path(), 1 << 20);
    REQUIRE(journal.ok());
    for (int i = 0; i < 3; ++i) {
      fleetdesk::v1::Report report;
      REQUIRE(journal->Append(&report).ok());
      CHECK(report.seq() == static_cast<std::uint64_t>(i + 1));
    }
  }
  auto reopened = Journal::Open(dir.path(), 1 << 20);
  REQUIRE(reopened.ok());
  CHECK(reopened->last_seq() == 3);
  fleetdesk::v1::Report next;
  REQUIRE(reopened->Append(&next).ok());
  CHECK(next.seq() == 4);
}

TEST_CASE("acked reports are dropped and unacked ones kept for resending", "[agent][journal]") {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), 1 << 20);
  for (int i = 0; i < 5; ++i) {
    fleetdesk::v1::Report report;
    REQUIRE(journal->Append(&report).ok());
  }
  journal->Ack(3);
  auto pending = journal->PendingAfter(0);
  REQUIRE(pending.size() == 2);
  CHECK(journal->PendingAfter(4).size() == 1);
  fleetdesk::v1::AgentMessage first;
  REQUIRE(first.ParseFromString(pending[0].second));
  CHECK(first.report().seq() == 4);
  CHECK(first.protocol_version() == 1);
}

TEST_CASE("past its size bound the journal evicts the oldest and counts it", "[agent][journal]") {
  TempDir dir;
  // Room for two reports of about 1 KB each, not three.
  auto journal = Journal::Open(dir.path(), 2500);
  fleetdesk::v1::Report report;
  report.mutable_heartbeat()->set_hostname(std::string(1000, 'h'));
  for (int i = 0; i < 4; ++i) REQUIRE(journal->Append(&report).ok());
  CHECK(journal->pending_count() == 2);
  CHECK(journal->pending_bytes() <= 2500);
  CHECK(journal->evicted() == 2);
  auto pending = journal->PendingAfter(0);
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].first == 3);
  // The next report tells the server what was lost.
  REQUIRE(journal->Append(&report).ok());
  CHECK(report.journal().evicted_reports() == 3);
}

TEST_CASE("a journal behind the server's committed sequence moves past it", "[agent][journal]") {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), 1 << 20);
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
  auto journal = Journal::Open(dir.path(), 1 << 20);
  REQUIRE_FALSE(journal.ok());
  CHECK_THAT(journal.error().message, Catch::Contains("seq"));
}

namespace {

void AppendReports(Journal& journal, int n) {
  for (int i = 0; i < n; ++i) {
    fleetdesk::v1::Report report;
    report.mutable_heartbeat()->set_hostname("h" + std::to_string(i));
    REQUIRE(journal.Append(&report).ok());
  }
}

std::vector<std::uint64_t> PendingSeqs(const Journal& journal) {
  std::vector<std::uint64_t> seqs;
  for (const auto& [seq, bytes] : journal.PendingAfter(0)) {
    fleetdesk::v1::AgentMessage message;
    REQUIRE(message.ParseFromString(bytes));
    seqs.push_back(message.report().seq());
  }
  return seqs;
}

}  // namespace

TEST_CASE("unacked reports survive a restart of the agent, acked ones do not come back",
          "[agent][journal]") {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path(), 1 << 20);
    AppendReports(*journal, 5);
    journal->Ack(2);
  }
  auto reopened = Journal::Open(dir.path(), 1 << 20);
  REQUIRE(reopened.ok());
  CHECK(PendingSeqs(*reopened) == std::vector<std::uint64_t>{3, 4, 5});
  CHECK(reopened->recovered_bytes() == 0);
  fleetdesk::v1::Report next;
  REQUIRE(reopened->Append(&next).ok());
  CHECK(next.seq() == 6);
}

TEST_CASE("a torn tail is cut off at open and every whole record before it is kept",
          "[agent][journal]") {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path(), 1 << 20);
    AppendReports(*journal, 3);
  }
  // A crash in the middle of the fourth append: its header and half its body.
  auto whole = fleetdesk::testing::ReadFile(dir / "journal");
  std::string torn = whole.substr(0, whole.size() / 3);
  fleetdesk::testing::WriteFile(dir / "journal", whole + torn.substr(0, 20));
  {
    auto journal = Journal::Open(dir.path(), 1 << 20);
    REQUIRE(journal.ok());
    CHECK(journal->recovered_bytes() == 20);
    CHECK(PendingSeqs(*journal) == std::vector<std::uint64_t>{1, 2, 3});
    AppendReports(*journal, 1);
  }
  auto again = Journal::Open(dir.path(), 1 << 20);
  CHECK(again->recovered_bytes() == 0);
  CHECK(PendingSeqs(*again) == std::vector<std::uint64_t>{1, 2, 3, 4});
}

TEST_CASE("a damaged record ends what is read, and the sequence never goes back",
          "[agent][journal]") {
  TempDir dir;
  {
    auto journal = Journal::Open(dir.path(), 1 << 20);
    AppendReports(*journal, 3);
    journal->Ack(1);  // the state file now remembers sequence 3 as used
  }
  auto content = fleetdesk::testing::ReadFile(dir / "journal");
  content[content.size() / 2] ^= 0x5A;  // flip bits inside the second record
  fleetdesk::testing::WriteFile(dir / "journal", content);
  auto journal = Journal::Open(dir.path(), 1 << 20);
  REQUIRE(journal.ok());
  CHECK(journal->recovered_bytes() > 0);
  CHECK(PendingSeqs(*journal).size() < 2);
  fleetdesk::v1::Report next;
  REQUIRE(journal->Append(&next).ok());
  CHECK(next.seq() == 4);
}

TEST_CASE("acked records are compacted away once they outweigh the unacked ones",
          "[agent][journal]") {
  TempDir dir;
  auto journal = Journal::Open(dir.path(), 64 << 20);
  fleetdesk::v1::Report big;
  big.mutable_heartbeat()->set_hostname(std::string(4000, 'x'));
  for (int i = 0; i < 300; ++i) {
    auto copy = big;
    REQUIRE(journal->Append(&copy).ok());
  }
  const auto before = fleetdesk::testing::ReadFile(dir / "journal").size();
  CHECK(before > 1'000'000);
  journal->Ack(299);
  const auto after = fleetdesk::testing::ReadFile(dir / "journal").size();
  CHECK(after < 10'000);
  CHECK(PendingSeqs(*journal) == std::vector<std::uint64_t>{300});
  // The compacted file reads back the same.
  auto reopened = Journal::Open(dir.path(), 64 << 20);
  CHECK(PendingSeqs(*reopened) == std::vector<std::uint64_t>{300});
  fleetdesk::v1::Report next;
  REQUIRE(reopened->Append(&next).ok());
  CHECK(next.seq() == 301);
}

TEST_CASE("the CRC-32C matches its published check value", "[agent][journal]") {
  CHECK(fleetdesk::agent::journal::Crc32c("123456789", 9) == 0xE3069283U);
}
