#include "server/store/metric_point.hpp"

#include <algorithm>

namespace fleetdesk::server::store {

MetricPoint MetricPointOf(const fleetdesk::v1::Metrics& m) {
  MetricPoint p;
  p.cpu_percent = m.cpu_percent();
  if (m.memory_total_bytes() > 0) {
    const double used = m.memory_available_bytes() > 0
                            ? static_cast<double>(m.memory_total_bytes()) -
                                  static_cast<double>(m.memory_available_bytes())
                            : static_cast<double>(m.memory_used_bytes());
    p.memory_percent = 100.0 * used / static_cast<double>(m.memory_total_bytes());
  }
  p.load1 = m.load1();
  for (const auto& fs : m.filesystems()) {
    if (fs.size_bytes() == 0) continue;
    p.disk_percent = std::max(p.disk_percent, 100.0 * static_cast<double>(fs.used_bytes()) /
                                                  static_cast<double>(fs.size_bytes()));
  }
  p.net_rx_bps = static_cast<double>(m.net_rx_bytes_per_second());
  p.net_tx_bps = static_cast<double>(m.net_tx_bytes_per_second());
  return p;
}

void SetMetrics(HostDelta& delta, const fleetdesk::v1::Metrics& metrics) {
  delta.metrics = metrics.SerializeAsString();
  delta.metric_point = MetricPointOf(metrics);
}

}  // namespace fleetdesk::server::store
