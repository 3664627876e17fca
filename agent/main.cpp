// fleetdesk-agent: the verbs of DESIGN.md's command-line contract.
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <iostream>

#include "agent/agent_config.hpp"
#include "agent/channel/channel.hpp"
#include "agent/collectors/system.hpp"
#include "agent/identity.hpp"
#include "agent/journal/journal.hpp"
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
  auto identity = Enroll({server, token, fingerprint, config.state_dir, hostname, *machine_id});
  if (!identity) return Fail(identity.error().message);
  std::cout << "enrolled as agent " << identity->agent_id << "; gateway "
            << identity->gateway_urls.front() << "\n";
  return 0;
}

int Collect(const AgentConfig& config) {
  collectors::SystemCollector system(config.root);
  fleetdesk::v1::Report report;
  report.set_full(true);
  *report.mutable_collected_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  *report.mutable_heartbeat() = system.Heartbeat();
  std::cout << codec::ToPrettyJson(report) << "\n";
  return 0;
}

int Check(const AgentConfig&) {
  // Link checks arrive with the agent issue; until then there are none to run.
  std::cout << "[]\n";
  return 0;
}

int Run(const AgentConfig& config) {
  auto identity = LoadIdentity(config.state_dir);
  if (!identity) return Fail(identity.error().message);
  auto journal = journal::Journal::Open(config.state_dir,
                                        static_cast<std::size_t>(config.max_pending_reports));
  if (!journal) return Fail(journal.error().message);
  spdlog::info("journal: last sequence {}, {} unacked report(s)", journal->last_seq(),
               journal->pending_count());
  if (journal->recovered_bytes() > 0) {
    spdlog::warn("the report journal had a damaged tail; {} byte(s) cut off, {} report(s) kept",
                 journal->recovered_bytes(), journal->pending_count());
  }
  collectors::SystemCollector system(config.root);

  asio::io_context io(1);
  channel::Channel channel(io, config, *identity, *journal, system);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  asio::steady_timer watchdog(io);
  bool stopping = false;
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    sd_notify(0, "STOPPING=1");
    stopping = true;
    watchdog.cancel();
    channel.Stop();
  });
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
  channel.Start();
  sd_notify(0, "READY=1");
  spdlog::info("fleetdesk-agent {} running as agent {}", kVersion, identity->agent_id);
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
  return Run(*config);
}
