// fleetdesk-server: the verbs of DESIGN.md's command-line contract.
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include "common/config.hpp"
#include "common/crypto.hpp"
#include "common/files.hpp"
#include "common/log.hpp"
#include "common/net/tls.hpp"
#include "common/version.hpp"
#include "server/api/api.hpp"
#include "server/api/auth.hpp"
#include "server/api/hosts_io.hpp"
#include "server/api/pki.hpp"
#include "server/engine/clock.hpp"
#include "server/engine/incident_engine.hpp"
#include "server/engine/jobs.hpp"
#include "server/engine/tasks.hpp"
#include "server/engine/writer.hpp"
#include "server/gateway/gateway.hpp"
#include "server/http/http_server.hpp"
#include "server/server_config.hpp"
#include "server/store/sqlite/backup.hpp"
#include "server/web/web.hpp"

namespace fleetdesk::server {
namespace {

namespace asio = boost::asio;

constexpr const char* kDefaultConfig = "/etc/fleetdesk/server.toml";

int Fail(const std::string& message) {
  std::cerr << "fleetdesk-server: " << message << "\n";
  return 1;
}

// 10,000 agents need 10,000 descriptors; take what the hard limit allows, as nginx does with
// worker_rlimit_nofile.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Result<std::unique_ptr<store::Store>> OpenMigrated(const ServerConfig& config) {
  auto store = store::OpenStore(config.DatabaseUrl());
  if (!store) return store.error();
  if (auto status = (*store)->Migrate(); !status) return status.error();
  return store;
}

// Changes made on the server machine are audited as the command line's, by the OS account that
// ran it.
store::Actor CliActor() {
  store::Actor actor;
  actor.kind = "cli";
  const passwd* account = ::getpwuid(::geteuid());
  actor.name = account != nullptr ? account->pw_name : "uid " + std::to_string(::geteuid());
  return actor;
}

int Init(const ServerConfig& config) {
  if (auto s = files::MakeDirectory(config.data_dir, 0700); !s) return Fail(s.error().message);
  auto names = DefaultServerNames();
  names.insert(names.end(), config.tls_names.begin(), config.tls_names.end());
  if (auto s = Pki::Initialize(config.data_dir, names); !s) return Fail(s.error().message);
  auto store = OpenMigrated(config);
  if (!store) return Fail(store.error().message);
  auto existing = (*store)->FindUser("admin");
  if (!existing) return Fail(existing.error().message);
  std::cout << "data directory: " << config.data_dir << "\n";
  if (*existing) {
    std::cout << "already initialized; the admin user exists (its password is not shown again)\n";
    return 0;
  }
  auto password = auth::NewPassword();
  auto hash = auth::HashPassword(password);
  if (!hash) return Fail(hash.error().message);
  auto added = (*store)->AddUser({0, "admin", "admin", *hash, false, NowMs()}, CliActor());
  if (!added) return Fail(added.error().message);
  std::cout << "admin user: admin\nadmin password: " << password
            << "\n(shown once; store it now)\n";
  return 0;
}

int CaFingerprint(const ServerConfig& config) {
  auto pki = Pki::Load(config.data_dir);
  if (!pki) return Fail(pki.error().message);
  auto fingerprint = crypto::Fingerprint(pki->ca.certificate_pem);
  if (!fingerprint) return Fail(fingerprint.error().message);
  std::cout << *fingerprint << "\n";
  return 0;
}

int CreateEnrollmentToken(const ServerConfig& config, const std::string& ttl,
                          std::int64_t max_hosts, const std::string& name) {
  auto duration = config::ParseDuration(ttl);
  if (!duration) return Fail("--ttl: " + duration.error().message);
  auto store = OpenMigrated(config);
  if (!store) return Fail(store.error().message);
  auto token = auth::NewEnrollmentToken();
  store::NewEnrollmentToken row;
  row.token_hash = auth::HashToken(token);
  row.created_ms = NowMs();
  row.expires_ms = row.created_ms + duration->count() * 1000;
  if (max_hosts > 0) row.max_hosts = max_hosts;
  const auto actor = CliActor();
  row.created_by = actor.name;
  row.name = name;
  if (auto s = (*store)->CreateEnrollmentToken(row, actor); !s) return Fail(s.error().message);
  std::cout << token << "\n";
  return 0;
}

int AddUser(const ServerConfig& config, const std::string& name, const std::string& role,
            const std::string& password_file) {
  std::string password;
  if (password_file.empty()) {
    password = auth::NewPassword();
  } else {
    auto content = files::Read(password_file);
    if (!content) return Fail(content.error().message);
    password = *content;
    while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
      password.pop_back();
    }
    if (password.size() < 12) return Fail("the password must have 12 characters or more");
  }
  auto hash = auth::HashPassword(password);
  if (!hash) return Fail(hash.error().message);
  auto store = OpenMigrated(config);
  if (!store) return Fail(store.error().message);
  auto added = (*store)->AddUser({0, name, role, *hash, false, NowMs()}, CliActor());
  if (!added) return Fail(added.error().message);
  std::cout << "user " << name << " (" << role << ") added\n";
  if (password_file.empty()) std::cout << "password: " << password << "\n(shown once)\n";
  return 0;
}

int CreateApiToken(const ServerConfig& config, const std::string& user, const std::string& ttl,
                   const std::string& scope, const std::string& name) {
  auto duration = config::ParseDuration(ttl);
  if (!duration) return Fail("--ttl: " + duration.error().message);
  auto store = OpenMigrated(config);
  if (!store) return Fail(store.error().message);
  auto token = auth::NewApiToken();
  const auto actor = CliActor();
  store::NewApiToken row;
  row.user_name = user;
  row.token_hash = auth::HashToken(token);
  row.name = name;
  row.scope = scope;
  row.created_by = actor.name;
  row.created_ms = NowMs();
  row.expires_ms = row.created_ms + duration->count() * 1000;
  if (auto s = (*store)->CreateApiToken(row, actor); !s) return Fail(s.error().message);
  std::cout << token << "\n";
  return 0;
}

int Backup(const ServerConfig& config, const std::string& file) {
  auto path = store::SqlitePath(config.DatabaseUrl());
  if (!path)
    return Fail("backup covers the embedded SQLite store; back up PostgreSQL with pg_dump");
  if (auto s = store::sqlite::Backup(config.data_dir, *path, config.AttachmentDir(), file); !s) {
    return Fail(s.error().message);
  }
  std::cout << "backup written to " << file << " (it holds the CA key: keep it safe)\n";
  return 0;
}

int Restore(const ServerConfig& config, const std::string& file) {
  auto path = store::SqlitePath(config.DatabaseUrl());
  if (!path) {
    return Fail("restore covers the embedded SQLite store; restore PostgreSQL with pg_restore");
  }
  if (auto s = files::MakeDirectory(config.data_dir, 0700); !s) return Fail(s.error().message);
  auto lock = files::ExclusiveLock::Acquire(config.data_dir + "/server.lock");
  if (!lock) return Fail(lock.error().message + "; stop it before restoring");
  if (auto s = store::sqlite::Restore(file, config.data_dir, *path, config.AttachmentDir()); !s) {
    return Fail(s.error().message);
  }
  std::cout << "restored " << file << " into " << config.data_dir << "\n";
  return 0;
}

engine::TaskDispatcherOptions TaskOptions(const ServerConfig& config, bool shared_database) {
  engine::TaskDispatcherOptions options;
  options.tick = config.task_poll_interval;
  if (shared_database) {
    options.listen = [url = config.DatabaseUrl()] {
      return store::Listen(url, store::kTasksChannel);
    };
  }
  return options;
}

int Serve(const ServerConfig& config) {
  RaiseFileLimit();
  auto pki = Pki::Load(config.data_dir);
  if (!pki) return Fail(pki.error().message);
  auto lock = files::ExclusiveLock::Acquire(config.data_dir + "/server.lock");
  if (!lock) return Fail(lock.error().message);
  auto writer_store = OpenMigrated(config);
  if (!writer_store) return Fail(writer_store.error().message);

  ServerMetrics metrics;
  engine::StateEngine engine;
  auto hosts = (*writer_store)->LoadHosts();
  if (!hosts) return Fail(hosts.error().message);
  engine.Load(*hosts);
  // Incidents: fed by every commit's observations, on a thread of its own. On SQLite it writes
  // through the writer's connection (see SharedStore); on PostgreSQL through one of its own.
  const bool shared_database = !store::SqlitePath(config.DatabaseUrl()).has_value();
  auto writer_connection = std::make_shared<store::SharedStore>(std::move(*writer_store));
  auto incident_connection = writer_connection;
  if (shared_database) {
    auto opened = store::OpenStore(config.DatabaseUrl());
    if (!opened) return Fail(opened.error().message);
    incident_connection = std::make_shared<store::SharedStore>(std::move(*opened));
  }
  // Notifications: queued where a change is made, delivered by a thread of each server.
  auto notify_store = store::OpenStore(config.DatabaseUrl());
  if (!notify_store) return Fail(notify_store.error().message);
  engine::notify::Notifier notifier(std::move(*notify_store), config.notify, metrics);
  notifier.Start();
  auto notified = [&notifier] { notifier.Wake(); };
  engine::IncidentEngineOptions incident_options;
  incident_options.rules = config.incidents;
  incident_options.sla = config.sla;
  incident_options.notify = config.notify;
  incident_options.notified = notified;
  engine::IncidentEngine incidents(incident_connection, incident_options, metrics);
  incidents.Start();
  engine::Writer writer(writer_connection, metrics);
  writer.OnCommitted(
      [&incidents](store::Observations&& seen) { incidents.Submit(std::move(seen)); });
  writer.Start();
  if (!shared_database) {
    // Channels do not survive a restart: whatever the last run left connected is offline now.
    // (On a shared PostgreSQL the other servers' channels are alive; a host whose server died
    // goes silent and the fleet jobs mark it unreachable.)
    for (const auto& h : *hosts) {
      if (h.connected) {
        auto row = h;
        row.connected = false;
        writer.Submit(row, {});
      }
    }
  }
  // Several servers, one database: an agent may have enrolled, or last reported, through
  // another server. Each hello reads its committed row (one primary-key lookup per channel).
  std::unique_ptr<store::Store> source_store;
  std::mutex source_mutex;
  if (shared_database) {
    auto opened = store::OpenStore(config.DatabaseUrl());
    if (!opened) return Fail(opened.error().message);
    source_store = std::move(*opened);
    engine.SetSource([&](const std::string& agent_id) {
      std::lock_guard lock(source_mutex);
      return source_store->FindAgent(agent_id);
    });
  }

  // Half the silent-host limit: see StateEngine::SetFreshWindow.
  engine.SetFreshWindow(std::chrono::duration_cast<std::chrono::milliseconds>(
                            config.heartbeat_interval * config.unreachable_after_intervals)
                            .count() /
                        2);

  auto api_tls = net::MakeServerContext({pki->server.certificate_pem, pki->server.key_pem, ""});
  auto agent_tls = net::MakeServerContext(
      {pki->server.certificate_pem, pki->server.key_pem, pki->ca.certificate_pem});
  if (!api_tls) return Fail(api_tls.error().message);
  if (!agent_tls) return Fail(agent_tls.error().message);

  // By default one core is left to the writer, the one thread every report goes through: with
  // a network thread on every core they took its core from it, and acks waited (10,000 reports/s
  // on 2 cores, SQLite: ack p99 over seven runs 147-1349 ms, median 217, with two network
  // threads; 52-210 ms, median 132, with one).
  const int threads = config.threads > 0
                          ? config.threads
                          : static_cast<int>(std::max(2U, std::thread::hardware_concurrency()) - 1);
  asio::io_context io(threads);
  asio::thread_pool workers(static_cast<std::size_t>(config.api_workers));
  store::StorePool stores(config.DatabaseUrl());

  gateway::GatewayOptions gateway_options;
  gateway_options.address = config.agent_listen.address;
  gateway_options.port = config.agent_listen.port;
  gateway_options.heartbeat_interval = config.heartbeat_interval;
  gateway_options.max_message_bytes = static_cast<std::size_t>(config.max_message_bytes);
  gateway_options.rate_limit = static_cast<double>(config.agent_rate_limit);
  gateway_options.rate_burst = static_cast<double>(config.agent_rate_burst);
  gateway_options.ca = pki->ca;
  gateway_options.certificate_validity = config.agent_certificate_validity;
  gateway_options.network_threads = threads;
  gateway::Gateway gateway(io, *agent_tls, gateway_options, engine, writer, metrics);
  // Configuration tasks: sent to this server's channels and their results recorded, on a thread
  // of its own; on SQLite through the writer's connection (see SharedStore).
  auto task_connection = writer_connection;
  if (shared_database) {
    auto opened = store::OpenStore(config.DatabaseUrl());
    if (!opened) return Fail(opened.error().message);
    task_connection = std::make_shared<store::SharedStore>(std::move(*opened));
  }
  engine::TaskDispatcher dispatcher(
      task_connection,
      engine::TaskChannels{
          [&gateway](const std::string& agent) { return gateway.Connected(agent); },
          [&gateway](const std::string& agent, const fleetdesk::v1::Task& task) {
            fleetdesk::v1::ServerMessage message;
            *message.mutable_task() = task;
            return gateway.Send(agent, std::move(message));
          },
          [&gateway](const std::string& agent, const std::string& task_id) {
            fleetdesk::v1::ServerMessage message;
            message.mutable_task_ack()->set_task_id(task_id);
            gateway.Send(agent, std::move(message));
          },
          [&gateway] { return gateway.ConnectedAgents(); },
          [&gateway](const std::string& agent, const fleetdesk::v1::AgentConfig& config) {
            fleetdesk::v1::ServerMessage message;
            *message.mutable_config() = config;
            return gateway.Send(agent, std::move(message));
          }},
      TaskOptions(config, shared_database));
  gateway.OnTaskResult(
      [&dispatcher](const std::string& agent, const fleetdesk::v1::TaskResult& result) {
        dispatcher.Submit(agent, result);
      });
  gateway.OnAgentConnected([&dispatcher](const std::string& agent, bool holds_server_config) {
    dispatcher.AgentConnected(agent, holds_server_config);
  });
  if (auto s = gateway.Start(); !s) return Fail(s.error().message);
  dispatcher.Start();

  auto jobs_store = store::OpenStore(config.DatabaseUrl());
  if (!jobs_store) return Fail(jobs_store.error().message);
  engine::JobOptions job_options;
  job_options.silent_after = config.heartbeat_interval * config.unreachable_after_intervals;
  job_options.tick = std::clamp<std::chrono::milliseconds>(
      config.heartbeat_interval / 2, std::chrono::seconds(1), std::chrono::seconds(15));
  job_options.retention.raw_metrics_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.retention_raw_metrics).count();
  job_options.retention.rollup_metrics_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.retention_metric_rollups)
          .count();
  job_options.retention.events_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(config.retention_events).count();
  job_options.unreachable = [&incidents](std::vector<std::int64_t> hosts, std::int64_t at_ms) {
    incidents.HostsUnreachable(std::move(hosts), at_ms);
  };
  job_options.incident_quiet = std::chrono::milliseconds(config.incidents.timing.quiet_ms);
  job_options.notify = config.notify;
  job_options.notified = notified;
  job_options.cut_off = [&gateway](const std::string& agent_id) {
    gateway.Disconnect(agent_id, "this agent has been revoked or its host archived");
  };
  engine::FleetJobs jobs(std::move(*jobs_store), job_options);
  jobs.Start();

  api::ApiOptions api_options;
  api_options.gateway_urls = config.gateway_urls;
  api_options.agent_port = gateway.port();
  api_options.agent_certificate_validity = config.agent_certificate_validity;
  api_options.session_idle_timeout = config.session_idle_timeout;
  api_options.session_max_age = config.session_max_age;
  api_options.rate_limit = static_cast<double>(config.api_rate_limit);
  api_options.rate_burst = static_cast<double>(config.api_rate_burst);
  api_options.sla = config.sla;
  api_options.notify = config.notify;
  api_options.assignment = config.incidents.assignment;
  api_options.rules = config.incidents;
  api_options.notified = notified;
  api_options.attachments = config.attachments;
  api_options.attachments.dir = config.AttachmentDir();
  api::Api api(api_options, stores, engine, *pki, metrics);
  api.OnAgentCutOff([&gateway](const std::string& agent_id, const std::string& reason) {
    gateway.Disconnect(agent_id, reason);
  });
  api.OnTaskSubmitted([&dispatcher] { dispatcher.Wake(); });
  engine::LiveHub live(stores, config.live_interval);
  live.Start();
  api.SetLiveHub(&live);
  http::HttpServerOptions http_options;
  http_options.address = config.api_listen.address;
  http_options.port = config.api_listen.port;
  http_options.request_timeout = config.api_request_timeout;
  // The import handler takes up to 32 MiB (100,000 hosts); everything else stays within 1 MiB.
  http_options.larger_bodies = {
      {"/api/v1/hosts/import", api::kMaxImportBytes},
      {"/api/v1/tickets/{id}/attachments", static_cast<std::size_t>(config.attachments.max_bytes)}};
  http::HttpServer http_server(io, *api_tls, workers, http_options, [&api](const http::Request& r) {
    if (auto page = web::Serve(r)) return std::move(*page);
    return api.Handle(r);
  });
  if (auto s = http_server.Start(); !s) return Fail(s.error().message);

  spdlog::info("fleetdesk-server {} serving: api https://{}:{} agents wss://{}:{} database {}",
               kVersion, config.api_listen.address, http_server.port(), config.agent_listen.address,
               gateway.port(), RedactDatabaseUrl(config.DatabaseUrl()));

  // Graceful stop: stop accepting, close channels (the writer commits what they sent), then let
  // the threads run out of work.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  auto guard = asio::make_work_guard(io);
  asio::steady_timer watchdog(io);
  // Agents that do not answer the close handshake must not hold the stop forever: a thread
  // outside the event loop (a timer inside it would itself keep the loop alive) ends it.
  std::mutex stop_mutex;
  std::condition_variable stop_changed;
  bool stop_requested = false;
  bool loop_finished = false;
  std::thread stop_guard([&] {
    std::unique_lock lock(stop_mutex);
    stop_changed.wait(lock, [&] { return stop_requested || loop_finished; });
    if (!stop_changed.wait_for(lock, std::chrono::seconds(10), [&] { return loop_finished; })) {
      spdlog::warn("channels did not close within 10 s; stopping anyway");
      io.stop();
    }
  });
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: stopping", signal);
    sd_notify(0, "STOPPING=1");
    http_server.Stop();
    gateway.Stop();
    watchdog.cancel();
    guard.reset();
    std::lock_guard lock(stop_mutex);
    stop_requested = true;
    stop_changed.notify_all();
  });

  // The watchdog: systemd restarts us when the event loop stops answering.
  std::uint64_t watchdog_usec = 0;
  if (sd_watchdog_enabled(0, &watchdog_usec) > 0) {
    auto period = std::chrono::microseconds(watchdog_usec / 2);
    std::function<void()> tick = [&] {
      sd_notify(0, "WATCHDOG=1");
      watchdog.expires_after(period);
      watchdog.async_wait([&](boost::system::error_code e) {
        if (!e && guard.owns_work()) tick();
      });
    };
    tick();
  }
  sd_notify(0, "READY=1");
  // Tests and scripts wait for this line.
  spdlog::info("ready");

  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back([&io] { io.run(); });
  io.run();
  for (auto& t : pool) t.join();
  {
    std::lock_guard lock(stop_mutex);
    loop_finished = true;
    stop_changed.notify_all();
  }
  stop_guard.join();
  // A second SIGTERM or SIGINT (a supervisor insisting) must not kill the server while it still
  // commits what the channels handed over: blocked on this thread, it waits while the other
  // threads wind down (they still take it, harmlessly, through the signal set), and once only
  // this thread is left it stays pending until the process ends on its own.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  workers.join();
  dispatcher.Stop();  // records the results the channels handed over
  jobs.Stop();
  live.Stop();
  writer.Stop();     // commits whatever the channels handed over
  incidents.Stop();  // and what those commits saw
  notifier.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace
}  // namespace fleetdesk::server

int main(int argc, char** argv) {
  using namespace fleetdesk::server;
  CLI::App app{"fleetdesk-server: the fleetdesk asset database, incident desk and agent gateway"};
  app.set_version_flag("--version", std::string("fleetdesk-server ") + fleetdesk::kVersion);
  std::string config_path = kDefaultConfig;
  std::string data_dir;
  std::string api_listen;
  std::string agent_listen;
  std::string log_level;
  app.add_option("--config", config_path, "config file")->capture_default_str();
  app.add_option("--data-dir", data_dir, "data directory (overrides data_dir)");
  app.add_option("--api-listen", api_listen, "API address, ADDRESS:PORT (overrides api.listen)");
  app.add_option("--agent-listen", agent_listen,
                 "agent gateway address, ADDRESS:PORT (overrides agents.listen)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn or error");

  app.add_subcommand("serve", "run the server (the default)");
  app.add_subcommand("init",
                     "make the data directory, CA and schema; print the admin password once");
  app.add_subcommand("ca-fingerprint", "print the CA certificate's fingerprint, SHA256:<hex>");
  auto* enroll_token =
      app.add_subcommand("enroll-token", "enrollment tokens")->require_subcommand(1);
  std::string enroll_ttl = "24h";
  std::int64_t max_hosts = 0;
  auto* enroll_create = enroll_token->add_subcommand("create", "print a new enrollment token");
  enroll_create->add_option("--ttl", enroll_ttl, "lifetime (s, m, h, d)")->capture_default_str();
  enroll_create->add_option("--max-hosts", max_hosts, "hosts it may enroll (0: no limit)");
  std::string enroll_name;
  enroll_create->add_option("--name", enroll_name, "what the token is for, shown in lists");
  auto* user = app.add_subcommand("user", "users")->require_subcommand(1);
  auto* user_add = user->add_subcommand("add", "add a user");
  std::string user_name;
  std::string role;
  std::string password_file;
  user_add->add_option("NAME", user_name)->required();
  user_add->add_option("--role", role)
      ->required()
      ->check(CLI::IsMember({"admin", "operator", "requester", "viewer"}));
  user_add->add_option("--password-file", password_file, "file holding the password");
  auto* api_token = app.add_subcommand("api-token", "API tokens")->require_subcommand(1);
  auto* api_create = api_token->add_subcommand("create", "print a new API token");
  std::string token_user;
  std::string token_ttl = "30d";
  api_create->add_option("--user", token_user)->required();
  api_create->add_option("--ttl", token_ttl, "lifetime (s, m, h, d)")->capture_default_str();
  std::string token_scope = "full";
  std::string token_name;
  api_create->add_option("--scope", token_scope, "read, worklog or full")
      ->check(CLI::IsMember({"read", "worklog", "full"}))
      ->capture_default_str();
  api_create->add_option("--name", token_name, "what the token is for, shown in lists");
  std::string backup_file;
  std::string restore_file;
  auto* backup = app.add_subcommand("backup", "write a consistent copy of the data (online)");
  backup->add_option("FILE", backup_file)->required();
  auto* restore = app.add_subcommand("restore", "put a backup back (the server must be stopped)");
  restore->add_option("FILE", restore_file)->required();
  app.require_subcommand(0, 1);
  CLI11_PARSE(app, argc, argv);

  const bool explicit_config = app.get_option("--config")->count() > 0;
  auto config = LoadServerConfig(config_path, explicit_config);
  if (!config) return Fail(config.error().message);
  if (!data_dir.empty()) config->data_dir = data_dir;
  if (!log_level.empty()) config->log_level = log_level;
  for (auto [text, out] : {std::pair{&api_listen, &config->api_listen},
                           std::pair{&agent_listen, &config->agent_listen}}) {
    if (text->empty()) continue;
    auto parsed = ParseListen(*text);
    if (!parsed) return Fail(parsed.error().message);
    *out = *parsed;
  }
  if (auto s = fleetdesk::log::SetupLogging("fleetdesk-server", config->log_level); !s) {
    return Fail(s.error().message);
  }

  if (app.got_subcommand("init")) return Init(*config);
  if (app.got_subcommand("ca-fingerprint")) return CaFingerprint(*config);
  if (enroll_token->got_subcommand(enroll_create)) {
    return CreateEnrollmentToken(*config, enroll_ttl, max_hosts, enroll_name);
  }
  if (user->got_subcommand(user_add)) return AddUser(*config, user_name, role, password_file);
  if (api_token->got_subcommand(api_create)) {
    return CreateApiToken(*config, token_user, token_ttl, token_scope, token_name);
  }
  if (app.got_subcommand(backup)) return Backup(*config, backup_file);
  if (app.got_subcommand(restore)) return Restore(*config, restore_file);
  return Serve(*config);
}
