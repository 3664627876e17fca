#include "common/config.hpp"

#include <catch2/catch.hpp>

using fleetdesk::config::ConfigReader;

TEST_CASE("config names an unknown key and its line", "[common][config]") {
  auto reader = ConfigReader::Parse(
      "data_dir = \"/x\"\n\n[api]\nlisten = \"0.0.0.0:1\"\nlistne = 3\n", "server.toml");
  REQUIRE(reader.ok());
  std::string data_dir;
  std::string listen;
  reader->String("data_dir", &data_dir);
  reader->String("api.listen", &listen);
  auto status = reader->Finish();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message == "server.toml:5: unknown key 'api.listne'");
  CHECK(listen == "0.0.0.0:1");
}

TEST_CASE("config names a key of the wrong type and its line", "[common][config]") {
  auto reader = ConfigReader::Parse("a = 1\nthreads = \"two\"\n", "server.toml");
  REQUIRE(reader.ok());
  std::int64_t a = 0;
  std::int64_t threads = 7;
  reader->Int("a", 0, 10, &a);
  reader->Int("threads", 0, 10, &threads);
  auto status = reader->Finish();
  REQUIRE_FALSE(status.ok());
  CHECK(status.error().message == "server.toml:2: key 'threads' must be an integer");
  CHECK(threads == 7);  // left as it was
}

TEST_CASE("config refuses a number out of its range", "[common][config]") {
  auto reader = ConfigReader::Parse("threads = 1000\n", "x.toml");
  REQUIRE(reader.ok());
  std::int64_t threads = 0;
  reader->Int("threads", 0, 256, &threads);
  CHECK_THAT(reader->Finish().error().message, Catch::Contains("between 0 and 256"));
}

TEST_CASE("config reports a TOML syntax error with its line", "[common][config]") {
  auto reader = ConfigReader::Parse("a = 1\nb = = 2\n", "bad.toml");
  REQUIRE_FALSE(reader.ok());
  CHECK_THAT(reader.error().message, Catch::StartsWith("bad.toml:2:"));
}

TEST_CASE("durations read 90, 90s, 15m, 24h and 30d", "[common][config]") {
  using fleetdesk::config::ParseDuration;
  CHECK(ParseDuration("90")->count() == 90);
  CHECK(ParseDuration("90s")->count() == 90);
  CHECK(ParseDuration("15m")->count() == 900);
  CHECK(ParseDuration("24h")->count() == 86400);
  CHECK(ParseDuration("30d")->count() == 30 * 86400);
  CHECK_FALSE(ParseDuration("3w").ok());
  CHECK_FALSE(ParseDuration("-1s").ok());
  CHECK_FALSE(ParseDuration("soon").ok());
  // Found by the config fuzzer: a huge number times its unit overflowed.
  CHECK_THAT(ParseDuration("3511473146568784100d").error().message,
             Catch::Contains("longer than 100 years"));
  CHECK_FALSE(fleetdesk::config::ParseMilliseconds("9223372036854775807ms").ok());
  CHECK(ParseDuration("36500d").ok());
}

TEST_CASE("config reads durations and string lists from tables", "[common][config]") {
  auto reader = ConfigReader::Parse(
      "[agents]\nheartbeat_interval = \"15s\"\ngateway_urls = [\"wss://a:1\", \"wss://b:2\"]\n",
      "s.toml");
  REQUIRE(reader.ok());
  std::chrono::seconds interval{30};
  std::vector<std::string> urls;
  reader->Duration("agents.heartbeat_interval", &interval);
  reader->StringList("agents.gateway_urls", &urls);
  REQUIRE(reader->Finish().ok());
  CHECK(interval.count() == 15);
  CHECK(urls == std::vector<std::string>{"wss://a:1", "wss://b:2"});
}
