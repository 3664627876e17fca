// fleetdesk-agent: the verbs of DESIGN.md's command-line contract.
#include <google/protobuf/util/message_differencer.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>
#include <thread>

#include "agent/agent_config.hpp"
#include "agent/channel/channel.hpp"
#include "agent/checks/runner.hpp"
#include "agent/collectors/inventory.hpp"
#include "agent/collectors/metrics.hpp"
#include "agent/collectors/system.hpp"
#include "agent/identity.hpp"
#include "agent/journal/journal.hpp"
#include "agent/reporter.hpp"
#include "agent/services/services.hpp"
#include "agent/tasks/runner.hpp"
#include "agent/tasks/task_log.hpp"
#include "common/codec.hpp"
#include "common/log.hpp"
#include "common/version.hpp"

namespace fleetdesk::agent {
namespace {

namespace asio = boost::asio;

int Fail(const std::string& message) {
  std::cerr << "fleetdesk-agent: " << message << "\n";
  return 1;
}

int EnrollCommand(const AgentConfig& config, const std::string& server, const std::string& token,
                  const std::string& fingerprint) {
  collectors::SystemCollector system(config.root);
  auto machine_id = system.MachineId();
  if (!machine_id) return Fail(machine_id.error().message);
  auto hostname = system.Hostname();
  std::string serial;
  for (const auto& section : collectors::InventoryCollector(config.root).CollectAll()) {
    if (section.has_system()) serial = section.system().serial();
  }
  auto identity =
      Enroll({server, token, fingerprint, config.state_dir, hostname, *machine_id, serial});
  if (!identity) return Fail(identity.error().message);
  std::cout << "enrolled as agent " << identity->agent_id << "; gateway "
            << identity->gateway_urls.front() << "\n";
  return 0;
}

services::WatcherOptions ServiceOptions(const AgentConfig& config) {
  services::WatcherOptions options;
  options.include = config.services.include;
  options.exclude = config.services.exclude;
  options.snapshot_interval = config.services.snapshot_interval;
  return options;
}

int Collect(const AgentConfig& file_config) {
  const AgentConfig config = WithServerConfig(file_config, LoadServerConfig(file_config.state_dir));
  collectors::SystemCollector system(config.root);
  collectors::InventoryCollector inventory(config.root);
  collectors::MetricsCollector metrics(config.root);
  // CPU use and rates are differences: take a first reading a moment before the real one.
  metrics.Collect(std::chrono::steady_clock::now());
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  fleetdesk::v1::Report report;
  report.set_full(true);
  *report.mutable_collected_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  *report.mutable_heartbeat() = system.Heartbeat();
  const auto started = std::chrono::steady_clock::now();
  for (auto& section : inventory.CollectAll()) *report.add_inventory() = std::move(section);
  spdlog::info("inventory: {} sections collected in {:.1f} ms", report.inventory_size(),
               std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                   .count());
  *report.mutable_metrics() = metrics.Collect(std::chrono::steady_clock::now());
  if (config.services.enabled) {
    asio::io_context io(1);
    services::ServiceWatcher watcher(io, ServiceOptions(config), nullptr);
    watcher.Start();
    for (auto& state : watcher.All()) *report.add_services() = std::move(state);
    *report.mutable_services_status() = watcher.status();
    watcher.Stop();
  }
  // The settings in force, each with where it came from, then the report.
  std::string json = codec::ToPrettyJson(report);
  while (!json.empty() && json.back() == '\n') json.pop_back();
  std::cout << "{\n  \"config\": " << DescribeConfig(config) << ",\n  \"report\": " << json
            << "\n}\n";
  return 0;
}

int Check(const AgentConfig& config) {
  asio::io_context io(1);
  std::vector<fleetdesk::v1::CheckResult> results(config.checks.size());
  for (std::size_t i = 0; i < config.checks.size(); ++i) {
    checks::RunOnce(io, config.checks[i],
                    [&results, i](fleetdesk::v1::CheckResult result) { results[i] = result; });
  }
  io.run();
  std::cout << "[";
  for (std::size_t i = 0; i < results.size(); ++i) {
    auto json = codec::ToPrettyJson(results[i]);
    while (!json.empty() && json.back() == '\n') json.pop_back();
    std::cout << (i == 0 ? "\n" : ",\n") << json;
  }
  std::cout << (results.empty() ? "]\n" : "\n]\n");
  bool all_up = std::all_of(results.begin(), results.end(), [](const auto& r) { return r.up(); });
  return all_up ? 0 : 2;
}

// inventory.refresh: every section collected now and sent in a report of its own.
fleetdesk::v1::TaskResult RefreshInventory(Reporter& reporter, channel::Channel& channel) {
  fleetdesk::v1::TaskResult result;
  const auto started = std::chrono::steady_clock::now();
  reporter.RefreshInventory();
  auto report = reporter.Make(ReportKind::kTick);
  const int sections = report ? report->inventory_size() : 0;
  auto seq = report ? channel.Enqueue(std::move(*report))
                    : Result<std::uint64_t>(MakeError(ErrorCode::kInternal, "no report made"));
  result.set_duration_ms(
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - started)
                                     .count()));
  if (!seq) {
    result.set_state(fleetdesk::v1::TASK_STATE_FAILED);
    result.set_message("inventory collected but not queued: " + seq.error().message);
  } else {
    result.set_state(fleetdesk::v1::TASK_STATE_SUCCEEDED);
    result.set_message("inventory collected: " + std::to_string(sections) +
                       " section(s), sent as report " + std::to_string(*seq));
  }
  return result;
}

int Run(AgentConfig file_config, const std::string& config_path, bool config_given) {
  // The file's settings, under which the server's (as last received) are laid.
  auto server_config = LoadServerConfig(file_config.state_dir);
  AgentConfig config = WithServerConfig(file_config, server_config);
  auto identity = LoadIdentity(config.state_dir);
  if (!identity) return Fail(identity.error().message);
  auto journal = journal::Journal::Open(config.state_dir, config.journal_max_size);
  if (!journal) return Fail(journal.error().message);
  spdlog::info("journal: last sequence {}, {} unacked report(s)", journal->last_seq(),
               journal->pending_count());
  if (journal->recovered_bytes() > 0) {
    spdlog::warn("the report journal had a damaged tail; {} byte(s) cut off, {} report(s) kept",
                 journal->recovered_bytes(), journal->pending_count());
  }

  auto task_log = tasks::TaskLog::Open(config.state_dir + "/tasks");
  if (!task_log) return Fail(task_log.error().message);

  asio::io_context io(1);
  channel::Channel* channel_ptr = nullptr;
  std::unique_ptr<services::ServiceWatcher> services;
  if (config.services.enabled) {
    services = std::make_unique<services::ServiceWatcher>(io, ServiceOptions(config), [&] {
      if (channel_ptr != nullptr) channel_ptr->ReportSoon();
    });
  }
  Reporter* reporter_ptr = nullptr;
  checks::CheckRunner checks(io, [&](const fleetdesk::v1::CheckResult& result, bool changed) {
    if (reporter_ptr == nullptr) return;
    reporter_ptr->AddCheckResult(result);
    if (changed) {
      spdlog::info("check {} is {}{}", result.key(), result.up() ? "up" : "down",
                   result.up() ? "" : ": " + result.message());
      if (channel_ptr != nullptr) channel_ptr->ReportSoon();
    }
  });
  Reporter reporter(config, services.get(), &checks);
  reporter_ptr = &reporter;
  collectors::SystemCollector system(config.root);
  channel::Channel channel(io, config, *identity, *journal, system,
                           [&](ReportKind kind) { return reporter.Make(kind); });
  channel_ptr = &channel;
  tasks::TaskRunner runner(
      io, std::move(*task_log), config, config_path,
      tasks::RunnerHooks{
          [&](const fleetdesk::v1::TaskResult& result) { channel.SendTaskResult(result); },
          [&](const fleetdesk::v1::Task&) { return RefreshInventory(reporter, channel); }});
  channel.SetTaskHooks(channel::TaskHooks{
      [&](const fleetdesk::v1::Task& task) { runner.Receive(task); },
      [&](const std::string& id) { runner.Ack(id); }, [&] { return runner.Unacked(); }});

  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::signal_set reload(io, SIGHUP);
  asio::steady_timer watchdog(io);
  bool stopping = false;
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    sd_notify(0, "STOPPING=1");
    stopping = true;
    watchdog.cancel();
    reload.cancel();
    checks.Stop();
    runner.Stop();
    if (services) services->Stop();
    channel.Stop();
  });
  // Puts `config` in force where it can change while running.
  auto apply = [&] {
    reporter.SetInventoryInterval(config.inventory_interval);
    if (services) services->Reconfigure(ServiceOptions(config));
    checks.Set(config.checks);
  };
  // The server's settings: kept on disk for the next start, laid under the file's, applied.
  channel.SetHoldsServerConfig(server_config.ByteSizeLong() > 0);
  channel.OnServerConfig([&](const fleetdesk::v1::AgentConfig& fresh) {
    // Compared as messages: the serialized form of a map (sources) is not in a fixed order.
    if (google::protobuf::util::MessageDifferencer::Equals(fresh, server_config)) return;
    server_config = fresh;
    if (auto s = SaveServerConfig(config.state_dir, server_config); !s) {
      spdlog::warn("cannot keep the server's settings for the next start: {}", s.error().message);
    }
    config = WithServerConfig(file_config, server_config);
    channel.SetHoldsServerConfig(server_config.ByteSizeLong() > 0);
    apply();
    spdlog::info("settings from the server applied: {} check(s) in all, {} from the server",
                 config.checks.size(), server_config.checks_size());
  });
  // SIGHUP: read the config file again and apply what can change while running (log level,
  // intervals, service patterns, checks). The identity, state directory and root stay.
  std::function<void()> wait_reload = [&] {
    reload.async_wait([&](boost::system::error_code ec, int) {
      if (ec) return;
      sd_notify(0, "RELOADING=1");
      auto fresh = LoadAgentConfig(config_path, config_given);
      if (!fresh) {
        spdlog::error("reload refused, keeping the running config: {}", fresh.error().message);
      } else {
        fresh->state_dir = config.state_dir;
        fresh->root = config.root;
        if (auto level = spdlog::level::from_str(fresh->log_level);
            level != spdlog::level::off || fresh->log_level == "off") {
          spdlog::set_level(level);
        }
        file_config = *fresh;
        config = WithServerConfig(file_config, server_config);
        apply();
        spdlog::info("config reloaded from {}: {} check(s)", config_path, config.checks.size());
      }
      sd_notify(0, "READY=1");
      wait_reload();
    });
  };
  wait_reload();
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
    auto period = std::chrono::microseconds(watchdog_usec / 2);
    std::function<void()> tick = [&] {
      sd_notify(0, "WATCHDOG=1");
      watchdog.expires_after(period);
      watchdog.async_wait([&](boost::system::error_code e) {
        if (!e && !stopping) tick();
      });
    };
    tick();
  }
  if (services) services->Start();
  checks.Set(config.checks);
  channel.Start();
  sd_notifyf(0, "READY=1\nSTATUS=Connecting; %zu unacked report(s)", journal->pending_count());
  spdlog::info("fleetdesk-agent {} running as agent {}; {} check(s)", kVersion, identity->agent_id,
               config.checks.size());
  io.run();
  spdlog::info("stopped; {} unacked report(s) kept in the journal", journal->pending_count());
  return 0;
}

}  // namespace
}  // namespace fleetdesk::agent

int main(int argc, char** argv) {
  using namespace fleetdesk::agent;
  CLI::App app{"fleetdesk-agent: reports this host to a fleetdesk server"};
  app.set_version_flag("--version", std::string("fleetdesk-agent ") + fleetdesk::kVersion);
  std::string config_path = "/etc/fleetdesk/agent.toml";
  std::string state_dir;
  std::string log_level;
  app.add_option("--config", config_path, "config file")->capture_default_str();
  app.add_option("--state-dir", state_dir, "state directory (overrides state_dir)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");
  app.add_subcommand("run", "run the agent (the default)");
  auto* enroll = app.add_subcommand("enroll", "enroll this host with a server");
  std::string server;
  std::string token;
  std::string fingerprint;
  enroll->add_option("--server", server, "the server's API URL, https://HOST:8443")->required();
  enroll->add_option("--token", token, "an enrollment token")->required();
  enroll
      ->add_option("--ca-fingerprint", fingerprint,
                   "the server CA's fingerprint, as 'fleetdesk-server ca-fingerprint' prints it")
      ->required();
  app.add_subcommand("collect", "print one full report as JSON, then exit");
  app.add_subcommand("check", "run the link checks once, print results, exit");
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);

  auto config = LoadAgentConfig(config_path, app.get_option("--config")->count() > 0);
  if (!config) return Fail(config.error().message);
  if (!state_dir.empty()) config->state_dir = state_dir;
  if (!log_level.empty()) config->log_level = log_level;
  if (auto s = fleetdesk::log::SetupLogging("fleetdesk-agent", config->log_level); !s) {
    return Fail(s.error().message);
  }
  if (app.got_subcommand("enroll")) return EnrollCommand(*config, server, token, fingerprint);
  if (app.got_subcommand("collect")) return Collect(*config);
  if (app.got_subcommand("check")) return Check(*config);
  return Run(*config, config_path, app.get_option("--config")->count() > 0);
}
