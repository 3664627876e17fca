#include "server/engine/writer.hpp"

#include <catch2/catch.hpp>
#include <condition_variable>

#include "tests/support/temp_dir.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::TempDir;

namespace {

std::vector<store::HostRecord> EnrollHosts(store::Store& s, int n) {
  REQUIRE(s.CreateEnrollmentToken({"t", 0, INT64_MAX, std::nullopt, ""}).ok());
  std::vector<store::HostRecord> hosts;
  for (int i = 0; i < n; ++i) {
    auto h = s.EnrollAgent("t", {"a" + std::to_string(i), "m" + std::to_string(i), "h", "", 0, 1});
    REQUIRE(h.ok());
    hosts.push_back(*h);
  }
  return hosts;
}

}  // namespace

TEST_CASE("the writer commits queued rows and calls back after the commit", "[server][writer]") {
  TempDir dir;
  auto setup = store::OpenStore(dir / "db");
  REQUIRE((*setup)->Migrate().ok());
  auto hosts = EnrollHosts(**setup, 50);

  ServerMetrics metrics;
  engine::Writer writer(std::move(store::OpenStore(dir / "db")).value(), metrics);
  writer.Start();
  std::mutex mutex;
  std::condition_variable cv;
  int done = 0;
  for (int round = 1; round <= 4; ++round) {
    for (auto h : hosts) {
      h.last_seq = static_cast<std::uint64_t>(round);
      writer.Submit(h, [&](const fleetdesk::Status& status) {
        REQUIRE(status.ok());
        std::lock_guard lock(mutex);
        ++done;
        cv.notify_one();
      });
    }
  }
  {
    std::unique_lock lock(mutex);
    REQUIRE(cv.wait_for(lock, std::chrono::seconds(10), [&] { return done == 200; }));
  }
  // Every callback came after its row was durable: a fresh connection sees round 4 everywhere.
  auto check = store::OpenStore(dir / "db");
  auto stored = (*check)->LoadHosts();
  REQUIRE(stored.ok());
  for (const auto& h : *stored) CHECK(h.last_seq == 4);
  // Group commit: 200 rows took fewer transactions than rows.
  CHECK(metrics.commits_total.load() < 200);
  writer.Stop();
}

TEST_CASE("stopping the writer commits what was queued first", "[server][writer]") {
  TempDir dir;
  auto setup = store::OpenStore(dir / "db");
  REQUIRE((*setup)->Migrate().ok());
  auto hosts = EnrollHosts(**setup, 10);
  ServerMetrics metrics;
  {
    engine::Writer writer(std::move(store::OpenStore(dir / "db")).value(), metrics);
    writer.Start();
    for (auto h : hosts) {
      h.last_seq = 11;
      writer.Submit(h, {});
    }
    writer.Stop();
    bool refused = false;
    writer.Submit(hosts[0], [&](const fleetdesk::Status& s) { refused = !s.ok(); });
    CHECK(refused);
  }
  auto stored = (*setup)->LoadHosts();
  REQUIRE(stored.ok());
  for (const auto& h : *stored) CHECK(h.last_seq == 11);
}
