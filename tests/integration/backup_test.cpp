// Backup while serving, restore into an empty data directory, and the data directory's lock.
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <thread>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "tests/support/fleet.hpp"

using namespace fleetdesk::testing;

namespace {

int HostCount(const TestServer& server) {
  auto [status, body] = server.Get("/api/v1/hosts");
  REQUIRE(status == 200);
  return fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body)->items_size();
}

}  // namespace

TEST_CASE("a backup taken while serving restores hosts and keys into an empty data directory",
          "[integration][backup]") {
  TestServer server;
  server.Start();
  TempDir machine;
  TestAgent agent(server, MakeMachineRoot(machine, "kept", "44444444444444444444444444444444"));
  REQUIRE(HostCount(server) == 1);
  const auto ca_before = ReadFile(server.dir() / "data/ca.crt");
  const auto backup = server.dir() / "fleetdesk.backup";
  auto made = server.CliResult({"backup", backup});
  REQUIRE(made.exit_code == 0);
  CHECK((std::filesystem::status(backup).permissions() & std::filesystem::perms::others_read) ==
        std::filesystem::perms::none);

  // A running server holds the data directory: restoring under it is refused.
  auto refused = server.CliResult({"restore", backup});
  CHECK(refused.exit_code == 1);
  CHECK_THAT(refused.err, Catch::Contains("server is running"));
  CHECK(server.Stop() == 0);

  std::filesystem::remove_all(server.dir() / "data");
  auto restored = server.CliResult({"restore", backup});
  REQUIRE(restored.exit_code == 0);
  CHECK(ReadFile(server.dir() / "data/ca.crt") == ca_before);
  CHECK((std::filesystem::status(server.dir() / "data/ca.key").permissions() &
         std::filesystem::perms::group_all) == std::filesystem::perms::none);
  server.Start();
  CHECK(HostCount(server) == 1);
  // The restored CA still recognises the agent: it connects with the certificate it had.
  agent.Start();
  REQUIRE(server.process().WaitForLog("(kept) connected", std::chrono::seconds(15)));
}

TEST_CASE("restore refuses a file that is not a fleetdesk backup", "[integration][backup]") {
  TestServer server;
  TempDir dir;
  WriteFile(dir / "junk", "not a database at all");
  auto result = server.CliResult({"restore", dir / "junk"});
  CHECK(result.exit_code == 1);
  CHECK_FALSE(result.err.empty());
  auto missing = server.CliResult({"restore", dir / "nothing-here"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("no backup file"));
}

TEST_CASE("a second server on the same data directory is refused", "[integration][backup]") {
  TestServer server;
  server.Start();
  auto second = server.CliResult({"serve"});
  CHECK(second.exit_code == 1);
  CHECK_THAT(second.err, Catch::Contains("server is running on this data directory"));
}
