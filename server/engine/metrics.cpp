#include "server/engine/metrics.hpp"

#include <spdlog/fmt/fmt.h>

namespace fleetdesk::server {

void Histogram::Observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds.at(i)) ++i;
  counts_.at(i).fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<std::uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

std::string Histogram::Render(const std::string& name, const std::string& help) const {
  std::string out = fmt::format("# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += counts_.at(i).load(std::memory_order_relaxed);
    out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, kBounds.at(i), cumulative);
  }
  cumulative += counts_.back().load(std::memory_order_relaxed);
  out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n", name, cumulative);
  out += fmt::format("{}_sum {}\n{}_count {}\n", name,
                     static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6, name,
                     cumulative);
  return out;
}

std::string ServerMetrics::Render() const {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help, const auto& value) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name,
                       value.load(std::memory_order_relaxed));
  };
  metric("fleetdesk_agents_connected", "gauge", "Agents with an open channel.", agents_connected);
  metric("fleetdesk_agent_connections_total", "counter", "Agent channels opened.",
         agent_connections_total);
  metric("fleetdesk_agent_handshake_failures_total", "counter",
         "Agent connections refused during TLS or WebSocket handshake.",
         agent_handshake_failures_total);
  metric("fleetdesk_agent_protocol_errors_total", "counter",
         "Agent channels closed for a malformed or oversized message.",
         agent_protocol_errors_total);
  metric("fleetdesk_reports_total", "counter", "Reports received from agents.", reports_total);
  metric("fleetdesk_reports_duplicate_total", "counter",
         "Reports dropped because their sequence was already accepted.", reports_duplicate_total);
  metric("fleetdesk_acks_total", "counter", "Acks sent to agents.", acks_total);
  metric("fleetdesk_store_commits_total", "counter", "Group commits by the writer.", commits_total);
  metric("fleetdesk_store_commit_errors_total", "counter", "Group commits that failed.",
         commit_errors_total);
  metric("fleetdesk_store_rows_written_total", "counter",
         "Rows inserted, updated or deleted by committed group commits.", rows_written_total);
  metric("fleetdesk_writer_queue_depth", "gauge", "Rows waiting for the writer.",
         writer_queue_depth);
  metric("fleetdesk_http_requests_total", "counter", "API requests answered.", http_requests_total);
  metric("fleetdesk_http_errors_total", "counter", "API requests answered with status >= 400.",
         http_errors_total);
  metric("fleetdesk_enrollments_total", "counter", "Agents enrolled.", enrollments_total);
  metric("fleetdesk_certificate_renewals_total", "counter",
         "Agent certificates renewed over the channel.", certificate_renewals_total);
  metric("fleetdesk_incidents_opened_total", "counter", "Incident tickets opened.",
         incidents_opened_total);
  metric("fleetdesk_incidents_reopened_total", "counter",
         "Resolved incidents reopened by a failure inside the reopen window.",
         incidents_reopened_total);
  metric("fleetdesk_incidents_repeated_total", "counter",
         "Failures counted as one more occurrence of an open incident.", incidents_repeated_total);
  metric("fleetdesk_incidents_suppressed_total", "counter",
         "Failures suppressed by a maintenance window or an unreachable host.",
         incidents_suppressed_total);
  metric("fleetdesk_incident_errors_total", "counter",
         "Incident changes the store refused or could not write.", incident_errors_total);
  metric("fleetdesk_incident_queue_depth", "gauge", "Commits waiting for the incident engine.",
         incident_queue_depth);
  metric("fleetdesk_notifications_sent_total", "counter", "Webhook calls and e-mails delivered.",
         notifications_sent_total);
  metric("fleetdesk_notification_failures_total", "counter",
         "Delivery attempts that failed (each is retried, with backoff).",
         notification_failures_total);
  metric("fleetdesk_notifications_given_up_total", "counter",
         "Notifications given up after their last attempt.", notifications_given_up_total);
  out += incident_latency.Render("fleetdesk_incident_seconds",
                                 "Time from a commit's observations to their tickets written.");
  out += ack_latency.Render("fleetdesk_ack_latency_seconds",
                            "Time from receiving a report to sending its ack.");
  out += commit_latency.Render("fleetdesk_store_commit_seconds", "Duration of one group commit.");
  return out;
}

}  // namespace fleetdesk::server
