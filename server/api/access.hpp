// Who may do what: the permission table (resource x action x role) and API token scopes, kept
// in this one place and printed into docs/API.md; and the login throttle. Standard headers only.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "server/store/access_model.hpp"

namespace fleetdesk::server::access {

// What an endpoint needs. `resource` and `action` name a row of the permission table.
struct Permission {
  std::string_view resource;
  std::string_view action;
};

// One row of the table: the roles that may take `action` on `resource`.
struct Rule {
  std::string_view resource;
  std::string_view action;
  bool admin, operator_, requester, viewer;
  std::string_view what;  // for people, in docs/API.md
};

// The table itself, in the order docs/API.md lists it.
inline constexpr Rule kRules[] = {
    {"hosts", "read", true, true, false, true, "list, read, export hosts; history, metrics"},
    {"hosts", "write", true, true, false, false, "register, edit and import hosts"},
    {"hosts", "archive", true, true, false, false, "decommission a host"},
    {"search", "read", true, true, false, true, "global search"},
    {"users", "read", true, true, false, false, "list users (to assign work)"},
    {"users", "write", true, false, false, false, "create users, change role, disable, reset"},
    {"api_tokens", "own", true, true, true, true, "make, list and revoke one's own API tokens"},
    {"api_tokens", "any", true, false, false, false, "list and revoke anyone's API tokens"},
    {"enrollment_tokens", "read", true, false, false, false, "list enrollment tokens"},
    {"enrollment_tokens", "write", true, false, false, false, "make and revoke them"},
    {"audit", "read", true, false, false, false, "read the audit log"},
    {"agents", "revoke", true, false, false, false, "revoke an agent's certificate"},
    {"tickets", "read", true, true, true, true, "list and read tickets (requesters: their own)"},
    {"tickets", "create", true, true, true, false, "file a ticket (requesters: requests)"},
    {"tickets", "edit", true, true, false, false, "change a ticket's fields and priority"},
    {"tickets", "assign", true, true, false, false, "assign a ticket to a group or a person"},
    {"tickets", "start", true, true, false, false, "start work on a ticket"},
    {"tickets", "pend", true, true, false, false, "wait on someone outside (SLA paused)"},
    {"tickets", "resolve", true, true, false, false, "resolve a ticket"},
    {"tickets", "reopen", true, true, true, false, "reopen a resolved ticket (requesters: theirs)"},
    {"tickets", "close", true, true, true, false, "close a resolved ticket (requesters: theirs)"},
    {"notes", "public", true, true, true, false, "add a public note (requesters: to theirs)"},
    {"notes", "internal", true, true, false, false, "add an internal note"},
    {"notes", "read_internal", true, true, false, true, "read internal notes"},
    {"attachments", "add", true, true, true, false, "attach a file (requesters: to theirs)"},
    {"attachments", "remove", true, true, false, false, "remove an attachment (audited)"},
    {"notifications", "read", true, true, false, true, "what was sent about a ticket"},
    {"worklog", "append", true, true, false, false, "append to a ticket's worklog"},
    {"reports", "read", true, true, false, true, "ticket reports"},
    {"maintenance", "read", true, true, false, true, "list maintenance windows"},
    {"maintenance", "write", true, true, false, false, "make and end maintenance windows"},
    {"rules", "read", true, true, false, true, "read the incident, threshold and assignment rules"},
    {"tasks", "read", true, true, false, true, "list and read tasks and their hosts' results"},
    {"tasks", "submit", true, true, false, false, "send a task to hosts (or a dry run)"},
    {"tasks", "cancel", true, true, false, false, "cancel a task's hosts not sent it yet"},
    {"agent_profiles", "read", true, true, false, true, "read agent profiles and a host's"},
    {"agent_profiles", "write", true, false, false, false, "make, change and delete them"},
};

inline constexpr const char* kRoles[] = {"admin", "operator", "requester", "viewer"};
bool ValidRole(std::string_view role);

// Whether `role` may take the action; false for an unknown pair (the table lists every one).
bool RoleMay(std::string_view role, const Permission& permission);

// Whether `who` may: their role allows it, and their token's scope too. A "read" token takes
// only actions named read; a "worklog" token only appends worklog entries; "full" what the role
// allows. Errors: kPermissionDenied naming the rule and who would be allowed.
Status Authorize(const store::Principal& who, const Permission& permission);

// Failed sign-ins, counted per user name and per address, in memory (each server counts its
// own). After `free_failures` failures in a row a key must wait, doubling from `first_delay` up
// to `max_delay`; a success clears the user's count. Thread-safe.
class LoginThrottle {
 public:
  struct Limits {
    int free_failures_per_user = 5;
    int free_failures_per_address = 20;  // an office behind one NAT signs in from one address
    std::chrono::seconds first_delay{2};
    std::chrono::seconds max_delay{15 * 60};
  };
  LoginThrottle() : LoginThrottle(Limits{}) {}
  explicit LoginThrottle(Limits limits) : limits_(limits) {}

  using Clock = std::chrono::steady_clock;
  // kRateLimited (with retry_after_seconds) when `user` or `address` must wait; the message
  // does not say which, nor whether the user exists.
  Status Check(const std::string& user, const std::string& address, Clock::time_point now);
  void Failed(const std::string& user, const std::string& address, Clock::time_point now);
  void Succeeded(const std::string& user);

 private:
  struct Count {
    int failures = 0;
    Clock::time_point blocked_until{};
    Clock::time_point last{};
  };
  void Bump(Count& count, int free_failures, Clock::time_point now);
  // Drops counts untouched for a day, so guessing at random names cannot fill memory.
  void Sweep(Clock::time_point now);

  Limits limits_;
  std::mutex mutex_;
  std::map<std::string, Count> users_;
  std::map<std::string, Count> addresses_;
  Clock::time_point last_sweep_{};
};

}  // namespace fleetdesk::server::access
