// Identity and access in the store, on both stores: users, sessions, API tokens and the
// append-only audit log.
#include <catch2/catch.hpp>

#include "server/store/postgres/pq.hpp"
#include "server/store/sqlite/sqlite.hpp"
#include "server/store/store.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;
using fleetdesk::ErrorCode;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

Actor Admin() {
  Actor a;
  a.kind = "user";
  a.name = "root-admin";
  a.user_id = 1;
  a.address = "198.51.100.4";
  return a;
}

std::int64_t AddUser(Store& store, const std::string& name, const std::string& role) {
  auto id = store.AddUser({0, name, role, "hash", false, kNow}, Admin());
  REQUIRE(id.ok());
  return *id;
}

NewSession Session(std::int64_t user, const std::string& hash, std::int64_t expires_ms) {
  NewSession s;
  s.token_hash = hash;
  s.csrf_token = "csrf-" + hash;
  s.user_id = user;
  s.now_ms = kNow;
  s.expires_ms = expires_ms;
  return s;
}

NewApiToken Token(const std::string& user, const std::string& hash, const std::string& scope) {
  NewApiToken t;
  t.user_name = user;
  t.token_hash = hash;
  t.scope = scope;
  t.created_ms = kNow;
  t.expires_ms = kNow + 60'000;
  return t;
}

// Runs `sql` on a connection of the test's own, past the Store, as someone with database access
// would.
fleetdesk::Status RawSql(const std::string& backend, const std::string& url,
                         const std::string& sql) {
  if (backend == "sqlite") {
    auto db = fleetdesk::server::store::sqlite::Database::Open(url);
    REQUIRE(db.ok());
    return db->Exec(sql);
  }
  auto db = fleetdesk::server::store::postgres::Connection::Open(url);
  REQUIRE(db.ok());
  return db->Exec(sql);
}

}  // namespace

TEST_CASE("the audit log refuses updates and deletes, even past the store",
          "[server][store][access]") {
  EACH_STORE();
  auto store = db.Open();
  AddUser(*store, "olga", "operator");
  for (const char* sql : {"UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"}) {
    CAPTURE(sql);
    auto refused = RawSql(backend, db.url(), sql);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("append-only"));
  }
  if (backend == "postgresql") {
    CHECK_FALSE(RawSql(backend, db.url(), "TRUNCATE audit_log").ok());
  }
  auto page = store->ListAudit({});
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0].actor.name == "root-admin");
  CHECK(page->items[0].action == "user.create");
}

TEST_CASE("disabling a user ends their sessions and revokes their tokens, audited",
          "[server][store][access]") {
  EACH_STORE();
  auto store = db.Open();
  AddUser(*store, "admin", "admin");
  const auto olga = AddUser(*store, "olga", "operator");
  REQUIRE(store->CreateSession(Session(olga, "s1", kNow + 3'600'000), Admin()).ok());
  REQUIRE(store->CreateApiToken(Token("olga", "t1", "read"), Admin()).ok());
  auto session = store->FindSession("s1", kNow + 1);
  REQUIRE(session.ok());
  REQUIRE(session->has_value());
  CHECK((*session)->csrf_token == "csrf-s1");
  auto token = store->FindApiToken("t1", kNow + 1);
  REQUIRE(token->has_value());
  CHECK((*token)->scope == "read");

  UserPatch patch;
  patch.disabled = true;
  auto disabled = store->UpdateUser(olga, patch, Admin(), kNow + 2);
  REQUIRE(disabled.ok());
  CHECK(disabled->disabled);
  CHECK_FALSE(store->FindSession("s1", kNow + 3)->has_value());
  CHECK_FALSE(store->FindApiToken("t1", kNow + 3)->has_value());
  patch.disabled = false;
  REQUIRE(store->UpdateUser(olga, patch, Admin(), kNow + 4).ok());
  CHECK_FALSE(store->FindSession("s1", kNow + 5)->has_value());   // ended for good
  CHECK_FALSE(store->FindApiToken("t1", kNow + 5)->has_value());  // revoked for good

  AuditQuery q;
  q.resource = "user";
  q.resource_id = std::to_string(olga);
  q.action = "user.update";
  auto page = store->ListAudit(q);
  REQUIRE(page->items.size() == 2);
  CHECK(page->items[1].before.at("disabled") == "false");
  CHECK(page->items[1].after.at("disabled") == "true");
  CHECK(page->items[1].actor.address == "198.51.100.4");
}

TEST_CASE("the last enabled admin can be neither disabled nor demoted", "[server][store][access]") {
  EACH_STORE();
  auto store = db.Open();
  const auto admin = AddUser(*store, "admin", "admin");
  UserPatch demote;
  demote.role = "viewer";
  CHECK(store->UpdateUser(admin, demote, Admin(), kNow).error().code ==
        ErrorCode::kFailedPrecondition);
  UserPatch disable;
  disable.disabled = true;
  CHECK(store->UpdateUser(admin, disable, Admin(), kNow).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK((*store->GetUser(admin))->role == "admin");  // the refused change left nothing behind
  AddUser(*store, "second", "admin");
  CHECK(store->UpdateUser(admin, demote, Admin(), kNow).ok());
}

TEST_CASE("a session is found until it ends or passes its absolute expiry",
          "[server][store][access]") {
  EACH_STORE();
  auto store = db.Open();
  const auto olga = AddUser(*store, "olga", "operator");
  auto id = store->CreateSession(Session(olga, "s1", kNow + 1000), Admin());
  REQUIRE(id.ok());
  CHECK(store->FindSession("s1", kNow + 999)->has_value());
  CHECK_FALSE(store->FindSession("s1", kNow + 1000)->has_value());
  REQUIRE(store->CreateSession(Session(olga, "s2", kNow + 60'000), Admin()).ok());
  auto s2 = *store->FindSession("s2", kNow);
  REQUIRE(store->TouchSession(s2->session_id, kNow + 500).ok());
  CHECK((*store->FindSession("s2", kNow + 600))->last_used_ms == kNow + 500);
  REQUIRE(store->EndSession(s2->session_id, Admin(), kNow + 700).ok());
  CHECK_FALSE(store->FindSession("s2", kNow + 800)->has_value());
}

TEST_CASE("the audit log pages newest first and filters by actor, action prefix and time",
          "[server][store][access]") {
  EACH_STORE();
  auto store = db.Open();
  for (int i = 0; i < 5; ++i) {
    AuditEntry e;
    e.at_ms = kNow + i;
    e.actor = Admin();
    e.action = i % 2 == 0 ? "host.update" : "hostgroup.update";  // a prefix must end at the dot
    e.resource = "host";
    e.resource_id = std::to_string(i);
    e.after = {{"note", "ü 中文 \"quoted\""}};
    REQUIRE(store->AppendAudit(e).ok());
  }
  AuditQuery q;
  q.limit = 2;
  auto first = store->ListAudit(q);
  REQUIRE(first->items.size() == 2);
  CHECK(first->items[0].resource_id == "4");
  REQUIRE(first->next_before_id.has_value());
  q.before_id = first->next_before_id;
  auto second = store->ListAudit(q);
  CHECK(second->items[0].resource_id == "2");
  CHECK(second->items[0].after.at("note") == "ü 中文 \"quoted\"");

  AuditQuery prefix;
  prefix.action = "host.";
  CHECK(store->ListAudit(prefix)->items.size() == 3);
  AuditQuery window;
  window.from_ms = kNow + 1;
  window.to_ms = kNow + 3;
  CHECK(store->ListAudit(window)->items.size() == 2);
  AuditQuery someone;
  someone.actor = "nobody";
  CHECK(store->ListAudit(someone)->items.empty());
}
