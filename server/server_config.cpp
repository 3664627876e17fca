#include "server/server_config.hpp"

#include <charconv>

#include "common/config.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server {

Result<ListenAddress> ParseListen(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "listen address '" + text + "' must be ADDRESS:PORT, e.g. 0.0.0.0:8443");
  }
  ListenAddress out;
  out.address = text.substr(0, colon);
  if (out.address.size() >= 2 && out.address.front() == '[' && out.address.back() == ']') {
    out.address = out.address.substr(1, out.address.size() - 2);
  }
  auto port_text = text.substr(colon + 1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535 ||
      out.address.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "listen address '" + text + "' must be ADDRESS:PORT with a port up to 65535");
  }
  out.port = static_cast<unsigned short>(port);
  return out;
}

Result<ServerConfig> LoadServerConfig(const std::string& path, bool must_exist) {
  auto reader = config::ConfigReader::LoadOptional(path, must_exist);
  if (!reader) return reader.error();
  return ReadServerConfig(*reader, path);
}

Result<ServerConfig> ParseServerConfig(const std::string& text, const std::string& name) {
  auto reader = config::ConfigReader::Parse(text, name);
  if (!reader) return reader.error();
  return ReadServerConfig(*reader, name);
}

Result<ServerConfig> ReadServerConfig(config::ConfigReader& r, const std::string& path) {
  ServerConfig config;
  r.String("data_dir", &config.data_dir);
  r.String("database", &config.database);
  r.String("log_level", &config.log_level);
  std::int64_t threads = config.threads;
  r.Int("threads", 0, 256, &threads);
  config.threads = static_cast<int>(threads);
  std::int64_t workers = config.api_workers;
  r.Int("api.workers", 1, 256, &workers);
  config.api_workers = static_cast<int>(workers);
  std::string api_listen;
  std::string agent_listen;
  r.String("api.listen", &api_listen);
  r.String("agents.listen", &agent_listen);
  r.StringList("agents.gateway_urls", &config.gateway_urls);
  r.Duration("agents.heartbeat_interval", &config.heartbeat_interval);
  r.Duration("agents.task_poll_interval", &config.task_poll_interval);
  r.Int("agents.unreachable_after_intervals", 2, 1000, &config.unreachable_after_intervals);
  r.Duration("retention.raw_metrics", &config.retention_raw_metrics);
  r.Duration("retention.metric_rollups", &config.retention_metric_rollups);
  r.Duration("retention.events", &config.retention_events);
  r.Duration("agents.certificate_validity", &config.agent_certificate_validity);
  r.Duration("api.session_idle_timeout", &config.session_idle_timeout);
  r.Duration("api.session_max_age", &config.session_max_age);
  r.Duration("api.request_timeout", &config.api_request_timeout);
  r.Duration("api.live_interval", &config.live_interval);
  r.Int("api.rate_limit", 1, 1'000'000, &config.api_rate_limit);
  r.Int("api.rate_burst", 1, 1'000'000, &config.api_rate_burst);
  r.Int("agents.rate_limit", 1, 1'000'000, &config.agent_rate_limit);
  r.Int("agents.rate_burst", 1, 1'000'000, &config.agent_rate_burst);
  r.Int("agents.max_message_bytes", 4096, 64 << 20, &config.max_message_bytes);
  r.StringList("tls.names", &config.tls_names);
  r.Int("tickets.attachment_max_bytes", 1, 100 << 20, &config.attachments.max_bytes);
  std::vector<std::string> attachment_types;
  r.StringList("tickets.attachment_types", &attachment_types);
  r.String("tickets.attachment_dir", &config.attachment_dir);
  auto incidents = engine::incidents::ReadIncidentRules(r);
  auto sla = engine::incidents::ReadSlaTargets(r);
  auto notify = engine::notify::ReadNotifyOptions(r);
  if (auto status = r.Finish(); !status) return status.error();
  if (!incidents) {
    return MakeError(ErrorCode::kInvalidArgument, path + ": " + incidents.error().message);
  }
  config.incidents = std::move(*incidents);
  if (!sla) return MakeError(ErrorCode::kInvalidArgument, path + ": " + sla.error().message);
  config.sla = *sla;
  if (!notify) return MakeError(ErrorCode::kInvalidArgument, path + ": " + notify.error().message);
  config.notify = std::move(*notify);
  for (const auto& type : attachment_types) {
    if (!api::KnownAttachmentType(type)) {
      std::string known;
      for (const auto& t : api::DefaultAttachmentTypes()) known += ", " + t;
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": tickets.attachment_types: the server cannot check '" + type +
                           "' against a file's bytes; it knows application/octet-stream (any "
                           "bytes)" +
                           known);
    }
  }
  if (!attachment_types.empty()) config.attachments.types = attachment_types;
  if (!api_listen.empty()) {
    auto parsed = ParseListen(api_listen);
    if (!parsed)
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": api.listen: " + parsed.error().message);
    config.api_listen = *parsed;
  }
  if (!agent_listen.empty()) {
    auto parsed = ParseListen(agent_listen);
    if (!parsed) {
      return MakeError(ErrorCode::kInvalidArgument,
                       path + ": agents.listen: " + parsed.error().message);
    }
    config.agent_listen = *parsed;
  }
  if (config.api_request_timeout < std::chrono::seconds(1) ||
      config.api_request_timeout > std::chrono::minutes(10)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": api.request_timeout must be between 1s and 10m");
  }
  if (config.session_idle_timeout < std::chrono::minutes(1) ||
      config.session_max_age < config.session_idle_timeout) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path +
                         ": api.session_idle_timeout must be 1m or more, and "
                         "api.session_max_age at least as long");
  }
  // Agents renew at 70-90 % of the lifetime; under a day they would spend their time renewing,
  // and past the CA's own ten years the certificate would outlive its issuer.
  if (config.agent_certificate_validity < std::chrono::hours(24) ||
      config.agent_certificate_validity > std::chrono::hours(24 * 3650)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": agents.certificate_validity must be between 1d and 3650d");
  }
  if (config.live_interval < std::chrono::seconds(1) ||
      config.live_interval > std::chrono::minutes(1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": api.live_interval must be from 1s to 1m");
  }
  if (config.task_poll_interval < std::chrono::seconds(1) ||
      config.task_poll_interval > std::chrono::hours(1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": agents.task_poll_interval must be from 1s to 1h");
  }
  if (config.heartbeat_interval < std::chrono::seconds(1)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     path + ": agents.heartbeat_interval must be 1s or more");
  }
  return config;
}

std::string RedactDatabaseUrl(const std::string& url) {
  std::string out = url;
  auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    auto at = out.find('@', scheme + 3);
    auto slash = out.find('/', scheme + 3);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (std::size_t at = out.find("password="); at != std::string::npos;
       at = out.find("password=", at + 1)) {
    auto end = out.find_first_of("& ", at);
    out.replace(at + 9, (end == std::string::npos ? out.size() : end) - at - 9, "***");
  }
  return out;
}

std::string ServerConfig::AttachmentDir() const {
  if (!attachment_dir.empty()) return attachment_dir;
  if (store::SqlitePath(DatabaseUrl())) return data_dir + "/attachments";
  return "";
}

}  // namespace fleetdesk::server
