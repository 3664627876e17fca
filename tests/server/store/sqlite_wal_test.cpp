// The SQLite store's WAL checkpointer, on a real database file.
#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "server/store/sqlite/sqlite.hpp"
#include "tests/support/temp_dir.hpp"

using fleetdesk::server::store::sqlite::Database;
using fleetdesk::server::store::sqlite::WalCheckpointer;

namespace {

std::int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

}  // namespace

TEST_CASE("the WAL stays bounded under a writer that never pauses, copied back off the writer",
          "[server][store][sqlite]") {
  fleetdesk::testing::TempDir dir;
  const std::string path = dir / "wal.db";
  WalCheckpointer::Limits limits;
  limits.start = 32;
  limits.restart = 256;
  limits.catch_up = 128;
  limits.limit = 1024;
  auto checkpointer = WalCheckpointer::For(path, limits);
  CHECK(WalCheckpointer::For(path) == checkpointer);  // one per file, shared by its connections
  {
    auto db = Database::Open(path);
    REQUIRE(db.ok());
    checkpointer->Attach(*db);
    // Durability is not what is tested; without fsyncs the writer outruns the checkpointer.
    REQUIRE(db->Exec("PRAGMA synchronous=OFF").ok());
    REQUIRE(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB NOT NULL)").ok());
    auto insert = db->Prepare("INSERT OR REPLACE INTO t (id, body) VALUES (?, zeroblob(3000))");
    REQUIRE(insert.ok());
    constexpr int kCommits = 6000;  // about 12,000 frames: a WAL never restarted holds them all
    for (int i = 0; i < kCommits; ++i) {
      insert->Bind(1, std::int64_t{i % 700});
      REQUIRE(insert->Run().ok());
      insert->Reset();
    }
    const std::int64_t page = 4096 + 24;  // a WAL frame
    CHECK(FileSize(path + "-wal") <= (limits.limit + 64) * page);
    CHECK(checkpointer->background_runs() > 0);
    CHECK(checkpointer->in_place_runs() > 0);

    auto count = db->Prepare("SELECT COUNT(*) FROM t");
    REQUIRE(count.ok());
    REQUIRE(*count->Step());
    CHECK(count->Int(0) == 700);
  }
  auto reopened = Database::Open(path);
  REQUIRE(reopened.ok());
  auto check = reopened->Prepare("PRAGMA integrity_check");
  REQUIRE(check.ok());
  REQUIRE(*check->Step());
  CHECK(check->Text(0) == "ok");
}
