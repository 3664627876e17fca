// Full-text search of tickets, notes and worklogs: the query language and snippets, then the
// search itself on both stores, English and Chinese, with filters.
#include <catch2/catch.hpp>

#include "server/store/search_text.hpp"
#include "server/store/store.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;
using fleetdesk::ErrorCode;

TEST_CASE("text is indexed as words, with CJK characters words of their own", "[server][search]") {
  CHECK(search::IndexText("nginx.service FAILED: exit-code") == "nginx service failed exit code");
  CHECK(search::IndexText("数据库连接失败 on db-1") == "数 据 库 连 接 失 败 on db 1");
  CHECK(search::IndexText("Müller's café") == "müller s café");  // non-ASCII letters stay
  CHECK(search::IndexText("bad \xff byte") == "bad byte");
  // Punctuation and spaces beyond ASCII separate words as the databases' tokenizers do.
  CHECK(search::IndexText("nginx’s config — disk\u00a0full、磁盘") ==
        "nginx s config disk full 磁 盘");
}

TEST_CASE("a query has words, prefixes and phrases; the last word is a prefix while typing",
          "[server][search]") {
  auto q = search::ParseQuery(R"(disk "out of space" nginx.service conn)");
  REQUIRE(q.ok());
  CHECK(search::Fts5Match(*q) == R"("disk" AND "out of space" AND "nginx service" AND "conn"*)");
  CHECK(search::PgTsQuery(*q) ==
        "'disk' & ('out' <-> 'of' <-> 'space') & ('nginx' <-> 'service') & 'conn':*");
  // A finished word (the query ends in a space) is a word; a starred one a prefix.
  CHECK(search::Fts5Match(*search::ParseQuery("timeout ")) == R"("timeout")");
  CHECK(search::Fts5Match(*search::ParseQuery("time* x ")) == R"("time"* AND "x")");
  CHECK(search::Fts5Match(*search::ParseQuery("数据库")) == R"("数 据 库")");
  for (const char* empty : {"", "   ", "\"\"", "...", "*"}) {
    CAPTURE(empty);
    CHECK(search::ParseQuery(empty).error().code == ErrorCode::kInvalidArgument);
  }
  CHECK_FALSE(search::ParseQuery(std::string(300, 'a')).ok());
}

TEST_CASE("a snippet shows the text around the first match, escaped, matches marked",
          "[server][search]") {
  auto q = *search::ParseQuery("disk \"full\" 数据");
  CHECK(search::Snippet("the <b>Disk</b> is full; 数据库 too", q) ==
        "the &lt;b&gt;<mark>Disk</mark>&lt;/b&gt; is <mark>full</mark>; <mark>数据</mark>库 too");
  // Word starts only: "diskette" is no match for the word disk, but is for a prefix.
  CHECK(search::Snippet("a diskette", q) == "a diskette");
  CHECK(search::Snippet("a diskette", *search::ParseQuery("disk")) == "a <mark>diskette</mark>");
  const std::string longer = std::string(500, 'x') + " disk " + std::string(500, 'y');
  auto cut = search::Snippet(longer, q, 100);
  CHECK(cut.rfind("…", 0) == 0);
  CHECK_THAT(cut, Catch::Contains("<mark>disk</mark>") && Catch::EndsWith("…"));
}

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

Actor Person(const std::string& name) {
  Actor a;
  a.kind = "user";
  a.name = name;
  a.staff = true;  // an operator
  return a;
}

std::int64_t File(Store& store, const std::string& title, const std::string& description = "") {
  NewTicket n;
  n.title = title;
  n.description = description;
  auto t = store.CreateTicket(n, DefaultSlaTargets(), Person("rita"), kNow);
  REQUIRE(t.ok());
  return t->id;
}

std::vector<std::int64_t> Found(Store& store, const std::string& text,
                                TicketSearchQuery q = TicketSearchQuery{}) {
  q.text = text;
  auto hits = store.SearchTickets(q);
  if (!hits) FAIL(hits.error().message);
  std::vector<std::int64_t> out;
  for (const auto& h : *hits) out.push_back(h.ticket.id);
  return out;
}

}  // namespace

TEST_CASE("tickets are found by words of their title, notes and worklog, English or Chinese",
          "[server][store][search]") {
  EACH_STORE();
  auto store = db.Open();
  auto vpn = File(*store, "VPN access for the new intern", "She starts on Monday.");
  auto db_down = File(*store, "数据库连接失败", "PostgreSQL 主库无法连接 since 09:12");
  auto backup = File(*store, "Nightly backup");
  REQUIRE(store
              ->AddNote(vpn, {0, 0, 0, "", false, "Certificate issued to the intern's laptop"},
                        Person("oscar"), kNow)
              .ok());
  REQUIRE(
      store->AddNote(db_down, {0, 0, 0, "", true, "vendor case 4411 opened"}, Person("oscar"), kNow)
          .ok());
  REQUIRE(store
              ->AppendWorklog(backup, {0, 0, kNow, "pg_dump", "dump finished: 42 GiB, checksum ok"},
                              Person("backup-bot"))
              .ok());

  CHECK(Found(*store, "vpn") == std::vector<std::int64_t>{vpn});
  CHECK(Found(*store, "intern") == std::vector<std::int64_t>{vpn});
  CHECK(Found(*store, "certif") == std::vector<std::int64_t>{vpn});  // a prefix, while typing
  CHECK(Found(*store, "\"the new intern\"") == std::vector<std::int64_t>{vpn});
  CHECK(Found(*store, "\"new the intern\"").empty());  // a phrase is words in a row
  CHECK(Found(*store, "数据库") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "无法连接") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "连接 postgresql") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "pg_dump 42") == std::vector<std::int64_t>{backup});
  CHECK(Found(*store, "checksum ok ").size() == 1);
  CHECK(Found(*store, "nothing-like-this ").empty());

  // Internal notes only for those who may read them.
  CHECK(Found(*store, "vendor").empty());
  TicketSearchQuery staff;
  staff.internal_notes = true;
  CHECK(Found(*store, "vendor", staff) == std::vector<std::int64_t>{db_down});

  // Snippets say where.
  TicketSearchQuery q;
  q.text = "intern";
  auto hits = *store->SearchTickets(q);
  REQUIRE(hits.size() == 1);
  REQUIRE(hits[0].matches.size() == 2);
  CHECK(hits[0].matches[0].kind == "ticket");  // the title ranks above the note
  CHECK_THAT(hits[0].matches[0].snippet, Catch::Contains("<mark>intern</mark>"));
  CHECK(hits[0].matches[1].kind == "note");
  CHECK_THAT(hits[0].matches[1].snippet, Catch::Contains("<mark>intern</mark>&#39;s") ||
                                             Catch::Contains("<mark>intern</mark>'s"));
}

TEST_CASE("search takes the list's filters, and an edited title is found by its new words",
          "[server][store][search]") {
  EACH_STORE();
  auto store = db.Open();
  auto a = File(*store, "disk full on web-1");
  auto b = File(*store, "disk full on web-2");
  REQUIRE(
      store->ActOnTicket(b, {"resolve", std::nullopt, std::nullopt, ""}, Person("o"), kNow).ok());
  TicketSearchQuery open;
  open.filters.states = {"open"};
  CHECK(Found(*store, "disk full ", open) == std::vector<std::int64_t>{a});
  CHECK(Found(*store, "disk full ") == std::vector<std::int64_t>{b, a});  // newer first on a tie

  TicketPatch rename;
  rename.title = "filesystem /srv at 100 %";
  REQUIRE(store->PatchTicket(a, rename, DefaultSlaTargets(), Person("o"), kNow).ok());
  CHECK(Found(*store, "filesystem") == std::vector<std::int64_t>{a});
  CHECK(Found(*store, "disk full ") == std::vector<std::int64_t>{b});
}

TEST_CASE("matching and scoring here agree with the index: every term, more often ranks higher",
          "[server][search]") {
  auto q = *search::ParseQuery("disk \"out of space\" 数据 conn");
  CHECK(search::Matches(q, "Disk /srv out of space: 数据库 connection refused"));
  CHECK_FALSE(search::Matches(q, "Disk /srv out of space: 数据库"));  // no conn*
  CHECK_FALSE(search::Matches(q, "disk space out of: 数据库 conn"));  // not the phrase
  const auto once = search::Score(q, "disk out of space 数据 conn, and more words after it");
  const auto twice = search::Score(q, "disk disk out of space 数据 conn, and more words after");
  CHECK(once > 0);
  CHECK(twice > once);
  CHECK(search::Score(q, "nothing here") == 0);
}
