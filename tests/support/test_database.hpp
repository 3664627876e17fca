// A fresh database of one backend for store tests, and EACH_STORE() to run a test case on both.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "server/store/store.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/temp_dir.hpp"

namespace fleetdesk::testing {

class TestDatabase {
 public:
  // "sqlite": a file in a temp dir; "postgresql": a new database on the shared test server.
  explicit TestDatabase(const std::string& backend)
      : url_(backend == "sqlite" ? dir_ / "fleetdesk.db" : TestPostgres::Shared().NewDatabase()) {}
  // A new connection, migrated.
  // The file path or postgresql:// URL, for a connection of the test's own.
  const std::string& url() const { return url_; }
  std::unique_ptr<server::store::Store> Open() const {
    auto store = server::store::OpenStore(url_);
    REQUIRE(store.ok());
    REQUIRE((*store)->Migrate().ok());
    return std::move(*store);
  }

 private:
  TempDir dir_;
  std::string url_;
};

}  // namespace fleetdesk::testing

#define EACH_STORE()                                                               \
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql"); \
  CAPTURE(backend);                                                                \
  fleetdesk::testing::TestDatabase db(backend)
