#include <catch2/catch.hpp>

#include "agent/agent_config.hpp"
#include "tests/support/temp_dir.hpp"

using fleetdesk::agent::LoadAgentConfig;
using fleetdesk::testing::TempDir;
using fleetdesk::testing::WriteFile;

namespace {

fleetdesk::Result<fleetdesk::agent::AgentConfig> Load(const std::string& text) {
  TempDir dir;
  WriteFile(dir / "agent.toml", text);
  return LoadAgentConfig(dir / "agent.toml", true);
}

}  // namespace

TEST_CASE("link checks are read from [[checks]] tables with defaults filled in",
          "[agent][config]") {
  auto config = Load(R"(
journal_max_size = "16MiB"
[services]
include = ["*.service", "*.socket"]
exclude = ["getty@*"]

[[checks]]
name = "api"
type = "http"
target = "https://api.example.com/health"
timeout = "750ms"
expect_status = [200, 204]
body_contains = "ok"
headers = { Authorization = "Bearer x" }
tls_verify = false

[[checks]]
name = "db"
type = "tcp"
target = "db.example.com:5432"
interval = "15s"
)");
  REQUIRE(config.ok());
  CHECK(config->journal_max_size == 16ULL << 20U);
  CHECK(config->services.include == std::vector<std::string>{"*.service", "*.socket"});
  CHECK(config->services.exclude == std::vector<std::string>{"getty@*"});
  REQUIRE(config->checks.size() == 2);
  const auto& api = config->checks[0];
  CHECK(api.key() == "api");
  CHECK(api.kind() == fleetdesk::v1::CHECK_KIND_HTTP);
  CHECK(api.timeout_ms() == 750);
  CHECK(api.interval_seconds() == 60);
  CHECK(api.method() == "GET");
  CHECK(api.expect_status_size() == 2);
  CHECK(api.headers().at("Authorization") == "Bearer x");
  CHECK(api.tls_insecure());
  CHECK(api.max_redirects() == 5);
  CHECK(config->checks[1].interval_seconds() == 15);
  CHECK(config->checks[1].timeout_ms() == 5000);
}

TEST_CASE("a bad check in the config is an error naming the check, the key and its line",
          "[agent][config]") {
  auto unknown = Load(
      "[[checks]]\nname = \"a\"\ntype = \"http\"\ntarget = \"http://x/\"\n"
      "tiemout = \"1s\"\n");
  REQUIRE_FALSE(unknown.ok());
  CHECK_THAT(unknown.error().message, Catch::Contains(":5: unknown key 'checks[0].tiemout'"));

  auto kind = Load("[[checks]]\nname = \"a\"\ntype = \"icmp\"\ntarget = \"x\"\n");
  REQUIRE_FALSE(kind.ok());
  CHECK_THAT(kind.error().message, Catch::Contains("check 'a': type must be http, tcp or dns"));

  auto twice = Load(
      "[[checks]]\nname = \"a\"\ntype = \"tcp\"\ntarget = \"x:1\"\n"
      "[[checks]]\nname = \"a\"\ntype = \"tcp\"\ntarget = \"y:2\"\n");
  REQUIRE_FALSE(twice.ok());
  CHECK_THAT(twice.error().message, Catch::Contains("two checks are named 'a'"));

  auto size = Load("journal_max_size = \"64 MB\"\n");
  REQUIRE_FALSE(size.ok());
  CHECK_THAT(size.error().message, Catch::Contains("journal_max_size"));
}

TEST_CASE("the task allow-list is read from [tasks], and a bad one names what is wrong",
          "[agent][config]") {
  auto defaults = Load("");
  REQUIRE(defaults.ok());
  CHECK(defaults->tasks.enabled);
  CHECK(defaults->tasks.kinds.size() == 7);
  CHECK(defaults->tasks.units == std::vector<std::string>{"*.service"});
  CHECK(defaults->tasks.file_paths.empty());
  CHECK(defaults->tasks.commands.empty());

  auto config = Load(R"(
[tasks]
kinds = ["service.restart", "command.run"]
units = ["nginx.service"]
file_paths = ["/etc/nginx/", "/srv/app"]
commands = ["/usr/sbin/nginx -t", "/usr/bin/systemctl"]
default_timeout = "2m"
max_timeout = "10m"
)");
  REQUIRE(config.ok());
  CHECK(config->tasks.file_paths == std::vector<std::string>{"/etc/nginx", "/srv/app"});
  REQUIRE(config->tasks.commands.size() == 2);
  CHECK(config->tasks.commands[0] == std::vector<std::string>{"/usr/sbin/nginx", "-t"});
  CHECK(config->tasks.default_timeout == std::chrono::seconds(120));

  auto bad_kind = Load("[tasks]\nkinds = [\"shell\"]\n");
  REQUIRE_FALSE(bad_kind.ok());
  CHECK(bad_kind.error().message.find("tasks.kinds: unknown task kind 'shell'") !=
        std::string::npos);
  auto bad_path = Load("[tasks]\nfile_paths = [\"/etc/../root\"]\n");
  REQUIRE_FALSE(bad_path.ok());
  CHECK(bad_path.error().message.find("tasks.file_paths: '/etc/../root' is not an absolute") !=
        std::string::npos);
  auto root = Load("[tasks]\nfile_paths = [\"/\"]\n");
  CHECK_FALSE(root.ok());
  auto bad_command = Load("[tasks]\ncommands = [\"nginx -t\"]\n");
  REQUIRE_FALSE(bad_command.ok());
  CHECK(bad_command.error().message.find("must start with the program's absolute path") !=
        std::string::npos);
}

TEST_CASE(
    "the server's settings fill what the agent's own file leaves unset, and each value "
    "says where it came from",
    "[agent][config]") {
  auto file = Load(R"(
inventory_interval = "2h"
[services]
exclude = ["getty@*"]
[[checks]]
name = "api"
type = "tcp"
target = "api.internal:443"
)");
  REQUIRE(file.ok());
  fleetdesk::v1::AgentConfig server;
  server.set_inventory_interval_seconds(600);         // the file sets it: the file wins
  server.set_services_snapshot_interval_seconds(60);  // unset in the file: the server's
  server.add_service_include("nginx.service");        // likewise
  server.add_service_exclude("cron.service");         // the file's exclude wins
  auto* api = server.add_checks();                    // same name as the file's: the file's
  api->set_key("api");
  api->set_kind(fleetdesk::v1::CHECK_KIND_TCP);
  api->set_target("elsewhere:1");
  auto* site = server.add_checks();
  site->set_key("site");
  site->set_kind(fleetdesk::v1::CHECK_KIND_TCP);
  site->set_target("web:80");
  auto& sources = *server.mutable_sources();
  for (const char* key : {"inventoryInterval", "services.snapshotInterval", "services.include",
                          "services.exclude", "checks.api", "checks.site"}) {
    sources[key] = "web-tier";
  }

  auto merged = fleetdesk::agent::WithServerConfig(*file, server);
  CHECK(merged.inventory_interval == std::chrono::hours(2));
  CHECK(merged.services.snapshot_interval == std::chrono::seconds(60));
  CHECK(merged.services.include == std::vector<std::string>{"nginx.service"});
  CHECK(merged.services.exclude == std::vector<std::string>{"getty@*"});
  REQUIRE(merged.checks.size() == 2);
  CHECK(merged.checks[0].target() == "api.internal:443");
  CHECK(merged.checks[1].key() == "site");
  CHECK(merged.checks[1].timeout_ms() == 5000);  // normalized by the agent too
  CHECK(merged.sources.at("inventory_interval") == "file");
  CHECK(merged.sources.at("services.snapshot_interval") == "server (profile web-tier)");
  CHECK(merged.sources.at("services.include") == "server (profile web-tier)");
  CHECK(merged.sources.at("services.exclude") == "file");
  CHECK(merged.sources.at("checks.api") == "file");
  CHECK(merged.sources.at("checks.site") == "server (profile web-tier)");

  auto described = fleetdesk::agent::DescribeConfig(merged);
  CHECK_THAT(described, Catch::Contains("\"checks.site\"") &&
                            Catch::Contains("\"source\": \"server (profile web-tier)\"") &&
                            Catch::Contains("\"value\": \"tcp web:80\""));
  // Nothing from the server: the file and the defaults.
  auto alone = fleetdesk::agent::WithServerConfig(*file, {});
  CHECK(alone.sources.at("services.include") == "default");
  CHECK(alone.checks.size() == 1);
}

TEST_CASE(
    "the shipped agent.toml loads, and leaves the server's profiles room to set what they may",
    "[agent][config]") {
  auto shipped =
      fleetdesk::agent::LoadAgentConfig(FLEETDESK_SOURCE_DIR "/packaging/config/agent.toml", true);
  REQUIRE(shipped.ok());
  for (const char* key : {"inventory_interval", "services.include", "services.exclude",
                          "services.snapshot_interval"}) {
    CAPTURE(key);
    CHECK(shipped->sources.at(key) == "default");
  }
  CHECK(shipped->tasks.file_paths.empty());
}
