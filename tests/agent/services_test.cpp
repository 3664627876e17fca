#include "agent/services/services.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include "tests/support/systemd_mock.hpp"

using fleetdesk::agent::services::ServiceWatcher;
using fleetdesk::agent::services::WatcherOptions;
using fleetdesk::testing::SystemdMock;
using Clock = std::chrono::steady_clock;

namespace {

// Runs the io_context until `done` holds or `timeout` passes; answers whether it held.
bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& done,
              std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    io.run_for(std::chrono::milliseconds(5));
    io.restart();
  }
  return true;
}

const fleetdesk::v1::ServiceState* Find(const std::vector<fleetdesk::v1::ServiceState>& states,
                                        const std::string& unit) {
  for (const auto& state : states) {
    if (state.unit() == unit) return &state;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("the first snapshot lists every watched unit with its properties", "[agent][services]") {
  SystemdMock systemd;
  for (int i = 0; i < 50; ++i) {
    systemd.AddUnit("app" + std::to_string(i) + ".service", "active", "running");
  }
  systemd.AddUnit("tmp.mount", "active", "mounted");
  boost::asio::io_context io;
  ServiceWatcher watcher(io, WatcherOptions{}, nullptr);
  watcher.Start();
  CHECK(watcher.status().available());
  auto all = watcher.All();
  CHECK(all.size() == 50);  // *.service only, by default
  const auto* app = Find(all, "app7.service");
  REQUIRE(app != nullptr);
  CHECK(app->active_state() == "active");
  CHECK(app->sub_state() == "running");
  CHECK(app->load_state() == "loaded");
  CHECK(app->unit_file_state() == "enabled");
  CHECK(app->description() == "The app7.service unit");
  CHECK(app->main_pid() == 100);
  CHECK(app->has_state_change_time());
  CHECK(app->has_active_enter_time());
}

TEST_CASE("a unit that fails is seen within 100 ms, from systemd's signal", "[agent][services]") {
  SystemdMock systemd;
  for (int i = 0; i < 50; ++i) {
    systemd.AddUnit("app" + std::to_string(i) + ".service", "active", "running");
  }
  boost::asio::io_context io;
  int changes = 0;
  ServiceWatcher watcher(io, WatcherOptions{}, [&] { ++changes; });
  watcher.Start();
  watcher.TakeChanges();  // the snapshot's
  changes = 0;
  auto started = Clock::now();
  systemd.SetUnitState("app13.service", "failed", "failed", 3);
  REQUIRE(RunUntil(
      io, [&] { return changes > 0; }, std::chrono::seconds(5)));
  auto elapsed = Clock::now() - started;
  auto delta = watcher.TakeChanges();
  REQUIRE(delta.changed.size() == 1);
  CHECK(delta.changed[0].unit() == "app13.service");
  CHECK(delta.changed[0].active_state() == "failed");
  CHECK(delta.changed[0].sub_state() == "failed");
  CHECK(delta.changed[0].n_restarts() == 3);
  CHECK(delta.changed[0].main_pid() == 0);
#ifdef FLEETDESK_SANITIZED
  constexpr int kBudgetMs = 1000;
#else
  constexpr int kBudgetMs = 100;
#endif
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() < kBudgetMs);
}

TEST_CASE("units that appear and disappear are reported as such", "[agent][services]") {
  SystemdMock systemd;
  systemd.AddUnit("web.service", "active", "running");
  boost::asio::io_context io;
  int changes = 0;
  ServiceWatcher watcher(io, WatcherOptions{}, [&] { ++changes; });
  watcher.Start();
  watcher.TakeChanges();
  changes = 0;
  systemd.AddUnit("worker.service", "activating", "start");
  REQUIRE(RunUntil(
      io, [&] { return changes > 0; }, std::chrono::seconds(5)));
  auto added = watcher.TakeChanges();
  REQUIRE(added.changed.size() == 1);
  CHECK(added.changed[0].unit() == "worker.service");
  changes = 0;
  systemd.RemoveUnit("web.service");
  REQUIRE(RunUntil(
      io, [&] { return changes > 0; }, std::chrono::seconds(5)));
  auto removed = watcher.TakeChanges();
  CHECK(removed.changed.empty());
  CHECK(removed.removed == std::vector<std::string>{"web.service"});
  CHECK(watcher.All().size() == 1);
}

TEST_CASE("include and exclude patterns choose the units watched", "[agent][services]") {
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  systemd.AddUnit("getty@tty1.service", "active", "running");
  systemd.AddUnit("var-lib.mount", "active", "mounted");
  boost::asio::io_context io;
  WatcherOptions options;
  options.include = {"*.service", "*.mount"};
  options.exclude = {"getty@*"};
  ServiceWatcher watcher(io, options, nullptr);
  watcher.Start();
  auto all = watcher.All();
  REQUIRE(all.size() == 2);
  CHECK(all[0].unit() == "nginx.service");
  CHECK(all[1].unit() == "var-lib.mount");
  // A change of an excluded unit is not a change.
  int changes = 0;
  ServiceWatcher counting(io, options, [&] { ++changes; });
  counting.Start();
  counting.TakeChanges();
  changes = 0;
  systemd.SetUnitState("getty@tty1.service", "failed", "failed");
  systemd.SetUnitState("nginx.service", "failed", "failed");
  REQUIRE(RunUntil(
      io, [&] { return changes > 0; }, std::chrono::seconds(5)));
  auto delta = counting.TakeChanges();
  REQUIRE(delta.changed.size() == 1);
  CHECK(delta.changed[0].unit() == "nginx.service");
}

TEST_CASE("a host without a reachable systemd reports that as a status", "[agent][services]") {
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/bus", 1);
  boost::asio::io_context io;
  ServiceWatcher watcher(io, WatcherOptions{}, nullptr);
  watcher.Start();
  CHECK_FALSE(watcher.status().available());
  CHECK_THAT(watcher.status().message(), Catch::Contains("system bus"));
  CHECK(watcher.All().empty());
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

TEST_CASE("losing the bus turns the status unavailable without a crash", "[agent][services]") {
  SystemdMock systemd;
  systemd.AddUnit("web.service", "active", "running");
  boost::asio::io_context io;
  ServiceWatcher watcher(io, WatcherOptions{}, nullptr);
  watcher.Start();
  REQUIRE(watcher.status().available());
  systemd.StopBus();
  CHECK(RunUntil(
      io, [&] { return !watcher.status().available(); }, std::chrono::seconds(5)));
  CHECK_FALSE(watcher.status().message().empty());
}
