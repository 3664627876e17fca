#include "server/engine/agent_profiles.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>

#include "common/codec.hpp"
#include "common/net/check_spec.hpp"

namespace fleetdesk::server::engine {
namespace {

Status Invalid(const std::string& message) {
  return MakeError(ErrorCode::kInvalidArgument, message);
}

Status CheckPatterns(const google::protobuf::RepeatedPtrField<std::string>& patterns,
                     const std::string& field) {
  if (patterns.size() > 100) return Invalid(field + " has at most 100 patterns");
  for (const auto& p : patterns) {
    if (p.empty() || p.size() > 256) return Invalid(field + ": a pattern is 1 to 256 bytes");
    if (std::any_of(p.begin(), p.end(),
                    [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
      return Invalid(field + ": a pattern has a control character");
    }
  }
  return {};
}

}  // namespace

Status NormalizeProfileConfig(fleetdesk::v1::AgentConfig* config) {
  if (config->report_interval_seconds() != 0) {
    return Invalid(
        "config.reportIntervalSeconds is not a profile's: agents report every "
        "agents.heartbeat_interval of the server's config");
  }
  if (!config->sources().empty()) return Invalid("config.sources is the server's to fill");
  const auto inventory = config->inventory_interval_seconds();
  if (inventory != 0 && (inventory < 60 || inventory > 7 * 86400)) {
    return Invalid("config.inventoryIntervalSeconds is from 60 to 604800 (or 0: unset)");
  }
  const auto snapshot = config->services_snapshot_interval_seconds();
  if (snapshot != 0 && (snapshot < 10 || snapshot > 86400)) {
    return Invalid("config.servicesSnapshotIntervalSeconds is from 10 to 86400 (or 0: unset)");
  }
  if (auto s = CheckPatterns(config->service_include(), "config.serviceInclude"); !s) return s;
  if (auto s = CheckPatterns(config->service_exclude(), "config.serviceExclude"); !s) return s;
  if (config->checks_size() > 200) return Invalid("config.checks has at most 200 checks");
  std::set<std::string> names;
  for (auto& check : *config->mutable_checks()) {
    if (auto s = checks::Normalize(&check); !s)
      return Invalid("config.checks: " + s.error().message);
    if (!names.insert(check.key()).second) {
      return Invalid("config.checks: two checks are named '" + check.key() + "'");
    }
  }
  return {};
}

std::vector<ParsedProfile> ParseProfiles(const std::vector<store::AgentProfileRecord>& records) {
  std::vector<ParsedProfile> out;
  out.reserve(records.size());
  for (const auto& r : records) {
    ParsedProfile p{r.name, r.tag, {}};
    if (auto s = codec::FromJson(r.config, &p.config); !s) {
      spdlog::error("agent profile {} ({}): its stored config does not parse: {}", r.id, r.name,
                    s.error().message);
      continue;
    }
    out.push_back(std::move(p));
  }
  return out;
}

fleetdesk::v1::AgentConfig Effective(const std::vector<ParsedProfile>& profiles,
                                     const std::vector<std::string>& tags) {
  fleetdesk::v1::AgentConfig out;
  auto& sources = *out.mutable_sources();
  std::map<std::string, fleetdesk::v1::CheckSpec> checks;
  for (const auto& p : profiles) {
    if (!p.tag.empty() && std::find(tags.begin(), tags.end(), p.tag) == tags.end()) continue;
    const auto& c = p.config;
    if (c.inventory_interval_seconds() != 0) {
      out.set_inventory_interval_seconds(c.inventory_interval_seconds());
      sources["inventoryInterval"] = p.name;
    }
    if (c.services_snapshot_interval_seconds() != 0) {
      out.set_services_snapshot_interval_seconds(c.services_snapshot_interval_seconds());
      sources["services.snapshotInterval"] = p.name;
    }
    if (!c.service_include().empty()) {
      *out.mutable_service_include() = c.service_include();
      sources["services.include"] = p.name;
    }
    if (!c.service_exclude().empty()) {
      *out.mutable_service_exclude() = c.service_exclude();
      sources["services.exclude"] = p.name;
    }
    for (const auto& check : c.checks()) {
      checks[check.key()] = check;
      sources["checks." + check.key()] = p.name;
    }
  }
  for (auto& [key, check] : checks) *out.add_checks() = std::move(check);
  return out;
}

}  // namespace fleetdesk::server::engine
