// Several servers on one PostgreSQL database: both serve, and when one dies its agents move to
// the other with nothing lost, and the fleet jobs move with them.
#include <catch2/catch.hpp>
#include <optional>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "tests/support/fleet.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/wait.hpp"

using namespace fleetdesk::testing;

namespace {

std::optional<fleetdesk::v1::Host> HostOf(const TestServer& server, const std::string& agent_id) {
  auto [status, body] = server.Get("/api/v1/hosts");
  if (status != 200) return std::nullopt;
  auto list = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body);
  if (!list) return std::nullopt;
  for (const auto& h : list->items()) {
    if (h.agent_id() == agent_id) return h;
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("two servers share one PostgreSQL, and a killed one's agents carry on with the other",
          "[integration][cluster]") {
  const std::string database = TestPostgres::Shared().NewDatabase();
  TestServer first("", database);
  auto second = TestServer::Joining(first, database);
  const std::string urls = "gateway_urls = [\"" + first.PlannedGatewayUrl() + "\", \"" +
                           second->PlannedGatewayUrl() + "\"]";
  first.AddAgentsConfig(urls + "\nunreachable_after_intervals = 3");
  second->AddAgentsConfig(urls + "\nunreachable_after_intervals = 3");
  first.Start();
  REQUIRE(first.process().WaitForLog("fleet jobs: this server runs them now",
                                     std::chrono::seconds(10)));
  second->Start();

  TempDir dir;
  TestAgent agent(first, MakeMachineRoot(dir, "roamer", "33333333333333333333333333333333"));
  agent.Start();
  // Enrolled through the first, connected to the first; the second sees the same host.
  REQUIRE(WaitFor([&] {
    auto h = HostOf(*second, agent.agent_id());
    return h && h->connected() && h->last_seq() >= 2;
  }));
  CHECK_FALSE(second->process().Log().find("fleet jobs: this server runs them now") !=
              std::string::npos);

  first.Kill();  // SIGKILL: no goodbye to the agents, no unlock
  const auto acked = HostOf(*second, agent.agent_id())->last_seq();
  // The agent finds the second server, which accepts it although it never enrolled it, and
  // its sequence carries on from what the first committed: nothing lost, nothing twice.
  REQUIRE(WaitFor(
      [&] {
        auto h = HostOf(*second, agent.agent_id());
        return h && h->connected() && h->last_seq() > acked + 2;
      },
      std::chrono::seconds(30)));
  CHECK(second->process().WaitForLog("fleet jobs: this server runs them now",
                                     std::chrono::seconds(15)));
  auto [status, body] =
      second->Get("/api/v1/hosts/" + std::to_string(HostOf(*second, agent.agent_id())->id()) +
                  "/history?kind=lifecycle");
  CHECK(status == 200);
  CHECK_THAT(body, Catch::Contains("\"newValue\":\"enrolled\""));

  // A host silent past its limit is marked by the server that now runs the jobs.
  CHECK(agent.Stop() == 0);
  REQUIRE(WaitFor(
      [&] {
        auto h = HostOf(*second, agent.agent_id());
        return h && h->status() == "unreachable";
      },
      std::chrono::seconds(20)));
}

TEST_CASE("an agent revoked through one server is cut off by the other it is connected to",
          "[integration][cluster]") {
  const std::string database = TestPostgres::Shared().NewDatabase();
  TestServer first("", database);
  auto second = TestServer::Joining(first, database);
  // Agents dial the second server only (the test config makes the jobs tick every second).
  const std::string config = "gateway_urls = [\"" + second->PlannedGatewayUrl() + "\"]";
  first.AddAgentsConfig(config);
  second->AddAgentsConfig(config);
  first.Start();
  second->Start();

  TempDir dir;
  TestAgent agent(first, MakeMachineRoot(dir, "far-away", "44444444444444444444444444444444"));
  agent.Start();
  REQUIRE(WaitFor([&] {
    auto h = HostOf(first, agent.agent_id());
    return h && h->connected();
  }));
  auto [status, body] = first.Call("POST", "/api/v1/agents/" + agent.agent_id() + "/revoke");
  REQUIRE(status == 200);
  // The second server reads the revocation from the audit log and closes the channel; the
  // agent's reconnects are refused.
  CHECK(WaitFor([&] {
    auto h = HostOf(first, agent.agent_id());
    return h && !h->connected();
  }));
  CHECK(WaitFor(
      [&] { return second->process().Log().find("has been revoked") != std::string::npos; }));
}
