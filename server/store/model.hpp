// The rows the store keeps, as plain structs shared by the engine, the API and both stores.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleetdesk::server::store {

// Times are Unix milliseconds (UTC) throughout the store.
struct HostRecord {
  std::int64_t id = 0;
  std::string agent_id;
  std::string machine_id;
  std::string hostname;
  std::string os_name;
  std::string os_version;
  std::string os_pretty_name;
  std::string kernel;
  std::string architecture;
  std::string agent_version;
  std::int64_t first_seen_ms = 0;
  std::int64_t last_seen_ms = 0;
  bool connected = false;
  std::uint64_t uptime_seconds = 0;
  double load1 = 0;
  double load5 = 0;
  double load15 = 0;
  // Highest report sequence committed for this agent.
  std::uint64_t last_seq = 0;
  bool revoked = false;
  std::string cert_serial;
  std::int64_t cert_not_after = 0;  // Unix seconds
};

// What the writer commits in one transaction: the current rows of the hosts that changed.
struct WriteBatch {
  std::vector<HostRecord> hosts;
};

struct HostQuery {
  std::int64_t after_id = 0;  // cursor: the last id of the previous page
  int limit = 100;
};

struct HostPage {
  std::vector<HostRecord> items;
  std::optional<std::int64_t> next_after_id;
};

struct NewEnrollmentToken {
  std::string token_hash;  // SHA-256 hex of the token; the token itself is never stored
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::optional<std::int64_t> max_hosts;
  std::string created_by;
};

struct NewAgent {
  std::string agent_id;
  std::string machine_id;
  std::string hostname;
  std::string cert_serial;
  std::int64_t cert_not_after = 0;
  std::int64_t now_ms = 0;
};

struct UserRecord {
  std::int64_t id = 0;
  std::string name;
  std::string role;
  std::string password_hash;
  bool disabled = false;
  std::int64_t created_ms = 0;
};

struct NewApiToken {
  std::string user_name;
  std::string token_hash;
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
};

// Who is calling, once a credential checked out.
struct Principal {
  std::int64_t user_id = 0;
  std::string user_name;
  std::string role;
  std::int64_t token_id = 0;
};

}  // namespace fleetdesk::server::store
