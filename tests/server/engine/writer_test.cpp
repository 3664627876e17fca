#include "server/engine/writer.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>
#include <thread>

#include "server/engine/clock.hpp"
#include "server/engine/incident_engine.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::TempDir;

namespace {

std::vector<store::HostRecord> EnrollHosts(store::Store& s, int n) {
  REQUIRE(s.CreateEnrollmentToken({"t", 0, INT64_MAX, std::nullopt, ""}, {}).ok());
  std::vector<store::HostRecord> hosts;
  for (int i = 0; i < n; ++i) {
    auto h =
        s.EnrollAgent("t", {"a" + std::to_string(i), "m" + std::to_string(i), "h", "", "", 0, 1});
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

TEST_CASE("the writer and the incident engine take turns with the connection they share",
          "[server][writer]") {
  TempDir dir;
  auto setup = store::OpenStore(dir / "db");
  REQUIRE((*setup)->Migrate().ok());
  auto hosts = EnrollHosts(**setup, 50);
  ServerMetrics metrics;
  auto shared =
      std::make_shared<store::SharedStore>(std::move(store::OpenStore(dir / "db")).value());
  engine::IncidentEngine incidents(shared, {}, metrics);
  incidents.Start();
  engine::Writer writer(shared, metrics);
  writer.Start();
  std::atomic<int> done = 0;
  std::atomic<int> failed = 0;
  std::thread raising([&] {
    for (std::size_t i = 0; i < 20; ++i) {
      store::Observations seen;
      seen.transitions.push_back(
          {0, hosts[i].id, NowMs(), "service", "app.service", "active", "failed", ""});
      incidents.Submit(std::move(seen));
    }
  });
  for (int round = 1; round <= 4; ++round) {
    for (auto h : hosts) {
      h.last_seq = static_cast<std::uint64_t>(round);
      writer.Submit(h, [&](const fleetdesk::Status& status) { ++(status.ok() ? done : failed); });
    }
  }
  raising.join();
  incidents.Flush();
  writer.Stop();
  CHECK(failed == 0);
  CHECK(done == 200);
  CHECK(metrics.incident_errors_total == 0);
  CHECK(metrics.incidents_opened_total == 20);
  auto check = store::OpenStore(dir / "db");
  auto stored = (*check)->LoadHosts();
  REQUIRE(stored.ok());
  for (const auto& h : *stored) CHECK(h.last_seq == 4);
  store::TicketQuery q;
  q.limit = 100;
  CHECK((*check)->ListTickets(q)->items.size() == 20);
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
    // One host row each: what the store wrote is what /metrics reports.
    CHECK(metrics.rows_written_total.load() == 10);
    bool refused = false;
    writer.Submit(hosts[0], [&](const fleetdesk::Status& s) { refused = !s.ok(); });
    CHECK(refused);
  }
  auto stored = (*setup)->LoadHosts();
  REQUIRE(stored.ok());
  for (const auto& h : *stored) CHECK(h.last_seq == 11);
}

namespace {

// The real SQLite store, whose commits can be made to fail: the way a full disk or a lost
// database connection looks to the writer.
class FailingStore final : public store::BatchWriter {
 public:
  explicit FailingStore(std::unique_ptr<store::Store> real) : real_(std::move(real)) {}
  std::atomic<bool> fail{false};

  fleetdesk::Status Commit(const store::WriteBatch& batch, store::Observations* seen) override {
    if (fail.load()) return fleetdesk::MakeError(fleetdesk::ErrorCode::kUnavailable, "disk full");
    return real_->Commit(batch, seen);
  }
  std::uint64_t RowsWritten() const override { return real_->RowsWritten(); }
  fleetdesk::Status RecordRenewal(const store::CertificateRenewal& renewal) override {
    if (fail.load()) return fleetdesk::MakeError(fleetdesk::ErrorCode::kUnavailable, "disk full");
    return real_->RecordRenewal(renewal);
  }

 private:
  std::unique_ptr<store::Store> real_;
};

fleetdesk::Status SubmitAndWait(engine::Writer& writer, store::HostRecord row) {
  std::promise<fleetdesk::Status> promise;
  auto future = promise.get_future();
  writer.Submit(std::move(row), [&](const fleetdesk::Status& s) { promise.set_value(s); });
  REQUIRE(future.wait_for(std::chrono::seconds(10)) == std::future_status::ready);
  return future.get();
}

}  // namespace

TEST_CASE("after a failed commit an agent's later reports are refused until it reconnects",
          "[server][writer]") {
  TempDir dir;
  auto setup = store::OpenStore(dir / "db");
  REQUIRE((*setup)->Migrate().ok());
  auto hosts = EnrollHosts(**setup, 2);
  auto failing = std::make_unique<FailingStore>(std::move(store::OpenStore(dir / "db")).value());
  auto* store = failing.get();
  ServerMetrics metrics;
  engine::Writer writer(std::move(failing), metrics);
  writer.Start();

  auto a = hosts[0];
  auto b = hosts[1];
  store->fail = true;
  a.last_seq = 1;
  CHECK_FALSE(SubmitAndWait(writer, a).ok());
  store->fail = false;
  // Committing seq 2 now would ack past the lost seq 1.
  a.last_seq = 2;
  auto refused = SubmitAndWait(writer, a);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message, Catch::Contains("earlier report"));
  // Other agents are not held up.
  b.last_seq = 1;
  CHECK(SubmitAndWait(writer, b).ok());
  // A new channel starts over from the committed sequence: seq 1 is taken again.
  writer.SubmitConnect(hosts[0]);
  a.last_seq = 1;
  CHECK(SubmitAndWait(writer, a).ok());
  writer.Stop();
  auto stored = (*setup)->LoadHosts();
  REQUIRE(stored.ok());
  CHECK((*stored)[0].last_seq == 1);
  CHECK((*stored)[1].last_seq == 1);
}

namespace {

// Holds its first commit until released, and keeps every batch it was given.
class RecordingStore final : public store::BatchWriter {
 public:
  std::promise<void> release;
  std::vector<store::WriteBatch> batches;

  fleetdesk::Status Commit(const store::WriteBatch& batch, store::Observations*) override {
    if (batches.empty()) release_future_.wait();
    batches.push_back(batch);
    return {};
  }
  std::uint64_t RowsWritten() const override { return 0; }
  fleetdesk::Status RecordRenewal(const store::CertificateRenewal&) override { return {}; }

 private:
  std::shared_future<void> release_future_ = release.get_future().share();
};

}  // namespace

TEST_CASE("rows of one host collapsed in a batch keep a rename from being skipped",
          "[server][writer]") {
  auto recording = std::make_unique<RecordingStore>();
  auto* store = recording.get();
  ServerMetrics metrics;
  engine::Writer writer(std::move(recording), metrics);
  writer.Start();
  store::HostRecord plug;
  plug.id = 2;
  plug.agent_id = "plug";
  writer.Submit(plug, {});  // its commit waits, so the next two rows queue together
  // Taken off the queue: the plug's batch is under way.
  while (metrics.writer_queue_depth.load() != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  store::HostRecord renamed;
  renamed.id = 1;
  renamed.agent_id = "agent-with-a-long-enough-id-for-the-heap";
  renamed.hostname = "web-1b";
  renamed.last_seq = 1;
  store::HostRecord after = renamed;
  after.last_seq = 2;
  after.heartbeat_only = true;
  writer.Submit(renamed, {});
  writer.Submit(after, {});
  store->release.set_value();
  writer.Stop();
  REQUIRE(store->batches.size() >= 2);
  const auto& hosts = store->batches.back().hosts;
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].agent_id == "agent-with-a-long-enough-id-for-the-heap");
  CHECK(hosts[0].last_seq == 2);
  CHECK(hosts[0].hostname == "web-1b");
  CHECK_FALSE(hosts[0].heartbeat_only);
}
