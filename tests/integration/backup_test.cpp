// Backup while serving, restore into an empty data directory, and the data directory's lock.
#include <catch2/catch.hpp>
#include <filesystem>
#include <optional>
#include <thread>

#include "common/codec.hpp"
#include "common/net/https_client.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tickets.pb.h"
#include "tests/support/fleet.hpp"

using namespace fleetdesk::testing;

namespace {

int HostCount(const TestServer& server) {
  auto [status, body] = server.Get("/api/v1/hosts");
  REQUIRE(status == 200);
  return fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body)->items_size();
}

// POSTs `content` as a file attached to ticket `ticket`; answers status and body, or nullopt when
// the server hung up before the upload was sent (as it may, having refused it from its headers).
std::optional<std::pair<int, std::string>> Attach(const TestServer& server,
                                                  const std::string& ticket,
                                                  const std::string& name, const std::string& type,
                                                  const std::string& content) {
  fleetdesk::net::HttpsRequest request;
  request.method = "POST";
  request.url = server.ApiUrl() + "/api/v1/tickets/" + ticket + "/attachments?name=" + name;
  request.tls.ca_pem = server.ca_pem();
  request.headers["Authorization"] = "Bearer " + server.api_token();
  request.headers["Content-Type"] = type;
  request.body = content;
  auto response = fleetdesk::net::Fetch(request);
  if (!response) return std::nullopt;
  return std::make_pair(response->status, response->body);
}

}  // namespace

TEST_CASE(
    "a file attached over HTTPS beyond the usual body limit is kept in the data directory, "
    "backed up and restored",
    "[integration][backup]") {
  TestServer server;
  server.Start();
  auto [filed, ticket_body] = server.Call("POST", "/api/v1/tickets", R"({"title":"core dump"})");
  REQUIRE(filed == 201);
  const auto ticket =
      std::to_string(fleetdesk::codec::Parse<fleetdesk::v1::Ticket>(ticket_body)->id());
  // 3 MiB of log: past the 1 MiB most of the API takes, within the 10 MiB attachments take.
  std::string log;
  while (log.size() < (3U << 20U))
    log += "kernel: oom-killer invoked, line " + std::to_string(log.size()) + "\n";
  auto added = Attach(server, ticket, "kern.log", "text/plain", log);
  REQUIRE(added);
  REQUIRE(added->first == 201);
  auto attachment = fleetdesk::codec::Parse<fleetdesk::v1::Attachment>(added->second);
  const auto sha = attachment->sha256();
  CHECK(ReadFile(server.dir() / ("data/attachments/" + sha.substr(0, 2) + "/" + sha)) == log);
  auto too_big =
      Attach(server, ticket, "huge.log", "text/plain", std::string((10U << 20U) + 1, 'x'));
  if (too_big) CHECK(too_big->first == 413);
  auto [listed, list_body] = server.Get("/api/v1/tickets/" + ticket + "/attachments");
  REQUIRE(listed == 200);
  CHECK(fleetdesk::codec::Parse<fleetdesk::v1::AttachmentList>(list_body)->items_size() == 1);
  const auto content =
      "/api/v1/tickets/" + ticket + "/attachments/" + std::to_string(attachment->id()) + "/content";

  const auto backup = server.dir() / "fleetdesk.backup";
  REQUIRE(server.CliResult({"backup", backup}).exit_code == 0);
  CHECK(server.Stop() == 0);
  std::filesystem::remove_all(server.dir() / "data");
  REQUIRE(server.CliResult({"restore", backup}).exit_code == 0);
  server.Start();
  auto [status, body] = server.Get(content);
  CHECK(status == 200);
  CHECK(body == log);
}

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
