// Configuration tasks end to end with the real agent: a real server, a real fleetdesk-agent whose
// systemd is dbusmock and whose files are a temporary directory, and the results the REST API
// shows. Each kind runs; the agent's allow-list refuses what it does not list; a task reaches an
// agent that was offline; nothing runs twice across restarts; a result made while the server was
// down is stored when it returns.
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tasks.pb.h"
#include "fleetdesk/v1/tickets.pb.h"
#include "tests/support/fleet.hpp"
#include "tests/support/process.hpp"
#include "tests/support/systemd_mock.hpp"
#include "tests/support/wait.hpp"

using namespace fleetdesk::testing;

namespace {

std::string Baremetal() {
  return std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/baremetal";
}

std::int64_t OnlyHost(const TestServer& server) {
  std::int64_t id = 0;
  REQUIRE(WaitFor(
      [&] {
        auto [status, body] = server.Get("/api/v1/hosts");
        auto list = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body);
        if (status != 200 || !list || list->items_size() != 1) return false;
        id = list->items(0).id();
        return true;
      },
      std::chrono::seconds(20)));
  return id;
}

std::int64_t Submit(const TestServer& server, std::int64_t host, const std::string& fields) {
  auto [status, body] = server.Call("POST", "/api/v1/tasks",
                                    "{" + fields + R"(,"hostIds":[)" + std::to_string(host) + "]}");
  REQUIRE(status == 201);
  return fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(body)->id();
}

fleetdesk::v1::TaskHostView HostRow(const TestServer& server, std::int64_t task) {
  auto [status, body] = server.Get("/api/v1/tasks/" + std::to_string(task));
  REQUIRE(status == 200);
  auto view = fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(body);
  REQUIRE(view.ok());
  REQUIRE(view->hosts_size() == 1);
  return view->hosts(0);
}

// The host's row once it reached a final state.
fleetdesk::v1::TaskHostView Settled(const TestServer& server, std::int64_t task,
                                    std::chrono::seconds wait = std::chrono::seconds(20)) {
  fleetdesk::v1::TaskHostView row;
  REQUIRE(WaitFor(
      [&] {
        row = HostRow(server, task);
        return row.state() != "queued" && row.state() != "sent" && row.state() != "running";
      },
      wait));
  return row;
}

}  // namespace

TEST_CASE(
    "a real agent runs each kind of task, refuses what its config does not list, and the "
    "server stores every result",
    "[integration][tasks][agent]") {
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  TempDir files;
  std::filesystem::create_directories(files / "etc");
  TestServer server;
  server.Start();
  TestAgent agent(server, Baremetal(),
                  "[tasks]\nfile_paths = [\"" + (files / "etc") +
                      "\"]\ncommands = [\"/bin/echo\"]\nunits = [\"nginx.service\"]\n");
  agent.Start();
  const auto host = OnlyHost(server);

  auto row = Settled(
      server,
      Submit(server, host, R"("kind":"service.restart","service":{"unit":"nginx.service"})"));
  CHECK(row.state() == "succeeded");
  CHECK(row.message() == "RestartUnit nginx.service: job done; nginx.service is active (running)");
  CHECK(systemd.JobCount("nginx.service") == 1);

  const std::string path = files / "etc/app.conf";
  row = Settled(server, Submit(server, host,
                               R"("kind":"file.write","fileWrite":{"path":")" + path +
                                   R"(","content":"cG9ydCA9IDgwCg==","mode":384})"));
  CHECK(row.state() == "succeeded");
  CHECK(ReadFile(path) == "port = 80\n");
  CHECK(row.message().starts_with("wrote 10 bytes to " + path + " (mode 0600, sha256 "));

  row = Settled(server, Submit(server, host,
                               R"("kind":"command.run","command":{"argv":["/bin/echo","hello"]})"));
  CHECK(row.state() == "succeeded");
  CHECK(row.exit_code() == 0);
  CHECK(row.stdout() == "hello\n");

  row = Settled(server, Submit(server, host, R"("kind":"inventory.refresh")"));
  CHECK(row.state() == "succeeded");
  CHECK(row.message().starts_with("inventory collected: "));

  // What the agent's config does not list is refused, with the reason, and nothing runs.
  const std::string config = agent.dir() / "agent.toml";
  row = Settled(server,
                Submit(server, host,
                       R"("kind":"command.run","command":{"argv":["/bin/cat","/etc/shadow"]})"));
  CHECK(row.state() == "refused");
  CHECK(row.message() == "command '/bin/cat /etc/shadow' is not in tasks.commands of " + config);
  row = Settled(server,
                Submit(server, host,
                       R"("kind":"file.write","fileWrite":{"path":"/etc/motd","content":"eA=="})"));
  CHECK(row.state() == "refused");
  CHECK(row.message() == "/etc/motd is not under a directory in tasks.file_paths of " + config);
  row = Settled(server,
                Submit(server, host, R"("kind":"service.stop","service":{"unit":"ssh.service"})"));
  CHECK(row.state() == "refused");
  CHECK(systemd.JobCount("nginx.service") == 1);
  REQUIRE(agent.Stop() == 0);
}

TEST_CASE(
    "a task reaches an agent that was offline, runs once across agent restarts, and a "
    "result made while the server was down is stored when it returns",
    "[integration][tasks][agent]") {
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  TestServer server;
  server.Start();
  TestAgent agent(server, Baremetal(), "[tasks]\ncommands = [\"/bin/sleep\"]\n");
  agent.Start();
  const auto host = OnlyHost(server);
  REQUIRE(agent.process().WaitForLog("connected to", std::chrono::seconds(20)));
  REQUIRE(agent.Stop() == 0);

  // Offline: the task waits on the server, then runs when the agent is back.
  const auto restart =
      Submit(server, host, R"("kind":"service.restart","service":{"unit":"nginx.service"})");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(HostRow(server, restart).state() == "queued");
  agent.Start();
  CHECK(Settled(server, restart).state() == "succeeded");
  CHECK(systemd.JobCount("nginx.service") == 1);

  // Restarting the agent runs nothing again.
  REQUIRE(agent.Stop() == 0);
  agent.Start();
  REQUIRE(agent.process().WaitForLog("connected to", std::chrono::seconds(20)));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  CHECK(systemd.JobCount("nginx.service") == 1);

  // The server goes away while a command runs; the agent keeps the result and sends it when it
  // reconnects to the restarted server.
  const auto sleep =
      Submit(server, host, R"("kind":"command.run","command":{"argv":["/bin/sleep","2"]})");
  REQUIRE(WaitFor([&] { return HostRow(server, sleep).state() == "running"; },
                  std::chrono::seconds(10), std::chrono::milliseconds(20)));
  REQUIRE(server.Stop() == 0);
  REQUIRE(agent.process().WaitForLog("task " + std::to_string(sleep) + ": TASK_STATE_SUCCEEDED",
                                     std::chrono::seconds(10)));
  server.Start();
  auto row = Settled(server, sleep, std::chrono::seconds(30));
  CHECK(row.state() == "succeeded");
  CHECK(row.message() == "/bin/sleep 2: exit 0");
  REQUIRE(agent.Stop() == 0);
}

TEST_CASE(
    "a task's restart raises no incident, and one that leaves the unit failed raises one "
    "that names the task",
    "[integration][tasks][agent][incidents]") {
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  TestServer server;
  server.Start();
  TestAgent agent(server, Baremetal());
  agent.Start();
  const auto host = OnlyHost(server);
  REQUIRE(agent.process().WaitForLog("connected to", std::chrono::seconds(20)));
  auto incidents = [&] {
    auto [status, body] = server.Get("/api/v1/tickets?kind=incident");
    REQUIRE(status == 200);
    return *fleetdesk::codec::Parse<fleetdesk::v1::TicketList>(body);
  };

  // Through inactive and back to active: the brief stop is no failure.
  const auto fine =
      Submit(server, host, R"("kind":"service.restart","service":{"unit":"nginx.service"})");
  CHECK(Settled(server, fine).state() == "succeeded");
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(incidents().items_size() == 0);

  systemd.SetJobOutcome("nginx.service", "failed", "failed", "failed");
  const auto broke =
      Submit(server, host, R"("kind":"service.restart","service":{"unit":"nginx.service"})");
  CHECK(Settled(server, broke).state() == "failed");
  fleetdesk::v1::TicketList list;
  REQUIRE(WaitFor([&] {
    list = incidents();
    return list.items_size() == 1;
  }));
  CHECK(list.items(0).subject() == "nginx.service");
  auto [status, body] =
      server.Get("/api/v1/tickets/" + std::to_string(list.items(0).id()) + "/timeline");
  REQUIRE(status == 200);
  auto timeline = fleetdesk::codec::Parse<fleetdesk::v1::TicketEventList>(body);
  REQUIRE(timeline.ok());
  int linked = 0;
  for (const auto& event : timeline->items()) {
    if (event.kind() != "task") continue;
    ++linked;
    CHECK(event.new_value().starts_with("task " + std::to_string(broke) +
                                        " (service.restart nginx.service by admin, "));
  }
  CHECK(linked == 1);  // the restart that went well is not named
  REQUIRE(agent.Stop() == 0);
}

TEST_CASE(
    "a link check defined on the server for a tag reaches the agent live, runs there, and "
    "collect says where it came from",
    "[integration][profiles][agent]") {
  TestServer server;
  server.Start();
  TestAgent agent(server, Baremetal(), "[services]\nenabled = false\n");
  agent.Start();
  const auto host = OnlyHost(server);
  REQUIRE(agent.process().WaitForLog("connected to", std::chrono::seconds(20)));
  const std::string host_path = "/api/v1/hosts/" + std::to_string(host);
  auto checks_of_host = [&] {
    auto [status, body] = server.Get(host_path);
    auto view = fleetdesk::codec::Parse<fleetdesk::v1::Host>(body);
    std::vector<std::string> keys;
    if (status == 200 && view) {
      for (const auto& c : view->checks()) keys.push_back(c.key() + (c.up() ? ":up" : ":down"));
    }
    return keys;
  };

  // A profile for the tag, the host given the tag: the agent is sent the check at once.
  const std::string target = server.ApiUrl().substr(std::string("https://").size());
  auto [created, body] =
      server.Call("POST", "/api/v1/agent-profiles",
                  R"({"name":"web-checks","tag":"web","config":{"checks":[{"key":"api-port",)"
                  R"("kind":"CHECK_KIND_TCP","target":")" +
                      target + R"(","intervalSeconds":5}]}})");
  REQUIRE(created == 201);
  REQUIRE(server.Call("PATCH", host_path, R"({"tags":["web"]})").first == 200);
  // The tag reaches the agent at the next pass over connected agents (every 30 s) at the
  // latest; a profile change at once. Changing the profile now makes it immediate.
  const auto profile = fleetdesk::codec::Parse<fleetdesk::v1::AgentProfile>(body)->id();
  REQUIRE(server
              .Call("PUT", "/api/v1/agent-profiles/" + std::to_string(profile),
                    R"({"name":"web-checks","tag":"web","config":{"checks":[{"key":"api-port",)"
                    R"("kind":"CHECK_KIND_TCP","target":")" +
                        target + R"(","intervalSeconds":5}]}})")
              .first == 200);
  REQUIRE(WaitFor([&] { return checks_of_host() == std::vector<std::string>{"api-port:up"}; },
                  std::chrono::seconds(20)));

  // The agent keeps the server's settings: collect shows the check and its source.
  auto collected = Run({FLEETDESK_AGENT_BINARY, "--config", agent.dir() / "agent.toml", "collect"});
  REQUIRE(collected.exit_code == 0);
  CHECK_THAT(collected.out, Catch::Contains("\"checks.api-port\"") &&
                                Catch::Contains("\"source\": \"server (profile web-checks)\"") &&
                                Catch::Contains("\"inventory_interval\""));

  // Deleted on the server: gone from the agent, which says so in its log.
  REQUIRE(server.Call("DELETE", "/api/v1/agent-profiles/" + std::to_string(profile)).first == 204);
  REQUIRE(
      agent.process().WaitForLog("0 check(s) in all, 0 from the server", std::chrono::seconds(10)));
  REQUIRE(agent.Stop() == 0);
}
