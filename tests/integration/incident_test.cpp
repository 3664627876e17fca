// Incidents end to end: a real agent on a fixture machine with systemd played by dbusmock, a real
// server on SQLite or PostgreSQL, and the tickets the REST API shows.
#include <catch2/catch.hpp>
#include <optional>
#include <thread>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tickets.pb.h"
#include "tests/support/fleet.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/systemd_mock.hpp"
#include "tests/support/wait.hpp"

using namespace fleetdesk::testing;
using Clock = std::chrono::steady_clock;

namespace {

std::optional<fleetdesk::v1::TicketList> Incidents(const TestServer& server) {
  auto [status, body] = server.Get("/api/v1/tickets?kind=incident");
  if (status != 200) return std::nullopt;
  auto list = fleetdesk::codec::Parse<fleetdesk::v1::TicketList>(body);
  if (!list) return std::nullopt;
  return *list;
}

bool ServicesSeen(const TestServer& server, int count) {
  auto [status, body] = server.Get("/api/v1/hosts");
  auto list = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body);
  if (status != 200 || !list || list->items_size() != 1) return false;
  auto [detail_status, detail] = server.Get("/api/v1/hosts/" + std::to_string(list->items(0).id()));
  auto host = fleetdesk::codec::Parse<fleetdesk::v1::Host>(detail);
  return detail_status == 200 && host && host->services_size() == count;
}

std::string Baremetal() {
  return std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/baremetal";
}

}  // namespace

TEST_CASE("a unit that fails on dbusmock becomes exactly one incident within a second",
          "[integration][incidents]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  CAPTURE(backend);
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  systemd.AddUnit("cron.service", "active", "running");
  TestServer server("", backend == "sqlite" ? "" : TestPostgres::Shared().NewDatabase());
  server.Start();
  TestAgent agent(server, Baremetal());
  agent.Start();
  REQUIRE(WaitFor([&] { return ServicesSeen(server, 2); }, std::chrono::seconds(20)));
  CHECK(Incidents(server)->items_size() == 0);

  const auto started = Clock::now();
  systemd.SetUnitState("nginx.service", "failed", "failed");
  REQUIRE(WaitFor(
      [&] {
        auto list = Incidents(server);
        return list && list->items_size() > 0;
      },
      std::chrono::seconds(10), std::chrono::milliseconds(5)));
  const auto readable =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
#ifdef FLEETDESK_SANITIZED
  CHECK(readable.count() < 3000);
#else
  CHECK(readable.count() < 1000);
#endif
  // Later reports (the heartbeat, a full report after a reconnect) still say failed: no more
  // tickets.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto list = Incidents(server);
  REQUIRE(list->items_size() == 1);
  const auto& ticket = list->items(0);
  CHECK(ticket.title() == "nginx.service failed on " + ticket.hostname());
  CHECK(ticket.state() == "new");
  CHECK(ticket.priority() == 3);
  CHECK(ticket.source_kind() == "service");
  CHECK(ticket.subject() == "nginx.service");

  // It recovers: one timeline entry. It fails again: the same ticket, counted twice.
  systemd.SetUnitState("nginx.service", "active", "running");
  const auto path = "/api/v1/tickets/" + std::to_string(ticket.id());
  REQUIRE(WaitFor(
      [&] {
        auto [status, body] = server.Get(path);
        auto t = fleetdesk::codec::Parse<fleetdesk::v1::Ticket>(body);
        return status == 200 && t && t->has_recovered_at();
      },
      std::chrono::seconds(10)));
  systemd.SetUnitState("nginx.service", "failed", "failed");
  REQUIRE(WaitFor(
      [&] {
        auto [status, body] = server.Get(path);
        auto t = fleetdesk::codec::Parse<fleetdesk::v1::Ticket>(body);
        return status == 200 && t && t->occurrences() == 2;
      },
      std::chrono::seconds(10)));
  CHECK(Incidents(server)->items_size() == 1);
  REQUIRE(agent.Stop() == 0);
}

TEST_CASE("scripts append to a ticket's worklog with one line of shell", "[integration][worklog]") {
  TestServer server;
  server.Start();
  auto [status, body] = server.Call("POST", "/api/v1/tickets", R"({"title":"nightly backup"})");
  REQUIRE(status == 201);
  const auto id = std::to_string(fleetdesk::codec::Parse<fleetdesk::v1::Ticket>(body)->id());
  const auto token = server.Cli({"api-token", "create", "--user", "admin", "--scope", "worklog"});
  const std::string note = std::string(FLEETDESK_SOURCE_DIR) + "/scripts/fleetdesk-note";
  const std::vector<std::string> env = {"/usr/bin/env", "FLEETDESK_URL=" + server.ApiUrl(),
                                        "FLEETDESK_TOKEN=" + token,
                                        "FLEETDESK_CACERT=" + (server.dir() / "data/ca.crt")};
  auto with_env = [&](std::vector<std::string> argv) {
    auto all = env;
    all.insert(all.end(), argv.begin(), argv.end());
    return Run(all);
  };

  auto done = with_env({note, id, "backup", "dump \"db\" done:\t42 GiB\\s"});
  CHECK(done.exit_code == 0);
  CHECK(done.err.empty());
  // The note from stdin, several lines of it.
  auto piped = with_env(
      {"/bin/sh", "-c", "printf 'line 1\\nline 2\\n' | " + note + " " + id + " 'deploy 4.2' -"});
  CHECK(piped.exit_code == 0);
  auto [list_status, list] = server.Get("/api/v1/tickets/" + id + "/worklog");
  REQUIRE(list_status == 200);
  auto worklog = fleetdesk::codec::Parse<fleetdesk::v1::WorklogList>(list);
  REQUIRE(worklog->items_size() == 2);
  CHECK(worklog->items(0).task() == "deploy 4.2");
  CHECK(worklog->items(0).note() == "line 1\nline 2");
  CHECK(worklog->items(1).note() == "dump \"db\" done:\t42 GiB\\s");
  CHECK(worklog->items(1).actor() == "admin");

  // Refusals say why, with the server's words.
  auto missing = with_env({note, "999999", "backup", "x"});
  CHECK(missing.exit_code == 1);
  CHECK_THAT(missing.err, Catch::Contains("404") && Catch::Contains("no ticket has id 999999"));
  auto usage = with_env({note, "abc", "backup", "x"});
  CHECK(usage.exit_code == 2);
  auto unchecked = Run({"/usr/bin/env", "FLEETDESK_URL=" + server.ApiUrl(),
                        "FLEETDESK_TOKEN=" + token, note, id, "backup", "x"});
  CHECK(unchecked.exit_code == 2);
  CHECK_THAT(unchecked.err, Catch::Contains("FLEETDESK_CACERT"));
  auto stranger = Run({"/usr/bin/env", "FLEETDESK_URL=" + server.ApiUrl(),
                       "FLEETDESK_TOKEN=fdt_wrong", "FLEETDESK_INSECURE=1", note, id, "b", "x"});
  CHECK(stranger.exit_code == 1);
  CHECK_THAT(stranger.err, Catch::Contains("401"));
}
