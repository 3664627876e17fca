// The rows the store keeps, as plain structs shared by the engine, the API and both stores.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "server/store/access_model.hpp"

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
  // Set by the state engine on a report that changed only the heartbeat, from an agent that
  // reported to this server moments before (see StateEngine::SetFreshWindow): its name, OS and
  // version are as last written and it cannot have been marked unreachable, so the writer skips
  // reading the host back and writes the heartbeat by `id`.
  bool heartbeat_only = false;
};

// A host's basic metrics at one time. Raw samples have one value per metric; 5-minute rollups
// carry the mean and the maximum over their bucket.
struct MetricPoint {
  std::int64_t at_ms = 0;
  int samples = 1;
  double cpu_percent = 0, cpu_percent_max = 0;
  double memory_percent = 0, memory_percent_max = 0;
  double load1 = 0, load1_max = 0;
  double disk_percent = 0, disk_percent_max = 0;  // the fullest filesystem
  double net_rx_bps = 0, net_rx_bps_max = 0;
  double net_tx_bps = 0, net_tx_bps_max = 0;
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
    std::string description;  // for the search index
    std::string body;         // fleetdesk.v1.ServiceState
  };
  std::vector<Service> services;
  std::vector<std::string> services_removed;
  struct Check {
    std::string key;
    bool up = false;
    std::int64_t checked_ms = 0;
    std::string target;  // for the search index
    std::string body;    // fleetdesk.v1.CheckResult
  };
  std::vector<Check> checks;
  // Absent when the report did not carry them; present (possibly empty: an all-default message
  // serializes to nothing) when it did.
  std::optional<std::string> metrics;  // fleetdesk.v1.Metrics
  // The history's sample of `metrics` (at_ms unset: the store uses collected_ms), made where the
  // report was decoded so the writer does not parse the metrics again. Set both with SetMetrics.
  std::optional<MetricPoint> metric_point;
  std::optional<std::string> services_status;  // fleetdesk.v1.ServicesStatus
  std::optional<std::string> journal;          // fleetdesk.v1.JournalStats
  std::int64_t collected_ms = 0;
};

// What the writer commits in one transaction: the current rows of the hosts that changed, and
// the deltas of their reports, in arrival order.
struct WriteBatch {
  std::vector<HostRecord> hosts;
  std::vector<HostDelta> deltas;
  std::vector<AuditEntry> audits;  // what the gateway saw and must be audited (a clone)
};

// An agent's new certificate, signed on its channel (the gateway) and recorded by the writer.
struct CertificateRenewal {
  std::string agent_id;
  std::string serial_hex;
  std::int64_t not_after = 0;  // Unix seconds
  std::int64_t at_ms = 0;
  std::string address;  // where the agent connected from, for the audit log
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

// What people say about a host, as opposed to what its agent reports.
struct HostAttributes {
  std::string owner;
  std::string location;
  std::string environment;
  std::string role;
  std::string criticality = "medium";  // low, medium, high, critical: feeds incident impact
  std::string notes;
  std::vector<std::string> tags;  // sorted, unique
};

inline constexpr const char* kCriticalities[] = {"low", "medium", "high", "critical"};

// A host as the API shows it: the agent's row, the people's attributes and its lifecycle.
struct HostView {
  HostRecord record;  // agent_id empty: pre-registered, its agent not enrolled yet
  HostAttributes attributes;
  std::string serial;                                // registered, or from the system inventory
  std::optional<std::int64_t> unreachable_since_ms;  // set while the host is silent
  std::optional<std::int64_t> archived_ms;           // set once decommissioned

  // "pending", "online", "offline", "unreachable" or "archived".
  std::string StatusName() const {
    if (archived_ms) return "archived";
    if (record.agent_id.empty()) return "pending";
    if (unreachable_since_ms) return "unreachable";
    return record.connected ? "online" : "offline";
  }
};

// Changes to a host's attributes; absent fields stay as they are.
struct AttributePatch {
  std::optional<std::string> hostname;  // pre-registered hosts only: an agent's host names itself
  std::optional<std::string> serial;    // likewise
  std::optional<std::string> owner;
  std::optional<std::string> location;
  std::optional<std::string> environment;
  std::optional<std::string> role;
  std::optional<std::string> criticality;
  std::optional<std::string> notes;
  std::optional<std::vector<std::string>> tags;  // replaces the set
};

// A host entered by a person before its agent enrolls; the agent's enrollment claims it when
// its hostname or serial matches.
struct NewHost {
  std::string hostname;
  std::string serial;
  AttributePatch attributes;
};

enum class HostSort { kId, kHostname, kLastSeen, kEnvironment, kCriticality };

// Where the previous page ended: the sort column's value and the id of the last host.
struct HostCursor {
  std::string value;
  std::int64_t id = 0;
};

struct HostQuery {
  std::optional<HostCursor> after;
  int limit = 100;
  HostSort sort = HostSort::kId;
  bool descending = false;
  // Filters; empty means any. Archived hosts are listed only when status is "archived".
  std::string status;  // pending, online, offline, unreachable, archived
  std::string tag;
  std::string environment;
  std::string os;       // matches os_name or os_pretty_name, case-insensitively
  std::string text;     // substring of hostname, serial or attributes, case-insensitively
  std::string service;  // hosts that have this unit
  std::string package;  // hosts that have this package installed
};

struct HostPage {
  std::vector<HostView> items;
  std::optional<HostCursor> next;
};

// One entry of a host's history: a state transition, an inventory change, an attribute edit
// or a lifecycle step. Ids grow with time across all hosts: a reader can follow them.
// The fleet and the desk at a glance (GET /api/v1/overview).
struct Overview {
  std::map<std::string, std::int64_t> hosts;  // by status
  std::map<int, std::int64_t> open_by_priority;
  std::int64_t open_incidents = 0;
  std::int64_t open_breached = 0;
  std::int64_t tasks_running = 0;
  struct Day {
    std::int64_t day = 0;  // days since 1970-01-01, UTC
    std::int64_t opened = 0;
    std::int64_t resolved = 0;
  };
  std::vector<Day> days;  // only days with tickets, oldest first
};

// One change for the dashboard's live updates: a host event or a ticket timeline entry.
struct Change {
  enum class Source { kHost, kTicket };
  Source source = Source::kHost;
  std::int64_t id = 0;   // of the host event or the timeline entry
  std::int64_t ref = 0;  // the host or the ticket
  std::int64_t at_ms = 0;
  std::string kind;  // the event's kind: "service", "check", "task", "state", "note", ...
  std::string subject;
  std::string new_value;
};

// Where ChangesAfter goes on from: the highest ids already read, and the ids below them not
// seen yet. On PostgreSQL a transaction may take an id and commit after a later id was read;
// such a gap is asked for again until the reader drops it (it was rolled back).
struct ChangeCursor {
  std::int64_t host_event = -1;
  std::int64_t ticket_event = -1;
  std::map<std::int64_t, std::int64_t> host_gaps;  // id -> when first missed (the reader's ms;
                                                   // 0 from the store: not dated yet)
  std::map<std::int64_t, std::int64_t> ticket_gaps;
};

struct HostEvent {
  std::int64_t id = 0;
  std::int64_t host_id = 0;
  std::int64_t at_ms = 0;
  // "service" (active state), "check" (up/down), "reachability", "inventory" (a field),
  // "attribute" (a person's edit), "lifecycle" (registered, enrolled, archived), "task" (a
  // configuration task that ended on the host: its final state).
  std::string kind;
  std::string subject;  // unit, check key, "memory.total_bytes", "owner", ...
  std::string old_value;
  std::string new_value;
  std::string actor;  // who made an attribute or lifecycle change; empty for the agent
};

// What a group commit saw that the incident engine watches, by host id: the transitions it wrote
// to host history (service, check, reachability, inventory), every check result (repeats too:
// confirmations count them) and every metric sample.
struct Observations {
  std::vector<HostEvent> transitions;
  struct Check {
    std::int64_t host_id = 0;
    std::string key;
    bool up = false;
    std::int64_t at_ms = 0;
  };
  std::vector<Check> checks;
  std::vector<std::pair<std::int64_t, MetricPoint>> metrics;
  bool empty() const { return transitions.empty() && checks.empty() && metrics.empty(); }
};

struct EventQuery {
  std::int64_t host_id = 0;
  std::optional<std::int64_t> before_id;  // cursor: newest first, page after page
  std::optional<std::int64_t> from_ms;
  std::optional<std::int64_t> to_ms;
  std::string kind;  // empty: every kind
  int limit = 100;
};

struct EventPage {
  std::vector<HostEvent> items;
  std::optional<std::int64_t> next_before_id;
};

enum class MetricResolution { kRaw, kFiveMinutes };
inline constexpr std::int64_t kRollupMs = 5 * 60 * 1000;

// How long history is kept; the leader server prunes what is older.
struct Retention {
  std::int64_t raw_metrics_ms = 7LL * 24 * 3600 * 1000;
  std::int64_t rollup_metrics_ms = 365LL * 24 * 3600 * 1000;
  std::int64_t events_ms = 2 * 365LL * 24 * 3600 * 1000;
};

struct PruneCounts {
  std::int64_t samples = 0;
  std::int64_t rollups = 0;
  std::int64_t events = 0;
};

// One result of global search.
struct SearchHit {
  std::string kind;  // "host", "service", "check", "package"
  std::string ref;   // host id, unit name, check key, package name
  std::string title;
  std::string detail;           // the matching text around the title
  std::int64_t host_count = 0;  // services, checks and packages: on how many hosts
  int rank = 0;                 // lower is better
};

// One row of a CSV import, already validated; key is the id, or else hostname, or else serial.
struct ImportRow {
  int line = 0;
  std::optional<std::int64_t> id;
  std::string hostname;
  std::string serial;
  AttributePatch patch;
};

struct ImportSummary {
  int created = 0;
  int updated = 0;
  int unchanged = 0;
};

struct NewEnrollmentToken {
  std::string token_hash;  // SHA-256 hex of the token; the token itself is never stored
  std::int64_t created_ms = 0;
  std::int64_t expires_ms = 0;
  std::optional<std::int64_t> max_hosts;
  std::string created_by;
  std::string name;  // what it is for, shown in lists ("rack 12", "ci runners")
};

struct NewAgent {
  std::string agent_id;
  std::string machine_id;
  std::string hostname;
  std::string serial;  // the machine's serial number when the agent could read it
  std::string cert_serial;
  std::int64_t cert_not_after = 0;
  std::int64_t now_ms = 0;
  std::string remote_address;  // where the enrollment came from, for the audit log
};

}  // namespace fleetdesk::server::store
