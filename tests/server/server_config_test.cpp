#include "server/server_config.hpp"

#include <catch2/catch.hpp>

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
