// The rows of the ticket desk: tickets (incidents and service requests), their timeline, notes,
// worklog entries and maintenance windows, as plain structs shared by the incident engine, the
// API and both stores.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "server/engine/ticket_workflow.hpp"

namespace fleetdesk::server::store {

inline constexpr const char* kTicketKinds[] = {"incident", "request"};

// The SLA targets of P1 to P5, in that order ([tickets.sla] of the server config).
using SlaTargets = std::array<engine::tickets::SlaTarget, 5>;
SlaTargets DefaultSlaTargets();

struct TicketRecord {
  std::int64_t id = 0;
  std::string kind;  // incident (raised by the incident engine) or request (filed by a person)
  std::string title;
  std::string description;
  std::string state;  // new, assigned, in_progress, pending, resolved, closed
  std::string category;
  std::string impact;   // low, medium, high, critical: the host's criticality by default
  std::string urgency;  // likewise: the rule's severity, or what the requester said
  int priority = 3;     // 1 (most urgent) to 5
  // Set when a person chose the priority instead of the matrix, saying why.
  std::string priority_reason;
  std::optional<std::int64_t> host_id;
  std::string hostname;
  // Incidents: what failed ("<host id>/<kind>/<subject>"), how often, and whether it flaps.
  std::string fingerprint;
  std::string source_kind;  // service, check, host, metric, inventory
  std::string subject;      // the unit, check key, metric or inventory field
  int occurrences = 1;
  bool flapping = false;
  bool auto_resolve = true;
  std::optional<std::int64_t> recovered_ms;  // up again since, while the incident is open
  std::int64_t last_seen_ms = 0;             // the newest occurrence
  // Who works it.
  std::string group;
  std::optional<std::int64_t> assignee_id;
  std::string assignee;
  std::optional<std::int64_t> requester_id;
  std::string requester;
  std::string created_by;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  // The SLA: written at each change, so lists and the breach job need no history.
  std::optional<std::int64_t> responded_ms;  // first action or public note by a person
  std::optional<std::int64_t> resolved_ms;
  std::optional<std::int64_t> closed_ms;
  std::int64_t paused_ms = 0;                   // time off the clock: pending, or resolved
  std::optional<std::int64_t> paused_since_ms;  // off the clock now, since
  std::int64_t response_target_ms = 0;
  std::int64_t resolution_target_ms = 0;
  std::optional<std::int64_t> response_breached_ms;
  std::optional<std::int64_t> resolution_breached_ms;
  std::int64_t worklog_count = 0;  // entries in its worklog stream

  // When each clock passes its target if nothing changes: absent once stopped or while paused.
  std::optional<std::int64_t> ResponseDueMs() const {
    if (responded_ms || paused_since_ms) return std::nullopt;
    return created_ms + response_target_ms + paused_ms;
  }
  std::optional<std::int64_t> ResolutionDueMs() const {
    if (paused_since_ms) return std::nullopt;
    return created_ms + resolution_target_ms + paused_ms;
  }
};

// A ticket a person files: a service request, or an incident seen by a person.
struct NewTicket {
  std::string kind = "request";
  std::string title;
  std::string description;
  std::string category;
  std::optional<std::string> impact;  // default: the host's criticality, else low
  std::string urgency = "medium";
  std::optional<std::int64_t> host_id;
  std::string group;
};

// What the incident engine raises: one confirmed failure of a fingerprint.
struct IncidentSignal {
  std::int64_t host_id = 0;
  std::string kind;  // service, check, host, metric, inventory
  std::string subject;
  std::string title;   // "nginx.service failed on web-1"
  std::string detail;  // what the agent said, for the description
  std::string category;
  std::string urgency = "medium";  // the rule's severity
  bool auto_resolve = true;
  std::string group;  // from the assignment rules; empty: unassigned
  std::string assignee;
  std::int64_t reopen_window_ms = 60 * 60'000;
  std::int64_t at_ms = 0;

  std::string Fingerprint() const { return std::to_string(host_id) + "/" + kind + "/" + subject; }
};

struct IncidentOutcome {
  enum class Kind {
    kOpened,
    kReopened,    // a resolved ticket of the fingerprint, inside the reopen window
    kRepeated,    // its open ticket counted one more occurrence
    kSuppressed,  // by a maintenance window or the host being unreachable: no ticket
  };
  Kind kind = Kind::kOpened;
  std::int64_t ticket_id = 0;  // 0 when suppressed
  std::string why;             // suppressed: by what
};

// Changes a person makes to a ticket's fields; absent ones stay.
struct TicketPatch {
  std::optional<std::string> title;
  std::optional<std::string> description;
  std::optional<std::string> category;
  std::optional<std::string> impact;
  std::optional<std::string> urgency;
  // Overrides the matrix; needs `priority_reason`. Changing impact or urgency without it goes
  // back to the matrix.
  std::optional<int> priority;
  std::optional<std::string> priority_reason;
};

// The workflow's actions with what they carry: assign takes a group and/or a person.
struct TicketAction {
  std::string action;  // assign, start, pend, resolve, reopen, close
  std::optional<std::string> group;
  std::optional<std::int64_t> assignee_id;
  std::string comment;  // kept on the timeline entry
};

// One entry of a ticket's timeline: every change, with who made it and when.
struct TicketEvent {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::int64_t at_ms = 0;
  // created, state, assigned, priority, field, note, occurrence, recovered, flapping, settled,
  // sla_breach, attachment
  std::string kind;
  std::string subject;  // the field, the state's action, the SLA clock
  std::string old_value;
  std::string new_value;
  std::string actor;
};

struct TicketNote {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::int64_t at_ms = 0;
  std::string author;
  bool internal = false;  // internal notes are for staff: requesters never see them
  std::string body;
};

struct WorklogEntry {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::int64_t at_ms = 0;
  std::string task;  // what the script was doing: "backup", "deploy 4.2"
  std::string note;
  std::string actor;
};

struct TicketQuery {
  std::optional<std::int64_t> before_id;  // cursor: newest first, page after page
  int limit = 50;
  // Filters; empty means any.
  std::vector<std::string> states;  // "open" stands for every state before resolved
  std::string kind;
  std::optional<int> priority;
  std::string group;
  std::optional<std::int64_t> assignee_id;
  bool unassigned = false;
  std::optional<std::int64_t> requester_id;
  std::optional<std::int64_t> host_id;
  std::string category;
  std::optional<std::int64_t> from_ms;  // created at or after
  std::optional<std::int64_t> to_ms;    // created before
  bool breached = false;                // an SLA clock passed its target
};

template <typename T>
struct Page {
  std::vector<T> items;  // newest first
  std::optional<std::int64_t> next_before_id;
};

using TicketPage = Page<TicketRecord>;
using TicketEventPage = Page<TicketEvent>;
using WorklogPage = Page<WorklogEntry>;

// A full-text search of tickets, their notes and worklogs, within the filters of a list.
struct TicketSearchQuery {
  std::string text;
  TicketQuery filters;          // before_id and limit unused
  bool internal_notes = false;  // the caller may read internal notes
  int limit = 20;
};

// Where a ticket matched: its title or description, a note or a worklog entry.
struct TicketMatch {
  std::string kind;  // ticket, note, worklog
  std::int64_t id = 0;
  std::int64_t at_ms = 0;
  std::string snippet;  // HTML-escaped, the matches in <mark></mark>
  double score = 0;
};

struct TicketSearchHit {
  TicketRecord ticket;
  double score = 0;                  // higher is better
  std::vector<TicketMatch> matches;  // best first, at most three
};

// A time when incidents of a host, or of every host with a tag, are expected and suppressed.
struct MaintenanceWindow {
  std::int64_t id = 0;
  std::optional<std::int64_t> host_id;
  std::string tag;  // one of host_id and tag
  std::int64_t starts_ms = 0;
  std::int64_t ends_ms = 0;
  std::string reason;
  std::string created_by;
  std::int64_t created_ms = 0;
};

// An SLA clock that passed its target, recorded once.
struct SlaBreach {
  std::int64_t ticket_id = 0;
  std::string clock;  // response or resolution
  std::int64_t at_ms = 0;
};

}  // namespace fleetdesk::server::store
