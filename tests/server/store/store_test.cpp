// One suite for both stores: every test case runs on a SQLite file and on a database of a
// PostgreSQL server the test process starts itself.
#include "server/store/store.hpp"

#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "tests/support/temp_dir.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;
using fleetdesk::ErrorCode;
using fleetdesk::testing::TempDir;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

NewApiToken Token(const std::string& user, const std::string& hash, std::int64_t expires_ms) {
  NewApiToken t;
  t.user_name = user;
  t.token_hash = hash;
  t.created_ms = kNow;
  t.expires_ms = expires_ms;
  return t;
}

// A fresh database of one backend: "sqlite" or "postgresql".

NewAgent Agent(const std::string& id, const std::string& machine) {
  return NewAgent{id, machine, "host-" + machine, "", "01AB", 1'900'000'000, kNow};
}

void AddToken(Store& store, const std::string& hash, std::int64_t expires,
              std::optional<std::int64_t> max_hosts = std::nullopt) {
  REQUIRE(store.CreateEnrollmentToken({hash, kNow, expires, max_hosts, "test"}, {}).ok());
}

}  // namespace

TEST_CASE("migrations run once and record the schema version", "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  CHECK(*store->SchemaVersion() == 15);
  REQUIRE(store->Migrate().ok());
  CHECK(*store->SchemaVersion() == 15);
  // A second connection to the same database sees the same schema.
  auto again = db.Open();
  CHECK(*again->SchemaVersion() == 15);
}

TEST_CASE("enrollment creates a host and counts the token's use", "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "h1", kNow + 60'000, 2);
  auto host = store->EnrollAgent("h1", Agent("agent-a", "m1"));
  REQUIRE(host.ok());
  CHECK(host->id > 0);
  CHECK(host->agent_id == "agent-a");
  CHECK(host->hostname == "host-m1");
  CHECK(host->first_seen_ms == kNow);
  auto loaded = store->LoadHosts();
  REQUIRE(loaded->size() == 1);
  REQUIRE(store->EnrollAgent("h1", Agent("agent-b", "m2")).ok());
  auto third = store->EnrollAgent("h1", Agent("agent-c", "m3"));
  REQUIRE_FALSE(third.ok());
  CHECK(third.error().code == ErrorCode::kPermissionDenied);
  CHECK_THAT(third.error().message, Catch::Contains("used up") && Catch::Contains("2 host"));
  CHECK(store->LoadHosts()->size() == 2);
}

TEST_CASE("an unknown or expired token is refused with its reason and stores nothing",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "old", kNow - 1);
  auto unknown = store->EnrollAgent("nope", Agent("a", "m1"));
  REQUIRE_FALSE(unknown.ok());
  CHECK(unknown.error().code == ErrorCode::kUnauthenticated);
  CHECK_THAT(unknown.error().message, Catch::Contains("not known"));
  auto expired = store->EnrollAgent("old", Agent("a", "m1"));
  REQUIRE_FALSE(expired.ok());
  CHECK(expired.error().code == ErrorCode::kPermissionDenied);
  CHECK_THAT(expired.error().message, Catch::Contains("expired"));
  CHECK(store->LoadHosts()->empty());
}

TEST_CASE("a machine that enrolls again keeps its host row under a new agent id",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "t", kNow + 60'000);
  auto first = store->EnrollAgent("t", Agent("agent-1", "m1"));
  REQUIRE(first.ok());
  REQUIRE(store
              ->Commit({{[&] {
                auto row = *first;
                row.last_seq = 9;
                return row;
              }()}})
              .ok());
  auto second = store->EnrollAgent("t", Agent("agent-2", "m1"));
  REQUIRE(second.ok());
  CHECK(second->id == first->id);
  CHECK(second->agent_id == "agent-2");
  CHECK(second->last_seq == 0);  // a new identity starts a new sequence
  CHECK(store->LoadHosts()->size() == 1);
}

TEST_CASE("a commit writes every host of the batch and never lowers the sequence",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "t", kNow + 60'000);
  auto a = *store->EnrollAgent("t", Agent("a", "m1"));
  auto b = *store->EnrollAgent("t", Agent("b", "m2"));
  a.last_seq = 5;
  a.hostname = "renamed";
  a.connected = true;
  b.last_seq = 3;
  REQUIRE(store->Commit({{a, b}}).ok());
  a.last_seq = 2;  // a stale row arriving late
  REQUIRE(store->Commit({{a}}).ok());
  auto got = store->GetHost(a.id);
  REQUIRE(got.ok());
  REQUIRE(got->has_value());
  CHECK((*got)->last_seq == 5);
  CHECK((*got)->hostname == "renamed");
  CHECK((*got)->connected);
  CHECK((*store->GetHost(b.id))->last_seq == 3);
  CHECK_FALSE(store->GetHost(999)->has_value());
  // The new name is searched, the old one no more.
  auto hits = store->Search("renamed", 10);
  REQUIRE(hits.ok());
  REQUIRE(hits->size() == 1);
  CHECK(hits->front().kind == "host");
  CHECK(hits->front().ref == std::to_string(a.id));
  CHECK(store->Search("host-m1", 10)->empty());
}

TEST_CASE("hosts page by cursor", "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "t", kNow + 60'000);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store->EnrollAgent("t", Agent("a" + std::to_string(i), "m" + std::to_string(i))).ok());
  }
  HostQuery q;
  q.limit = 2;
  auto page1 = store->ListHosts(q);
  REQUIRE(page1->items.size() == 2);
  REQUIRE(page1->next.has_value());
  q.after = page1->next;
  auto page2 = store->ListHosts(q);
  q.after = page2->next;
  auto page3 = store->ListHosts(q);
  CHECK(page2->items.front().record.id > page1->items.back().record.id);
  CHECK(page3->items.size() == 1);
  CHECK_FALSE(page3->next.has_value());
}

TEST_CASE("API tokens find their user until they expire", "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  REQUIRE(store->AddUser({0, "alice", "operator", "hash", false, kNow}, {}).ok());
  auto dup = store->AddUser({0, "alice", "viewer", "hash", false, kNow}, {});
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.error().code == ErrorCode::kAlreadyExists);
  REQUIRE(store->CreateApiToken(Token("alice", "tok", kNow + 1000), {}).ok());
  auto found = store->FindApiToken("tok", kNow);
  REQUIRE(found->has_value());
  CHECK((*found)->user_name == "alice");
  CHECK((*found)->role == "operator");
  CHECK_FALSE(store->FindApiToken("tok", kNow + 1000)->has_value());
  CHECK_FALSE(store->FindApiToken("other", kNow)->has_value());
  auto missing = store->CreateApiToken(Token("bob", "t2", kNow + 1), {});
  CHECK(missing.error().code == ErrorCode::kNotFound);
}

TEST_CASE("a database setting names a SQLite path, with or without sqlite://", "[server][store]") {
  CHECK(*SqlitePath("/var/lib/fleetdesk/fleetdesk.db") == "/var/lib/fleetdesk/fleetdesk.db");
  CHECK(*SqlitePath("sqlite:///var/lib/fleetdesk/fleetdesk.db") ==
        "/var/lib/fleetdesk/fleetdesk.db");
  CHECK_FALSE(SqlitePath("postgresql://db.example/fleetdesk").has_value());
  CHECK_FALSE(SqlitePath("postgres://db.example/fleetdesk").has_value());
}

TEST_CASE("an unreachable PostgreSQL is an unavailable store, named as such", "[server][store]") {
  auto pg = OpenStore("postgresql://fleetdesk@127.0.0.1:1/fleetdesk?connect_timeout=2");
  REQUIRE_FALSE(pg.ok());
  CHECK(pg.error().code == ErrorCode::kUnavailable);
  CHECK_THAT(pg.error().message, Catch::Contains("PostgreSQL"));
}

TEST_CASE("report bodies come back byte for byte, and a full report clears services and checks",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "t", kNow + 60'000);
  auto host = *store->EnrollAgent("t", Agent("a", "m1"));
  // Serialized protobuf: NULs, high bytes, and something that looks like an escape.
  const std::string body(
      "\x00\xff\\x41\n\x80"
      "end",
      11);
  HostDelta delta;
  delta.agent_id = "a";
  delta.full = true;
  delta.collected_ms = kNow;
  delta.inventory.push_back({"cpu", "h1", body});
  delta.services.push_back({"b.service", "active", "running", kNow, "", body + "b"});
  delta.services.push_back({"a.service", "failed", "failed", kNow, "", body + "a"});
  delta.checks.push_back({"web", true, kNow, "", body + "c"});
  delta.metrics = std::string();  // carried, and empty: not the same as absent
  delta.journal = body;
  REQUIRE(store->Commit({{}, {delta}}).ok());

  auto detail = store->GetHostDetail(host.id);
  REQUIRE(detail.ok());
  REQUIRE(detail->inventory.size() == 1);
  CHECK(detail->inventory[0] == body);
  REQUIRE(detail->services.size() == 2);
  CHECK(detail->services[0] == body + "a");  // ordered by unit
  CHECK(detail->checks == std::vector<std::string>{body + "c"});
  REQUIRE(detail->metrics.has_value());
  CHECK(detail->metrics->empty());
  CHECK_FALSE(detail->services_status.has_value());
  CHECK(detail->journal == body);

  // A later delta without metrics keeps them; a full one without services or checks drops them.
  HostDelta later;
  later.agent_id = "a";
  later.full = true;
  later.collected_ms = kNow + 1;
  later.services_status = std::string("x");
  REQUIRE(store->Commit({{}, {later}}).ok());
  detail = store->GetHostDetail(host.id);
  CHECK(detail->services.empty());
  CHECK(detail->checks.empty());
  CHECK(detail->metrics.has_value());
  CHECK(detail->services_status == std::optional<std::string>("x"));
  CHECK(detail->inventory.size() == 1);
}

TEST_CASE("two connections enrolling on one token at once never exceed its host limit",
          "[server][store]") {
  EACH_STORE();
  AddToken(*db.Open(), "t", kNow + 60'000, 5);
  std::atomic<int> enrolled{0};
  std::atomic<int> refused{0};
  // Opened here: Catch's assertions belong to the test's own thread.
  auto stores = std::array{db.Open(), db.Open()};
  auto enroll = [&](int worker) {
    auto& store = stores.at(static_cast<std::size_t>(worker - 1));
    for (int i = 0; i < 10; ++i) {
      auto id = std::to_string(worker) + "-" + std::to_string(i);
      auto host = store->EnrollAgent("t", Agent("agent-" + id, "m-" + id));
      if (host.ok()) {
        ++enrolled;
      } else if (host.error().code == ErrorCode::kPermissionDenied) {
        ++refused;
      }
    }
  };
  std::thread first(enroll, 1);
  std::thread second(enroll, 2);
  first.join();
  second.join();
  CHECK(enrolled == 5);
  CHECK(refused == 15);
  CHECK(db.Open()->LoadHosts()->size() == 5);
}

TEST_CASE("a renewed certificate is recorded with a host event and an audit entry",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "h1", kNow + 60'000);
  auto host = store->EnrollAgent("h1", Agent("agent-a", "m1"));
  REQUIRE(host.ok());
  REQUIRE(
      store->RecordRenewal({"agent-a", "02CD", 1'950'000'000, kNow + 5, "192.0.2.7:5000"}).ok());

  auto row = store->GetHost(host->id);
  REQUIRE(row.ok());
  CHECK((*row)->cert_serial == "02CD");
  CHECK((*row)->cert_not_after == 1'950'000'000);
  EventQuery events;
  events.host_id = host->id;
  events.kind = "lifecycle";
  auto page = store->ListEvents(events);
  REQUIRE(page.ok());
  REQUIRE_FALSE(page->items.empty());
  CHECK(page->items[0].subject == "certificate");
  CHECK(page->items[0].old_value == "01AB");
  CHECK(page->items[0].new_value == "02CD");
  AuditQuery audit;
  audit.action = "agent.renew";
  auto entries = store->ListAudit(audit);
  REQUIRE(entries.ok());
  REQUIRE(entries->items.size() == 1);
  const auto& entry = entries->items[0];
  CHECK(entry.actor.kind == "agent");
  CHECK(entry.actor.name == "agent-a");
  CHECK(entry.actor.address == "192.0.2.7:5000");
  CHECK(entry.before.at("certificateSerial") == "01AB");
  CHECK(entry.before.at("certificateNotAfter") == "2030-03-17T17:46:40Z");
  CHECK(entry.after.at("certificateSerial") == "02CD");
  CHECK(entry.after.at("certificateNotAfter") == "2031-10-17T10:40:00Z");
}

TEST_CASE("a renewal for a revoked or unknown agent is refused and changes nothing",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "h1", kNow + 60'000);
  auto host = store->EnrollAgent("h1", Agent("agent-a", "m1"));
  REQUIRE(host.ok());
  REQUIRE(store->RevokeAgent("agent-a", {}, kNow + 1).ok());
  for (const char* agent : {"agent-a", "agent-unknown"}) {
    CAPTURE(agent);
    auto refused = store->RecordRenewal({agent, "02CD", 1'950'000'000, kNow + 5, ""});
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == ErrorCode::kNotFound);
  }
  CHECK((*store->GetHost(host->id))->cert_serial == "01AB");
  AuditQuery audit;
  audit.action = "agent.renew";
  CHECK(store->ListAudit(audit)->items.empty());
}

TEST_CASE("a heartbeat-only row is written by host id, and a rename is still read back",
          "[server][store]") {
  EACH_STORE();
  auto store = db.Open();
  AddToken(*store, "h1", kNow + 60'000);
  auto host = store->EnrollAgent("h1", Agent("agent-a", "m1"));
  REQUIRE(host.ok());
  HostRecord beat = *host;
  beat.connected = true;
  beat.last_seen_ms = kNow + 10;
  beat.load1 = 0.75;
  beat.last_seq = 3;
  beat.heartbeat_only = true;
  REQUIRE(store->Commit({{beat}, {}}).ok());
  auto row = *store->GetHost(host->id);
  CHECK(row->last_seq == 3);
  CHECK(row->load1 == Approx(0.75));
  CHECK(row->last_seen_ms == kNow + 10);

  HostRecord renamed = beat;
  renamed.hostname = "renamed-host";
  renamed.last_seq = 4;
  renamed.heartbeat_only = false;
  REQUIRE(store->Commit({{renamed}, {}}).ok());
  row = *store->GetHost(host->id);
  CHECK(row->hostname == "renamed-host");
  CHECK(row->last_seq == 4);
}
