// libpq's pipeline mode as the PostgreSQL store uses it, on the tests' own server.
#include "server/store/postgres/pq.hpp"

#include <catch2/catch.hpp>

#include "tests/support/postgres.hpp"

using fleetdesk::ErrorCode;
using fleetdesk::server::store::postgres::Connection;
using fleetdesk::server::store::postgres::Params;

namespace {

Connection Open() {
  auto db = Connection::Open(fleetdesk::testing::TestPostgres::Shared().NewDatabase());
  REQUIRE(db.ok());
  REQUIRE(db->Exec("CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT NOT NULL)").ok());
  return std::move(*db);
}

std::int64_t Count(Connection& db) {
  auto rows = db.Query("SELECT count(*) FROM t");
  REQUIRE(rows.ok());
  return rows->Int(0, 0);
}

const std::string kInsert = "INSERT INTO t (id, v) VALUES ($1, $2)";

}  // namespace

TEST_CASE("statements sent in a pipeline all run, in order, and count the rows they changed",
          "[server][store][postgresql]") {
  auto db = Open();
  // More than one pipeline's worth: the connection reads answers on the way.
  for (std::int64_t i = 0; i < 1200; ++i) {
    REQUIRE(db.Send(kInsert, Params().Add(i).Add("first")).ok());
  }
  REQUIRE(db.Send("UPDATE t SET v = 'second' WHERE id < $1", Params().Add(std::int64_t{10})).ok());
  auto changed = db.Sync();
  REQUIRE(changed.ok());
  CHECK(*changed == 1210);
  CHECK(Count(db) == 1200);
  auto second = db.Query("SELECT count(*) FROM t WHERE v = 'second'");
  REQUIRE(second.ok());
  CHECK(second->Int(0, 0) == 10);
  // Counted once: the next Sync starts from nothing.
  auto again = db.Sync();
  REQUIRE(again.ok());
  CHECK(*again == 0);
}

TEST_CASE("a pipeline answers each statement's rows in the order they were sent",
          "[server][store][postgresql]") {
  auto db = Open();
  std::vector<Params> each;
  for (std::int64_t i : {30, 10, 20}) each.push_back(Params().Add(i).Add("x"));
  auto rows = db.Pipeline("INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id", each);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 3);
  CHECK((*rows)[0].Int(0, 0) == 30);
  CHECK((*rows)[1].Int(0, 0) == 10);
  CHECK((*rows)[2].Int(0, 0) == 20);
}

TEST_CASE(
    "a statement that fails in a pipeline fails its transaction with its own error, and the "
    "connection goes on",
    "[server][store][postgresql]") {
  auto db = Open();
  REQUIRE(db.Exec("BEGIN").ok());
  REQUIRE(db.Send(kInsert, Params().Add(std::int64_t{1}).Add("a")).ok());
  REQUIRE(db.Send(kInsert, Params().Add(std::int64_t{1}).Add("duplicate")).ok());
  REQUIRE(db.Send(kInsert, Params().Add(std::int64_t{2}).Add("b")).ok());
  SECTION("from the sync") {
    auto synced = db.Sync();
    REQUIRE_FALSE(synced.ok());
    CHECK(synced.error().code == ErrorCode::kAlreadyExists);
    CHECK_THAT(synced.error().message, Catch::Contains("duplicate key"));
    REQUIRE(db.Exec("ROLLBACK").ok());
  }
  SECTION("from the commit, which rolls back") {
    auto committed = db.Exec("COMMIT");
    REQUIRE_FALSE(committed.ok());
    CHECK(committed.error().code == ErrorCode::kAlreadyExists);
  }
  CHECK(Count(db) == 0);
  REQUIRE(db.Send(kInsert, Params().Add(std::int64_t{3}).Add("c")).ok());
  auto synced = db.Sync();
  REQUIRE(synced.ok());
  CHECK(*synced == 1);
  CHECK(Count(db) == 1);
}

TEST_CASE(
    "a connection whose session was lost reconnects at its next statement, prepared ones "
    "included",
    "[server][store][postgresql]") {
  const std::string url = fleetdesk::testing::TestPostgres::Shared().NewDatabase();
  auto db = Connection::Open(url);
  auto admin = Connection::Open(url);
  REQUIRE(db.ok());
  REQUIRE(admin.ok());
  const std::string pid_sql = "SELECT pg_backend_pid()";
  auto pid = db->Query(pid_sql);
  REQUIRE(pid.ok());
  REQUIRE(admin->Query("SELECT pg_terminate_backend($1)", Params().Add(pid->Int(0, 0))).ok());
  // The statement that meets the lost session fails; the next one runs on a new session.
  (void)db->Query(pid_sql);
  auto again = db->Query(pid_sql);
  REQUIRE(again.ok());
  CHECK(again->Int(0, 0) != pid->Int(0, 0));
}
