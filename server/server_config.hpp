// /etc/fleetdesk/server.toml, read into a plain struct. packaging/config/server.toml documents
// every key; an unknown key is an error naming it and its line.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/result.hpp"
#include "server/api/attachments.hpp"
#include "server/engine/incident_rules.hpp"
#include "server/engine/notify.hpp"

namespace fleetdesk::server {

struct ListenAddress {
  std::string address;
  unsigned short port = 0;
};

// "0.0.0.0:8443", "[::]:8443", "127.0.0.1:0".
Result<ListenAddress> ParseListen(const std::string& text);

struct ServerConfig {
  std::string data_dir = "/var/lib/fleetdesk";
  // [incidents] and [[incidents.rules]]; the defaults when the file has none.
  engine::incidents::IncidentRules incidents = [] {
    engine::incidents::IncidentRules rules;
    rules.rules = engine::incidents::DefaultRules();
    rules.thresholds = engine::incidents::DefaultThresholds();
    return rules;
  }();
  // [notifications]: routes to webhooks and e-mail, and the SMTP server.
  engine::notify::NotifyOptions notify;
  // [tickets.sla]: first response and resolution targets, P1 to P5.
  store::SlaTargets sla = store::DefaultSlaTargets();
  // [tickets] attachment_max_bytes, attachment_types; attachment_dir as written (see
  // AttachmentDir).
  api::AttachmentOptions attachments;
  std::string attachment_dir;
  std::string database;  // empty: <data_dir>/fleetdesk.db
  std::string log_level = "info";
  int threads = 0;  // network threads; 0: one per core but one, at least one
  int api_workers = 4;
  ListenAddress api_listen{"0.0.0.0", 8443};
  ListenAddress agent_listen{"0.0.0.0", 8441};
  std::vector<std::string> gateway_urls;
  std::chrono::seconds heartbeat_interval{30};
  // How often each server's task thread looks for hosts due a task without being woken (by a
  // submission, a connect, a result, or on PostgreSQL another server's notification).
  std::chrono::seconds task_poll_interval{1};
  // How often each server reads what changed for the dashboard's live updates.
  std::chrono::seconds live_interval{1};
  // A host silent for this many heartbeat intervals becomes unreachable.
  std::int64_t unreachable_after_intervals = 3;
  // History kept; older is pruned by whichever server runs the fleet jobs.
  std::chrono::seconds retention_raw_metrics{std::chrono::hours(24 * 7)};
  std::chrono::seconds retention_metric_rollups{std::chrono::hours(24 * 365)};
  std::chrono::seconds retention_events{std::chrono::hours(24 * 730)};
  std::chrono::seconds agent_certificate_validity{std::chrono::hours(24 * 365)};
  // Browser sessions end after this long unused, and at the latest after session_max_age.
  std::chrono::seconds session_idle_timeout{std::chrono::minutes(30)};
  std::chrono::seconds session_max_age{std::chrono::hours(12)};
  // Requests a second (average, burst) per API credential; messages a second per agent.
  // Reading one request (or the TLS handshake), and writing one answer, must finish within
  // this; a keep-alive connection idle this long is closed. Slow clients (slowloris) are cut off.
  std::chrono::seconds api_request_timeout{30};
  std::int64_t api_rate_limit = 50;
  std::int64_t api_rate_burst = 200;
  std::int64_t agent_rate_limit = 200;
  std::int64_t agent_rate_burst = 1000;
  std::int64_t max_message_bytes = 4 << 20;
  std::vector<std::string> tls_names;  // extra names for the server certificate

  std::string DatabaseUrl() const {
    return database.empty() ? data_dir + "/fleetdesk.db" : database;
  }
  // Where attachments' bytes go: the configured directory; else <data_dir>/attachments beside a
  // SQLite file; else (PostgreSQL, several servers) empty: in the database.
  std::string AttachmentDir() const;
};

// The database setting as it may be logged: a password in a postgresql:// URL (user:PASSWORD@
// or password=...) becomes "***".
std::string RedactDatabaseUrl(const std::string& url);

// Reads `path`; a missing file at the default path means defaults, elsewhere an error.
Result<ServerConfig> LoadServerConfig(const std::string& path, bool must_exist);
// The same from text; `name` stands for the file in messages.
Result<ServerConfig> ParseServerConfig(const std::string& text, const std::string& name);
Result<ServerConfig> ReadServerConfig(config::ConfigReader& reader, const std::string& name);

}  // namespace fleetdesk::server
