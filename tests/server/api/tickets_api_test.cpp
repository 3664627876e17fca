// The ticket desk over the API: filing, the workflow by permission, requesters kept to their own
// tickets, notes, the worklog stream with a worklog-scoped token, and maintenance windows.
#include <catch2/catch.hpp>
#include <filesystem>

#include "common/crypto.hpp"
#include "common/files.hpp"
#include "fleetdesk/v1/tickets.pb.h"
#include "server/api/attachments.hpp"
#include "tests/server/api/api_fixture.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::As;
using fleetdesk::testing::Credentials;
using fleetdesk::testing::ErrorOf;
using fleetdesk::testing::Fixture;
using fleetdesk::testing::TempDir;

namespace {

std::vector<std::string> Actions(const fleetdesk::v1::Ticket& t) {
  return {t.actions().begin(), t.actions().end()};
}

}  // namespace

TEST_CASE("a requester files a request, an operator works it through the workflow",
          "[server][api][tickets]") {
  Fixture f;
  auto rita = f.AddUser("rita", "requester");
  auto oscar = f.AddUser("oscar", "operator");
  auto filed = f.CallWith(rita, "POST", "/api/v1/tickets",
                          R"({"title":"VPN access for the new intern","urgency":"high"})");
  REQUIRE(filed.status == 201);
  auto t = As<fleetdesk::v1::Ticket>(filed);
  CHECK(t.kind() == "request");
  CHECK(t.state() == "new");
  CHECK(t.requester() == "rita");
  CHECK(t.priority() == 4);  // impact low (no host) x urgency high
  const auto path = "/api/v1/tickets/" + std::to_string(t.id());

  // The requester may not assign; the answer says who may.
  auto denied = f.CallWith(rita, "POST", path + "/actions", R"({"action":"assign","group":"x"})");
  CHECK(denied.status == 403);
  CHECK_THAT(ErrorOf(denied).error().message(), Catch::Contains("tickets.assign"));
  CHECK(Actions(As<fleetdesk::v1::Ticket>(f.CallWith(rita, "GET", path))).empty());
  CHECK(Actions(As<fleetdesk::v1::Ticket>(f.CallWith(oscar, "GET", path))) ==
        std::vector<std::string>{"assign", "start", "resolve"});

  auto assigned = f.CallWith(oscar, "POST", path + "/actions",
                             R"({"action":"assign","group":"network","comment":"taking it"})");
  REQUIRE(assigned.status == 200);
  CHECK(As<fleetdesk::v1::Ticket>(assigned).state() == "assigned");
  CHECK(As<fleetdesk::v1::Ticket>(assigned).has_responded_at());
  REQUIRE(f.CallWith(oscar, "POST", path + "/actions", R"({"action":"start"})").status == 200);
  auto resolved = f.CallWith(oscar, "POST", path + "/actions", R"({"action":"resolve"})");
  REQUIRE(resolved.status == 200);
  // A step the workflow does not have from here: 412, naming both.
  auto again = f.CallWith(oscar, "POST", path + "/actions", R"({"action":"pend"})");
  CHECK(again.status == 412);
  CHECK_THAT(ErrorOf(again).error().message(), Catch::Contains("resolved"));
  // The requester closes their own resolved ticket.
  CHECK(Actions(As<fleetdesk::v1::Ticket>(f.CallWith(rita, "GET", path))) ==
        std::vector<std::string>{"reopen", "close"});
  auto closed = f.CallWith(rita, "POST", path + "/actions", R"({"action":"close"})");
  REQUIRE(closed.status == 200);
  CHECK(As<fleetdesk::v1::Ticket>(closed).state() == "closed");

  auto timeline = As<fleetdesk::v1::TicketEventList>(f.CallWith(rita, "GET", path + "/timeline"));
  REQUIRE(timeline.items_size() == 7);  // created, the group, the comment, 4 states
  CHECK(timeline.items(0).new_value() == "closed");
  CHECK(timeline.items(0).actor() == "rita");
  auto notes = As<fleetdesk::v1::NoteList>(f.CallWith(rita, "GET", path + "/notes"));
  REQUIRE(notes.items_size() == 1);
  CHECK(notes.items(0).body() == "taking it");
}

TEST_CASE("a ticket filed with no group is routed by the assignment rules, as incidents are",
          "[server][api][tickets]") {
  api::ApiOptions options;
  // Access requests go to the helpdesk and to dora; anything about a host tagged db to the
  // DBAs; a rule for a unit pattern routes raised incidents only.
  options.assignment.push_back({"access", "*", {}, "helpdesk", "dora"});
  options.assignment.push_back({"", "postgresql*", {}, "dba-units", ""});
  options.assignment.push_back({"", "*", {"db"}, "dba", ""});
  Fixture f(options);
  auto rita = f.AddUser("rita", "requester");
  auto oscar = f.AddUser("oscar", "operator");
  f.AddUser("dora", "operator");
  auto file = [&](const Credentials& who, const std::string& body) {
    auto filed = f.CallWith(who, "POST", "/api/v1/tickets", body);
    REQUIRE(filed.status == 201);
    return As<fleetdesk::v1::Ticket>(filed);
  };
  auto access = file(rita, R"({"title":"VPN access","category":"access"})");
  CHECK(access.state() == "assigned");
  CHECK(access.group() == "helpdesk");
  CHECK(access.assignee() == "dora");
  // The timeline says the server routed it.
  auto timeline = As<fleetdesk::v1::TicketEventList>(
      f.CallWith(oscar, "GET", "/api/v1/tickets/" + std::to_string(access.id()) + "/timeline"));
  REQUIRE(timeline.items_size() == 4);  // created, group, assignee, state
  CHECK(timeline.items(0).actor() == "fleetdesk");
  CHECK(timeline.items(3).actor() == "rita");
  // No rule for this category and no host: unassigned, for people to pick up.
  auto other = file(rita, R"({"title":"Printer jam","category":"printing"})");
  CHECK(other.state() == "new");
  CHECK(other.group().empty());
  // By the host's tags.
  std::int64_t host = 0;
  {
    auto s = f.stores->Acquire();
    REQUIRE((*s)->CreateEnrollmentToken({"t", 0, INT64_MAX, std::nullopt, ""}, {}).ok());
    auto enrolled = (*s)->EnrollAgent("t", {"a-db-7", "m-db-7", "db-7", "", "", 0, NowMs()});
    REQUIRE(enrolled.ok());
    host = enrolled->id;
    store::AttributePatch patch;
    patch.tags = std::vector<std::string>{"db"};
    REQUIRE((*s)->PatchHost(host, patch, {}, NowMs()).ok());
  }
  auto slow = file(oscar, R"({"title":"Slow queries","kind":"incident","hostId":")" +
                              std::to_string(host) + R"("})");
  CHECK(slow.group() == "dba");
  CHECK(slow.assignee().empty());
  // A group named by the one filing wins.
  auto named = file(
      oscar, R"({"title":"Disk","hostId":")" + std::to_string(host) + R"(","group":"storage"})");
  CHECK(named.group() == "storage");
}

TEST_CASE("requesters see their own tickets only, and never internal notes",
          "[server][api][tickets]") {
  Fixture f;
  auto rita = f.AddUser("rita", "requester");
  auto rob = f.AddUser("rob", "requester");
  auto vic = f.AddUser("vic", "viewer");
  auto mine =
      As<fleetdesk::v1::Ticket>(f.CallWith(rita, "POST", "/api/v1/tickets", R"({"title":"mine"})"));
  REQUIRE(f.CallWith(rob, "POST", "/api/v1/tickets", R"({"title":"his"})").status == 201);
  const auto path = "/api/v1/tickets/" + std::to_string(mine.id());

  auto list = As<fleetdesk::v1::TicketList>(f.CallWith(rita, "GET", "/api/v1/tickets"));
  REQUIRE(list.items_size() == 1);
  CHECK(list.items(0).title() == "mine");
  CHECK(As<fleetdesk::v1::TicketList>(f.Call("GET", "/api/v1/tickets")).items_size() == 2);
  CHECK(f.CallWith(rob, "GET", path).status == 404);
  CHECK(f.CallWith(rob, "POST", path + "/notes", R"({"body":"hi"})").status == 404);

  REQUIRE(f.Call("POST", path + "/notes", R"({"body":"check the vendor case","internal":true})")
              .status == 201);
  REQUIRE(f.Call("POST", path + "/notes", R"({"body":"we are on it"})").status == 201);
  auto theirs = As<fleetdesk::v1::NoteList>(f.CallWith(rita, "GET", path + "/notes"));
  REQUIRE(theirs.items_size() == 1);
  CHECK(theirs.items(0).body() == "we are on it");
  CHECK(As<fleetdesk::v1::NoteList>(f.CallWith(vic, "GET", path + "/notes")).items_size() == 2);
  auto internal = f.CallWith(rita, "POST", path + "/notes", R"({"body":"x","internal":true})");
  CHECK(internal.status == 403);
  // Requesters file requests; the rest of a ticket's fields are the operators'.
  CHECK(f.CallWith(rita, "POST", "/api/v1/tickets", R"({"title":"x","kind":"incident"})").status ==
        403);
  CHECK(f.CallWith(vic, "POST", "/api/v1/tickets", R"({"title":"x"})").status == 403);
}

TEST_CASE("a worklog-scoped token appends to the worklog and nothing else; the stream pages",
          "[server][api][tickets]") {
  Fixture f;
  f.AddUser("ci", "operator");
  auto bot = f.TokenOf("ci", "worklog");
  auto t = As<fleetdesk::v1::Ticket>(f.Call("POST", "/api/v1/tickets", R"({"title":"deploy"})"));
  const auto path = "/api/v1/tickets/" + std::to_string(t.id());
  for (int i = 0; i < 7; ++i) {
    auto added = f.CallWith(bot, "POST", path + "/worklog",
                            R"({"task":"deploy 4.2","note":"step )" + std::to_string(i) + R"("})");
    REQUIRE(added.status == 201);
    CHECK(As<fleetdesk::v1::WorklogEntry>(added).actor() == "ci");
  }
  auto page = As<fleetdesk::v1::WorklogList>(f.Call("GET", path + "/worklog?limit=5"));
  CHECK(page.total() == 7);
  REQUIRE(page.items_size() == 5);
  CHECK(page.items(0).note() == "step 6");
  auto rest = As<fleetdesk::v1::WorklogList>(
      f.Call("GET", path + "/worklog?limit=5&cursor=" + page.next_cursor()));
  CHECK(rest.items_size() == 2);
  CHECK(rest.next_cursor().empty());
  // The token can do nothing else, not even read.
  CHECK(f.CallWith(bot, "GET", path).status == 403);
  CHECK(f.CallWith(bot, "POST", path + "/notes", R"({"body":"x"})").status == 403);
  // The worklog stays out of the ticket's conversation and timeline.
  CHECK(As<fleetdesk::v1::NoteList>(f.Call("GET", path + "/notes")).items_size() == 0);
  CHECK(As<fleetdesk::v1::TicketEventList>(f.Call("GET", path + "/timeline")).items_size() == 1);
  // Bad entries name the field; a missing ticket is 404.
  auto empty = f.CallWith(bot, "POST", path + "/worklog", R"({"task":"x"})");
  CHECK(empty.status == 400);
  CHECK_THAT(ErrorOf(empty).error().message(), Catch::Contains("note"));
  CHECK(
      f.CallWith(bot, "POST", "/api/v1/tickets/999/worklog", R"({"task":"x","note":"y"})").status ==
      404);
}

TEST_CASE("tickets are filtered by state, priority and assignee, and paged newest first",
          "[server][api][tickets]") {
  Fixture f;
  for (int i = 0; i < 5; ++i) {
    const char* urgency = i % 2 == 0 ? "critical" : "low";
    REQUIRE(f.Call("POST", "/api/v1/tickets",
                   std::string(R"({"title":"t)") + std::to_string(i) + R"(","urgency":")" +
                       urgency + R"("})")
                .status == 201);
  }
  REQUIRE(
      f.Call("POST", "/api/v1/tickets/3/actions", R"({"action":"assign","assigneeId":1})").status ==
      200);
  REQUIRE(f.Call("POST", "/api/v1/tickets/4/actions", R"({"action":"resolve"})").status == 200);
  auto titles = [&](const std::string& query) {
    auto list = As<fleetdesk::v1::TicketList>(f.Call("GET", "/api/v1/tickets" + query));
    std::vector<std::string> out;
    for (const auto& t : list.items()) out.push_back(t.title());
    return out;
  };
  CHECK(titles("") == std::vector<std::string>{"t4", "t3", "t2", "t1", "t0"});
  CHECK(titles("?state=open") == std::vector<std::string>{"t4", "t2", "t1", "t0"});
  CHECK(titles("?state=resolved,closed") == std::vector<std::string>{"t3"});
  CHECK(titles("?priority=3") == std::vector<std::string>{"t4", "t2", "t0"});
  CHECK(titles("?assignee=me") == std::vector<std::string>{"t2"});
  CHECK(titles("?unassigned=true&state=open") == std::vector<std::string>{"t4", "t1", "t0"});
  auto first = As<fleetdesk::v1::TicketList>(f.Call("GET", "/api/v1/tickets?limit=2"));
  CHECK(titles("?limit=2&cursor=" + first.next_cursor()) == std::vector<std::string>{"t2", "t1"});
  auto bad = f.Call("GET", "/api/v1/tickets?state=sleeping");
  CHECK(bad.status == 400);
  CHECK_THAT(ErrorOf(bad).error().message(), Catch::Contains("sleeping"));
  CHECK(f.Call("GET", "/api/v1/tickets?colour=red").status == 400);
}

TEST_CASE("maintenance windows are made, listed and ended over the API", "[server][api][tickets]") {
  Fixture f;
  auto made = f.Call("POST", "/api/v1/maintenance",
                     R"({"tag":"db","duration":"2h","reason":"PostgreSQL 16 upgrade"})");
  REQUIRE(made.status == 201);
  auto w = As<fleetdesk::v1::MaintenanceWindow>(made);
  CHECK(w.tag() == "db");
  CHECK(w.ends_at().seconds() - w.starts_at().seconds() == 7200);
  CHECK(
      As<fleetdesk::v1::MaintenanceWindowList>(f.Call("GET", "/api/v1/maintenance")).items_size() ==
      1);
  CHECK(f.Call("POST", "/api/v1/maintenance", R"({"tag":"db"})").status == 400);
  CHECK(f.Call("POST", "/api/v1/maintenance", R"({"hostId":77,"duration":"1h"})").status == 400);
  CHECK(f.Call("POST", "/api/v1/maintenance", R"({"tag":"db","duration":"soon"})").status == 400);
  auto ended = f.Call("POST", "/api/v1/maintenance/" + std::to_string(w.id()) + "/end");
  REQUIRE(ended.status == 200);
  CHECK(
      As<fleetdesk::v1::MaintenanceWindowList>(f.Call("GET", "/api/v1/maintenance")).items_size() ==
      0);
  CHECK(As<fleetdesk::v1::MaintenanceWindowList>(f.Call("GET", "/api/v1/maintenance?all=true"))
            .items_size() == 1);
  CHECK(f.Call("POST", "/api/v1/maintenance/" + std::to_string(w.id()) + "/end").status == 412);
}

TEST_CASE("ticket search finds words in titles, notes and worklogs, and the global search too",
          "[server][api][tickets][search]") {
  Fixture f;
  auto rita = f.AddUser("rita", "requester");
  auto mine = As<fleetdesk::v1::Ticket>(
      f.CallWith(rita, "POST", "/api/v1/tickets", R"({"title":"打印机卡纸 printer jam"})"));
  auto other = As<fleetdesk::v1::Ticket>(
      f.Call("POST", "/api/v1/tickets", R"({"title":"printer toner low"})"));
  const auto other_path = "/api/v1/tickets/" + std::to_string(other.id());
  REQUIRE(f.Call("POST", other_path + "/notes", R"({"body":"secret vendor price","internal":true})")
              .status == 201);

  auto found =
      As<fleetdesk::v1::TicketSearchResults>(f.Call("GET", "/api/v1/tickets/search?q=printer%20"));
  REQUIRE(found.items_size() == 2);
  CHECK_THAT(found.items(0).matches(0).snippet(), Catch::Contains("<mark>printer</mark>"));
  auto chinese = As<fleetdesk::v1::TicketSearchResults>(
      f.Call("GET", "/api/v1/tickets/search?q=%E5%8D%A1%E7%BA%B8"));  // 卡纸
  REQUIRE(chinese.items_size() == 1);
  CHECK(chinese.items(0).ticket().id() == mine.id());
  CHECK(As<fleetdesk::v1::TicketSearchResults>(
            f.Call("GET", "/api/v1/tickets/search?q=vendor&state=open"))
            .items_size() == 1);

  // A requester finds their own tickets, and no internal note.
  auto theirs = As<fleetdesk::v1::TicketSearchResults>(
      f.CallWith(rita, "GET", "/api/v1/tickets/search?q=printer%20"));
  REQUIRE(theirs.items_size() == 1);
  CHECK(theirs.items(0).ticket().id() == mine.id());

  auto global = As<fleetdesk::v1::SearchResults>(f.Call("GET", "/api/v1/search?q=toner"));
  REQUIRE(global.items_size() == 1);
  CHECK(global.items(0).kind() == "ticket");
  CHECK(global.items(0).ref() == std::to_string(other.id()));
  CHECK_THAT(global.items(0).snippet(), Catch::Contains("<mark>toner</mark>"));

  CHECK(f.Call("GET", "/api/v1/tickets/search").status == 400);
  auto empty = f.Call("GET", "/api/v1/tickets/search?q=%22%22");
  CHECK(empty.status == 400);
  CHECK_THAT(ErrorOf(empty).error().message(), Catch::Contains("nothing to search for"));
}

TEST_CASE("reports answer monthly figures as JSON or CSV, and the noisiest hosts",
          "[server][api][reports]") {
  Fixture f;
  REQUIRE(f.Call("POST", "/api/v1/tickets", R"({"title":"a","urgency":"high","category":"mail"})")
              .status == 201);
  REQUIRE(f.Call("POST", "/api/v1/tickets/1/actions", R"({"action":"resolve"})").status == 200);
  auto report =
      As<fleetdesk::v1::MonthlyReport>(f.Call("GET", "/api/v1/reports/monthly?by=category"));
  CHECK(report.by() == "category");
  REQUIRE(report.items_size() == 1);  // the current month; the months before it have no tickets
  CHECK(report.items(0).value() == "mail");
  CHECK(report.items(0).opened() == 1);
  CHECK(report.items(0).resolved() == 1);
  CHECK_FALSE(report.items(0).final());
  auto csv = f.Call("GET", "/api/v1/reports/monthly?by=category&format=csv");
  CHECK(csv.status == 200);
  CHECK(csv.content_type == "text/csv; charset=utf-8");
  CHECK_THAT(csv.body,
             Catch::StartsWith("month,category,opened,resolved,") && Catch::Contains(",mail,1,1,"));
  CHECK(f.Call("GET", "/api/v1/reports/monthly?by=colour").status == 400);
  CHECK(f.Call("GET", "/api/v1/reports/monthly?from=2026-1").status == 400);
  auto noise = f.Call("GET", "/api/v1/reports/noise?what=hosts&limit=5");
  CHECK(noise.status == 200);
  CHECK(f.Call("GET", "/api/v1/reports/noise?what=colours").status == 400);
}

namespace {

http::Response Upload(Fixture& f, const Credentials& who, const std::string& target,
                      const std::string& content_type, const std::string& body) {
  auto r = f.Request("POST", target, body);
  r.authorization = "Bearer " + who.bearer;
  r.content_type = content_type;
  return f.api->Handle(r);
}

std::string Header(const http::Response& response, const std::string& name) {
  for (const auto& [header, value] : response.headers) {
    if (header == name) return value;
  }
  return "";
}

const std::string kPng("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);

}  // namespace

TEST_CASE("attachments are checked, stored by their digest, and served only as downloads",
          "[server][api][tickets]") {
  api::ApiOptions options;
  TempDir store_dir;
  options.attachments.dir = store_dir.path();
  options.attachments.max_bytes = 1024;
  Fixture f(options);
  auto rita = f.AddUser("rita", "requester");
  auto oscar = f.AddUser("oscar", "operator");
  auto victor = f.AddUser("victor", "viewer");
  auto filed = f.CallWith(rita, "POST", "/api/v1/tickets", R"({"title":"Printer jam"})");
  REQUIRE(filed.status == 201);
  const auto path =
      "/api/v1/tickets/" + std::to_string(As<fleetdesk::v1::Ticket>(filed).id()) + "/attachments";

  auto shot = Upload(f, rita, path + "?name=jam%20%E5%9B%BE.png", "image/png", kPng);
  REQUIRE(shot.status == 201);
  auto a = As<fleetdesk::v1::Attachment>(shot);
  CHECK(a.name() == "jam 图.png");
  CHECK(a.content_type() == "image/png");
  CHECK(a.size_bytes() == 16);
  CHECK(a.author() == "rita");
  CHECK(a.sha256() == fleetdesk::crypto::Sha256Hex(kPng));
  // On disk under its digest, nowhere else.
  CHECK(*fleetdesk::files::Read(store_dir.path() + "/" + a.sha256().substr(0, 2) + "/" +
                                a.sha256()) == kPng);
  auto log = Upload(f, oscar, path + "?name=cups.log", "text/plain; charset=utf-8",
                    "E [22/Nov/2026] paper jam\n");
  REQUIRE(log.status == 201);
  CHECK(As<fleetdesk::v1::Attachment>(log).content_type() == "text/plain");

  // Each refusal names what was wrong, and nothing is stored.
  auto refused = [&](const http::Response& r, int status, const std::string& says) {
    CHECK(r.status == status);
    CHECK_THAT(ErrorOf(r).error().message(), Catch::Contains(says));
  };
  refused(Upload(f, oscar, path + "?name=x.png", "image/png", "GIF89a not a png"), 400,
          "not image/png");
  refused(Upload(f, oscar, path + "?name=x.txt", "text/plain", std::string("a\0b", 3)), 400,
          "UTF-8");
  refused(Upload(f, oscar, path + "?name=x.html", "text/html", "<script>"), 400,
          "text/html are not accepted");
  refused(Upload(f, oscar, path + "?name=../etc/passwd", "text/plain", "x"), 400, "without a path");
  refused(Upload(f, oscar, path, "text/plain", "x"), 400, "name is required");
  refused(Upload(f, oscar, path + "?name=x.txt", "", "x"), 400, "Content-Type is required");
  refused(Upload(f, oscar, path + "?name=x.txt", "text/plain", ""), 400, "empty");
  refused(Upload(f, oscar, path + "?name=big.txt", "text/plain", std::string(1025, 'a')), 413,
          "at most 1024 bytes");
  refused(Upload(f, oscar, path + "?name=x.txt&size=1", "text/plain", "x"), 400, "size");
  refused(Upload(f, victor, path + "?name=x.txt", "text/plain", "x"), 403, "attachments.add");
  refused(Upload(f, oscar, "/api/v1/tickets/404/attachments?name=x.txt", "text/plain", "x"), 404,
          "404");

  auto listed = As<fleetdesk::v1::AttachmentList>(f.CallWith(victor, "GET", path));
  REQUIRE(listed.items_size() == 2);
  CHECK(listed.items(1).name() == "cups.log");

  auto got = f.CallWith(victor, "GET", path + "/" + std::to_string(a.id()) + "/content");
  REQUIRE(got.status == 200);
  CHECK(got.body == kPng);
  CHECK(got.content_type == "image/png");
  CHECK(Header(got, "Content-Disposition") ==
        "attachment; filename=\"jam ___.png\"; filename*=UTF-8''jam%20%E5%9B%BE.png");
  CHECK_THAT(Header(got, "Content-Security-Policy"), Catch::Contains("sandbox"));
  CHECK(f.CallWith(victor, "GET", path + "/999/content").status == 404);

  // Another requester does not see the ticket, so neither its files.
  auto ruth = f.AddUser("ruth", "requester");
  CHECK(f.CallWith(ruth, "GET", path).status == 404);
  CHECK(f.CallWith(ruth, "GET", path + "/" + std::to_string(a.id()) + "/content").status == 404);
  CHECK(Upload(f, ruth, path + "?name=x.txt", "text/plain", "x").status == 404);

  // A file changed on disk behind the server's back is not served as if it were the upload.
  REQUIRE(fleetdesk::files::WriteAtomically(
              store_dir.path() + "/" + a.sha256().substr(0, 2) + "/" + a.sha256(), "tampered", 0640)
              .ok());
  CHECK(f.CallWith(victor, "GET", path + "/" + std::to_string(a.id()) + "/content").status == 500);
}

TEST_CASE(
    "a removed attachment is gone from the list and its file with the last attachment that "
    "used it; only staff remove one",
    "[server][api][tickets]") {
  api::ApiOptions options;
  TempDir store_dir;
  options.attachments.dir = store_dir.path();
  Fixture f(options);
  auto rita = f.AddUser("rita", "requester");
  auto oscar = f.AddUser("oscar", "operator");
  auto victor = f.AddUser("victor", "viewer");
  auto filed = f.CallWith(rita, "POST", "/api/v1/tickets", R"({"title":"VPN logs"})");
  REQUIRE(filed.status == 201);
  const auto path =
      "/api/v1/tickets/" + std::to_string(As<fleetdesk::v1::Ticket>(filed).id()) + "/attachments";
  const std::string text = "password=hunter2\n";
  auto first =
      As<fleetdesk::v1::Attachment>(Upload(f, rita, path + "?name=vpn.log", "text/plain", text));
  auto second = As<fleetdesk::v1::Attachment>(
      Upload(f, rita, path + "?name=vpn-copy.log", "text/plain", text));
  const auto file = store_dir.path() + "/" + first.sha256().substr(0, 2) + "/" + first.sha256();
  REQUIRE(fleetdesk::files::Exists(file));

  auto refused = f.CallWith(rita, "DELETE", path + "/" + std::to_string(first.id()));
  CHECK(refused.status == 403);
  CHECK_THAT(ErrorOf(refused).error().message(), Catch::Contains("attachments.remove"));
  CHECK(f.CallWith(victor, "DELETE", path + "/" + std::to_string(first.id())).status == 403);
  CHECK(f.CallWith(oscar, "DELETE", path + "/999").status == 404);
  CHECK(As<fleetdesk::v1::AttachmentList>(f.CallWith(victor, "GET", path)).items_size() == 2);

  auto removed = f.CallWith(oscar, "DELETE", path + "/" + std::to_string(first.id()));
  REQUIRE(removed.status == 200);
  CHECK(As<fleetdesk::v1::Attachment>(removed).name() == "vpn.log");
  CHECK(fleetdesk::files::Exists(file));  // the copy still uses it
  auto copy = f.CallWith(victor, "GET", path + "/" + std::to_string(second.id()) + "/content");
  CHECK(copy.body == text);
  CHECK(f.CallWith(oscar, "DELETE", path + "/" + std::to_string(second.id())).status == 200);
  CHECK_FALSE(fleetdesk::files::Exists(file));
  CHECK(As<fleetdesk::v1::AttachmentList>(f.CallWith(victor, "GET", path)).items_size() == 0);
  CHECK(f.CallWith(victor, "GET", path + "/" + std::to_string(second.id()) + "/content").status ==
        404);
  // The same bytes attached again are stored again.
  auto again = Upload(f, rita, path + "?name=vpn.log", "text/plain", text);
  REQUIRE(again.status == 201);
  CHECK(f.CallWith(
             victor, "GET",
             path + "/" + std::to_string(As<fleetdesk::v1::Attachment>(again).id()) + "/content")
            .body == text);
}

TEST_CASE(
    "a file is removed only when no attachment uses it, before and after it is moved aside, and "
    "one put back after a removal is there again",
    "[server][api][tickets]") {
  TempDir dir;
  const api::AttachmentFiles files(dir.path());
  const std::string sha = fleetdesk::crypto::Sha256Hex("bytes");
  const auto path = dir.path() + "/" + sha.substr(0, 2) + "/" + sha;
  REQUIRE(files.Put(sha, "bytes").ok());
  // Still used (an upload committed its row meanwhile), or the question failed: it stays.
  CHECK(files.Remove(sha, [] { return fleetdesk::Result<bool>(true); }).ok());
  CHECK(*files.Get(sha) == "bytes");
  auto failed = files.Remove(sha, [] {
    return fleetdesk::Result<bool>(
        fleetdesk::MakeError(fleetdesk::ErrorCode::kUnavailable, "database gone"));
  });
  CHECK(failed.error().message == "database gone");
  CHECK(*files.Get(sha) == "bytes");
  // Used until it was moved aside (an upload committed meanwhile): put back.
  int asked = 0;
  CHECK(files.Remove(sha, [&] { return fleetdesk::Result<bool>(++asked == 2); }).ok());
  CHECK(asked == 2);
  CHECK(*files.Get(sha) == "bytes");
  // Unused: gone, nothing left beside it; a second removal finds nothing to do.
  CHECK(files.Remove(sha, [] { return fleetdesk::Result<bool>(false); }).ok());
  CHECK_FALSE(fleetdesk::files::Exists(path));
  CHECK(std::filesystem::is_empty(dir.path() + "/" + sha.substr(0, 2)));
  CHECK(files.Remove(sha, [] { return fleetdesk::Result<bool>(false); }).ok());
  // An upload that committed its row after the removal asked puts the file back.
  REQUIRE(files.Put(sha, "bytes").ok());
  CHECK(*files.Get(sha) == "bytes");
}

TEST_CASE("without an attachment directory the bytes are kept in the database",
          "[server][api][tickets]") {
  Fixture f;  // options.attachments.dir empty, as on PostgreSQL by default
  auto filed = f.Call("POST", "/api/v1/tickets", R"({"title":"Report attached"})");
  REQUIRE(filed.status == 201);
  const auto path =
      "/api/v1/tickets/" + std::to_string(As<fleetdesk::v1::Ticket>(filed).id()) + "/attachments";
  auto r = f.Request("POST", path + "?name=report.pdf", "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");
  r.authorization = "Bearer " + f.token;
  r.content_type = "application/pdf";
  auto added = f.api->Handle(r);
  REQUIRE(added.status == 201);
  auto id = As<fleetdesk::v1::Attachment>(added).id();
  auto got = f.Call("GET", path + "/" + std::to_string(id) + "/content");
  REQUIRE(got.status == 200);
  CHECK(got.body == "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n");
}

TEST_CASE("a ticket's notifications say what was sent where, without a webhook's secret path",
          "[server][api][tickets]") {
  Fixture f;
  auto filed = f.Call("POST", "/api/v1/tickets", R"({"title":"Disk full"})");
  REQUIRE(filed.status == 201);
  const auto id = As<fleetdesk::v1::Ticket>(filed).id();
  store::NotificationRecord hook;
  hook.ticket_id = id;
  hook.event = "opened";
  hook.route = "chat";
  hook.channel = "webhook";
  hook.target = "https://hooks.example.com/services/T000/B000/SECRET?x=1";
  hook.body = "{}";
  hook.created_ms = NowMs();
  hook.next_ms = NowMs();
  store::NotificationRecord mail = hook;
  mail.route = "oncall";
  mail.channel = "email";
  mail.target = "oncall@example.com";
  mail.subject = "[fleetdesk] Disk full";
  store::NotificationRecord basic = hook;
  basic.target = "https://bot:hunter2@alerts.example.com";
  {
    auto s = f.stores->Acquire();
    REQUIRE((*s)->EnqueueNotifications({hook, mail, basic}).ok());
    auto claimed = (*s)->ClaimNotification(NowMs(), 60'000);
    REQUIRE((*claimed).has_value());
    REQUIRE((*s)->FinishNotification((*claimed)->id, true, NowMs(), "", std::nullopt).ok());
  }
  auto viewer = f.AddUser("vera", "viewer");
  auto list = As<fleetdesk::v1::SentNotificationList>(
      f.CallWith(viewer, "GET", "/api/v1/tickets/" + std::to_string(id) + "/notifications"));
  REQUIRE(list.items_size() == 3);
  CHECK(list.items(0).target() == "https://hooks.example.com/…");
  CHECK(list.items(2).target() == "https://alerts.example.com");
  CHECK(list.items(0).status() == "delivered");
  CHECK(list.items(0).attempts() == 1);
  CHECK(list.items(0).has_delivered_at());
  CHECK(list.items(1).target() == "oncall@example.com");
  CHECK(list.items(1).status() == "pending");
  CHECK(list.items(1).has_next_attempt_at());
  CHECK(f.Call("GET", "/api/v1/tickets/404/notifications").status == 404);
}

TEST_CASE("the ticket list takes a sort, pages it with its own cursor, and refuses a wrong one",
          "[server][api][tickets]") {
  Fixture f;
  for (const char* urgency : {"low", "critical", "medium"}) {
    REQUIRE(f.Call("POST", "/api/v1/tickets",
                   std::string(R"({"title":"t","impact":"high","urgency":")") + urgency + "\"}")
                .status == 201);
  }
  auto first =
      As<fleetdesk::v1::TicketList>(f.Call("GET", "/api/v1/tickets?sort=priority&limit=2"));
  REQUIRE(first.items_size() == 2);
  CHECK(first.items(0).id() == 2);  // the critical one
  CHECK(first.items(0).priority() <= first.items(1).priority());
  REQUIRE_FALSE(first.next_cursor().empty());
  auto second = As<fleetdesk::v1::TicketList>(
      f.Call("GET", "/api/v1/tickets?sort=priority&limit=2&cursor=" + first.next_cursor()));
  REQUIRE(second.items_size() == 1);
  CHECK(second.items(0).id() == 1);  // the low one, last
  CHECK(second.next_cursor().empty());

  auto oldest = As<fleetdesk::v1::TicketList>(f.Call("GET", "/api/v1/tickets?sort=oldest"));
  REQUIRE(oldest.items_size() == 3);
  CHECK(oldest.items(0).id() == 1);

  auto bad = f.Call("GET", "/api/v1/tickets?sort=loudest");
  CHECK(bad.status == 400);
  CHECK_THAT(ErrorOf(bad).error().message(), Catch::Contains("loudest"));
  for (const char* cursor : {"7", "x.3", "3.", "-1.4", "2.0"}) {
    CAPTURE(cursor);
    auto wrong = f.Call("GET", std::string("/api/v1/tickets?sort=priority&cursor=") + cursor);
    CHECK(wrong.status == 400);
    CHECK_THAT(ErrorOf(wrong).error().message(), Catch::Contains("sort=priority"));
  }
}
