// fleetdesk-incident-latency: from a unit turning failed to its incident readable over the API,
// end to end: systemd played by python-dbusmock on a private D-Bus daemon, the real agent (its
// sd-bus watcher), the real server on SQLite or its own PostgreSQL, TLS on loopback. Each run
// fails one more unit and polls GET /api/v1/tickets every 2 ms until that unit's incident is
// there. Prints p50/p99/max over the runs.
#include <CLI/CLI.hpp>
#include <thread>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tickets.pb.h"
#include "scripts/bench/bench_util.hpp"
#include "tests/support/fleet.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/systemd_mock.hpp"
#include "tests/support/wait.hpp"

using namespace fleetdesk::bench;
using namespace fleetdesk::testing;

namespace {

std::string Unit(int i) { return "app" + std::to_string(i) + ".service"; }

// The units the API shows for the one host.
int ServicesSeen(const TestServer& server) {
  auto [status, body] = server.Get("/api/v1/hosts");
  auto list = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body);
  if (status != 200 || !list || list->items_size() != 1) return 0;
  auto [detail_status, detail] = server.Get("/api/v1/hosts/" + std::to_string(list->items(0).id()));
  auto host = fleetdesk::codec::Parse<fleetdesk::v1::Host>(detail);
  return detail_status == 200 && host ? host->services_size() : 0;
}

}  // namespace

int main(int argc, char** argv) {
  program = "fleetdesk-incident-latency";
  CLI::App app{"fleetdesk-incident-latency: unit failed to incident readable over the API"};
  std::string store = "sqlite";
  int runs = 100;
  app.add_option("--store", store, "sqlite or postgresql");
  app.add_option("--runs", runs);
  CLI11_PARSE(app, argc, argv);
  if (store != "sqlite" && store != "postgresql") Die("--store is sqlite or postgresql");

  SystemdMock systemd;
  for (int i = 0; i < runs; ++i) systemd.AddUnit(Unit(i), "active", "running");
  TestServer server("", store == "sqlite" ? "" : TestPostgres::Shared().NewDatabase());
  server.Start();
  TestAgent agent(server, std::string(FLEETDESK_TEST_FIXTURES) + "/agent/fixtures/baremetal");
  agent.Start();
  if (!WaitFor([&] { return ServicesSeen(server) == runs; }, std::chrono::seconds(60))) {
    Die("the agent's units did not reach the server");
  }
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    const std::string unit = Unit(i);
    const auto started = Clock::now();
    systemd.SetUnitState(unit, "failed", "failed");
    const bool seen = WaitFor(
        [&] {
          auto [status, body] = server.Get("/api/v1/tickets?kind=incident&limit=1");
          auto list = fleetdesk::codec::Parse<fleetdesk::v1::TicketList>(body);
          return status == 200 && list && list->items_size() == 1 &&
                 list->items(0).subject() == unit;
        },
        std::chrono::seconds(10), std::chrono::milliseconds(2));
    if (!seen) Die("no incident for " + unit + " within 10 s");
    ms.push_back(Seconds(started) * 1000);
    // Runs a little apart, as failures are: each measures one failure, not a queue of them.
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("| store | runs | p50 ms | p99 ms | max ms |\n| --- | ---: | ---: | ---: | ---: |\n");
  std::printf("| %s | %d | %.1f | %.1f | %.1f |\n", store.c_str(), runs, Percentile(ms, 0.5),
              Percentile(ms, 0.99), *std::max_element(ms.begin(), ms.end()));
  return agent.Stop() == 0 ? 0 : 1;
}
