#include "server/engine/delta.hpp"

#include <google/protobuf/util/time_util.h>

#include <set>

#include "server/store/metric_point.hpp"

namespace fleetdesk::server::engine {
namespace {

// Bounds far above any real host (a big one runs ~1,000 units) that keep one report from
// filling the database.
constexpr int kMaxServices = 20000;
constexpr int kMaxChecks = 1000;
constexpr std::size_t kMaxName = 256;

Error Invalid(const std::string& what) {
  return MakeError(ErrorCode::kInvalidArgument, "report: " + what);
}

std::int64_t Millis(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1000000;
}

}  // namespace

Result<store::HostDelta> DeltaFromReport(const std::string& agent_id,
                                         const fleetdesk::v1::Report& report, std::int64_t now_ms) {
  store::HostDelta delta;
  delta.agent_id = agent_id;
  delta.full = report.full();
  delta.collected_ms = now_ms;
  if (report.services_size() > kMaxServices) {
    return Invalid(std::to_string(report.services_size()) + " services; at most " +
                   std::to_string(kMaxServices));
  }
  if (report.checks_size() > kMaxChecks) {
    return Invalid(std::to_string(report.checks_size()) + " check results; at most " +
                   std::to_string(kMaxChecks));
  }
  std::set<std::string> sections;
  for (const auto& section : report.inventory()) {
    const auto* oneof = section.GetDescriptor()->FindOneofByName("section");
    const auto* field = section.GetReflection()->GetOneofFieldDescriptor(section, oneof);
    if (field == nullptr) return Invalid("an inventory section of no known kind");
    if (!sections.insert(field->name()).second) {
      return Invalid("inventory section '" + field->name() + "' twice");
    }
    delta.inventory.push_back({field->name(), section.hash(), section.SerializeAsString()});
  }
  for (const auto& service : report.services()) {
    if (service.unit().empty() || service.unit().size() > kMaxName) {
      return Invalid("a service with an empty or overlong unit name");
    }
    delta.services.push_back({service.unit(), service.active_state(), service.sub_state(),
                              Millis(service.state_change_time()), service.description(),
                              service.SerializeAsString()});
  }
  for (const auto& unit : report.services_removed()) {
    if (unit.empty() || unit.size() > kMaxName) {
      return Invalid("a removed service with an empty or overlong unit name");
    }
    delta.services_removed.push_back(unit);
  }
  for (const auto& check : report.checks()) {
    if (check.key().empty() || check.key().size() > kMaxName) {
      return Invalid("a check result with an empty or overlong name");
    }
    delta.checks.push_back({check.key(), check.up(), Millis(check.checked_at()), check.target(),
                            check.SerializeAsString()});
  }
  if (report.has_metrics()) store::SetMetrics(delta, report.metrics());
  if (report.has_services_status()) {
    delta.services_status = report.services_status().SerializeAsString();
  }
  if (report.has_journal()) delta.journal = report.journal().SerializeAsString();
  return delta;
}

}  // namespace fleetdesk::server::engine
