// Configuration tasks in the store, on both databases: targets, batches, the failure threshold,
// idempotent submission, cancellation and the sweep of expired and timed-out hosts.
#include <catch2/catch.hpp>

#include "server/store/store.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;
using fleetdesk::ErrorCode;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kHour = 3'600'000;

Actor Operator(const std::string& name = "oscar") {
  Actor a;
  a.kind = "user";
  a.name = name;
  a.staff = true;
  return a;
}

std::int64_t Enroll(Store& s, const std::string& agent, std::vector<std::string> tags = {},
                    const std::string& environment = "") {
  (void)s.CreateEnrollmentToken({"t", kNow, kNow + kHour, std::nullopt, "test"}, {});
  auto host = s.EnrollAgent("t", NewAgent{agent, "m-" + agent, agent, "", "01", 0, kNow});
  REQUIRE(host.ok());
  AttributePatch patch;
  if (!tags.empty()) patch.tags = tags;
  if (!environment.empty()) patch.environment = environment;
  if (!tags.empty() || !environment.empty()) REQUIRE(s.PatchHost(host->id, patch, {}, kNow).ok());
  return host->id;
}

NewTask Restart(std::vector<std::int64_t> hosts) {
  NewTask t;
  t.kind = "service.restart";
  t.spec = R"({"kind":"service.restart","service":{"unit":"nginx.service"}})";
  t.host_ids = std::move(hosts);
  t.timeout_ms = 60'000;
  t.expires_ms = kNow + kHour;
  return t;
}

TaskResultRecord Outcome(const std::string& state, int exit_code = 0) {
  TaskResultRecord r;
  r.state = state;
  r.exit_code = exit_code;
  r.duration_ms = 120;
  return r;
}

// Sends the host its due tasks as the task thread does (due, then marked sent); answers their
// ids.
std::vector<std::int64_t> Deliver(Store& s, std::int64_t host, std::int64_t now = kNow) {
  auto due = s.DueTaskHosts(now, 0, 0, 1000);
  REQUIRE(due.ok());
  std::vector<std::pair<std::int64_t, std::int64_t>> mine;
  for (const auto& d : *due) {
    if (d.host_id == host) mine.emplace_back(d.task_id, host);
  }
  auto marked = s.MarkTasksSent(mine, now);
  REQUIRE(marked.ok());
  std::vector<std::int64_t> sent;
  for (std::size_t i = 0; i < mine.size(); ++i) {
    if ((*marked)[i]) sent.push_back(mine[i].first);
  }
  return sent;
}

std::string StateOf(Store& s, std::int64_t task, std::int64_t host) {
  auto rows = s.ListTaskHosts(task, "", host - 1, 1);
  REQUIRE(rows.ok());
  REQUIRE(rows->size() == 1);
  return rows->at(0).state;
}

}  // namespace

TEST_CASE("a selector chooses enrolled hosts with all its tags, and listed hosts must be usable",
          "[server][store][tasks]") {
  EACH_STORE();
  auto store = db.Open();
  auto web1 = Enroll(*store, "web-1", {"web", "prod"}, "production");
  auto web2 = Enroll(*store, "web-2", {"web"}, "staging");
  auto db1 = Enroll(*store, "db-1", {"db", "prod"}, "production");
  auto gone = Enroll(*store, "web-3", {"web", "prod"});
  REQUIRE(store->ArchiveHost(gone, Operator(), kNow).ok());

  auto ids = [](const std::vector<TaskTarget>& targets) {
    std::vector<std::int64_t> out;
    for (const auto& t : targets) out.push_back(t.host_id);
    return out;
  };
  TaskTargeting prod;
  prod.tags = {"prod", "web"};
  CHECK(ids(*store->ResolveTaskTargets(prod)) == std::vector<std::int64_t>{web1});
  TaskTargeting production;
  production.environment = "production";
  CHECK(ids(*store->ResolveTaskTargets(production)) == std::vector<std::int64_t>{web1, db1});
  TaskTargeting everyone;
  CHECK(ids(*store->ResolveTaskTargets(everyone)) == std::vector<std::int64_t>{web1, web2, db1});
  TaskTargeting nobody;
  nobody.tags = {"mail"};
  CHECK(store->ResolveTaskTargets(nobody).error().code == ErrorCode::kInvalidArgument);

  TaskTargeting listed;
  listed.host_ids = {db1, web1, db1};
  auto targets = store->ResolveTaskTargets(listed);
  REQUIRE(targets.ok());
  CHECK(ids(*targets) == std::vector<std::int64_t>{web1, db1});  // once each, by id
  CHECK(targets->at(0).hostname == "web-1");
  listed.host_ids = {web1, gone};
  auto refused = store->ResolveTaskTargets(listed);
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error().message,
             Catch::Contains("host " + std::to_string(gone)) && Catch::Contains("archived"));
  listed.host_ids = {999};
  CHECK_THAT(store->ResolveTaskTargets(listed).error().message, Catch::Contains("no host"));
}

TEST_CASE("a task goes to each host once, and its results finish it", "[server][store][tasks]") {
  EACH_STORE();
  auto store = db.Open();
  auto a = Enroll(*store, "a");
  auto b = Enroll(*store, "b");
  auto task = store->CreateTask(Restart({a, b}), Operator(), kNow);
  REQUIRE(task.ok());
  CHECK(task->state == "running");
  CHECK(task->counts.queued == 2);
  CHECK(task->created_by == "oscar");

  CHECK(Deliver(*store, a) == std::vector<std::int64_t>{task->id});
  CHECK(Deliver(*store, a).empty());  // sent once: not due again
  CHECK_FALSE(store->MarkTasksSent({{task->id, a}}, kNow)->at(0));

  CHECK(*store->RecordTaskResult(task->id, a, Outcome("running"), kNow + 10));
  CHECK(StateOf(*store, task->id, a) == "running");
  auto ok = Outcome("succeeded");
  ok.stdout_text = "restarted";
  ok.stdout_size = 9;
  CHECK(*store->RecordTaskResult(task->id, a, ok, kNow + 20));
  // A repeated result (the agent resent it after a reconnect) changes nothing.
  CHECK_FALSE(*store->RecordTaskResult(task->id, a, Outcome("failed", 1), kNow + 30));
  auto rows = *store->ListTaskHosts(task->id, "succeeded", 0, 10);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].host_id == a);
  CHECK(rows[0].exit_code == 0);
  CHECK(rows[0].stdout_text == "restarted");
  CHECK(rows[0].finished_ms == kNow + 20);
  CHECK(store->GetTask(task->id)->value().state == "running");

  // Results only from a host sent the task, about a task it has.
  CHECK_FALSE(*store->RecordTaskResult(task->id, b, Outcome("succeeded"), kNow));
  CHECK(store->RecordTaskResult(task->id + 1, b, Outcome("succeeded"), kNow).error().code ==
        ErrorCode::kNotFound);
  CHECK(store->RecordTaskResult(task->id, b, Outcome("done"), kNow).error().code ==
        ErrorCode::kInvalidArgument);

  CHECK(Deliver(*store, b) == std::vector<std::int64_t>{task->id});
  CHECK(*store->RecordTaskResult(task->id, b, Outcome("failed", 3), kNow + 40));
  auto done = store->GetTask(task->id)->value();
  CHECK(done.state == "finished");
  CHECK(done.finished_ms == kNow + 40);
  CHECK(done.counts.succeeded == 1);
  CHECK(done.counts.failed == 1);

  auto mine = store->HostTasks(b, 10);
  REQUIRE(mine.ok());
  REQUIRE(mine->size() == 1);
  CHECK(mine->at(0).state == "failed");
  CHECK(mine->at(0).exit_code == 3);

  // Each host's history shows the task it ran, once, with its outcome and who asked.
  EventQuery query;
  query.host_id = b;
  query.kind = "task";
  auto events = store->ListEvents(query);
  REQUIRE(events.ok());
  REQUIRE(events->items.size() == 1);
  CHECK(events->items[0].subject ==
        "task " + std::to_string(task->id) + " service.restart nginx.service");
  CHECK(events->items[0].new_value == "failed");
  CHECK(events->items[0].actor == "oscar");
  CHECK(events->items[0].at_ms == kNow + 40);
  query.host_id = a;
  CHECK(store->ListEvents(query)->items.size() == 1);
}

TEST_CASE("a rollout goes batch by batch and stops past its failure threshold",
          "[server][store][tasks]") {
  EACH_STORE();
  auto store = db.Open();
  std::vector<std::int64_t> hosts;
  for (int i = 0; i < 5; ++i) hosts.push_back(Enroll(*store, "h" + std::to_string(i)));
  auto spec = Restart(hosts);
  spec.batch_size = 2;
  spec.max_failures = 1;
  auto task = store->CreateTask(spec, Operator(), kNow);
  REQUIRE(task.ok());
  CHECK(task->batches == 3);

  // Only the first batch is due; the second waits for its results.
  CHECK(Deliver(*store, hosts[2]).empty());
  CHECK(Deliver(*store, hosts[0]).size() == 1);
  CHECK(Deliver(*store, hosts[1]).size() == 1);
  CHECK(*store->RecordTaskResult(task->id, hosts[0], Outcome("succeeded"), kNow));
  CHECK(Deliver(*store, hosts[2]).empty());
  CHECK(*store->RecordTaskResult(task->id, hosts[1], Outcome("failed", 1), kNow));
  CHECK(store->GetTask(task->id)->value().current_batch == 1);
  CHECK(Deliver(*store, hosts[2]).size() == 1);
  CHECK(Deliver(*store, hosts[3]).size() == 1);

  // A second failure is more than the one allowed: the last batch is never sent.
  CHECK(*store->RecordTaskResult(task->id, hosts[2], Outcome("refused"), kNow));
  auto stopped = store->GetTask(task->id)->value();
  CHECK(stopped.state == "stopped");
  CHECK_THAT(stopped.stop_reason, Catch::Contains("2 hosts failed"));
  CHECK(StateOf(*store, task->id, hosts[4]) == "cancelled");
  CHECK(Deliver(*store, hosts[4]).empty());
  CHECK_FALSE(stopped.finished_ms.has_value());  // host 3 still has it
  CHECK(*store->RecordTaskResult(task->id, hosts[3], Outcome("succeeded"), kNow + 5));
  auto done = store->GetTask(task->id)->value();
  CHECK(done.state == "stopped");
  CHECK(done.finished_ms == kNow + 5);
  CHECK(done.counts.succeeded == 2);
  CHECK(done.counts.failures() == 2);
  CHECK(done.counts.cancelled == 1);
}

TEST_CASE("a retried submission answers the first task, and a reused key for another is refused",
          "[server][store][tasks]") {
  EACH_STORE();
  auto store = db.Open();
  auto a = Enroll(*store, "a");
  auto spec = Restart({a});
  spec.idempotency_key = "deploy-42";
  spec.request_digest = "digest-1";
  auto first = store->CreateTask(spec, Operator(), kNow);
  REQUIRE(first.ok());
  CHECK_FALSE(first->replayed);
  auto again = store->CreateTask(spec, Operator(), kNow + 1);
  REQUIRE(again.ok());
  CHECK(again->replayed);
  CHECK(again->id == first->id);
  CHECK(store->ListTasks(std::nullopt, 10)->items.size() == 1);

  spec.request_digest = "digest-2";
  auto other = store->CreateTask(spec, Operator(), kNow + 2);
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == ErrorCode::kAlreadyExists);
  // Keys are each person's own.
  CHECK_FALSE(store->CreateTask(spec, Operator("rita"), kNow + 3)->replayed);

  // A task of a ticket is on its timeline; an unknown ticket is refused and nothing is stored.
  NewTicket change;
  change.kind = "request";
  change.title = "Restart nginx on a";
  auto ticket = store->CreateTicket(change, DefaultSlaTargets(), Operator(), kNow);
  REQUIRE(ticket.ok());
  auto linked = Restart({a});
  linked.ticket_id = ticket->id;
  REQUIRE(store->CreateTask(linked, Operator(), kNow).ok());
  auto events = store->ListTicketEvents(ticket->id, std::nullopt, 50);
  REQUIRE(events.ok());
  CHECK(std::any_of(events->items.begin(), events->items.end(),
                    [](const auto& e) { return e.kind == "task"; }));
  linked.ticket_id = ticket->id + 100;
  CHECK(store->CreateTask(linked, Operator(), kNow).error().code == ErrorCode::kInvalidArgument);
  CHECK(store->ListTasks(std::nullopt, 10)->items.size() == 3);
}

TEST_CASE("cancelling keeps what was sent; expired and silent hosts are swept",
          "[server][store][tasks]") {
  EACH_STORE();
  auto store = db.Open();
  auto a = Enroll(*store, "a");
  auto b = Enroll(*store, "b");
  auto c = Enroll(*store, "c");

  auto task = store->CreateTask(Restart({a, b}), Operator(), kNow);
  REQUIRE(task.ok());
  REQUIRE(Deliver(*store, a).size() == 1);
  auto cancelled = store->CancelTask(task->id, Operator(), kNow + 1);
  REQUIRE(cancelled.ok());
  CHECK(cancelled->state == "cancelled");
  CHECK(StateOf(*store, task->id, b) == "cancelled");
  CHECK(Deliver(*store, b).empty());
  CHECK(StateOf(*store, task->id, a) == "sent");  // the agent has it: its result still counts
  CHECK(*store->RecordTaskResult(task->id, a, Outcome("succeeded"), kNow + 2));
  CHECK(store->GetTask(task->id)->value().finished_ms == kNow + 2);
  CHECK(store->CancelTask(task->id, Operator(), kNow).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(store->CancelTask(task->id + 100, Operator(), kNow).error().code == ErrorCode::kNotFound);

  // Expiry for hosts never sent it, the timeout for hosts that never answered.
  auto spec = Restart({b, c});
  spec.expires_ms = kNow + kHour;
  spec.timeout_ms = 60'000;
  auto late = store->CreateTask(spec, Operator(), kNow);
  REQUIRE(late.ok());
  REQUIRE(Deliver(*store, b).size() == 1);
  auto nothing = store->SweepTasks(kNow + 59'000);
  REQUIRE(nothing.ok());
  CHECK(nothing->timed_out + nothing->expired == 0);
  auto swept = store->SweepTasks(kNow + kHour);
  REQUIRE(swept.ok());
  CHECK(swept->timed_out == 1);
  CHECK(swept->expired == 1);
  CHECK(StateOf(*store, late->id, b) == "timed_out");
  CHECK(StateOf(*store, late->id, c) == "cancelled");
  // The host sent it has a timed_out event; the one never sent it has none.
  EventQuery query;
  query.kind = "task";
  query.host_id = b;
  auto b_events = store->ListEvents(query);
  REQUIRE(b_events->items.size() == 1);
  CHECK(b_events->items[0].new_value == "timed_out");
  query.host_id = c;
  CHECK(store->ListEvents(query)->items.empty());
  CHECK(Deliver(*store, c, kNow + kHour).empty());
  // A late answer does not undo the timeout.
  CHECK_FALSE(*store->RecordTaskResult(late->id, b, Outcome("succeeded"), kNow + kHour));
  CHECK(store->GetTask(late->id)->value().state == "finished");

  auto page = store->ListTasks(std::nullopt, 1);
  REQUIRE(page.ok());
  REQUIRE(page->items.size() == 1);
  CHECK(page->items[0].id == late->id);
  REQUIRE(page->next_before.has_value());
  auto older = store->ListTasks(page->next_before, 1);
  CHECK(older->items.at(0).id == task->id);
  CHECK_FALSE(older->next_before.has_value());
}

TEST_CASE(
    "a round of results is recorded at once: a host's running and outcome in order, a "
    "repeat once, an unknown agent and a bad state refused alone",
    "[server][store][tasks]") {
  EACH_STORE();
  auto store = db.Open();
  auto a = Enroll(*store, "a");
  auto b = Enroll(*store, "b");
  auto task = store->CreateTask(Restart({a, b}), Operator(), kNow);
  REQUIRE(task.ok());
  REQUIRE(Deliver(*store, a).size() == 1);
  REQUIRE(Deliver(*store, b).size() == 1);
  auto done = Outcome("succeeded");
  done.stdout_text = "ok";
  const std::vector<AgentTaskResult> round = {
      {"a", task->id, Outcome("running")},        {"a", task->id, done},
      {"a", task->id, Outcome("failed", 2)},      {"b", task->id, Outcome("failed", 1)},
      {"nobody", task->id, Outcome("succeeded")}, {"b", task->id, Outcome("exploded")},
  };
  auto recorded = store->RecordTaskResults(round, kNow + 7);
  REQUIRE(recorded.ok());
  REQUIRE(recorded->size() == round.size());
  CHECK(*(*recorded)[0]);
  CHECK(*(*recorded)[1]);
  CHECK_FALSE(*(*recorded)[2]);  // the first outcome of a host stands
  CHECK(*(*recorded)[3]);
  CHECK((*recorded)[4].error().code == ErrorCode::kNotFound);
  CHECK((*recorded)[5].error().code == ErrorCode::kInvalidArgument);
  auto rows = *store->ListTaskHosts(task->id, "", 0, 10);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].state == "succeeded");
  CHECK(rows[0].stdout_text == "ok");
  CHECK(rows[1].state == "failed");
  CHECK(rows[1].exit_code == 1);
  auto finished = store->GetTask(task->id)->value();
  CHECK(finished.state == "finished");
  CHECK(finished.finished_ms == kNow + 7);
  CHECK(finished.counts.failures() == 1);
}

TEST_CASE("a service incident names the service task acting on that unit when it failed",
          "[server][store][tasks][incidents]") {
  EACH_STORE();
  auto store = db.Open();
  auto host = Enroll(*store, "a");
  auto ok = store->CreateTask(Restart({host}), Operator(), kNow);
  REQUIRE(Deliver(*store, host).size() == 1);
  REQUIRE(*store->RecordTaskResult(ok->id, host, Outcome("succeeded"), kNow + 1'000));
  auto restart = store->CreateTask(Restart({host}), Operator("rita"), kNow + 2'000);
  REQUIRE(Deliver(*store, host, kNow + 2'000).size() == 1);
  auto other = Restart({host});
  other.spec = R"({"kind":"service.restart","service":{"unit":"cron.service"}})";
  REQUIRE(store->CreateTask(other, Operator(), kNow + 2'000).ok());
  REQUIRE(Deliver(*store, host, kNow + 2'000).size() == 1);

  IncidentSignal signal;
  signal.host_id = host;
  signal.kind = "service";
  signal.subject = "nginx.service";
  signal.title = "nginx.service failed on a";
  signal.at_ms = kNow + 3'000;
  auto raised = store->RaiseIncident(signal, DefaultSlaTargets());
  REQUIRE(raised.ok());
  REQUIRE(raised->kind == IncidentOutcome::Kind::kOpened);
  auto events = store->ListTicketEvents(raised->ticket_id, std::nullopt, 50);
  REQUIRE(events.ok());
  std::vector<std::string> tasks;
  for (const auto& e : events->items) {
    if (e.kind == "task") tasks.push_back(e.new_value);
  }
  // The running restart of nginx, not the one that succeeded before, nor cron's.
  CHECK(tasks == std::vector<std::string>{"task " + std::to_string(restart->id) +
                                          " (service.restart nginx.service by rita, sent)"});
}

TEST_CASE(
    "agent profiles are kept in merge order, named once, and a host's tags are read by "
    "agent",
    "[server][store][profiles]") {
  EACH_STORE();
  auto store = db.Open();
  Enroll(*store, "a", {"web", "prod"});
  Enroll(*store, "b");
  AgentProfileRecord p;
  p.name = "late";
  p.priority = 5;
  p.config = "{}";
  auto late = store->SaveAgentProfile(p, Operator(), kNow);
  REQUIRE(late.ok());
  p.name = "early";
  p.priority = -5;
  p.tag = "web";
  auto early = store->SaveAgentProfile(p, Operator(), kNow);
  REQUIRE(early.ok());
  auto list = store->ListAgentProfiles();
  REQUIRE(list->size() == 2);
  CHECK(list->at(0).name == "early");
  CHECK(list->at(1).name == "late");
  p.name = "late";
  CHECK(store->SaveAgentProfile(p, Operator(), kNow).error().code == ErrorCode::kAlreadyExists);
  auto renamed = *late;
  renamed.name = "later";
  renamed.config = R"({"inventoryIntervalSeconds":600})";
  auto saved = store->SaveAgentProfile(renamed, Operator("rita"), kNow + 1);
  REQUIRE(saved.ok());
  CHECK(saved->updated_by == "rita");
  CHECK(saved->created_ms == kNow);
  CHECK(saved->updated_ms == kNow + 1);
  renamed.id = 999;
  CHECK(store->SaveAgentProfile(renamed, Operator(), kNow).error().code == ErrorCode::kNotFound);
  REQUIRE(store->DeleteAgentProfile(early->id, Operator(), kNow).ok());
  CHECK(store->DeleteAgentProfile(early->id, Operator(), kNow).error().code ==
        ErrorCode::kNotFound);
  CHECK(store->ListAgentProfiles()->size() == 1);

  auto tags = store->AgentTags({"a", "b", "nobody"});
  REQUIRE(tags.ok());
  CHECK(tags->at("a") == std::vector<std::string>{"prod", "web"});
  CHECK(tags->at("b").empty());
  CHECK_FALSE(tags->contains("nobody"));
}
