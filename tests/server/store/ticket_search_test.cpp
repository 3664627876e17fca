// Full-text search of tickets, notes and worklogs: the query language and snippets, then the
// search itself on both stores, English and Chinese, with filters.
#include <algorithm>
#include <catch2/catch.hpp>

#include "server/store/postgres/pq.hpp"
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
  // Any run of characters, wherever it starts and ends, alone or next to a word.
  CHECK(Found(*store, "库") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "败") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "接失") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "\"失败 postgresql\"") == std::vector<std::int64_t>{db_down});
  CHECK(Found(*store, "\"连接 postgresql\"").empty());
  CHECK(Found(*store, "库数").empty());
  // Characters apart only by spaces or punctuation are in a row, as in SQLite's index.
  auto full = File(*store, "磁盘 已满，请清理");
  CHECK(Found(*store, "盘已") == std::vector<std::int64_t>{full});
  CHECK(Found(*store, "满请") == std::vector<std::int64_t>{full});
  CHECK(Found(*store, "盘满").empty());
  CHECK(Found(*store, "pg_dump 42") == std::vector<std::int64_t>{backup});
  CHECK(Found(*store, "checksum ok ").size() == 1);
  CHECK(Found(*store, "nothing-like-this ").empty());
  // Tables this small need no index of their newest entries; SQLite never does.
  CHECK(store->RollSearchIndexes(1000)->empty());

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

namespace {

// 30,000 tickets (the even ones closed), a note on each of tickets 2-25,001, and one ticket's
// worklog of 25,000 lines: more entries than the first window along the key, more tickets than a
// filter searched from the tickets' side, and more lines of one ticket than a walk reads.
constexpr const char* kManyEntries = R"(
INSERT INTO tickets (kind, title, state, impact, urgency, priority, last_seen_ms, created_ms,
                     updated_ms, response_target_ms, resolution_target_ms)
SELECT 'incident', 'ticket ' || i || CASE WHEN i % 7 = 0 THEN ' zebra' ELSE '' END
         || CASE WHEN i % 1000 = 0 THEN ' quokka' ELSE '' END,
       CASE WHEN i % 2 = 0 THEN 'closed' ELSE 'new' END, 'medium', 'medium', 3, i, i, i, 1, 1
FROM generate_series(1, 30000) i;
INSERT INTO ticket_notes (ticket_id, at_ms, author, body)
SELECT i + 1, i, 'o', 'note ' || i || CASE WHEN i % 997 = 0 THEN ' wombat' ELSE '' END
FROM generate_series(1, 25000) i;
INSERT INTO ticket_worklog (ticket_id, at_ms, task, note, actor)
SELECT 30000, i, 'job', 'line ' || i || CASE WHEN i % 5003 = 0 THEN ' numbat' ELSE '' END, 'bot'
FROM generate_series(1, 25000) i;
ANALYZE)";

// What kManyEntries must answer: every match of a rare word, however old, and the newest
// matches of a common one.
void CheckRareAndCommonWords(Store& store) {
  auto sorted = [](std::vector<std::int64_t> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  TicketSearchQuery all;
  all.limit = 50;
  TicketSearchQuery closed = all;
  closed.filters.states = {"closed"};

  // Rare words: every match, however old, through the index once the walks found too few.
  std::vector<std::int64_t> wombats;
  std::vector<std::int64_t> closed_wombats;
  for (std::int64_t i = 997; i <= 25000; i += 997) {
    wombats.push_back(i + 1);
    if ((i + 1) % 2 == 0) closed_wombats.push_back(i + 1);
  }
  CHECK(sorted(Found(store, "wombat ", all)) == wombats);
  CHECK(sorted(Found(store, "wombat ", closed)) == closed_wombats);
  std::vector<std::int64_t> quokkas;
  for (std::int64_t i = 1000; i <= 30000; i += 1000) quokkas.push_back(i);
  CHECK(sorted(Found(store, "quokka ", closed)) == quokkas);
  // Only in the huge worklog's older lines, which the walk does not read.
  CHECK(Found(store, "numbat ", closed) == std::vector<std::int64_t>{30000});

  // A common word: the newest matches, ranked alike, newest first.
  std::vector<std::int64_t> zebras;
  for (std::int64_t i = 29995; zebras.size() < 20; i -= 7) zebras.push_back(i);
  TicketSearchQuery page;
  CHECK(Found(store, "zebra ", page) == zebras);
  std::vector<std::int64_t> closed_zebras;
  for (std::int64_t i = 29988; closed_zebras.size() < 20; i -= 14) closed_zebras.push_back(i);
  page.filters.states = {"closed"};
  CHECK(Found(store, "zebra ", page) == closed_zebras);
}

}  // namespace

TEST_CASE(
    "on PostgreSQL a search past the newest entries and the filters' newest tickets still finds "
    "every match of a rare word and the newest of a common one, with or without the indexes of "
    "ranges of the newest entries, which the leader builds one a call and drops when passed",
    "[server][store][search]") {
  fleetdesk::testing::TestDatabase db("postgresql");
  auto store = db.Open();
  auto pg = postgres::Connection::Open(db.url());
  REQUIRE(pg.ok());
  REQUIRE(pg->Exec(kManyEntries).ok());
  CheckRareAndCommonWords(*store);
  auto indexes = [&] {
    auto rows = pg->Query(
        "SELECT c.relname || (CASE WHEN i.indisvalid THEN '' ELSE ' (invalid)' END) FROM pg_index "
        "i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname ~ '_search_[0-9]' ORDER BY 1");
    REQUIRE(rows.ok());
    std::vector<std::string> names;
    for (int r = 0; r < rows->size(); ++r) names.push_back(rows->Text(r, 0));
    return names;
  };
  // Tables of no more than twice a range are searched whole.
  CHECK(store->RollSearchIndexes(20'000)->empty());
  CHECK(indexes().empty());

  // One build a call: each table's newest range, then four before it, on whole ranges.
  CHECK(*store->RollSearchIndexes(5'000) == "tickets id > 25000");
  CHECK(*store->RollSearchIndexes(5'000) == "tickets id > 20000 AND id <= 25000");
  std::vector<std::string> steps;
  for (std::string step; !(step = *store->RollSearchIndexes(5'000)).empty();) {
    steps.push_back(step);
  }
  CHECK(steps.size() == 13);
  CHECK(steps.back() == "ticket_worklog id > 0 AND id <= 5000");
  auto built = indexes();
  CHECK(built.size() == 15);
  CHECK(std::count(built.begin(), built.end(), "ticket_notes_search_20000_up") == 1);
  CHECK(std::count(built.begin(), built.end(), "tickets_search_5000_10000") == 1);
  CheckRareAndCommonWords(*store);
  // The newest notes' own words, found through the new index alone.
  std::vector<std::int64_t> newest_notes;
  for (std::int64_t i = 25 * 997; i + 1 >= 20'002; i -= 997) newest_notes.push_back(i + 1);
  TicketSearchQuery recent;
  recent.text = "wombat ";
  recent.limit = 50;
  recent.filters.from_ms = 20'002;  // tickets 20,002 on: their notes are in the newest range
  auto hits = store->SearchTickets(recent);
  REQUIRE(hits.ok());
  std::vector<std::int64_t> found;
  for (const auto& h : *hits) found.push_back(h.ticket.id);
  std::sort(found.rbegin(), found.rend());
  CHECK(found == newest_notes);

  // The newest range moves on whole ranges; the index of the one before it is built, and those
  // no longer wanted go.
  REQUIRE(pg->Exec("INSERT INTO ticket_notes (ticket_id, at_ms, author, body) SELECT 7, i, 'o', "
                   "'later ' || i FROM generate_series(1, 5001) i")
              .ok());
  CHECK(*store->RollSearchIndexes(5'000) == "ticket_notes id > 25000");
  CHECK(*store->RollSearchIndexes(5'000) == "ticket_notes id > 20000 AND id <= 25000");
  CHECK(*store->RollSearchIndexes(5'000) ==
        "ticket_notes dropped ticket_notes_search_20000_up, ticket_notes_search_0_5000");
  CHECK(store->RollSearchIndexes(5'000)->empty());
  built = indexes();
  CHECK(built.size() == 15);
  CHECK(std::count(built.begin(), built.end(), "ticket_notes_search_25000_up") == 1);
  CHECK(std::count(built.begin(), built.end(), "ticket_notes_search_0_5000") == 0);
  CHECK(Found(*store, "\"later 5001\"") == std::vector<std::int64_t>{7});
  CheckRareAndCommonWords(*store);
}

TEST_CASE(
    "on PostgreSQL a changed ticket's words go straight into its text index, while notes wait "
    "in a small pending list",
    "[server][store][search]") {
  fleetdesk::testing::TestDatabase db("postgresql");
  auto store = db.Open();
  auto pg = postgres::Connection::Open(db.url());
  REQUIRE(pg.ok());
  REQUIRE(pg->Exec("CREATE EXTENSION IF NOT EXISTS pgstattuple").ok());
  auto pending = [&](const std::string& index) {
    auto rows = pg->Query("SELECT pending_tuples FROM pgstatginindex('" + index + "'::regclass)");
    REQUIRE(rows.ok());
    return rows->Int(0, 0);
  };
  auto id = File(*store, "Disk full on db-7");
  REQUIRE(store->AddNote(id, {0, 0, 0, "", false, "Rotated the logs"}, Person("oscar"), kNow).ok());
  CHECK(pending("tickets_search") == 0);
  CHECK(pending("ticket_notes_search") == 1);
  auto limit = pg->Query(
      "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE relname = "
      "'ticket_worklog_search'");
  REQUIRE(limit.ok());
  CHECK(limit->Text(0, 0) == "gin_pending_list_limit=1024");
  // Found all the same, from the index and from the list.
  CHECK(Found(*store, "disk ") == std::vector<std::int64_t>{id});
  CHECK(Found(*store, "rotated ") == std::vector<std::int64_t>{id});
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
