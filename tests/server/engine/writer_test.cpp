#include "server/engine/writer.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <future>

#include "tests/support/temp_dir.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::TempDir;

namespace {

std::vector<store::HostRecord> EnrollHosts(store::Store& s, int n) {
  REQUIRE(s.CreateEnrollmentToken({"t", 0, INT64_MAX, std::nullopt, ""}).ok());
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
class FailingStore final : public store::Store {
 public:
  explicit FailingStore(std::unique_ptr<store::Store> real) : real_(std::move(real)) {}
  std::atomic<bool> fail{false};

  fleetdesk::Status Commit(const store::WriteBatch& batch) override {
    if (fail.load()) return fleetdesk::MakeError(fleetdesk::ErrorCode::kUnavailable, "disk full");
    return real_->Commit(batch);
  }
  std::uint64_t RowsWritten() const override { return real_->RowsWritten(); }
  fleetdesk::Status Migrate() override { return real_->Migrate(); }
  fleetdesk::Result<int> SchemaVersion() override { return real_->SchemaVersion(); }
  fleetdesk::Result<std::vector<store::HostRecord>> LoadHosts() override {
    return real_->LoadHosts();
  }
  fleetdesk::Result<store::HostPage> ListHosts(const store::HostQuery& q) override {
    return real_->ListHosts(q);
  }
  fleetdesk::Result<std::optional<store::HostRecord>> GetHost(std::int64_t id) override {
    return real_->GetHost(id);
  }
  fleetdesk::Result<std::optional<store::HostRecord>> FindAgent(const std::string& a) override {
    return real_->FindAgent(a);
  }
  fleetdesk::Result<std::optional<store::HostView>> GetHostView(std::int64_t id) override {
    return real_->GetHostView(id);
  }
  fleetdesk::Result<store::HostDetail> GetHostDetail(std::int64_t id) override {
    return real_->GetHostDetail(id);
  }
  fleetdesk::Result<store::HostView> PatchHost(std::int64_t id, const store::AttributePatch& p,
                                               const std::string& actor,
                                               std::int64_t now) override {
    return real_->PatchHost(id, p, actor, now);
  }
  fleetdesk::Result<store::HostView> RegisterHost(const store::NewHost& h, const std::string& actor,
                                                  std::int64_t now) override {
    return real_->RegisterHost(h, actor, now);
  }
  fleetdesk::Result<store::HostView> ArchiveHost(std::int64_t id, const std::string& actor,
                                                 std::int64_t now) override {
    return real_->ArchiveHost(id, actor, now);
  }
  fleetdesk::Result<store::ImportSummary> ImportHosts(const std::vector<store::ImportRow>& rows,
                                                      const std::string& actor,
                                                      std::int64_t now) override {
    return real_->ImportHosts(rows, actor, now);
  }
  fleetdesk::Result<store::EventPage> ListEvents(const store::EventQuery& q) override {
    return real_->ListEvents(q);
  }
  fleetdesk::Result<std::vector<store::MetricPoint>> MetricSeries(
      std::int64_t id, std::int64_t from, std::int64_t to,
      store::MetricResolution resolution) override {
    return real_->MetricSeries(id, from, to, resolution);
  }
  fleetdesk::Result<std::vector<std::int64_t>> MarkSilentHosts(std::int64_t before,
                                                               std::int64_t now) override {
    return real_->MarkSilentHosts(before, now);
  }
  fleetdesk::Result<store::PruneCounts> Prune(const store::Retention& r,
                                              std::int64_t now) override {
    return real_->Prune(r, now);
  }
  fleetdesk::Result<std::vector<store::SearchHit>> Search(const std::string& text,
                                                          int limit) override {
    return real_->Search(text, limit);
  }
  fleetdesk::Result<bool> TryLeadership() override { return real_->TryLeadership(); }
  fleetdesk::Status CreateEnrollmentToken(const store::NewEnrollmentToken& t) override {
    return real_->CreateEnrollmentToken(t);
  }
  fleetdesk::Status CheckEnrollmentToken(const std::string& h, std::int64_t now) override {
    return real_->CheckEnrollmentToken(h, now);
  }
  fleetdesk::Result<store::HostRecord> EnrollAgent(const std::string& h,
                                                   const store::NewAgent& a) override {
    return real_->EnrollAgent(h, a);
  }
  fleetdesk::Result<std::int64_t> AddUser(const store::UserRecord& u) override {
    return real_->AddUser(u);
  }
  fleetdesk::Result<std::optional<store::UserRecord>> FindUser(const std::string& n) override {
    return real_->FindUser(n);
  }
  fleetdesk::Status CreateApiToken(const store::NewApiToken& t) override {
    return real_->CreateApiToken(t);
  }
  fleetdesk::Result<std::optional<store::Principal>> FindApiToken(const std::string& h,
                                                                  std::int64_t now) override {
    return real_->FindApiToken(h, now);
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
