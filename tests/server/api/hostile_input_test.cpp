// Hostile input across the whole API: every endpoint that reads a body is sent malformed ones,
// and each must be answered with the error contract while the database stays exactly as it was.
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "server/store/sqlite/sqlite.hpp"
#include "tests/server/api/api_fixture.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::ErrorOf;
using fleetdesk::testing::Fixture;

namespace {

using Route = std::pair<std::string, std::string>;

// Where each endpoint that reads a body is called (ids that exist), and what kind of body it
// takes. The routes that change something without reading a body are listed apart; a route in
// neither list fails the test, so a new endpoint cannot skip the sweep.
const std::map<Route, std::pair<std::string, bool>> kBodyEndpoints = {
    // route -> (target, body is CSV)
    {{"POST", "/api/v1/enroll"}, {"/api/v1/enroll", false}},
    {{"POST", "/api/v1/session"}, {"/api/v1/session", false}},
    {{"POST", "/api/v1/session/password"}, {"/api/v1/session/password", false}},
    {{"POST", "/api/v1/hosts"}, {"/api/v1/hosts", false}},
    {{"POST", "/api/v1/hosts/import"}, {"/api/v1/hosts/import", true}},
    {{"PATCH", "/api/v1/hosts/{id}"}, {"/api/v1/hosts/1", false}},
    {{"POST", "/api/v1/users"}, {"/api/v1/users", false}},
    {{"PATCH", "/api/v1/users/{id}"}, {"/api/v1/users/1", false}},
    {{"POST", "/api/v1/tokens"}, {"/api/v1/tokens", false}},
    {{"POST", "/api/v1/enrollment-tokens"}, {"/api/v1/enrollment-tokens", false}},
    {{"POST", "/api/v1/tickets"}, {"/api/v1/tickets", false}},
    {{"PATCH", "/api/v1/tickets/{id}"}, {"/api/v1/tickets/1", false}},
    {{"POST", "/api/v1/tickets/{id}/actions"}, {"/api/v1/tickets/1/actions", false}},
    {{"POST", "/api/v1/tickets/{id}/notes"}, {"/api/v1/tickets/1/notes", false}},
    {{"POST", "/api/v1/tickets/{id}/worklog"}, {"/api/v1/tickets/1/worklog", false}},
    // Any bytes are a file; these come without a type, which is refused (the checks of type
    // against content are tickets_api_test's).
    {{"POST", "/api/v1/tickets/{id}/attachments"},
     {"/api/v1/tickets/1/attachments?name=x.png", false}},
    {{"POST", "/api/v1/maintenance"}, {"/api/v1/maintenance", false}},
    {{"POST", "/api/v1/tasks"}, {"/api/v1/tasks", false}},
    {{"POST", "/api/v1/agent-profiles"}, {"/api/v1/agent-profiles", false}},
    {{"PUT", "/api/v1/agent-profiles/{id}"}, {"/api/v1/agent-profiles/1", false}},
};
const std::set<Route> kNoBody = {
    {"DELETE", "/api/v1/session"},
    {"POST", "/api/v1/hosts/{id}/archive"},
    {"DELETE", "/api/v1/tokens/{id}"},
    {"DELETE", "/api/v1/enrollment-tokens/{id}"},
    {"POST", "/api/v1/agents/{agent}/revoke"},
    {"POST", "/api/v1/maintenance/{id}/end"},
    {"DELETE", "/api/v1/tickets/{id}/attachments/{id}"},
    {"POST", "/api/v1/tasks/{id}/cancel"},
    {"DELETE", "/api/v1/agent-profiles/{id}"},
};

std::vector<std::string> HostileJson() {
  return {
      "not json",
      "{",
      R"({"name":"x")",
      "[]",
      "null",
      "42",
      R"("a string")",
      std::string(100000, '[') + std::string(100000, ']'),
      [] {
        std::string deep;
        for (int i = 0; i < 64; ++i) deep += R"({"a":)";
        deep += "1";
        return deep + std::string(64, '}');
      }(),
      R"({"noSuchField":1})",
      R"({"name":{"nested":true},"hostname":[1,2],"role":7,"owner":false,"password":{},)"
      R"("token":[],"ttlSeconds":"soon","disabled":"yes","tags":"a","maxHosts":-1e400})",
      "{\"name\":\"\xff\xfe\",\"hostname\":\"\xc3\x28\"}",
      "{\"hostname\":\"a\\u0000b\",\"name\":\"a\\u0000b\",\"owner\":\"\\ud800\"}",
  };
}

std::vector<std::string> HostileCsv() {
  return {
      "",
      "hostname\n\"unclosed\n",
      "hostname,hostname\nx,y\n",
      "no_such_column\nx\n",
      "hostname,owner\nweb-1\n",
      "hostname\n\xff\xfe\n",
      "hostname,tags\nweb-1,\"a,,b\"\n",
      std::string("hostname\nweb\0-1\n", 15),
      "{\"hostname\":\"x\"}",
  };
}

// Every row of every table, in a fixed order: equal dumps mean nothing was stored or changed.
std::string Dump(const std::string& path) {
  auto db = store::sqlite::Database::Open(path);
  REQUIRE(db.ok());
  std::vector<std::string> tables;
  auto names = db->Prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
      "ORDER BY name");
  REQUIRE(names.ok());
  while (*names->Step()) tables.push_back(names->Text(0));
  std::string out;
  for (const auto& table : tables) {
    out += "== " + table + "\n";
    sqlite3_stmt* rows = nullptr;
    const std::string sql = "SELECT * FROM \"" + table + "\" ORDER BY 1";
    REQUIRE(sqlite3_prepare_v2(db->handle(), sql.c_str(), -1, &rows, nullptr) == SQLITE_OK);
    while (sqlite3_step(rows) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(rows); ++c) {
        const auto* bytes = static_cast<const char*>(sqlite3_column_blob(rows, c));
        out += bytes == nullptr ? std::string("NULL")
                                : std::string(bytes, sqlite3_column_bytes(rows, c));
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(rows);
  }
  return out;
}

}  // namespace

TEST_CASE("every endpoint that reads a body is in the hostile-input sweep", "[server][api]") {
  for (const auto& route : api::Api::Routes()) {
    if (route.first == "GET") continue;
    CAPTURE(route.first, route.second);
    CHECK((kBodyEndpoints.count(route) + kNoBody.count(route)) == 1);
  }
}

TEST_CASE("malformed bodies get the error contract and change nothing stored", "[server][api]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1","owner":"ops"})").status == 201);
  REQUIRE(f.Call("POST", "/api/v1/tickets", R"({"title":"disk full"})").status == 201);
  // Touches the admin token's last use, so the calls below have nothing left to record.
  REQUIRE(f.Call("GET", "/api/v1/hosts").status == 200);
  const std::string database = f.dir / "fleetdesk.db";
  const std::string before = Dump(database);

  for (const auto& [route, where] : kBodyEndpoints) {
    const auto& [target, csv] = where;
    for (const auto& body : csv ? HostileCsv() : HostileJson()) {
      CAPTURE(route.first, target, body.substr(0, 80));
      auto response = f.Call(route.first, target, body);
      CHECK(response.status >= 400);
      CHECK(response.status < 500);
      CHECK(response.content_type == "application/json");
      auto error = ErrorOf(response);
      CHECK_FALSE(error.error().code().empty());
      CHECK_FALSE(error.error().message().empty());
    }
  }
  CHECK(Dump(database) == before);
}

TEST_CASE("a misspelt field is refused by name instead of being ignored", "[server][api]") {
  Fixture f;
  auto response = f.Call("POST", "/api/v1/tokens", R"({"nmae":"nightly backup"})");
  CHECK(response.status == 400);
  CHECK_THAT(ErrorOf(response).error().message(), Catch::Contains("nmae"));
  auto patch = f.Call("PATCH", "/api/v1/users/1", R"({"disabeld":true})");
  CHECK(patch.status == 400);
  CHECK_THAT(ErrorOf(patch).error().message(), Catch::Contains("disabeld"));
}
