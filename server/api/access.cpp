#include "server/api/access.hpp"

#include <algorithm>

namespace fleetdesk::server::access {
namespace {

const Rule* Find(const Permission& p) {
  for (const auto& rule : kRules) {
    if (rule.resource == p.resource && rule.action == p.action) return &rule;
  }
  return nullptr;
}

bool Allows(const Rule& rule, std::string_view role) {
  if (role == "admin") return rule.admin;
  if (role == "operator") return rule.operator_;
  if (role == "requester") return rule.requester;
  if (role == "viewer") return rule.viewer;
  return false;
}

std::string Allowed(const Rule& rule) {
  std::string out;
  for (const char* role : kRoles) {
    if (!Allows(rule, role)) continue;
    out += (out.empty() ? "" : ", ") + std::string(role);
  }
  return out.empty() ? "no role" : out;
}

}  // namespace

bool ValidRole(std::string_view role) {
  return std::find(std::begin(kRoles), std::end(kRoles), role) != std::end(kRoles);
}

bool RoleMay(std::string_view role, const Permission& permission) {
  const Rule* rule = Find(permission);
  return rule != nullptr && Allows(*rule, role);
}

Status Authorize(const store::Principal& who, const Permission& permission) {
  const std::string name = std::string(permission.resource) + "." + std::string(permission.action);
  const Rule* rule = Find(permission);
  if (rule == nullptr) {
    return MakeError(ErrorCode::kInternal, "no permission rule for " + name);
  }
  if (!Allows(*rule, who.role)) {
    return MakeError(ErrorCode::kPermissionDenied, "role " + who.role + " may not " + name + " (" +
                                                       std::string(rule->what) + "); " +
                                                       Allowed(*rule) + " may");
  }
  if (who.token_id != 0 && who.scope != "full") {
    const bool fits =
        who.scope == "read" ? permission.action == "read" : permission.resource == "worklog";
    if (!fits) {
      return MakeError(ErrorCode::kPermissionDenied,
                       "this API token's scope is " + who.scope + "; " + name + " needs " +
                           (permission.action == "read" ? "a read or full" : "a full") + " scope");
    }
  }
  return {};
}

void LoginThrottle::Bump(Count& count, int free_failures, Clock::time_point now) {
  ++count.failures;
  count.last = now;
  if (count.failures < free_failures) return;
  const int doublings = std::min(count.failures - free_failures, 20);
  auto delay = limits_.first_delay * (1 << doublings);
  count.blocked_until = now + std::min<Clock::duration>(delay, limits_.max_delay);
}

void LoginThrottle::Sweep(Clock::time_point now) {
  if (now - last_sweep_ < std::chrono::minutes(10)) return;
  last_sweep_ = now;
  for (auto* counts : {&users_, &addresses_}) {
    std::erase_if(*counts, [&](const auto& entry) {
      return now - entry.second.last > std::chrono::hours(24);
    });
  }
}

Status LoginThrottle::Check(const std::string& user, const std::string& address,
                            Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Sweep(now);
  Clock::time_point until{};
  if (auto it = users_.find(user); it != users_.end()) until = it->second.blocked_until;
  if (auto it = addresses_.find(address); it != addresses_.end()) {
    until = std::max(until, it->second.blocked_until);
  }
  if (until <= now) return {};
  auto wait = std::chrono::ceil<std::chrono::seconds>(until - now).count();
  Error error = MakeError(ErrorCode::kRateLimited,
                          "too many failed sign-ins; try again in " + std::to_string(wait) + " s");
  error.retry_after_seconds = static_cast<int>(wait);
  return error;
}

void LoginThrottle::Failed(const std::string& user, const std::string& address,
                           Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Bump(users_[user], limits_.free_failures_per_user, now);
  Bump(addresses_[address], limits_.free_failures_per_address, now);
}

void LoginThrottle::Succeeded(const std::string& user) {
  std::lock_guard lock(mutex_);
  users_.erase(user);
}

}  // namespace fleetdesk::server::access
