// The rows of the ticket desk: tickets (incidents and service requests), their timeline, notes,
// worklog entries and maintenance windows, as plain structs shared by the incident engine, the
// API and both stores.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"
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
  // A user's name, from an assignment rule: assigned when an enabled admin or operator has it,
  // else left out (as for an incident).
  std::string assignee;
  // The group and assignee come from an assignment rule: the timeline says the server assigned
  // them, not the one who filed the ticket.
  bool routed = false;
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
  // Suppressed by a maintenance window: when it ends. Suppressed for good (the host archived):
  // raising it again is pointless.
  std::optional<std::int64_t> until_ms;
  bool for_good = false;
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
  // sla_breach, attachment, task (a task submitted for the ticket, or one acting on the unit
  // whose failure raised it)
  std::string kind;
  std::string subject;  // the field, the state's action, the SLA clock
  std::string old_value;
  std::string new_value;
  std::string actor;
};

// The refusal of any change to a closed ticket.
inline Error TicketClosed(std::int64_t id) {
  return MakeError(ErrorCode::kFailedPrecondition,
                   "ticket " + std::to_string(id) + " is closed (closed is final)");
}

struct TicketNote {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::int64_t at_ms = 0;
  std::string author;
  bool internal = false;  // internal notes are for staff: requesters never see them
  std::string body;
};

// A file attached to a ticket. Its bytes are in the database (`content`) or, when that is empty
// and `in_files`, in the attachment directory under the SHA-256 (content-addressed: the same file
// attached twice is stored once).
struct TicketAttachment {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::int64_t at_ms = 0;
  std::string name;          // as uploaded, checked: no path, no control characters
  std::string content_type;  // checked against the bytes
  std::int64_t size_bytes = 0;
  std::string sha256;  // hex
  std::string author;
  bool in_files = false;
};

struct WorklogEntry {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::int64_t at_ms = 0;
  std::string task;  // what the script was doing: "backup", "deploy 4.2"
  std::string note;
  std::string actor;
};

// The orders a ticket list comes in; every one ends with the id, so pages never overlap.
enum class TicketSort {
  kNewest,    // id descending
  kOldest,    // id ascending
  kPriority,  // P1 first, then newest
  kUpdated,   // most recently changed first
};

// Where a page of a sorted list goes on: the last ticket's sort value (its priority or
// updated_ms; unused for kNewest and kOldest) and id.
struct TicketCursor {
  std::int64_t key = 0;
  std::int64_t id = 0;
};

struct TicketQuery {
  std::optional<std::int64_t> before_id;  // cursor of kNewest: newest first, page after page
  TicketSort sort = TicketSort::kNewest;
  std::optional<TicketCursor> after;  // cursor of the other sorts
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
  std::optional<TicketCursor> next;  // ListTickets in another order than kNewest
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

// Reports ---------------------------------------------------------------------------------------

// What a monthly report is broken down by: nothing, or a ticket's category, priority (P1-P5),
// assignment group, or its host's environment (the host group).
inline constexpr const char* kReportDimensions[] = {"all", "category", "priority", "group",
                                                    "environment"};

struct ReportQuery {
  std::string from_month;    // "2026-01", inclusive
  std::string to_month;      // inclusive
  std::string kind = "all";  // all, incident, request
  std::string by = "all";    // one of kReportDimensions
};

// One month of one value of the dimension. Opened and the times to acknowledge and the breaches
// count the tickets created that month; resolved and the times to resolve those resolved that
// month. Times are wall time.
struct MonthlyRow {
  std::string month;
  std::string value;  // empty for "all"; "(none)" for tickets without one
  std::int64_t opened = 0;
  std::int64_t resolved = 0;
  std::int64_t responded = 0;
  std::int64_t tta_sum_ms = 0;  // over `responded`
  std::int64_t tta_p90_ms = 0;
  std::int64_t ttr_sum_ms = 0;  // over `resolved`
  std::int64_t ttr_p90_ms = 0;
  std::int64_t response_breaches = 0;
  std::int64_t resolution_breaches = 0;
  std::int64_t breached = 0;  // tickets with either breach
  bool final = false;         // from a month over long enough that its figures no longer move
};

// Where incidents come from, over whole months: hosts, or what failed on them (a unit, a check,
// a metric) across the fleet.
struct NoiseRow {
  std::string key;    // a host's id, or "<kind>/<subject>"
  std::string label;  // the hostname, or the subject
  std::int64_t incidents = 0;
  std::int64_t occurrences = 0;
};

// One message to deliver: a webhook call or an e-mail about a ticket, kept until delivered or
// given up (the outbox), so a restart or a receiver that is down loses nothing.
struct NotificationRecord {
  std::int64_t id = 0;
  std::int64_t ticket_id = 0;
  std::string event;    // opened, reopened, escalated, resolved
  std::string route;    // the [[notifications.routes]] entry's name
  std::string channel;  // webhook or email
  std::string target;   // the URL, or the addresses (comma-separated)
  std::string subject;  // e-mail only
  std::string body;     // the JSON a webhook posts, or the e-mail's text
  int attempts = 0;
  std::int64_t created_ms = 0;
  std::int64_t next_ms = 0;  // due at; while being sent, when another server may try
  std::optional<std::int64_t> delivered_ms;
  std::optional<std::int64_t> failed_ms;  // given up
  std::string last_error;
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
