// Basic metrics every report interval: CPU utilisation (between two readings of /proc/stat),
// load, memory and swap, per-filesystem use, per-interface counters and rates.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "agent/collectors/root.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::collectors {

class MetricsCollector {
 public:
  explicit MetricsCollector(std::string root) : root_(std::move(root)) {}

  // Rates and CPU use are over the time since the previous call; the first call answers 0 for
  // them.
  fleetdesk::v1::Metrics Collect(std::chrono::steady_clock::time_point now);

 private:
  struct Counters {
    std::uint64_t rx = 0;
    std::uint64_t tx = 0;
  };
  Root root_;
  std::uint64_t cpu_busy_ = 0;
  std::uint64_t cpu_total_ = 0;
  std::map<std::string, Counters> net_;
  std::chrono::steady_clock::time_point last_{};
};

}  // namespace fleetdesk::agent::collectors
