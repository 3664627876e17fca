#include "server/engine/ticket_workflow.hpp"

#include <algorithm>
#include <array>

namespace fleetdesk::server::engine::tickets {
namespace {

constexpr std::array<std::pair<State, std::string_view>, 6> kStates = {{
    {State::kNew, "new"},
    {State::kAssigned, "assigned"},
    {State::kInProgress, "in_progress"},
    {State::kPending, "pending"},
    {State::kResolved, "resolved"},
    {State::kClosed, "closed"},
}};

constexpr std::array<std::pair<Action, std::string_view>, 6> kActions = {{
    {Action::kAssign, "assign"},
    {Action::kStart, "start"},
    {Action::kPend, "pend"},
    {Action::kResolve, "resolve"},
    {Action::kReopen, "reopen"},
    {Action::kClose, "close"},
}};

constexpr std::array<std::pair<Level, std::string_view>, 4> kLevels = {{
    {Level::kLow, "low"},
    {Level::kMedium, "medium"},
    {Level::kHigh, "high"},
    {Level::kCritical, "critical"},
}};

template <typename T, std::size_t N>
std::string_view NameIn(const std::array<std::pair<T, std::string_view>, N>& table, T value) {
  for (const auto& [v, name] : table) {
    if (v == value) return name;
  }
  return "?";
}

template <typename T, std::size_t N>
Result<T> ParseIn(const std::array<std::pair<T, std::string_view>, N>& table, std::string_view text,
                  const char* what) {
  std::string known;
  for (const auto& [v, name] : table) {
    if (name == text) return v;
    known += known.empty() ? "" : ", ";
    known += name;
  }
  return MakeError(ErrorCode::kInvalidArgument, std::string(what) + " must be one of " + known +
                                                    ", not '" + std::string(text) + "'");
}

// Time in the states `counts` accepts between the opening and `end_ms`.
template <typename Counts>
std::int64_t ClockUntil(const std::vector<StateChange>& history, std::int64_t end_ms,
                        Counts counts) {
  std::int64_t total = 0;
  for (std::size_t i = 0; i < history.size(); ++i) {
    const std::int64_t from = history[i].at_ms;
    const std::int64_t to =
        std::min(end_ms, i + 1 < history.size() ? history[i + 1].at_ms : end_ms);
    if (to > from && counts(history[i].state)) total += to - from;
  }
  return total;
}

}  // namespace

std::string_view StateName(State state) { return NameIn(kStates, state); }
Result<State> ParseState(std::string_view name) { return ParseIn(kStates, name, "state"); }
std::string_view ActionName(Action action) { return NameIn(kActions, action); }
Result<Action> ParseAction(std::string_view name) { return ParseIn(kActions, name, "action"); }
std::string_view LevelName(Level level) { return NameIn(kLevels, level); }
Result<Level> ParseLevel(std::string_view name) { return ParseIn(kLevels, name, "level"); }

bool IsOpen(State state) { return state != State::kResolved && state != State::kClosed; }

Result<State> Next(State from, Action action, bool has_assignee) {
  std::optional<State> to;
  switch (action) {
    case Action::kAssign:
      // Assigning an open ticket again changes who has it, not where it is.
      if (IsOpen(from)) to = from == State::kNew ? State::kAssigned : from;
      break;
    case Action::kStart:
      if (from == State::kNew || from == State::kAssigned || from == State::kPending) {
        to = State::kInProgress;
      }
      break;
    case Action::kPend:
      // Waiting on someone needs someone on our side who took it first.
      if (from == State::kAssigned || from == State::kInProgress) to = State::kPending;
      break;
    case Action::kResolve:
      if (IsOpen(from)) to = State::kResolved;
      break;
    case Action::kReopen:
      if (from == State::kResolved) to = has_assignee ? State::kAssigned : State::kNew;
      break;
    case Action::kClose:
      if (from == State::kResolved) to = State::kClosed;
      break;
  }
  if (!to) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "the workflow has no '" + std::string(ActionName(action)) +
                         "' for a ticket that is " + std::string(StateName(from)) +
                         (from == State::kClosed ? " (closed is final)" : ""));
  }
  return *to;
}

std::vector<Action> Offered(State state, bool has_assignee) {
  std::vector<Action> out;
  for (const auto& [action, name] : kActions) {
    if (Next(state, action, has_assignee)) out.push_back(action);
  }
  return out;
}

int Priority(Level impact, Level urgency) {
  // Rows: impact critical, high, medium, low; columns: urgency critical, high, medium, low.
  static constexpr int kMatrix[4][4] = {
      {1, 1, 2, 3},
      {1, 2, 3, 4},
      {2, 3, 3, 4},
      {3, 4, 4, 5},
  };
  const auto row = 3 - static_cast<int>(impact);
  const auto column = 3 - static_cast<int>(urgency);
  return kMatrix[row][column];
}

SlaTarget DefaultSlaTarget(int priority) {
  constexpr std::int64_t kMinute = 60'000;
  constexpr std::int64_t kHour = 60 * kMinute;
  switch (priority) {
    case 1:
      return {15 * kMinute, 4 * kHour};
    case 2:
      return {30 * kMinute, 8 * kHour};
    case 3:
      return {4 * kHour, 24 * kHour};
    case 4:
      return {8 * kHour, 72 * kHour};
    default:
      return {24 * kHour, 7 * 24 * kHour};
  }
}

SlaStatus Sla(const std::vector<StateChange>& history, std::optional<std::int64_t> responded_ms,
              const SlaTarget& target, std::int64_t now_ms) {
  SlaStatus out;
  if (history.empty()) return out;
  const State current = history.back().state;
  const auto running = [](State s) { return IsOpen(s) && s != State::kPending; };
  out.paused = current == State::kPending;
  out.resolved = !IsOpen(current);
  out.responded = responded_ms.has_value();
  out.response_elapsed_ms = ClockUntil(history, responded_ms.value_or(now_ms), running);
  out.resolution_elapsed_ms = ClockUntil(history, now_ms, running);
  out.response_breached = out.response_elapsed_ms > target.first_response_ms;
  out.resolution_breached = out.resolution_elapsed_ms > target.resolution_ms;
  if (!out.responded && !out.paused && !out.resolved) {
    out.response_due_ms = now_ms + target.first_response_ms - out.response_elapsed_ms;
  }
  if (!out.paused && !out.resolved) {
    out.resolution_due_ms = now_ms + target.resolution_ms - out.resolution_elapsed_ms;
  }
  return out;
}

}  // namespace fleetdesk::server::engine::tickets
