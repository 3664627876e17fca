// Which incident a failure raises: the rule set of the server config ([[incidents.rules]]),
// first match wins, with a default rule per kind after the configured ones. A rule names the
// ticket's category and severity (its urgency), whether recovery resolves it, and how many
// observations confirm a change. Pure data and matching; the incident engine applies it.
#pragma once

#include <string>
#include <vector>

#include "common/result.hpp"
#include "server/engine/incident_tracker.hpp"
#include "server/engine/ticket_workflow.hpp"
#include "server/store/model.hpp"
#include "server/store/ticket_model.hpp"

namespace fleetdesk::config {
class ConfigReader;
}

namespace fleetdesk::server::engine::incidents {

// What failed: a systemd unit, a link check, the host itself (unreachable), a metric over its
// threshold, or an inventory change of note (a disk or memory gone).
inline constexpr const char* kKinds[] = {"service", "check", "host", "metric", "inventory"};

struct IncidentRule {
  std::string kind;               // one of kKinds
  std::string name = "*";         // glob on the unit, check key, metric or inventory section
  std::vector<std::string> tags;  // empty: any host; else hosts with at least one of them
  std::string category;           // the ticket's category, for assignment and reports
  tickets::Level severity = tickets::Level::kMedium;
  bool auto_resolve = true;  // false: a recovery is noted and people resolve
  int fail_after = 1;        // confirmations, as IncidentPolicy
  int ok_after = 1;
};

// A metric over this value raises a `metric` incident named after the metric. Metrics:
// disk_percent (the fullest filesystem), memory_percent, load1.
inline constexpr const char* kMetrics[] = {"disk_percent", "memory_percent", "load1"};

struct MetricThreshold {
  std::string metric;  // one of kMetrics
  double above = 0;
  std::vector<std::string> tags;  // empty: any host
};

// What one metric sample has over its threshold: (metric, value) pairs.
using MetricBreaches = std::vector<std::pair<std::string, double>>;

// Who a new incident goes to ([[incidents.assign]]): the first rule whose category (if set),
// name glob and tags (if any) meet the incident names a group, a person or both.
struct AssignmentRule {
  std::string category;  // empty: any
  std::string name = "*";
  std::vector<std::string> tags;
  std::string group;
  std::string assignee;  // a user's name: an admin or operator
};

// The first of `rules` for a ticket of `category` about `name` (a unit, a check key...; empty
// for one filed by hand, which only rules named "*" take) on a host with `host_tags`.
const AssignmentRule* FirstAssignment(const std::vector<AssignmentRule>& rules,
                                      const std::string& category, const std::string& name,
                                      const std::vector<std::string>& host_tags);

struct IncidentRules {
  std::vector<AssignmentRule> assignment;
  std::vector<IncidentRule> rules;  // configured ones first, then DefaultRules()
  // Configured ones first, then DefaultThresholds(); per metric the first that meets the host's
  // tags applies.
  std::vector<MetricThreshold> thresholds;
  // Timing shared by every fingerprint; a rule's confirmations replace fail_after/ok_after.
  IncidentPolicy timing;

  // The first rule for `kind` whose name glob matches `name` and whose tags (if any) meet
  // `host_tags`. There is always one: the defaults match everything of their kind.
  const IncidentRule& For(const std::string& kind, const std::string& name,
                          const std::vector<std::string>& host_tags) const;
  // The tracker policy for a fingerprint under `rule`.
  IncidentPolicy PolicyFor(const IncidentRule& rule) const;
  // The metrics of `sample` over the threshold that applies to a host with `host_tags`.
  MetricBreaches Breaches(const store::MetricPoint& sample,
                          const std::vector<std::string>& host_tags) const;
  // The first assignment rule that meets an incident, or nullptr: it stays unassigned.
  const AssignmentRule* AssignFor(const std::string& category, const std::string& name,
                                  const std::vector<std::string>& host_tags) const;
  // Whether any rule, threshold or assignment looks at host tags: if none does, observations
  // need no tags.
  bool UsesTags() const;
};

// disk_percent above 90 and memory_percent above 95 on every host; load1 has none (what is high
// depends on the host's cores): set one per tag.
std::vector<MetricThreshold> DefaultThresholds();

// service: "service", high; check: "link check", high, down after 3 failures and up after 2;
// host: "availability", critical; metric: "capacity", medium; inventory: "hardware", medium, not
// auto-resolved (someone must look at a vanished disk).
std::vector<IncidentRule> DefaultRules();

// Reads [tickets.sla]: p1_response, p1_resolution, ... p5_resolution, durations such as "15m";
// the defaults for what the file leaves out.
Result<store::SlaTargets> ReadSlaTargets(config::ConfigReader& reader);

// Reads [incidents] (quiet_period, reopen_window, flap_changes, flap_window),
// [[incidents.rules]], [[incidents.thresholds]] and [[incidents.assign]] from `reader`; errors name
// the table and key. The defaults follow the configured rules and thresholds.
Result<IncidentRules> ReadIncidentRules(config::ConfigReader& reader);

}  // namespace fleetdesk::server::engine::incidents
