#include "server/engine/ticket_workflow.hpp"

#include <catch2/catch.hpp>

using namespace fleetdesk::server::engine::tickets;

namespace {

constexpr std::int64_t kMinute = 60'000;

State Step(State from, Action action, bool has_assignee = true) {
  auto next = Next(from, action, has_assignee);
  REQUIRE(next.ok());
  return *next;
}

}  // namespace

TEST_CASE("every state, action and level has a name that reads back", "[server][tickets]") {
  for (State s : {State::kNew, State::kAssigned, State::kInProgress, State::kPending,
                  State::kResolved, State::kClosed}) {
    CHECK(*ParseState(StateName(s)) == s);
  }
  for (Action a : {Action::kAssign, Action::kStart, Action::kPend, Action::kResolve,
                   Action::kReopen, Action::kClose}) {
    CHECK(*ParseAction(ActionName(a)) == a);
  }
  for (Level l : {Level::kLow, Level::kMedium, Level::kHigh, Level::kCritical}) {
    CHECK(*ParseLevel(LevelName(l)) == l);
  }
  auto bad = ParseState("open");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("in_progress") && Catch::Contains("'open'"));
}

TEST_CASE("a ticket goes from new to closed, and back from resolved when reopened",
          "[server][tickets]") {
  State s = State::kNew;
  s = Step(s, Action::kAssign);
  CHECK(s == State::kAssigned);
  CHECK(Step(s, Action::kAssign) == State::kAssigned);  // reassigned: where it was
  s = Step(s, Action::kStart);
  CHECK(s == State::kInProgress);
  CHECK(Step(s, Action::kAssign) == State::kInProgress);
  s = Step(s, Action::kPend);
  CHECK(s == State::kPending);
  s = Step(s, Action::kStart);
  CHECK(s == State::kInProgress);
  s = Step(s, Action::kResolve);
  CHECK(s == State::kResolved);
  CHECK(Step(s, Action::kReopen, true) == State::kAssigned);
  CHECK(Step(s, Action::kReopen, false) == State::kNew);
  s = Step(s, Action::kClose);
  CHECK(s == State::kClosed);
  CHECK(Offered(State::kClosed, true).empty());
  // An incident that recovers before anyone looks is resolved straight from new.
  CHECK(Step(State::kNew, Action::kResolve) == State::kResolved);
}

TEST_CASE("a step the workflow does not have is refused, naming the action and the state",
          "[server][tickets]") {
  auto closed = Next(State::kClosed, Action::kResolve, true);
  REQUIRE_FALSE(closed.ok());
  CHECK(closed.error().code == fleetdesk::ErrorCode::kFailedPrecondition);
  CHECK_THAT(closed.error().message,
             Catch::Contains("'resolve'") && Catch::Contains("closed") && Catch::Contains("final"));
  CHECK_FALSE(Next(State::kNew, Action::kPend, false).ok());
  CHECK_FALSE(Next(State::kInProgress, Action::kStart, true).ok());
  CHECK_FALSE(Next(State::kInProgress, Action::kClose, true).ok());
  CHECK_FALSE(Next(State::kAssigned, Action::kReopen, true).ok());
  CHECK(Offered(State::kNew, false) ==
        std::vector<Action>{Action::kAssign, Action::kStart, Action::kResolve});
  CHECK(Offered(State::kResolved, true) == std::vector<Action>{Action::kReopen, Action::kClose});
}

TEST_CASE("priority follows the impact by urgency matrix", "[server][tickets]") {
  using L = Level;
  // Written out here apart from the code's table: impact rows, urgency columns, critical first.
  const L order[] = {L::kCritical, L::kHigh, L::kMedium, L::kLow};
  const int expected[4][4] = {{1, 1, 2, 3}, {1, 2, 3, 4}, {2, 3, 3, 4}, {3, 4, 4, 5}};
  for (int i = 0; i < 4; ++i) {
    for (int u = 0; u < 4; ++u) {
      CAPTURE(LevelName(order[i]), LevelName(order[u]));
      CHECK(Priority(order[i], order[u]) == expected[i][u]);
      // Raising either never makes a ticket less urgent.
      if (i > 0) CHECK(Priority(order[i - 1], order[u]) <= Priority(order[i], order[u]));
      if (u > 0) CHECK(Priority(order[i], order[u - 1]) <= Priority(order[i], order[u]));
    }
  }
  CHECK(DefaultSlaTarget(1).first_response_ms == 15 * kMinute);
  CHECK(DefaultSlaTarget(5).resolution_ms == 7 * 24 * 60 * kMinute);
}

TEST_CASE("the SLA clocks pause while pending and stop at resolution", "[server][tickets]") {
  const std::vector<StateChange> history = {
      {0, State::kNew},
      {10 * kMinute, State::kAssigned},
      {20 * kMinute, State::kInProgress},
      {30 * kMinute, State::kPending},
      {90 * kMinute, State::kInProgress},
      {100 * kMinute, State::kResolved},
  };
  auto sla = Sla(history, 20 * kMinute, DefaultSlaTarget(1), 200 * kMinute);
  CHECK(sla.response_elapsed_ms == 20 * kMinute);
  CHECK(sla.response_breached);                      // 20 minutes against 15
  CHECK(sla.resolution_elapsed_ms == 40 * kMinute);  // the hour pending is not counted
  CHECK_FALSE(sla.resolution_breached);
  CHECK(sla.resolved);
  CHECK_FALSE(sla.response_due_ms.has_value());
  CHECK_FALSE(sla.resolution_due_ms.has_value());

  // Reopened, the resolution clock runs again from where it stopped.
  auto reopened = history;
  reopened.push_back({150 * kMinute, State::kAssigned});
  sla = Sla(reopened, 20 * kMinute, DefaultSlaTarget(1), 160 * kMinute);
  CHECK(sla.resolution_elapsed_ms == 50 * kMinute);
  CHECK(*sla.resolution_due_ms == 160 * kMinute + 4 * 60 * kMinute - 50 * kMinute);
}

TEST_CASE("a running SLA clock says when it breaches, and a pending one says nothing",
          "[server][tickets]") {
  const std::vector<StateChange> opened = {{0, State::kNew}};
  auto early = Sla(opened, std::nullopt, DefaultSlaTarget(1), 10 * kMinute);
  CHECK_FALSE(early.response_breached);
  CHECK(*early.response_due_ms == 15 * kMinute);
  CHECK(*early.resolution_due_ms == 4 * 60 * kMinute);
  auto late = Sla(opened, std::nullopt, DefaultSlaTarget(1), 20 * kMinute);
  CHECK(late.response_breached);
  CHECK(*late.response_due_ms == 15 * kMinute);  // in the past: overdue since then

  const std::vector<StateChange> pending = {
      {0, State::kNew}, {5 * kMinute, State::kAssigned}, {6 * kMinute, State::kPending}};
  auto paused = Sla(pending, 5 * kMinute, DefaultSlaTarget(1), 600 * kMinute);
  CHECK(paused.paused);
  CHECK(paused.resolution_elapsed_ms == 6 * kMinute);
  CHECK_FALSE(paused.resolution_breached);
  CHECK_FALSE(paused.resolution_due_ms.has_value());
}
