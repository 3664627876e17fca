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

// What one report changed beyond the host row: inventory sections, service states, check
// results, metrics. Bodies are the serialized protobuf messages of the agent protocol (cheap to
// write on the ingest path; turned into JSON only when the API reads them).
struct HostDelta {
  std::string agent_id;
  // A full report: services and checks not in it are gone.
  bool full = false;
  struct Section {
    std::string name;  // "system", "cpu", ...
    std::string hash;
    std::string body;  // fleetdesk.v1.InventorySection
  };
  std::vector<Section> inventory;
  struct Service {
    std::string unit;
    std::string active_state;
    std::string sub_state;
    std::int64_t since_ms = 0;
    std::string body;  // fleetdesk.v1.ServiceState
  };
  std::vector<Service> services;
  std::vector<std::string> services_removed;
  struct Check {
    std::string key;
    bool up = false;
    std::int64_t checked_ms = 0;
    std::string body;  // fleetdesk.v1.CheckResult
  };
  std::vector<Check> checks;
  // Absent when the report did not carry them; present (possibly empty: an all-default message
  // serializes to nothing) when it did.
  std::optional<std::string> metrics;          // fleetdesk.v1.Metrics
  std::optional<std::string> services_status;  // fleetdesk.v1.ServicesStatus
  std::optional<std::string> journal;          // fleetdesk.v1.JournalStats
  std::int64_t collected_ms = 0;
};

// What the writer commits in one transaction: the current rows of the hosts that changed, and
// the deltas of their reports, in arrival order.
struct WriteBatch {
  std::vector<HostRecord> hosts;
  std::vector<HostDelta> deltas;
};

// A host's current inventory, services, checks and metrics, as stored (serialized protobuf).
struct HostDetail {
  std::vector<std::string> inventory;  // fleetdesk.v1.InventorySection, by section name
  std::vector<std::string> services;   // fleetdesk.v1.ServiceState, by unit
  std::vector<std::string> checks;     // fleetdesk.v1.CheckResult, by key
  std::optional<std::string> metrics;  // absent until a report carried them
  std::optional<std::string> services_status;
  std::optional<std::string> journal;
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
