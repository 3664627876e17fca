#include "server/engine/incident_rules.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <string_view>

#include "common/config.hpp"

namespace fleetdesk::server::engine::incidents {
namespace {

bool KnownKind(const std::string& kind) {
  return std::find(std::begin(kKinds), std::end(kKinds), kind) != std::end(kKinds);
}

bool HasAnyTag(const std::vector<std::string>& wanted, const std::vector<std::string>& host_tags) {
  if (wanted.empty()) return true;
  return std::any_of(wanted.begin(), wanted.end(), [&](const std::string& tag) {
    return std::find(host_tags.begin(), host_tags.end(), tag) != host_tags.end();
  });
}

bool Matches(const IncidentRule& rule, const std::string& kind, const std::string& name,
             const std::vector<std::string>& host_tags) {
  if (rule.kind != kind || fnmatch(rule.name.c_str(), name.c_str(), 0) != 0) return false;
  return HasAnyTag(rule.tags, host_tags);
}

}  // namespace

std::vector<IncidentRule> DefaultRules() {
  using tickets::Level;
  std::vector<IncidentRule> out(5);
  out[0] = {"service", "*", {}, "service", Level::kHigh, true, 1, 1};
  // A single lost probe is not an outage: three in a row are.
  out[1] = {"check", "*", {}, "link check", Level::kHigh, true, 3, 2};
  out[2] = {"host", "*", {}, "availability", Level::kCritical, true, 1, 1};
  out[3] = {"metric", "*", {}, "capacity", Level::kMedium, true, 1, 1};
  out[4] = {"inventory", "*", {}, "hardware", Level::kMedium, false, 1, 1};
  return out;
}

std::vector<MetricThreshold> DefaultThresholds() {
  return {{"disk_percent", 90, {}}, {"memory_percent", 95, {}}};
}

MetricBreaches IncidentRules::Breaches(const store::MetricPoint& sample,
                                       const std::vector<std::string>& host_tags) const {
  MetricBreaches out;
  for (const char* metric : kMetrics) {
    const double value = std::string_view(metric) == "disk_percent"     ? sample.disk_percent
                         : std::string_view(metric) == "memory_percent" ? sample.memory_percent
                                                                        : sample.load1;
    for (const auto& t : thresholds) {
      if (t.metric != metric || !HasAnyTag(t.tags, host_tags)) continue;
      if (value > t.above) out.emplace_back(metric, value);
      break;  // the first threshold that applies decides
    }
  }
  return out;
}

const IncidentRule& IncidentRules::For(const std::string& kind, const std::string& name,
                                       const std::vector<std::string>& host_tags) const {
  for (const auto& rule : rules) {
    if (Matches(rule, kind, name, host_tags)) return rule;
  }
  // Only when `rules` lacks the defaults (a hand-made set): the last default of the kind.
  static const std::vector<IncidentRule> kDefaults = DefaultRules();
  for (const auto& rule : kDefaults) {
    if (rule.kind == kind) return rule;
  }
  return kDefaults.front();
}

const AssignmentRule* IncidentRules::AssignFor(const std::string& category, const std::string& name,
                                               const std::vector<std::string>& host_tags) const {
  return FirstAssignment(assignment, category, name, host_tags);
}

const AssignmentRule* FirstAssignment(const std::vector<AssignmentRule>& rules,
                                      const std::string& category, const std::string& name,
                                      const std::vector<std::string>& host_tags) {
  for (const auto& rule : rules) {
    if (!rule.category.empty() && rule.category != category) continue;
    if (fnmatch(rule.name.c_str(), name.c_str(), 0) != 0) continue;
    if (HasAnyTag(rule.tags, host_tags)) return &rule;
  }
  return nullptr;
}

bool IncidentRules::UsesTags() const {
  auto tagged = [](const auto& items) {
    return std::any_of(items.begin(), items.end(),
                       [](const auto& item) { return !item.tags.empty(); });
  };
  return tagged(rules) || tagged(thresholds) || tagged(assignment);
}

Result<store::SlaTargets> ReadSlaTargets(config::ConfigReader& r) {
  auto out = store::DefaultSlaTargets();
  for (int p = 1; p <= 5; ++p) {
    auto& target = out[static_cast<std::size_t>(p - 1)];
    const std::string at = "tickets.sla.p" + std::to_string(p);
    std::chrono::seconds response{target.first_response_ms / 1000};
    std::chrono::seconds resolution{target.resolution_ms / 1000};
    r.Duration(at + "_response", &response);
    r.Duration(at + "_resolution", &resolution);
    if (response.count() <= 0 || resolution < response) {
      return MakeError(ErrorCode::kInvalidArgument,
                       at + "_response must be more than 0 and at most " + at + "_resolution");
    }
    target.first_response_ms = response.count() * 1000;
    target.resolution_ms = resolution.count() * 1000;
  }
  return out;
}

IncidentPolicy IncidentRules::PolicyFor(const IncidentRule& rule) const {
  IncidentPolicy policy = timing;
  policy.fail_after = rule.fail_after;
  policy.ok_after = rule.ok_after;
  return policy;
}

Result<IncidentRules> ReadIncidentRules(config::ConfigReader& r) {
  IncidentRules out;
  std::chrono::seconds quiet{out.timing.quiet_ms / 1000};
  std::chrono::seconds reopen{out.timing.reopen_ms / 1000};
  std::chrono::seconds flap_window{out.timing.flap_window_ms / 1000};
  std::int64_t flap_changes = out.timing.flap_changes;
  r.Duration("incidents.quiet_period", &quiet);
  r.Duration("incidents.reopen_window", &reopen);
  r.Duration("incidents.flap_window", &flap_window);
  r.Int("incidents.flap_changes", 2, 1000, &flap_changes);
  out.timing.quiet_ms = quiet.count() * 1000;
  out.timing.reopen_ms = reopen.count() * 1000;
  out.timing.flap_window_ms = flap_window.count() * 1000;
  out.timing.flap_changes = static_cast<int>(flap_changes);

  const std::size_t count = r.TableCount("incidents.rules");
  for (std::size_t i = 0; i < count; ++i) {
    const std::string at = "incidents.rules[" + std::to_string(i) + "].";
    IncidentRule rule;
    std::string severity = "medium";
    std::int64_t fail_after = 1;
    std::int64_t ok_after = 1;
    r.String(at + "kind", &rule.kind);
    r.String(at + "name", &rule.name);
    r.StringList(at + "tags", &rule.tags);
    r.String(at + "category", &rule.category);
    r.String(at + "severity", &severity);
    r.Bool(at + "auto_resolve", &rule.auto_resolve);
    r.Int(at + "fail_after", 1, 100, &fail_after);
    r.Int(at + "ok_after", 1, 100, &ok_after);
    rule.fail_after = static_cast<int>(fail_after);
    rule.ok_after = static_cast<int>(ok_after);
    const std::string which = "incidents.rules[" + std::to_string(i) + "]";
    if (!KnownKind(rule.kind)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       which + ".kind must be service, check, host, metric or inventory, not '" +
                           rule.kind + "'");
    }
    if (rule.name.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, which + ".name must not be empty (\"*\")");
    }
    if (rule.category.empty() || rule.category.size() > 64) {
      return MakeError(ErrorCode::kInvalidArgument,
                       which + ".category is required, at most 64 characters");
    }
    auto level = tickets::ParseLevel(severity);
    if (!level) {
      return MakeError(ErrorCode::kInvalidArgument, which + ".severity: " + level.error().message);
    }
    rule.severity = *level;
    out.rules.push_back(std::move(rule));
  }
  const std::size_t limits = r.TableCount("incidents.thresholds");
  for (std::size_t i = 0; i < limits; ++i) {
    const std::string at = "incidents.thresholds[" + std::to_string(i) + "].";
    MetricThreshold threshold;
    std::int64_t above = 0;
    r.String(at + "metric", &threshold.metric);
    r.Int(at + "above", 0, 1'000'000, &above);
    r.StringList(at + "tags", &threshold.tags);
    threshold.above = static_cast<double>(above);
    if (std::find(std::begin(kMetrics), std::end(kMetrics), threshold.metric) ==
        std::end(kMetrics)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "incidents.thresholds[" + std::to_string(i) +
                           "].metric must be disk_percent, memory_percent or load1, not '" +
                           threshold.metric + "'");
    }
    out.thresholds.push_back(std::move(threshold));
  }
  for (auto& threshold : DefaultThresholds()) out.thresholds.push_back(std::move(threshold));
  const std::size_t assignments = r.TableCount("incidents.assign");
  for (std::size_t i = 0; i < assignments; ++i) {
    const std::string at = "incidents.assign[" + std::to_string(i) + "].";
    AssignmentRule rule;
    r.String(at + "category", &rule.category);
    r.String(at + "name", &rule.name);
    r.StringList(at + "tags", &rule.tags);
    r.String(at + "group", &rule.group);
    r.String(at + "assignee", &rule.assignee);
    if (rule.group.empty() && rule.assignee.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, "incidents.assign[" + std::to_string(i) +
                                                        "] needs a group, an assignee or both");
    }
    if (rule.name.empty() || rule.group.size() > 100) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "incidents.assign[" + std::to_string(i) +
                           "]: name must not be empty (\"*\"), group at most 100 characters");
    }
    out.assignment.push_back(std::move(rule));
  }
  if (out.timing.quiet_ms <= 0 || out.timing.flap_window_ms <= 0 || out.timing.reopen_ms < 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "incidents.quiet_period and incidents.flap_window must be more than 0");
  }
  for (auto& rule : DefaultRules()) out.rules.push_back(std::move(rule));
  return out;
}

}  // namespace fleetdesk::server::engine::incidents
