// Identity and access over the API: the permission matrix, token scopes, sessions with their
// CSRF token and expiry, sign-in throttling, users, tokens and the audit log.
#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "tests/server/api/api_fixture.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::Credentials;
using fleetdesk::testing::ErrorOf;
using fleetdesk::testing::Fixture;

namespace {

// One endpoint as the matrix calls it, and the roles the permission table lets through. Written
// out here, apart from the server's table, so a change to either shows as a failure.
struct Expected {
  const char* method;
  const char* target;  // {host}: a host of the caller's own to archive
  const char* body;
  std::set<std::string> allowed;
};

const std::set<std::string> kAll = {"admin", "operator", "requester", "viewer"};
const std::set<std::string> kStaff = {"admin", "operator", "viewer"};
const std::set<std::string> kEditors = {"admin", "operator"};
const std::set<std::string> kAdmin = {"admin"};
const std::set<std::string> kFilers = {"admin", "operator", "requester"};

const std::vector<Expected> kMatrix = {
    {"GET", "/api/v1/hosts", "", kStaff},
    {"POST", "/api/v1/hosts", R"({"hostname":"made-by-%ROLE%"})", kEditors},
    {"GET", "/api/v1/hosts/export", "", kStaff},
    {"POST", "/api/v1/hosts/import", "hostname\nimported-%ROLE%\n", kEditors},
    {"GET", "/api/v1/hosts/1", "", kStaff},
    {"PATCH", "/api/v1/hosts/1", R"({"owner":"%ROLE%"})", kEditors},
    {"GET", "/api/v1/hosts/1/history", "", kStaff},
    {"GET", "/api/v1/hosts/1/metrics", "", kStaff},
    {"POST", "/api/v1/hosts/{host}/archive", "", kEditors},
    {"GET", "/api/v1/search?q=web", "", kStaff},
    {"GET", "/api/v1/users", "", kEditors},
    {"POST", "/api/v1/users", R"({"name":"new-%ROLE%","role":"viewer"})", kAdmin},
    {"GET", "/api/v1/users/1", "", kEditors},
    {"PATCH", "/api/v1/users/1", R"({"disabled":false})", kAdmin},
    {"GET", "/api/v1/tokens", "", kAll},
    {"POST", "/api/v1/tokens", R"({"name":"script"})", kAll},
    {"DELETE", "/api/v1/tokens/999", "", kAll},  // not found: the gate let it through
    {"GET", "/api/v1/tokens?all=true", "", kAdmin},
    {"GET", "/api/v1/enrollment-tokens", "", kAdmin},
    {"POST", "/api/v1/enrollment-tokens", R"({"name":"rack 12"})", kAdmin},
    {"DELETE", "/api/v1/enrollment-tokens/999", "", kAdmin},
    {"GET", "/api/v1/audit", "", kAdmin},
    {"POST", "/api/v1/agents/00000000-0000-0000-0000-000000000000/revoke", "", kAdmin},
    {"GET", "/api/v1/session", "", kAll},
    {"GET", "/api/v1/events", "", kAll},
    {"GET", "/api/v1/overview", "", kStaff},
    {"GET", "/api/v1/rules", "", kStaff},
    {"POST", "/api/v1/session/password", "{}", kAll},  // 400: the gate let it through
    // Ticket 1 is the admin's: requesters get 404 past the gate, not 403.
    {"GET", "/api/v1/tickets", "", kAll},
    {"GET", "/api/v1/tickets/search?q=disk", "", kAll},
    {"POST", "/api/v1/tickets", R"({"title":"filed by %ROLE%"})", kFilers},
    {"GET", "/api/v1/tickets/1", "", kAll},
    {"PATCH", "/api/v1/tickets/1", R"({"category":"%ROLE%"})", kEditors},
    {"POST", "/api/v1/tickets/1/actions", R"({"action":"start"})", kEditors},
    {"GET", "/api/v1/tickets/1/timeline", "", kAll},
    {"GET", "/api/v1/tickets/1/notes", "", kAll},
    {"POST", "/api/v1/tickets/1/notes", R"({"body":"from %ROLE%"})", kFilers},
    {"POST", "/api/v1/tickets/1/notes", R"({"body":"staff only","internal":true})", kEditors},
    {"GET", "/api/v1/tickets/1/attachments", "", kAll},
    {"POST", "/api/v1/tickets/1/attachments?name=%ROLE%.txt", "log", kFilers},
    {"GET", "/api/v1/tickets/1/attachments/999/content", "", kAll},
    {"DELETE", "/api/v1/tickets/1/attachments/999", "", kEditors},
    {"GET", "/api/v1/tickets/1/notifications", "", kStaff},
    {"GET", "/api/v1/tickets/1/worklog", "", kAll},
    {"POST", "/api/v1/tickets/1/worklog", R"({"task":"t","note":"n"})", kEditors},
    {"GET", "/api/v1/reports/monthly", "", kStaff},
    {"GET", "/api/v1/reports/noise", "", kStaff},
    {"GET", "/api/v1/maintenance", "", kStaff},
    {"POST", "/api/v1/maintenance", R"({"tag":"x","duration":"1h"})", kEditors},
    {"POST", "/api/v1/maintenance/999/end", "", kEditors},
};

std::string Fill(std::string text, const std::string& role, const std::string& host) {
  for (auto [key, value] : {std::pair<std::string, std::string>{"%ROLE%", role},
                            std::pair<std::string, std::string>{"{host}", host}}) {
    for (auto at = text.find(key); at != std::string::npos; at = text.find(key)) {
      text.replace(at, key.size(), value);
    }
  }
  return text;
}

}  // namespace

TEST_CASE("every endpoint lets exactly the roles of the permission table through",
          "[server][api][access]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1"})").status == 201);
  REQUIRE(f.Call("POST", "/api/v1/tickets", R"({"title":"the admin's"})").status == 201);
  for (const std::string role : {"admin", "operator", "requester", "viewer"}) {
    CAPTURE(role);
    const auto who = role == "admin" ? Credentials{f.token} : f.AddUser(role + "-1", role);
    auto host = f.Call("POST", "/api/v1/hosts", Fill(R"({"hostname":"gone-%ROLE%"})", role, ""));
    REQUIRE(host.status == 201);
    const auto host_id =
        std::to_string(fleetdesk::codec::Parse<fleetdesk::v1::Host>(host.body)->id());
    for (const auto& e : kMatrix) {
      const auto target = Fill(e.target, role, host_id);
      CAPTURE(e.method, target);
      auto response = f.CallWith(who, e.method, target, Fill(e.body, role, host_id));
      if (e.allowed.count(role) != 0) {
        CHECK(response.status != 401);
        CHECK(response.status != 403);
      } else {
        CHECK(response.status == 403);
        CHECK(ErrorOf(response).error().code() == "permission_denied");
      }
    }
  }
}

TEST_CASE("without credentials only the public endpoints answer; the rest say 401 first",
          "[server][api][access]") {
  Fixture f;
  for (const auto& e : kMatrix) {
    CAPTURE(e.method, e.target);
    auto response = f.Call(e.method, Fill(e.target, "x", "1"), Fill(e.body, "x", "1"), false);
    CHECK(response.status == 401);
  }
  // Even a path that does not exist: an unauthenticated caller learns nothing of what does.
  CHECK(f.Call("GET", "/api/v1/nothing", "", false).status == 401);
  CHECK(f.Call("GET", "/api/v1/nothing").status == 404);
  for (const char* open : {"/healthz", "/metrics", "/api/v1/ca"}) {
    CAPTURE(open);
    CHECK(f.Call("GET", open, "", false).status == 200);
  }
}

TEST_CASE("a read token only reads and a worklog token touches nothing else, whatever the role",
          "[server][api][access]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1"})").status == 201);
  const auto read = f.TokenOf("admin", "read");
  CHECK(f.CallWith(read, "GET", "/api/v1/hosts").status == 200);
  CHECK(f.CallWith(read, "GET", "/api/v1/audit").status == 200);
  auto patch = f.CallWith(read, "PATCH", "/api/v1/hosts/1", R"({"owner":"x"})");
  CHECK(patch.status == 403);
  CHECK_THAT(ErrorOf(patch).error().message(), Catch::Contains("scope is read"));
  CHECK(f.CallWith(read, "POST", "/api/v1/users", R"({"name":"x","role":"viewer"})").status == 403);
  // A read token makes read tokens only.
  CHECK(f.CallWith(read, "POST", "/api/v1/tokens", R"({"name":"more"})").status == 403);
  CHECK(f.CallWith(read, "POST", "/api/v1/tokens", R"({"name":"more","scope":"read"})").status ==
        403);

  const auto worklog = f.TokenOf("admin", "worklog");
  CHECK(f.CallWith(worklog, "GET", "/api/v1/hosts").status == 403);
  CHECK(f.CallWith(worklog, "GET", "/api/v1/session").status == 200);
  auto owner = fleetdesk::codec::Parse<fleetdesk::v1::Host>(f.Call("GET", "/api/v1/hosts/1").body);
  CHECK(owner->owner().empty());  // nothing the refused calls asked for was stored
}

TEST_CASE("a session signs in with a cookie, changes things only with its CSRF token, and ends",
          "[server][api][access]") {
  Fixture f;
  f.AddUser("olga", "operator", "correct horse battery");
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1"})").status == 201);

  fleetdesk::v1::SignInRequest req;
  req.set_name("olga");
  req.set_password("correct horse battery");
  auto signed_in = f.Call("POST", "/api/v1/session", fleetdesk::codec::ToJson(req), false);
  REQUIRE(signed_in.status == 201);
  std::string cookie;
  for (const auto& [header, value] : signed_in.headers) {
    if (header == "Set-Cookie") cookie = value;
  }
  CHECK_THAT(cookie, Catch::StartsWith("fd_session=fds_"));
  for (const char* attribute : {"HttpOnly", "Secure", "SameSite=Strict", "Path=/"}) {
    CHECK_THAT(cookie, Catch::Contains(attribute));
  }

  auto session = *f.SignIn("olga", "correct horse battery");
  auto me = f.CallWith(session, "GET", "/api/v1/session");
  REQUIRE(me.status == 200);
  auto parsed = fleetdesk::codec::Parse<fleetdesk::v1::Session>(me.body);
  CHECK(parsed->user().name() == "olga");
  CHECK(parsed->via() == "session");
  CHECK(parsed->csrf_token() == session.csrf);

  // The cookie alone, as a forged cross-site request would carry it, changes nothing.
  Credentials forged{"", session.cookie, ""};
  auto refused = f.CallWith(forged, "PATCH", "/api/v1/hosts/1", R"({"owner":"mallory"})");
  CHECK(refused.status == 403);
  CHECK_THAT(ErrorOf(refused).error().message(), Catch::Contains("X-CSRF-Token"));
  Credentials wrong{"", session.cookie, std::string(session.csrf.size(), 'A')};
  CHECK(f.CallWith(wrong, "PATCH", "/api/v1/hosts/1", R"({"owner":"mallory"})").status == 403);
  CHECK(f.CallWith(forged, "GET", "/api/v1/hosts/1").status == 200);  // reading needs no token
  CHECK(f.CallWith(session, "PATCH", "/api/v1/hosts/1", R"({"owner":"olga"})").status == 200);

  REQUIRE(f.CallWith(session, "DELETE", "/api/v1/session").status == 204);
  auto after = f.CallWith(session, "GET", "/api/v1/session");
  CHECK(after.status == 401);
  CHECK_THAT(ErrorOf(after).error().message(), Catch::Contains("sign in again"));
}

TEST_CASE("a session ends after its idle time and at its absolute end", "[server][api][access]") {
  api::ApiOptions options;
  options.session_idle_timeout = std::chrono::seconds(60);
  options.session_max_age = std::chrono::seconds(1);
  Fixture f(options);
  f.AddUser("olga", "operator", "correct horse battery");

  auto idle = *f.SignIn("olga", "correct horse battery");
  REQUIRE(f.CallWith(idle, "GET", "/api/v1/session").status == 200);
  // Its last use an hour ago, as if the browser had been left open.
  auto s = f.stores->Acquire();
  auto found =
      (*s)->FindSession(auth::HashToken(idle.cookie.substr(idle.cookie.find('=') + 1)), NowMs());
  REQUIRE(found.ok());
  REQUIRE(found->has_value());
  REQUIRE((*s)->TouchSession((*found)->session_id, NowMs() - 3'600'000).ok());
  auto stale = f.CallWith(idle, "GET", "/api/v1/session");
  CHECK(stale.status == 401);
  CHECK_THAT(ErrorOf(stale).error().message(), Catch::Contains("idle"));

  auto busy = *f.SignIn("olga", "correct horse battery");
  REQUIRE(f.CallWith(busy, "GET", "/api/v1/session").status == 200);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  CHECK(f.CallWith(busy, "GET", "/api/v1/session").status == 401);
}

TEST_CASE("a wrong password and an unknown name get one answer, and repeated failures wait",
          "[server][api][access]") {
  Fixture f;
  f.AddUser("olga", "operator", "correct horse battery");
  auto attempt = [&](const std::string& name, const std::string& password) {
    fleetdesk::v1::SignInRequest req;
    req.set_name(name);
    req.set_password(password);
    return f.Call("POST", "/api/v1/session", fleetdesk::codec::ToJson(req), false);
  };
  auto wrong = attempt("olga", "not the password");
  auto unknown = attempt("nobody", "not the password");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);

  for (int i = 0; i < 4; ++i) REQUIRE(attempt("olga", "still wrong").status == 401);
  auto throttled = attempt("olga", "correct horse battery");  // right, but too late
  CHECK(throttled.status == 429);
  CHECK(ErrorOf(throttled).error().code() == "rate_limited");
  bool retry_after = false;
  for (const auto& [header, value] : throttled.headers) retry_after |= header == "Retry-After";
  CHECK(retry_after);
  // An unknown name is throttled the same way, so throttling tells nothing either.
  for (int i = 0; i < 4; ++i) REQUIRE(attempt("nobody", "x").status == 401);
  CHECK(attempt("nobody", "x").status == 429);

  // Refused sign-ins are audited.
  auto audit = fleetdesk::codec::Parse<fleetdesk::v1::AuditPage>(
      f.Call("GET", "/api/v1/audit?action=session.refuse").body);
  CHECK(audit->items_size() >= 2);
}

TEST_CASE("an admin makes users; disabling one ends their sessions and revokes their tokens",
          "[server][api][access]") {
  Fixture f;
  auto made = f.Call("POST", "/api/v1/users", R"({"name":"olga","role":"operator"})");
  REQUIRE(made.status == 201);
  auto created = fleetdesk::codec::Parse<fleetdesk::v1::CreatedUser>(made.body);
  REQUIRE(created->password().size() >= 12);  // made by the server, shown once
  const auto id = std::to_string(created->user().id());

  auto session = f.SignIn("olga", created->password());
  REQUIRE(session.has_value());
  auto token = f.CallWith(*session, "POST", "/api/v1/tokens", R"({"name":"cron","ttl":"7d"})");
  REQUIRE(token.status == 201);
  Credentials script{fleetdesk::codec::Parse<fleetdesk::v1::CreatedApiToken>(token.body)->secret()};
  REQUIRE(f.CallWith(script, "GET", "/api/v1/hosts").status == 200);

  CHECK(f.Call("POST", "/api/v1/users", R"({"name":"olga","role":"viewer"})").status == 409);
  CHECK_THAT(
      ErrorOf(f.Call("POST", "/api/v1/users", R"({"name":"x","role":"root"})")).error().message(),
      Catch::Contains("role must be"));
  CHECK(f.Call("POST", "/api/v1/users", R"({"name":"Bad Name","role":"viewer"})").status == 400);
  CHECK(f.Call("POST", "/api/v1/users", R"({"name":"y","role":"viewer","password":"short"})")
            .status == 400);

  REQUIRE(f.Call("PATCH", "/api/v1/users/" + id, R"({"disabled":true})").status == 200);
  CHECK(f.CallWith(*session, "GET", "/api/v1/session").status == 401);
  CHECK(f.CallWith(script, "GET", "/api/v1/hosts").status == 401);
  CHECK_FALSE(f.SignIn("olga", created->password()).has_value());
  // Enabled again, the old token stays revoked.
  REQUIRE(f.Call("PATCH", "/api/v1/users/" + id, R"({"disabled":false})").status == 200);
  CHECK(f.CallWith(script, "GET", "/api/v1/hosts").status == 401);
  CHECK(f.SignIn("olga", created->password()).has_value());

  // The last admin stays.
  auto last = f.Call("PATCH", "/api/v1/users/1", R"({"role":"viewer"})");
  CHECK(last.status == 412);
  CHECK_THAT(ErrorOf(last).error().message(), Catch::Contains("last enabled admin"));
}

TEST_CASE("a user changes their own password with the current one; their sessions end",
          "[server][api][access]") {
  Fixture f;
  f.AddUser("olga", "operator", "correct horse battery");
  auto session = *f.SignIn("olga", "correct horse battery");
  auto bad = f.CallWith(session, "POST", "/api/v1/session/password",
                        R"({"currentPassword":"guess","newPassword":"a new long password"})");
  CHECK(bad.status == 403);
  REQUIRE(f.CallWith(session, "POST", "/api/v1/session/password",
                     R"({"currentPassword":"correct horse battery",)"
                     R"("newPassword":"a new long password"})")
              .status == 204);
  CHECK(f.CallWith(session, "GET", "/api/v1/session").status == 401);
  CHECK_FALSE(f.SignIn("olga", "correct horse battery").has_value());
  CHECK(f.SignIn("olga", "a new long password").has_value());
}

TEST_CASE("API tokens are shown once, listed without the secret, and revoked by their owner",
          "[server][api][access]") {
  Fixture f;
  auto olga = f.AddUser("olga", "operator");
  auto vera = f.AddUser("vera", "viewer");
  auto made = f.CallWith(olga, "POST", "/api/v1/tokens", R"({"name":"backup job","scope":"read"})");
  REQUIRE(made.status == 201);
  auto created = fleetdesk::codec::Parse<fleetdesk::v1::CreatedApiToken>(made.body);
  CHECK_THAT(created->secret(), Catch::StartsWith("fdt_"));
  CHECK(created->token().scope() == "read");
  CHECK(created->token().state() == "active");
  const auto id = std::to_string(created->token().id());

  auto listed = f.CallWith(olga, "GET", "/api/v1/tokens");
  CHECK(listed.body.find(created->secret()) == std::string::npos);
  CHECK(fleetdesk::codec::Parse<fleetdesk::v1::ApiTokenList>(listed.body)->items_size() == 2);
  // Another user's token is not there for a non-admin; an admin revokes anyone's.
  CHECK(f.CallWith(vera, "DELETE", "/api/v1/tokens/" + id).status == 404);
  CHECK(f.CallWith(olga, "POST", "/api/v1/tokens", R"({"name":"x","user":"vera"})").status == 403);
  auto revoked = f.CallWith(olga, "DELETE", "/api/v1/tokens/" + id);
  REQUIRE(revoked.status == 200);
  CHECK(fleetdesk::codec::Parse<fleetdesk::v1::ApiToken>(revoked.body)->state() == "revoked");
  CHECK(f.CallWith(Credentials{created->secret()}, "GET", "/api/v1/hosts").status == 401);

  CHECK(f.CallWith(olga, "POST", "/api/v1/tokens", R"({"name":"x","scope":"root"})").status == 400);
  CHECK(f.CallWith(olga, "POST", "/api/v1/tokens", R"({"name":"x","ttl":"9999d"})").status == 400);
}

TEST_CASE(
    "enrollment tokens are made, listed and revoked over the API, and a revoked one enrolls "
    "nothing",
    "[server][api][access]") {
  Fixture f;
  auto made = f.Call("POST", "/api/v1/enrollment-tokens", R"({"name":"rack 12","maxHosts":"3"})");
  REQUIRE(made.status == 201);
  auto created = fleetdesk::codec::Parse<fleetdesk::v1::CreatedEnrollmentToken>(made.body);
  CHECK_THAT(created->secret(), Catch::StartsWith("fde_"));
  CHECK(created->token().max_hosts() == 3);
  auto listed = fleetdesk::codec::Parse<fleetdesk::v1::EnrollmentTokenList>(
      f.Call("GET", "/api/v1/enrollment-tokens").body);
  REQUIRE(listed->items_size() == 1);
  CHECK(listed->items(0).name() == "rack 12");
  CHECK(f.Call("GET", "/api/v1/enrollment-tokens").body.find(created->secret()) ==
        std::string::npos);

  const auto id = std::to_string(created->token().id());
  auto revoked = f.Call("DELETE", "/api/v1/enrollment-tokens/" + id);
  REQUIRE(revoked.status == 200);
  CHECK(fleetdesk::codec::Parse<fleetdesk::v1::EnrollmentToken>(revoked.body)->state() ==
        "revoked");
  auto enroll = f.Call("POST", "/api/v1/enroll", f.EnrollBody(created->secret()), false);
  CHECK(enroll.status == 403);
  CHECK(f.HostCount() == 0);
  CHECK(f.Call("DELETE", "/api/v1/enrollment-tokens/999").status == 404);
}

TEST_CASE("the audit log names who changed what, from where, before and after",
          "[server][api][access]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/hosts", R"({"hostname":"web-1","owner":"ops"})").status == 201);
  REQUIRE(f.Call("PATCH", "/api/v1/hosts/1", R"({"owner":"dba"})").status == 200);
  REQUIRE(f.Call("POST", "/api/v1/users", R"({"name":"olga","role":"operator"})").status == 201);

  auto page = fleetdesk::codec::Parse<fleetdesk::v1::AuditPage>(
      f.Call("GET", "/api/v1/audit?resource=host&resourceId=1").body);
  REQUIRE(page->items_size() == 2);
  const auto& update = page->items(0);  // newest first
  CHECK(update.action() == "host.update");
  CHECK(update.actor().kind() == "token");
  CHECK(update.actor().name() == "admin");
  CHECK(update.actor().address() == "192.0.2.10");
  CHECK(update.before().at("owner") == "ops");
  CHECK(update.after().at("owner") == "dba");
  CHECK(page->items(1).action() == "host.create");

  auto users = fleetdesk::codec::Parse<fleetdesk::v1::AuditPage>(
      f.Call("GET", "/api/v1/audit?action=user.").body);
  REQUIRE(users->items_size() >= 1);
  CHECK(users->items(0).after().at("name") == "olga");
  CHECK(users->items(0).after().count("password") == 0);

  auto one = fleetdesk::codec::Parse<fleetdesk::v1::AuditPage>(
      f.Call("GET", "/api/v1/audit?limit=1").body);
  REQUIRE(one->items_size() == 1);
  REQUIRE_FALSE(one->next_cursor().empty());
  auto next = fleetdesk::codec::Parse<fleetdesk::v1::AuditPage>(
      f.Call("GET", "/api/v1/audit?limit=1&cursor=" + one->next_cursor()).body);
  REQUIRE(next->items_size() == 1);
  CHECK(next->items(0).id() < one->items(0).id());
  CHECK(f.Call("GET", "/api/v1/audit?colour=red").status == 400);
  CHECK(f.Call("GET", "/api/v1/audit?from=yesterday").status == 400);
}

TEST_CASE("each token and user has its own request rate; past it the API answers 429",
          "[server][api][access]") {
  api::ApiOptions options;
  options.rate_limit = 1;
  options.rate_burst = 3;
  Fixture f(options);
  const auto vera = f.AddUser("vera", "viewer");
  for (int i = 0; i < 3; ++i) REQUIRE(f.Call("GET", "/api/v1/hosts").status == 200);
  auto limited = f.Call("GET", "/api/v1/hosts");
  CHECK(limited.status == 429);
  CHECK(ErrorOf(limited).error().code() == "rate_limited");
  bool retry_after = false;
  for (const auto& [header, value] : limited.headers) retry_after |= header == "Retry-After";
  CHECK(retry_after);
  // Another credential from the same address still has its own allowance (the address's is 4x).
  CHECK(f.CallWith(vera, "GET", "/api/v1/hosts").status == 200);
}
