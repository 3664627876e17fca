#include "server/api/api.hpp"

#include <catch2/catch.hpp>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "server/api/auth.hpp"
#include "server/engine/clock.hpp"
#include "tests/server/api/api_fixture.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::ErrorOf;
using fleetdesk::testing::Fixture;

TEST_CASE("enroll with a good token answers a certificate our CA signed for a new agent id",
          "[server][api]") {
  Fixture f;
  auto response = f.Call("POST", "/api/v1/enroll", f.EnrollBody(f.EnrollmentToken(60'000)), false);
  REQUIRE(response.status == 200);
  auto body = fleetdesk::codec::Parse<fleetdesk::v1::EnrollResponse>(response.body);
  REQUIRE(body.ok());
  CHECK(*fleetdesk::crypto::CommonName(body->certificate()) == body->agent_id());
  CHECK(body->ca_certificate() == f.pki.ca.certificate_pem);
  REQUIRE(body->gateway_urls_size() == 1);
  // Agents reach the gateway by the name they reached the API by.
  CHECK(body->gateway_urls(0) == "wss://fleet.example:8441/agent/v1/channel");
  CHECK(f.engine.Find(body->agent_id()).has_value());
  CHECK(f.HostCount() == 1);
}

TEST_CASE("enroll with an unknown token answers 401 and says so", "[server][api]") {
  Fixture f;
  auto response = f.Call("POST", "/api/v1/enroll", f.EnrollBody("fde_nonsense"), false);
  CHECK(response.status == 401);
  CHECK(ErrorOf(response).error().code() == "unauthenticated");
  CHECK_THAT(ErrorOf(response).error().message(), Catch::Contains("not known"));
  CHECK(f.HostCount() == 0);
}

TEST_CASE("enroll with an expired or used-up token answers 403 saying which", "[server][api]") {
  Fixture f;
  auto expired = f.Call("POST", "/api/v1/enroll", f.EnrollBody(f.EnrollmentToken(-1)), false);
  CHECK(expired.status == 403);
  CHECK_THAT(ErrorOf(expired).error().message(), Catch::Contains("expired"));

  auto once = f.EnrollmentToken(60'000, 1);
  REQUIRE(f.Call("POST", "/api/v1/enroll", f.EnrollBody(once, "m1"), false).status == 200);
  auto used = f.Call("POST", "/api/v1/enroll", f.EnrollBody(once, "m2"), false);
  CHECK(used.status == 403);
  CHECK_THAT(ErrorOf(used).error().message(), Catch::Contains("used up"));
  CHECK(f.HostCount() == 1);
}

TEST_CASE("a malformed enrollment answers 400 naming the problem and stores nothing",
          "[server][api]") {
  Fixture f;
  auto token = f.EnrollmentToken(60'000);
  struct Case {
    std::string body;
    std::string says;
  };
  auto good = fleetdesk::codec::Parse<fleetdesk::v1::EnrollRequest>(f.EnrollBody(token));
  auto with = [&](auto mutate) {
    auto r = *good;
    mutate(r);
    return fleetdesk::codec::ToJson(r);
  };
  for (const auto& c : {
           Case{"{not json", "invalid EnrollRequest JSON"},
           Case{R"({"token":5})", "token"},
           Case{with([](auto& r) { r.clear_csr(); }), "csr is required"},
           Case{with([](auto& r) { r.set_csr("garbage"); }), "csr"},
           Case{with([](auto& r) { r.set_hostname("bad host/name"); }), "hostname"},
           Case{with([](auto& r) { r.set_machine_id(""); }), "machineId"},
           Case{with([](auto& r) { r.clear_token(); }), "token is required"},
       }) {
    auto response = f.Call("POST", "/api/v1/enroll", c.body, false);
    INFO(c.body);
    CHECK(response.status == 400);
    CHECK(ErrorOf(response).error().code() == "invalid_argument");
    CHECK_THAT(ErrorOf(response).error().message(), Catch::Contains(c.says));
  }
  CHECK(f.HostCount() == 0);
  // The token was not spent by the failures.
  CHECK(f.Call("POST", "/api/v1/enroll", f.EnrollBody(token), false).status == 200);
}

TEST_CASE("hosts need a bearer token", "[server][api]") {
  Fixture f;
  auto none = f.Call("GET", "/api/v1/hosts", "", false);
  CHECK(none.status == 401);
  CHECK_THAT(ErrorOf(none).error().message(), Catch::Contains("Bearer"));
  http::Request bad;
  bad.method = "GET";
  bad.path = "/api/v1/hosts";
  bad.authorization = "Bearer fdt_wrong";
  auto wrong = f.api->Handle(bad);
  CHECK(wrong.status == 401);
  CHECK(f.Call("GET", "/api/v1/hosts").status == 200);
}

TEST_CASE("the hosts list pages with a cursor and a host reads by id", "[server][api]") {
  Fixture f;
  auto token = f.EnrollmentToken(60'000);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.Call("POST", "/api/v1/enroll", f.EnrollBody(token, "m" + std::to_string(i)), false)
                .status == 200);
  }
  auto first =
      fleetdesk::codec::Parse<fleetdesk::v1::HostList>(f.Call("GET", "/api/v1/hosts?limit=2").body);
  REQUIRE(first->items_size() == 2);
  REQUIRE_FALSE(first->next_cursor().empty());
  auto second = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(
      f.Call("GET", "/api/v1/hosts?limit=2&cursor=" + first->next_cursor()).body);
  REQUIRE(second->items_size() == 1);
  CHECK(second->next_cursor().empty());

  auto id = std::to_string(second->items(0).id());
  auto one = f.Call("GET", "/api/v1/hosts/" + id);
  REQUIRE(one.status == 200);
  CHECK(fleetdesk::codec::Parse<fleetdesk::v1::Host>(one.body)->machine_id() == "m2");
  CHECK(f.Call("GET", "/api/v1/hosts/9999").status == 404);
  CHECK(f.Call("GET", "/api/v1/hosts/abc").status == 400);
}

TEST_CASE("bad list parameters answer 400 naming them", "[server][api]") {
  Fixture f;
  CHECK_THAT(ErrorOf(f.Call("GET", "/api/v1/hosts?limit=0")).error().message(),
             Catch::Contains("limit must be between 1 and 1000"));
  CHECK_THAT(ErrorOf(f.Call("GET", "/api/v1/hosts?colour=red")).error().message(),
             Catch::Contains("colour"));
  CHECK_THAT(ErrorOf(f.Call("GET", "/api/v1/hosts?cursor=x")).error().message(),
             Catch::Contains("cursor"));
}

TEST_CASE("unknown paths answer 404 and wrong methods 405, in the error contract",
          "[server][api]") {
  Fixture f;
  auto missing = f.Call("GET", "/api/v1/nothing");
  CHECK(missing.status == 404);
  CHECK(ErrorOf(missing).error().code() == "not_found");
  auto wrong = f.Call("DELETE", "/api/v1/enroll");
  CHECK(wrong.status == 405);
  CHECK(ErrorOf(wrong).error().code() == "method_not_allowed");
  CHECK(wrong.headers == std::vector<std::pair<std::string, std::string>>{{"Allow", "POST"}});
  CHECK(f.Call("GET", "/api/v1/hosts/1/history").status == 404);
  CHECK(f.Call("POST", "/api/v1/hosts", "", false).status == 401);
}

TEST_CASE("healthz and metrics answer without a token", "[server][api]") {
  Fixture f;
  auto health = f.Call("GET", "/healthz", "", false);
  CHECK(health.status == 200);
  CHECK_THAT(health.body, Catch::Contains(R"("status":"ok")"));
  f.Call("GET", "/api/v1/nothing");
  auto metrics = f.Call("GET", "/metrics", "", false);
  CHECK(metrics.status == 200);
  CHECK_THAT(metrics.content_type, Catch::StartsWith("text/plain"));
  CHECK_THAT(metrics.body, Catch::Contains("# TYPE fleetdesk_reports_total counter"));
  CHECK_THAT(metrics.body, Catch::Contains("fleetdesk_http_errors_total 1"));
  CHECK_THAT(metrics.body, Catch::Contains("fleetdesk_ack_latency_seconds_bucket{le=\"+Inf\"}"));
  CHECK_THAT(metrics.body, Catch::Contains("process_resident_memory_bytes"));
}

TEST_CASE("PATCH sets a host's attributes and refuses unknown fields and bad values whole",
          "[server][api][hosts]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/enroll", f.EnrollBody(f.EnrollmentToken(60'000)), false).status ==
          200);
  const std::string path = "/api/v1/hosts/1";
  auto ok = f.Call("PATCH", path,
                   R"({"owner":"team-web","criticality":"high","tags":["prod","eu"],)"
                   R"("location":"上海机房"})");
  REQUIRE(ok.status == 200);
  auto host = fleetdesk::codec::Parse<fleetdesk::v1::Host>(ok.body);
  CHECK(host->owner() == "team-web");
  CHECK(host->location() == "上海机房");
  CHECK(host->tags_size() == 2);
  CHECK(host->status() == "offline");

  for (const char* bad :
       {R"({"owner":"x","colour":"red"})", R"({"criticality":"extreme"})",
        R"({"tags":["no spaces"]})", R"({"owner":7})", R"({"hostname":"x"})", R"([1,2])", ""}) {
    CAPTURE(bad);
    auto refused = f.Call("PATCH", path, bad);
    CHECK(refused.status == 400);
    CHECK_FALSE(ErrorOf(refused).error().message().empty());
  }
  auto after = fleetdesk::codec::Parse<fleetdesk::v1::Host>(f.Call("GET", path).body);
  CHECK(after->owner() == "team-web");
  CHECK(after->criticality() == "high");
  CHECK(f.Call("DELETE", path).status == 405);

  // History shows who changed what.
  auto history = fleetdesk::codec::Parse<fleetdesk::v1::HostEventList>(
      f.Call("GET", path + "/history?kind=attribute").body);
  REQUIRE(history->items_size() == 4);
  CHECK(history->items(0).actor() == "admin");
  CHECK(f.Call("GET", path + "/history?kind=weather").status == 400);
}

TEST_CASE("a CSV import lists every bad row by line and imports nothing; a good one imports all",
          "[server][api][hosts]") {
  Fixture f;
  auto bad = f.Call("POST", "/api/v1/hosts/import",
                    "hostname,owner,criticality,tags\n"
                    "web-1,team,high,prod\n"
                    "db 1,team,low,\n"
                    "cache-1,team,extreme,\"a b\"\n");
  REQUIRE(bad.status == 400);
  auto error = ErrorOf(bad).error();
  REQUIRE(error.details_size() == 2);
  CHECK(error.details(0).line() == 3);
  CHECK(error.details(0).field() == "hostname");
  CHECK(error.details(1).line() == 4);
  CHECK(error.details(1).field() == "criticality");
  CHECK(f.Call("GET", "/api/v1/hosts?status=pending").body.find("web-1") == std::string::npos);

  auto good = f.Call("POST", "/api/v1/hosts/import",
                     "\xEF\xBB\xBFhostname,serial,owner,environment,tags,notes\r\n"
                     "web-1,SN-1,team-web,production,prod;eu,\"first line\nsecond, with comma\"\r\n"
                     "db-1,,team-db,staging,,\r\n");
  REQUIRE(good.status == 200);
  auto result = fleetdesk::codec::Parse<fleetdesk::v1::ImportResult>(good.body);
  CHECK(result->created() == 2);

  auto exported = f.Call("GET", "/api/v1/hosts/export?sort=hostname");
  REQUIRE(exported.status == 200);
  CHECK(exported.content_type == "text/csv; charset=utf-8");
  CHECK_THAT(exported.body, Catch::StartsWith("id,hostname,serial,status,os,owner,"));
  CHECK_THAT(exported.body, Catch::Contains("\"first line\nsecond, with comma\""));
  // What was exported goes back in and changes nothing.
  auto again = f.Call("POST", "/api/v1/hosts/import", exported.body);
  REQUIRE(again.status == 200);
  CHECK(fleetdesk::codec::Parse<fleetdesk::v1::ImportResult>(again.body)->unchanged() == 2);

  auto list = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(
      f.Call("GET", "/api/v1/hosts?environment=production&tag=eu").body);
  REQUIRE(list->items_size() == 1);
  CHECK(list->items(0).hostname() == "web-1");
  CHECK(list->items(0).status() == "pending");
}

TEST_CASE("search answers ranked hits over REST, with the query percent-decoded",
          "[server][api][hosts]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1","location":"上海机房"})").status ==
          201);
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1"})").status == 409);
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"owner":"x"})").status == 400);
  auto found = f.Call("GET", "/api/v1/search?q=%E4%B8%8A%E6%B5%B7");  // 上海
  REQUIRE(found.status == 200);
  auto results = fleetdesk::codec::Parse<fleetdesk::v1::SearchResults>(found.body);
  REQUIRE(results->items_size() == 1);
  CHECK(results->items(0).kind() == "host");
  CHECK(results->items(0).title() == "web-1");
  CHECK(results->items(0).host_id() > 0);
  CHECK(f.Call("GET", "/api/v1/search").status == 400);
  CHECK(f.Call("GET", "/api/v1/search?q=%ZZ").status == 400);
  CHECK(f.Call("GET", "/api/v1/search?q=web&q=db").status == 400);
  CHECK(f.Call("GET", "/api/v1/search?q=web", "", false).status == 401);
}

TEST_CASE("a viewer reads hosts but may not change them", "[server][api][hosts]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1"})").status == 201);
  f.token = f.AddUser("vera", "viewer").bearer;
  CHECK(f.Call("GET", "/api/v1/hosts").status == 200);
  CHECK(f.Call("PATCH", "/api/v1/hosts/1", R"({"owner":"x"})").status == 403);
  CHECK(f.Call("POST", "/api/v1/hosts/1/archive").status == 403);
  CHECK(f.Call("POST", "/api/v1/hosts/import", "hostname\nweb-2\n").status == 403);
}

TEST_CASE("a CSV whose quote never closes names the line the quote opened on",
          "[server][api][hosts]") {
  Fixture f;
  auto response =
      f.Call("POST", "/api/v1/hosts/import", "hostname,owner\nweb-1,ops\nweb-2,\"dba\n");
  REQUIRE(response.status == 400);
  auto error = ErrorOf(response);
  REQUIRE(error.error().details_size() == 1);
  CHECK(error.error().details(0).line() == 3);
  CHECK_THAT(error.error().details(0).message(), Catch::Contains("not closed"));
  CHECK(f.HostCount() == 0);
}
