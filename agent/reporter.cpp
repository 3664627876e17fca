#include "agent/reporter.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include "agent/checks/runner.hpp"
#include "agent/services/services.hpp"

namespace fleetdesk::agent {

Reporter::Reporter(const AgentConfig& config, services::ServiceWatcher* services,
                   checks::CheckRunner* checks)
    : system_(config.root),
      inventory_(config.root),
      metrics_(config.root),
      services_(services),
      checks_(checks),
      inventory_interval_(config.inventory_interval) {}

void Reporter::AddCheckResult(const fleetdesk::v1::CheckResult& result) {
  // Only the newest result of a check matters to the server.
  for (auto& pending : pending_checks_) {
    if (pending.key() == result.key()) {
      pending = result;
      return;
    }
  }
  pending_checks_.push_back(result);
}

std::optional<fleetdesk::v1::Report> Reporter::Make(ReportKind kind) {
  fleetdesk::v1::Report report;
  const auto now = std::chrono::steady_clock::now();
  report.set_full(kind == ReportKind::kFull);
  *report.mutable_collected_at() = google::protobuf::util::TimeUtil::GetCurrentTime();

  if (services_ != nullptr) {
    auto delta = services_->TakeChanges();
    if (kind == ReportKind::kFull) {
      for (auto& state : services_->All()) *report.add_services() = std::move(state);
    } else {
      for (auto& state : delta.changed) *report.add_services() = std::move(state);
      for (auto& name : delta.removed) report.add_services_removed(std::move(name));
    }
    if (kind != ReportKind::kEvent) *report.mutable_services_status() = services_->status();
  }
  if (kind == ReportKind::kFull && checks_ != nullptr) {
    for (auto& result : checks_->Latest()) *report.add_checks() = std::move(result);
  } else {
    for (auto& result : pending_checks_) *report.add_checks() = std::move(result);
  }
  pending_checks_.clear();

  if (kind == ReportKind::kEvent) {
    if (report.services_size() == 0 && report.services_removed_size() == 0 &&
        report.checks_size() == 0) {
      return std::nullopt;
    }
    return report;
  }

  *report.mutable_heartbeat() = system_.Heartbeat();
  *report.mutable_metrics() = metrics_.Collect(now);
  if (kind == ReportKind::kFull) inventory_.ForgetSent();
  if (kind == ReportKind::kFull || now >= inventory_due_) {
    auto started = std::chrono::steady_clock::now();
    for (auto& section : inventory_.Changed()) *report.add_inventory() = std::move(section);
    spdlog::debug(
        "inventory collected in {:.1f} ms; {} section(s) changed",
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count(),
        report.inventory_size());
    inventory_due_ = now + inventory_interval_;
  }
  return report;
}

}  // namespace fleetdesk::agent
