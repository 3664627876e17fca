#include "common/files.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

TEST_CASE("an atomic write replaces the file and sets its mode", "[common][files]") {
  fleetdesk::testing::TempDir dir;
  auto path = dir / "key.pem";
  REQUIRE(fleetdesk::files::WriteAtomically(path, "old", 0644).ok());
  REQUIRE(fleetdesk::files::WriteAtomically(path, "new", 0600).ok());
  CHECK(*fleetdesk::files::Read(path) == "new");
  struct stat st {};
  REQUIRE(stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_FALSE(fleetdesk::files::Exists(path + ".tmp"));
}

TEST_CASE("reading a missing file is a not-found error naming it", "[common][files]") {
  auto content = fleetdesk::files::Read("/nonexistent/fleetdesk");
  REQUIRE_FALSE(content.ok());
  CHECK(content.error().code == fleetdesk::ErrorCode::kNotFound);
  CHECK_THAT(content.error().message, Catch::Contains("/nonexistent/fleetdesk"));
}
