// Assembles the agent's reports from its collectors. Three kinds:
//   full   the first report on a connection: everything (all inventory sections, every
//          service, every check's latest result), plus the heartbeat and metrics;
//   tick   every interval: heartbeat, metrics, the inventory sections whose hash changed (when
//          the inventory is due), service changes and check results not yet sent;
//   event  at once when a service or a check changed state: just those changes.
// Runs on the agent's one thread.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "agent/agent_config.hpp"
#include "agent/collectors/inventory.hpp"
#include "agent/collectors/metrics.hpp"
#include "agent/collectors/system.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent {

namespace services {
class ServiceWatcher;
}
namespace checks {
class CheckRunner;
}

enum class ReportKind { kFull, kTick, kEvent };

class Reporter {
 public:
  // `services` and `checks` may be null (not configured, or `collect`).
  Reporter(const AgentConfig& config, services::ServiceWatcher* services,
           checks::CheckRunner* checks);

  // nullopt for an event report with nothing in it.
  std::optional<fleetdesk::v1::Report> Make(ReportKind kind);
  // A check result to carry in the next report.
  void AddCheckResult(const fleetdesk::v1::CheckResult& result);
  void SetInventoryInterval(std::chrono::seconds interval) { inventory_interval_ = interval; }
  // The next report that carries inventory (a tick or full one) collects every section now and
  // carries all of them, changed or not: an inventory.refresh task.
  void RefreshInventory() {
    inventory_.ForgetSent();
    inventory_due_ = {};
  }

  const collectors::SystemCollector& system() const { return system_; }

 private:
  collectors::SystemCollector system_;
  collectors::InventoryCollector inventory_;
  collectors::MetricsCollector metrics_;
  services::ServiceWatcher* services_;
  checks::CheckRunner* checks_;
  std::chrono::seconds inventory_interval_;
  std::chrono::steady_clock::time_point inventory_due_{};
  std::vector<fleetdesk::v1::CheckResult> pending_checks_;
};

}  // namespace fleetdesk::agent
