#include "agent/identity.hpp"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

using fleetdesk::agent::NormalizeFingerprint;

TEST_CASE("fingerprints compare equal in their usual spellings", "[agent][identity]") {
  const std::string canonical = "SHA256:" + std::string(64, 'a');
  CHECK(NormalizeFingerprint(canonical) == canonical);
  CHECK(NormalizeFingerprint(std::string(64, 'A')) == canonical);
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  CHECK(NormalizeFingerprint("sha256:" + colons) == canonical);
}

TEST_CASE("an agent that never enrolled says how to enroll", "[agent][identity]") {
  fleetdesk::testing::TempDir dir;
  auto identity = fleetdesk::agent::LoadIdentity(dir.path());
  REQUIRE_FALSE(identity.ok());
  CHECK_THAT(identity.error().message, Catch::Contains("fleetdesk-agent enroll"));
}

TEST_CASE("enrollment refuses a malformed pin before contacting anyone", "[agent][identity]") {
  fleetdesk::testing::TempDir dir;
  auto identity = fleetdesk::agent::Enroll(
      {"https://127.0.0.1:1", "fde_x", "SHA256:abc", dir.path(), "h", "m"});
  REQUIRE_FALSE(identity.ok());
  CHECK_THAT(identity.error().message, Catch::Contains("64 hex digits"));
}
