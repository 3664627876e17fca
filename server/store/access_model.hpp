// The rows of identity and access: users, API tokens, enrollment tokens, browser sessions and
// the audit log, as plain structs shared by the API and both stores.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fleetdesk::server::store {

struct UserRecord {
  std::int64_t id = 0;
  std::string name;
  std::string role;  // admin, operator, requester, viewer
  std::string password_hash;
  bool disabled = false;
  std::int64_t created_ms = 0;
};

// Changes to a user; absent fields stay as they are.
struct UserPatch {
  std::optional<std::string> role;
  std::optional<bool> disabled;  // disabling ends the user's sessions and revokes their tokens
  std::optional<std::string> password_hash;
};

// What an API token lets its holder do, within its user's role.
inline constexpr const char* kTokenScopes[] = {"read", "worklog", "full"};

struct NewApiToken {
  std::string user_name;
  std::string token_hash;  // SHA-256 hex; the token itself is shown once and never stored
  std::string name;
  std::string scope = "full";
  std::string created_by;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
};

struct ApiTokenRecord {
  std::int64_t id = 0;
  std::int64_t user_id = 0;
  std::string user_name;
  std::string name;
  std::string scope;
  std::string created_by;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::optional<std::int64_t> last_used_ms;
  bool revoked = false;
};

struct EnrollmentTokenRecord {
  std::int64_t id = 0;
  std::string name;
  std::string created_by;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::optional<std::int64_t> max_hosts;
  std::int64_t used_count = 0;
  bool revoked = false;
};

struct NewSession {
  std::string token_hash;  // SHA-256 hex of the cookie's value
  std::string csrf_token;  // sent back by the browser in X-CSRF-Token on every change
  std::int64_t user_id = 0;
  std::int64_t now_ms = 0;
  std::int64_t expires_ms = 0;  // absolute: the session ends then however busy it is
  std::string remote_address;
};

// Who is calling, once a credential checked out: an API token (token_id) or a browser session
// (session_id).
struct Principal {
  std::int64_t user_id = 0;
  std::string user_name;
  std::string role;
  std::int64_t token_id = 0;
  std::string scope = "full";
  std::int64_t session_id = 0;
  std::string csrf_token;         // sessions only
  std::int64_t last_used_ms = 0;  // sessions: for the idle expiry; tokens: as last recorded
};

// Who made a change, as the audit log and the host history name them.
struct Actor {
  std::string kind = "system";  // user (a session), token, agent, system
  std::string name;             // the user's name, the agent's id, or "fleetdesk-server"
  std::int64_t user_id = 0;
  std::int64_t token_id = 0;
  std::string address;  // the caller's IP address; empty for the server's own jobs
  // Works tickets (an admin or operator): their action is a ticket's first response, a
  // requester's note is not.
  bool staff = false;

  static Actor Of(const Principal& who, const std::string& address) {
    Actor a;
    a.kind = who.token_id != 0 ? "token" : "user";
    a.name = who.user_name;
    a.user_id = who.user_id;
    a.token_id = who.token_id;
    a.address = address;
    a.staff = who.role == "admin" || who.role == "operator";
    return a;
  }
};

// One change. `before` and `after` hold the fields it changed (all of them for a creation or a
// removal), as text.
struct AuditEntry {
  std::int64_t id = 0;
  std::int64_t at_ms = 0;
  Actor actor;
  std::string action;  // resource.verb: host.update, user.create, api_token.revoke, ...
  std::string resource;
  std::string resource_id;
  std::map<std::string, std::string> before;
  std::map<std::string, std::string> after;
};

struct AuditQuery {
  std::optional<std::int64_t> from_ms;  // inclusive
  std::optional<std::int64_t> to_ms;    // exclusive
  std::string actor;                    // a user's name or agent id; empty: anyone
  std::string action;                   // exact, or a prefix ending in '.' ("host.")
  std::string resource;
  std::string resource_id;
  std::optional<std::int64_t> before_id;  // the cursor: entries older than this one
  int limit = 100;
};

// Agents cut off since an audit entry: revoked, or their host archived.
struct CutOffAgents {
  std::vector<std::string> agent_ids;
  std::int64_t last_id = 0;  // the newest audit entry looked at: the next call's `after_id`
};

struct AuditPage {
  std::vector<AuditEntry> items;  // newest first
  std::optional<std::int64_t> next_before_id;
};

}  // namespace fleetdesk::server::store
