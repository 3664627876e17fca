// The ITIL incident workflow as data and arithmetic, with no storage or HTTP: ticket states and
// the transitions between them, priority from impact and urgency, and SLA clocks that pause while
// a ticket is pending. The ticket store and API apply what this decides. Standard headers only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::server::engine::tickets {

// new -> assigned -> in_progress <-> pending -> resolved -> closed, with reopen from resolved.
enum class State { kNew, kAssigned, kInProgress, kPending, kResolved, kClosed };

std::string_view StateName(State state);
Result<State> ParseState(std::string_view name);

// Whether a ticket in this state still needs work: every state before resolved.
bool IsOpen(State state);

// What a person (or the incident engine) does to a ticket. Each action is one permission of the
// access table ("tickets", action), so who may do what is decided in one place.
enum class Action {
  kAssign,   // to a group or a person: new -> assigned (an assigned ticket stays assigned)
  kStart,    // someone works on it: new, assigned or pending -> in_progress
  kPend,     // waiting for someone outside (a vendor, the requester): the SLA clocks pause
  kResolve,  // the fault is gone: any open state -> resolved
  kReopen,   // resolved -> assigned when it has an assignee, else new
  kClose,    // resolved -> closed; closed is final
};

std::string_view ActionName(Action action);
Result<Action> ParseAction(std::string_view name);

// The state `action` leads to from `from`, or kFailedPrecondition naming both when the workflow
// has no such step (resolving a closed ticket, pending a new one).
Result<State> Next(State from, Action action, bool has_assignee);

// The actions the workflow offers in `state`: what a client shows as buttons.
std::vector<Action> Offered(State state, bool has_assignee);

// Impact follows the host's criticality, urgency the rule's severity; both take the words
// low, medium, high, critical.
enum class Level { kLow, kMedium, kHigh, kCritical };

std::string_view LevelName(Level level);
Result<Level> ParseLevel(std::string_view name);

// P1 (most urgent) to P5 from the impact x urgency matrix:
//
//   impact \ urgency   critical  high  medium  low
//   critical              P1      P1     P2     P3
//   high                  P1      P2     P3     P4
//   medium                P2      P3     P3     P4
//   low                   P3      P4     P4     P5
int Priority(Level impact, Level urgency);

// How long a priority may wait for its first response and for its resolution, in milliseconds
// of the SLA clock (wall time less the time spent pending).
struct SlaTarget {
  std::int64_t first_response_ms = 0;
  std::int64_t resolution_ms = 0;
};

// The defaults, P1 to P5: 15 min / 4 h, 30 min / 8 h, 4 h / 24 h, 8 h / 3 d, 24 h / 7 d.
SlaTarget DefaultSlaTarget(int priority);

// One entry of a ticket's state history: it entered `state` at `at_ms`.
struct StateChange {
  std::int64_t at_ms = 0;
  State state = State::kNew;
};

// Where a ticket's SLA stands at `now_ms`, from its state history (oldest first, the first entry
// its opening) and when it was first responded to (a person took an action or wrote a public
// note), if ever.
struct SlaStatus {
  // Time on the clock so far, pending time excluded; the resolution clock stops at the first
  // resolve that was not reopened.
  std::int64_t response_elapsed_ms = 0;
  std::int64_t resolution_elapsed_ms = 0;
  bool responded = false;
  bool resolved = false;
  bool paused = false;  // pending now
  // Breached: the clock passed its target (a breach stays a breach once recorded).
  bool response_breached = false;
  bool resolution_breached = false;
  // When the clock will pass its target if nothing changes; absent when stopped or paused.
  std::optional<std::int64_t> response_due_ms;
  std::optional<std::int64_t> resolution_due_ms;
};

SlaStatus Sla(const std::vector<StateChange>& history, std::optional<std::int64_t> responded_ms,
              const SlaTarget& target, std::int64_t now_ms);

}  // namespace fleetdesk::server::engine::tickets
