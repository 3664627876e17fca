#include "server/server_config.hpp"

#include <catch2/catch.hpp>

#include "tests/support/temp_dir.hpp"

using fleetdesk::server::ParseListen;
using fleetdesk::server::RedactDatabaseUrl;

TEST_CASE("a database password never reaches the log", "[server][config]") {
  CHECK(RedactDatabaseUrl("postgresql://fleet:s3cr:et@db.example:5432/fleetdesk") ==
        "postgresql://fleet:***@db.example:5432/fleetdesk");
  CHECK(RedactDatabaseUrl("postgresql://db.example/fleetdesk?user=fleet&password=s3cret&x=1") ==
        "postgresql://db.example/fleetdesk?user=fleet&password=***&x=1");
  CHECK(RedactDatabaseUrl("postgresql://fleet@db.example/fleetdesk") ==
        "postgresql://fleet@db.example/fleetdesk");
  CHECK(RedactDatabaseUrl("/var/lib/fleetdesk/fleetdesk.db") == "/var/lib/fleetdesk/fleetdesk.db");
}

TEST_CASE("listen addresses take IPv4, bracketed IPv6 and port 0", "[server][config]") {
  CHECK(ParseListen("0.0.0.0:8443")->port == 8443);
  CHECK(ParseListen("[::]:8441")->address == "::");
  CHECK(ParseListen("127.0.0.1:0")->port == 0);
  CHECK_FALSE(ParseListen("localhost").ok());
}

TEST_CASE("the shipped server.toml loads as the defaults, and session limits are checked",
          "[server][config]") {
  fleetdesk::testing::TempDir dir;
  auto shipped = fleetdesk::server::LoadServerConfig(
      FLEETDESK_SOURCE_DIR "/packaging/config/server.toml", true);
  REQUIRE(shipped.ok());
  CHECK(shipped->session_idle_timeout == std::chrono::minutes(30));
  CHECK(shipped->session_max_age == std::chrono::hours(12));
  CHECK(shipped->attachments.types == fleetdesk::server::api::DefaultAttachmentTypes());
  CHECK(shipped->attachments.max_bytes == fleetdesk::server::api::AttachmentOptions{}.max_bytes);
  // Its SLA table spells out the defaults.
  const auto defaults = fleetdesk::server::store::DefaultSlaTargets();
  for (std::size_t p = 0; p < defaults.size(); ++p) {
    CHECK(shipped->sla[p].first_response_ms == defaults[p].first_response_ms);
    CHECK(shipped->sla[p].resolution_ms == defaults[p].resolution_ms);
  }
  fleetdesk::testing::WriteFile(dir / "short.toml", "[api]\nsession_idle_timeout = \"10s\"\n");
  auto short_idle = fleetdesk::server::LoadServerConfig(dir / "short.toml", true);
  REQUIRE_FALSE(short_idle.ok());
  CHECK_THAT(short_idle.error().message, Catch::Contains("session_idle_timeout"));
  fleetdesk::testing::WriteFile(dir / "inverted.toml",
                                "[api]\nsession_idle_timeout = \"2h\"\nsession_max_age = \"1h\"\n");
  CHECK_FALSE(fleetdesk::server::LoadServerConfig(dir / "inverted.toml", true).ok());
}

TEST_CASE("agent certificates may live from a day to ten years", "[server][config]") {
  using fleetdesk::server::ParseServerConfig;
  auto week = ParseServerConfig("[agents]\ncertificate_validity = \"7d\"\n", "server.toml");
  REQUIRE(week.ok());
  CHECK(week->agent_certificate_validity == std::chrono::hours(24 * 7));
  for (const char* bad : {"1h", "3651d"}) {
    auto refused = ParseServerConfig(
        std::string("[agents]\ncertificate_validity = \"") + bad + "\"\n", "server.toml");
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("agents.certificate_validity"));
  }
}

TEST_CASE("attachments go beside a SQLite file, into PostgreSQL, or where configured",
          "[server][config]") {
  using fleetdesk::server::ParseServerConfig;
  auto sqlite = ParseServerConfig("data_dir = \"/srv/fd\"\n", "server.toml");
  REQUIRE(sqlite.ok());
  CHECK(sqlite->AttachmentDir() == "/srv/fd/attachments");
  CHECK(sqlite->attachments.max_bytes == 10 << 20);
  auto pg = ParseServerConfig("database = \"postgresql://fd@db/fd\"\n", "server.toml");
  CHECK(pg->AttachmentDir().empty());
  auto shared = ParseServerConfig(
      "database = \"postgresql://fd@db/fd\"\n[tickets]\nattachment_dir = \"/mnt/fd\"\n"
      "attachment_max_bytes = 1048576\nattachment_types = [\"text/plain\", \"image/png\"]\n",
      "server.toml");
  REQUIRE(shared.ok());
  CHECK(shared->AttachmentDir() == "/mnt/fd");
  CHECK(shared->attachments.max_bytes == 1 << 20);
  CHECK(shared->attachments.types == std::vector<std::string>{"text/plain", "image/png"});
  // A type whose bytes the server cannot check is refused by name.
  auto unknown =
      ParseServerConfig("[tickets]\nattachment_types = [\"text/html\"]\n", "server.toml");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message, Catch::Contains("cannot check 'text/html'"));
}
