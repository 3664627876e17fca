// The server's own counters, exported at /metrics in Prometheus text format. Lock-free: every
// field is an atomic that network threads bump without coordination.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace fleetdesk::server {

// A histogram with fixed buckets in seconds, Prometheus-style (cumulative when rendered).
class Histogram {
 public:
  // Bucket bounds from 0.5 ms to 10 s: ack latency lives in the low milliseconds.
  static constexpr std::array<double, 12> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1.0,  10.0};
  void Observe(double seconds);
  std::string Render(const std::string& name, const std::string& help) const;

 private:
  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> counts_{};
  std::atomic<std::uint64_t> sum_micros_{0};
};

struct ServerMetrics {
  std::atomic<std::int64_t> agents_connected{0};
  std::atomic<std::uint64_t> agent_connections_total{0};
  std::atomic<std::uint64_t> agent_handshake_failures_total{0};
  std::atomic<std::uint64_t> agent_protocol_errors_total{0};
  std::atomic<std::uint64_t> reports_total{0};
  std::atomic<std::uint64_t> reports_duplicate_total{0};
  std::atomic<std::uint64_t> acks_total{0};
  std::atomic<std::uint64_t> commits_total{0};
  std::atomic<std::uint64_t> commit_errors_total{0};
  std::atomic<std::uint64_t> rows_written_total{0};  // by committed group commits
  std::atomic<std::uint64_t> http_requests_total{0};
  std::atomic<std::uint64_t> http_errors_total{0};  // responses with status >= 400
  std::atomic<std::uint64_t> enrollments_total{0};
  std::atomic<std::uint64_t> certificate_renewals_total{0};
  std::atomic<std::int64_t> writer_queue_depth{0};
  // What the incident engine did with confirmed failures: new tickets, reopened ones, repeats
  // counted on an open one, and failures a maintenance window or an unreachable host suppressed.
  std::atomic<std::uint64_t> incidents_opened_total{0};
  std::atomic<std::uint64_t> incidents_reopened_total{0};
  std::atomic<std::uint64_t> incidents_repeated_total{0};
  std::atomic<std::uint64_t> incidents_suppressed_total{0};
  std::atomic<std::uint64_t> incident_errors_total{0};
  std::atomic<std::int64_t> incident_queue_depth{0};
  std::atomic<std::uint64_t> notifications_sent_total{0};
  std::atomic<std::uint64_t> notification_failures_total{0};  // attempts that failed
  std::atomic<std::uint64_t> notifications_given_up_total{0};
  Histogram incident_latency;  // a commit's observations queued -> their tickets written
  Histogram ack_latency;       // report received -> ack sent
  Histogram commit_latency;    // one group commit

  std::string Render() const;
};

}  // namespace fleetdesk::server
