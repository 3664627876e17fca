// The ticket desk in the store, on both stores: the workflow applied with its SLA clocks, one
// open incident per fingerprint, suppression, quiet-period resolution, notes and the worklog.
#include <catch2/catch.hpp>
#include <thread>

#include "server/store/store.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;
using fleetdesk::ErrorCode;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;
constexpr std::int64_t kMinute = 60'000;

Actor Person(const std::string& name, std::int64_t user_id) {
  Actor a;
  a.kind = "user";
  a.name = name;
  a.staff = true;  // an operator
  a.user_id = user_id;
  return a;
}

std::int64_t AddUser(Store& store, const std::string& name, const std::string& role) {
  auto id = store.AddUser({0, name, role, "hash", false, kNow}, Actor{});
  REQUIRE(id.ok());
  return *id;
}

std::int64_t Enroll(Store& store, const std::string& agent, const std::string& criticality) {
  (void)store.CreateEnrollmentToken({"t", kNow, kNow + 3'600'000, std::nullopt, "test"}, {});
  auto host = store.EnrollAgent("t", NewAgent{agent, "machine-" + agent, agent, "", "01", 0, kNow});
  REQUIRE(host.ok());
  AttributePatch patch;
  patch.criticality = criticality;
  patch.tags = std::vector<std::string>{"web"};
  REQUIRE(store.PatchHost(host->id, patch, Actor{}, kNow).ok());
  return host->id;
}

IncidentSignal Failed(std::int64_t host, const std::string& unit, std::int64_t at_ms) {
  IncidentSignal s;
  s.host_id = host;
  s.kind = "service";
  s.subject = unit;
  s.title = unit + " failed";
  s.category = "service";
  s.urgency = "high";
  s.at_ms = at_ms;
  return s;
}

std::vector<std::string> Kinds(Store& store, std::int64_t ticket) {
  auto page = store.ListTicketEvents(ticket, std::nullopt, 100);
  REQUIRE(page.ok());
  std::vector<std::string> out;
  for (auto it = page->items.rbegin(); it != page->items.rend(); ++it) {
    out.push_back(it->kind + ":" + it->new_value);
  }
  return out;
}

TicketAction Act(const std::string& action) {
  TicketAction a;
  a.action = action;
  return a;
}

}  // namespace

TEST_CASE(
    "a request gets its priority from impact and urgency and its SLA clock pauses while pending",
    "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*store, "db-1", "critical");
  auto requester = AddUser(*store, "rita", "requester");
  auto oscar = AddUser(*store, "oscar", "operator");

  NewTicket n;
  n.title = "Disk quota for /srv/reports";
  n.urgency = "high";
  n.host_id = host;
  auto t = store->CreateTicket(n, sla, Person("rita", requester), kNow);
  REQUIRE(t.ok());
  CHECK(t->state == "new");
  CHECK(t->impact == "critical");  // the host's criticality
  CHECK(t->priority == 1);
  CHECK(t->hostname == "db-1");
  CHECK(t->requester == "rita");
  CHECK(t->resolution_target_ms == 4 * 60 * kMinute);
  CHECK(t->ResolutionDueMs() == kNow + 4 * 60 * kMinute);

  TicketAction assign = Act("assign");
  assign.assignee_id = oscar;
  assign.group = "storage";
  auto assigned = store->ActOnTicket(t->id, assign, Person("oscar", oscar), kNow + kMinute);
  REQUIRE(assigned.ok());
  CHECK(assigned->state == "assigned");
  CHECK(assigned->assignee == "oscar");
  CHECK(assigned->group == "storage");
  CHECK(assigned->responded_ms == kNow + kMinute);

  // Pending for an hour: the resolution clock stops, and its due time moves by the hour.
  REQUIRE(store->ActOnTicket(t->id, Act("pend"), Person("oscar", oscar), kNow + 10 * kMinute).ok());
  auto pending = store->GetTicket(t->id);
  CHECK(!(*pending)->ResolutionDueMs().has_value());
  auto back = store->ActOnTicket(t->id, Act("start"), Person("oscar", oscar), kNow + 70 * kMinute);
  REQUIRE(back.ok());
  CHECK(back->state == "in_progress");
  CHECK(back->paused_ms == 60 * kMinute);
  CHECK(back->ResolutionDueMs() == kNow + 5 * 60 * kMinute);

  auto resolved =
      store->ActOnTicket(t->id, Act("resolve"), Person("oscar", oscar), kNow + 80 * kMinute);
  REQUIRE(resolved.ok());
  CHECK(resolved->resolved_ms == kNow + 80 * kMinute);
  CHECK(!resolved->resolution_breached_ms.has_value());
  CHECK(Kinds(*store, t->id) == std::vector<std::string>{"created:new", "assigned:storage",
                                                         "assigned:oscar", "state:assigned",
                                                         "state:pending", "state:in_progress",
                                                         "state:resolved"});
}

TEST_CASE("a step the workflow does not have is refused and changes nothing",
          "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto viewer = AddUser(*store, "vic", "viewer");
  NewTicket n;
  n.title = "New laptop";
  auto t = store->CreateTicket(n, sla, Person("rita", 0), kNow);
  REQUIRE(t.ok());

  auto pend = store->ActOnTicket(t->id, Act("pend"), Person("x", 0), kNow + 1);
  REQUIRE(!pend.ok());
  CHECK(pend.error().code == ErrorCode::kFailedPrecondition);
  CHECK_THAT(pend.error().message, Catch::Contains("pend") && Catch::Contains("new"));
  CHECK(store->ActOnTicket(t->id, Act("dance"), Person("x", 0), kNow + 1).error().code ==
        ErrorCode::kInvalidArgument);
  TicketAction to_viewer = Act("assign");
  to_viewer.assignee_id = viewer;
  auto refused = store->ActOnTicket(t->id, to_viewer, Person("x", 0), kNow + 1);
  CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  CHECK_THAT(refused.error().message, Catch::Contains("viewer"));
  CHECK(store->ActOnTicket(999, Act("start"), Person("x", 0), kNow).error().code ==
        ErrorCode::kNotFound);

  auto after = store->GetTicket(t->id);
  CHECK((*after)->state == "new");
  CHECK(!(*after)->responded_ms.has_value());
  CHECK(Kinds(*store, t->id) == std::vector<std::string>{"created:new"});

  // Closed is final: no notes, no worklog, no edits.
  REQUIRE(store->ActOnTicket(t->id, Act("resolve"), Person("x", 0), kNow + 2).ok());
  REQUIRE(store->ActOnTicket(t->id, Act("close"), Person("x", 0), kNow + 3).ok());
  CHECK(
      store->AddNote(t->id, {0, 0, 0, "", false, "late"}, Person("x", 0), kNow + 4).error().code ==
      ErrorCode::kFailedPrecondition);
  CHECK(store->AppendWorklog(t->id, {0, 0, kNow, "job", "late"}, Person("x", 0)).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK((*store->GetTicket(t->id))->worklog_count == 0);
}

TEST_CASE("one fingerprint makes one open incident; a resolved one reopens inside the window",
          "[server][store][incidents]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*store, "web-1", "high");

  auto first = store->RaiseIncident(Failed(host, "nginx.service", kNow), sla);
  REQUIRE(first.ok());
  CHECK(first->kind == IncidentOutcome::Kind::kOpened);
  auto t = *store->GetTicket(first->ticket_id);
  CHECK(t->kind == "incident");
  CHECK(t->fingerprint == std::to_string(host) + "/service/nginx.service");
  CHECK(t->priority == 2);  // impact high x urgency high

  auto again = store->RaiseIncident(Failed(host, "nginx.service", kNow + kMinute), sla);
  REQUIRE(again.ok());
  CHECK(again->kind == IncidentOutcome::Kind::kRepeated);
  CHECK(again->ticket_id == first->ticket_id);
  CHECK((*store->GetTicket(first->ticket_id))->occurrences == 2);
  CHECK(store->OpenFingerprints()->size() == 1);

  // Another unit of the same host is another fingerprint.
  auto other = store->RaiseIncident(Failed(host, "php-fpm.service", kNow), sla);
  CHECK(other->kind == IncidentOutcome::Kind::kOpened);
  CHECK(other->ticket_id != first->ticket_id);

  // Recovered, quiet for five minutes: resolved by the job; failing again within the hour: the
  // same ticket reopens.
  CHECK(*store->RecoverIncident(t->fingerprint, kNow + 2 * kMinute) == first->ticket_id);
  CHECK(store->ResolveQuietIncidents(kNow + 2 * kMinute - 1, kNow + 3 * kMinute)->empty());
  auto resolved = store->ResolveQuietIncidents(kNow + 2 * kMinute, kNow + 7 * kMinute);
  CHECK(*resolved == std::vector<std::int64_t>{first->ticket_id});
  CHECK((*store->GetTicket(first->ticket_id))->state == "resolved");
  auto reopened = store->RaiseIncident(Failed(host, "nginx.service", kNow + 30 * kMinute), sla);
  CHECK(reopened->kind == IncidentOutcome::Kind::kReopened);
  CHECK(reopened->ticket_id == first->ticket_id);
  auto r = *store->GetTicket(first->ticket_id);
  CHECK(r->state == "new");
  CHECK(r->occurrences == 3);
  CHECK(!r->resolved_ms.has_value());

  // Past the window a new ticket is made, and the old one stays as it was.
  REQUIRE(store->RecoverIncident(t->fingerprint, kNow + 31 * kMinute).ok());
  REQUIRE(store->ResolveQuietIncidents(kNow + 31 * kMinute, kNow + 36 * kMinute).ok());
  auto later = store->RaiseIncident(Failed(host, "nginx.service", kNow + 200 * kMinute), sla);
  CHECK(later->kind == IncidentOutcome::Kind::kOpened);
  CHECK(later->ticket_id != first->ticket_id);
  CHECK((*store->GetTicket(first->ticket_id))->state == "resolved");
}

TEST_CASE("a change and its notifications are written together, or neither is",
          "[server][store][incidents]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*store, "web-2", "high");
  // An outbox that writes one webhook per event, or, while `broken`, one the database refuses.
  bool broken = false;
  store->SetOutbox([&](const std::string& event, const TicketRecord& t, std::int64_t at_ms) {
    NotificationRecord n;
    n.ticket_id = t.id;
    n.event = event;
    n.route = "ops";
    n.channel = broken ? "carrier pigeon" : "webhook";
    n.target = "https://hooks.example/ops";
    n.body = t.title;
    n.created_ms = at_ms;
    n.next_ms = at_ms;
    return std::vector<NotificationRecord>{n};
  });
  auto events = [&](std::int64_t ticket) {
    auto listed = store->ListNotifications(ticket);
    REQUIRE(listed.ok());
    std::vector<std::string> out;
    for (const auto& n : *listed) out.push_back(n.event);
    return out;
  };

  auto opened = store->RaiseIncident(Failed(host, "nginx.service", kNow), sla);
  REQUIRE(opened.ok());
  CHECK(events(opened->ticket_id) == std::vector<std::string>{"opened"});
  // A repeat is no news.
  REQUIRE(store->RaiseIncident(Failed(host, "nginx.service", kNow + 1), sla).ok());
  CHECK(events(opened->ticket_id).size() == 1);

  // When the notification cannot be written, neither is the incident.
  broken = true;
  auto refused = store->RaiseIncident(Failed(host, "php-fpm.service", kNow), sla);
  CHECK_FALSE(refused.ok());
  CHECK(store->OpenFingerprints()->size() == 1);
  // Nor a resolution.
  auto resolve = store->ActOnTicket(opened->ticket_id, Act("resolve"), Person("ann", 0), kNow);
  CHECK_FALSE(resolve.ok());
  CHECK((*store->GetTicket(opened->ticket_id))->state == "new");

  broken = false;
  REQUIRE(store->ActOnTicket(opened->ticket_id, Act("resolve"), Person("ann", 0), kNow).ok());
  REQUIRE(store->ActOnTicket(opened->ticket_id, Act("reopen"), Person("ann", 0), kNow).ok());
  CHECK(events(opened->ticket_id) == std::vector<std::string>{"opened", "resolved", "reopened"});
  // The fleet jobs' changes too: an SLA breach, a quiet recovery resolved.
  auto breaches = store->RecordSlaBreaches(kNow + 100 * 60 * kMinute);
  REQUIRE(breaches.ok());
  REQUIRE(!breaches->empty());
  const auto fingerprint = std::to_string(host) + "/service/nginx.service";
  REQUIRE(store->RecoverIncident(fingerprint, kNow + kMinute).ok());
  REQUIRE(store->ResolveQuietIncidents(kNow + kMinute, kNow + 200 * 60 * kMinute)->size() == 1);
  std::vector<std::string> expected = {"opened", "resolved", "reopened"};
  for (std::size_t i = 0; i < breaches->size(); ++i) expected.push_back("escalated");
  expected.push_back("resolved");
  CHECK(events(opened->ticket_id) == expected);
}

TEST_CASE("maintenance windows and an unreachable host suppress incidents",
          "[server][store][incidents]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*store, "web-2", "medium");
  auto admin = Person("ada", 1);

  MaintenanceWindow by_tag;
  by_tag.tag = "web";
  by_tag.starts_ms = kNow;
  by_tag.ends_ms = kNow + 60 * kMinute;
  by_tag.reason = "kernel upgrade";
  by_tag.created_ms = kNow;
  auto window = store->CreateMaintenanceWindow(by_tag, admin);
  REQUIRE(window.ok());
  auto in = store->RaiseIncident(Failed(host, "nginx.service", kNow + kMinute), sla);
  REQUIRE(in.ok());
  CHECK(in->kind == IncidentOutcome::Kind::kSuppressed);
  CHECK_THAT(in->why, Catch::Contains("kernel upgrade"));
  CHECK(store->ListTickets({})->items.empty());

  // Ended early: failures count again.
  REQUIRE(store->EndMaintenanceWindow(window->id, admin, kNow + 2 * kMinute).ok());
  CHECK(store->EndMaintenanceWindow(window->id, admin, kNow + 3 * kMinute).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(store->ListMaintenanceWindows(false, kNow + 3 * kMinute)->empty());
  CHECK(store->ListMaintenanceWindows(true, kNow + 3 * kMinute)->size() == 1);
  CHECK(store->RaiseIncident(Failed(host, "nginx.service", kNow + 3 * kMinute), sla)->kind ==
        IncidentOutcome::Kind::kOpened);

  // Both or neither of host and tag, or an empty span, are refused.
  MaintenanceWindow bad = by_tag;
  bad.host_id = host;
  CHECK(store->CreateMaintenanceWindow(bad, admin).error().code == ErrorCode::kInvalidArgument);
  bad.host_id.reset();
  bad.ends_ms = bad.starts_ms;
  CHECK(store->CreateMaintenanceWindow(bad, admin).error().code == ErrorCode::kInvalidArgument);

  // An unreachable host raises its own incident and suppresses those of its services.
  REQUIRE(store->MarkSilentHosts(kNow + 10 * kMinute, kNow + 10 * kMinute).ok());
  auto child = store->RaiseIncident(Failed(host, "cron.service", kNow + 11 * kMinute), sla);
  CHECK(child->kind == IncidentOutcome::Kind::kSuppressed);
  CHECK(child->why == "the host is unreachable");
  IncidentSignal gone;
  gone.host_id = host;
  gone.kind = "host";
  gone.title = "web-2 is unreachable";
  gone.urgency = "critical";
  gone.at_ms = kNow + 11 * kMinute;
  CHECK(store->RaiseIncident(gone, sla)->kind == IncidentOutcome::Kind::kOpened);
}

TEST_CASE("a flapping incident is not resolved; one that is not auto-resolved waits for people",
          "[server][store][incidents]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*store, "web-3", "low");
  auto flappy = Failed(host, "flappy.service", kNow);
  auto disk = Failed(host, "disks./dev/sdb", kNow);
  disk.kind = "inventory";
  disk.auto_resolve = false;
  auto a = store->RaiseIncident(flappy, sla);
  auto b = store->RaiseIncident(disk, sla);
  REQUIRE(store->SetFlapping(flappy.Fingerprint(), true, kNow + 1).ok());
  REQUIRE(store->RecoverIncident(flappy.Fingerprint(), kNow + 2).ok());
  REQUIRE(store->RecoverIncident(disk.Fingerprint(), kNow + 2).ok());
  CHECK(store->ResolveQuietIncidents(kNow + 10 * kMinute, kNow + 20 * kMinute)->empty());
  CHECK((*store->GetTicket(b->ticket_id))->recovered_ms == kNow + 2);
  // Settled: now the quiet period resolves it.
  REQUIRE(store->SetFlapping(flappy.Fingerprint(), false, kNow + 30 * kMinute).ok());
  CHECK(*store->ResolveQuietIncidents(kNow + 30 * kMinute, kNow + 31 * kMinute) ==
        std::vector<std::int64_t>{a->ticket_id});
  CHECK(Kinds(*store, a->ticket_id) == std::vector<std::string>{"created:new",
                                                                "flapping:", "recovered:up",
                                                                "settled:", "state:resolved"});
}

TEST_CASE("SLA breaches are recorded once, on the ticket and its timeline",
          "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*store, "db-2", "critical");
  IncidentSignal s = Failed(host, "postgresql.service", kNow);
  s.urgency = "critical";  // P1: 15 min to respond, 4 h to resolve
  auto t = store->RaiseIncident(s, sla);
  REQUIRE(t.ok());
  CHECK(store->RecordSlaBreaches(kNow + 14 * kMinute)->empty());
  auto first = store->RecordSlaBreaches(kNow + 16 * kMinute);
  REQUIRE(first->size() == 1);
  CHECK((*first)[0].clock == "response");
  CHECK((*first)[0].at_ms == kNow + 15 * kMinute);
  CHECK(store->RecordSlaBreaches(kNow + 17 * kMinute)->empty());
  auto breached = *store->GetTicket(t->ticket_id);
  CHECK(breached->response_breached_ms == kNow + 15 * kMinute);
  TicketQuery q;
  q.breached = true;
  CHECK(store->ListTickets(q)->items.size() == 1);
  // Resolved late, before the job looked: recorded at the resolve.
  REQUIRE(store->ActOnTicket(t->ticket_id, Act("resolve"), Person("oscar", 0), kNow + 300 * kMinute)
              .ok());
  CHECK((*store->GetTicket(t->ticket_id))->resolution_breached_ms == kNow + 240 * kMinute);
}

TEST_CASE(
    "notes and the worklog: internal notes are kept apart, the worklog is its own paged stream",
    "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  NewTicket n;
  n.title = "Nightly backup";
  auto t = store->CreateTicket(n, sla, Actor{}, kNow);
  REQUIRE(t.ok());
  // A requester asking for news is no response.
  Actor rita;
  rita.kind = "user";
  rita.name = "rita";
  REQUIRE(store->AddNote(t->id, {0, 0, 0, "", false, "any news?"}, rita, kNow).ok());
  CHECK(!(*store->GetTicket(t->id))->responded_ms.has_value());
  auto internal =
      store->AddNote(t->id, {0, 0, 0, "", true, "vendor case 4411"}, Person("oscar", 2), kNow + 1);
  REQUIRE(internal.ok());
  CHECK(!(*store->GetTicket(t->id))->responded_ms.has_value());
  REQUIRE(store->AddNote(t->id, {0, 0, 0, "", false, "on it"}, Person("oscar", 2), kNow + 2).ok());
  CHECK((*store->GetTicket(t->id))->responded_ms == kNow + 2);
  CHECK(store->ListNotes(t->id, true)->size() == 3);
  auto visible = store->ListNotes(t->id, false);
  REQUIRE(visible->size() == 2);
  CHECK((*visible)[0].body == "any news?");
  CHECK((*visible)[1].body == "on it");

  Actor script;
  script.kind = "token";
  script.name = "backup-bot";
  for (int i = 0; i < 25; ++i) {
    REQUIRE(store
                ->AppendWorklog(t->id, {0, 0, kNow + 10 + i, "backup", "step " + std::to_string(i)},
                                script)
                .ok());
  }
  auto page = store->ListWorklog(t->id, std::nullopt, 10);
  REQUIRE(page->items.size() == 10);
  CHECK(page->items[0].note == "step 24");
  CHECK(page->items[0].actor == "backup-bot");
  auto next = store->ListWorklog(t->id, page->next_before_id, 10);
  CHECK(next->items[0].note == "step 14");
  auto last = store->ListWorklog(t->id, next->next_before_id, 10);
  CHECK(last->items.size() == 5);
  CHECK(!last->next_before_id.has_value());
  auto ticket = *store->GetTicket(t->id);
  CHECK(ticket->worklog_count == 25);
  // The worklog stays out of the timeline, and does not count as a response.
  CHECK(Kinds(*store, t->id) ==
        std::vector<std::string>{"created:new", "note:" + std::to_string(internal->id - 1),
                                 "note:" + std::to_string(internal->id),
                                 "note:" + std::to_string(internal->id + 1)});
  CHECK(store->AppendWorklog(404, {0, 0, kNow, "x", "y"}, script).error().code ==
        ErrorCode::kNotFound);
}

TEST_CASE(
    "attachments keep their bytes in the database or only their record, and not on a closed "
    "ticket",
    "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  NewTicket n;
  n.title = "Disk full";
  auto t = store->CreateTicket(n, DefaultSlaTargets(), Actor{}, kNow);
  REQUIRE(t.ok());
  const std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\xff\x00", 18);
  TicketAttachment shot;
  shot.name = "df.png";
  shot.content_type = "image/png";
  shot.size_bytes = static_cast<std::int64_t>(png.size());
  shot.sha256 = "ab12";
  auto added = store->AddAttachment(t->id, shot, png, Person("oscar", 2), kNow + 1);
  REQUIRE(added.ok());
  CHECK(added->author == "oscar");
  CHECK(added->at_ms == kNow + 1);
  TicketAttachment log = shot;
  log.name = "syslog.txt";
  log.content_type = "text/plain";
  log.in_files = true;  // the bytes are in the attachment directory
  REQUIRE(store->AddAttachment(t->id, log, "", Person("oscar", 2), kNow + 2).ok());

  auto listed = store->ListAttachments(t->id);
  REQUIRE(listed->size() == 2);
  CHECK((*listed)[0].name == "df.png");
  CHECK((*listed)[1].in_files);
  auto got = store->GetAttachment(t->id, added->id);
  REQUIRE(got->has_value());
  CHECK((*got)->second == png);  // binary, NULs and all
  CHECK((*got)->first.content_type == "image/png");
  auto in_files = store->GetAttachment(t->id, (*listed)[1].id);
  CHECK((*in_files)->second.empty());
  // Another ticket's attachment is not this ticket's.
  auto other = store->CreateTicket(n, DefaultSlaTargets(), Actor{}, kNow);
  CHECK(!store->GetAttachment(other->id, added->id)->has_value());
  CHECK(Kinds(*store, t->id) ==
        std::vector<std::string>{"created:new", "attachment:df.png", "attachment:syslog.txt"});

  REQUIRE(store->ActOnTicket(t->id, Act("resolve"), Person("oscar", 2), kNow + 3).ok());
  REQUIRE(store->ActOnTicket(t->id, Act("close"), Person("oscar", 2), kNow + 4).ok());
  CHECK(store->AddAttachment(t->id, shot, png, Person("oscar", 2), kNow + 5).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(store->ListAttachments(t->id)->size() == 2);
  CHECK(store->AddAttachment(404, shot, png, Person("oscar", 2), kNow).error().code ==
        ErrorCode::kNotFound);
}

TEST_CASE(
    "an attachment is removed with its bytes, on the timeline and in the audit log, even from a "
    "closed ticket, and its file is said unused only with the last attachment that had it",
    "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  NewTicket n;
  n.title = "Password pasted into a log";
  auto t = store->CreateTicket(n, DefaultSlaTargets(), Actor{}, kNow);
  REQUIRE(t.ok());
  TicketAttachment in_db;
  in_db.name = "secret.txt";
  in_db.content_type = "text/plain";
  in_db.size_bytes = 6;
  in_db.sha256 = "5e";
  auto kept_in_db = store->AddAttachment(t->id, in_db, "hunter", Person("rita", 3), kNow + 1);
  REQUIRE(kept_in_db.ok());
  TicketAttachment log = in_db;
  log.name = "auth.log";
  log.sha256 = "a1";
  log.in_files = true;
  auto first = store->AddAttachment(t->id, log, "", Person("rita", 3), kNow + 2);
  log.name = "auth.log.1";  // the same bytes again: one file for both
  auto second = store->AddAttachment(t->id, log, "", Person("rita", 3), kNow + 3);
  REQUIRE((first.ok() && second.ok()));
  REQUIRE(store->ActOnTicket(t->id, Act("resolve"), Person("oscar", 2), kNow + 4).ok());
  REQUIRE(store->ActOnTicket(t->id, Act("close"), Person("oscar", 2), kNow + 5).ok());

  auto removed = store->RemoveAttachment(t->id, kept_in_db->id, Person("oscar", 2), kNow + 6);
  REQUIRE(removed.ok());
  CHECK(removed->name == "secret.txt");
  CHECK(!store->GetAttachment(t->id, kept_in_db->id)->has_value());
  REQUIRE(store->RemoveAttachment(t->id, first->id, Person("oscar", 2), kNow + 7).ok());
  CHECK(*store->AttachmentFileUsed("a1"));
  REQUIRE(store->RemoveAttachment(t->id, second->id, Person("oscar", 2), kNow + 8).ok());
  CHECK_FALSE(*store->AttachmentFileUsed("a1"));
  CHECK(store->ListAttachments(t->id)->empty());

  // The timeline keeps what arrived and says what went, by whom.
  auto events = store->ListTicketEvents(t->id, std::nullopt, 100);
  REQUIRE(events.ok());
  const auto& last = events->items.front();  // newest first
  CHECK(last.kind == "attachment");
  CHECK(last.old_value == "auth.log.1");
  CHECK(last.new_value.empty());
  CHECK(last.actor == "oscar");
  CHECK(store->GetTicket(t->id)->value().updated_ms == kNow + 8);
  auto audit = store->ListAudit({});
  REQUIRE(audit.ok());
  REQUIRE(audit->items.size() == 3);
  const auto& entry = audit->items.back();  // newest first: the oldest is the first removal
  CHECK(entry.action == "attachment.remove");
  CHECK(entry.actor.name == "oscar");
  CHECK(entry.resource_id == std::to_string(kept_in_db->id));
  CHECK(entry.before.at("name") == "secret.txt");
  CHECK(entry.before.at("author") == "rita");

  // Gone is gone; another ticket's attachment is not this ticket's; nothing else changed.
  CHECK(store->RemoveAttachment(t->id, kept_in_db->id, Person("oscar", 2), kNow).error().code ==
        ErrorCode::kNotFound);
  auto other = store->CreateTicket(n, DefaultSlaTargets(), Actor{}, kNow);
  auto theirs = store->AddAttachment(other->id, in_db, "hunter", Person("rita", 3), kNow);
  REQUIRE(theirs.ok());
  auto refused = store->RemoveAttachment(t->id, theirs->id, Person("oscar", 2), kNow);
  CHECK(refused.error().code == ErrorCode::kNotFound);
  CHECK_THAT(refused.error().message, Catch::Contains("has no attachment"));
  CHECK(store->ListAttachments(other->id)->size() == 1);
  CHECK(store->RemoveAttachment(404, theirs->id, Person("oscar", 2), kNow).error().code ==
        ErrorCode::kNotFound);
}

TEST_CASE("a priority set by hand needs a reason, and new levels go back to the matrix",
          "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  NewTicket n;
  n.title = "Printer";
  auto t = store->CreateTicket(n, sla, Actor{}, kNow);
  REQUIRE(t->priority == 4);  // low x medium
  TicketPatch no_reason;
  no_reason.priority = 1;
  CHECK(store->PatchTicket(t->id, no_reason, sla, Person("o", 2), kNow).error().code ==
        ErrorCode::kInvalidArgument);
  TicketPatch urgent = no_reason;
  urgent.priority_reason = "the CEO's printer";
  auto p1 = store->PatchTicket(t->id, urgent, sla, Person("o", 2), kNow + 1);
  REQUIRE(p1.ok());
  CHECK(p1->priority == 1);
  CHECK(p1->response_target_ms == 15 * kMinute);
  TicketPatch levels;
  levels.urgency = "high";
  auto matrix = store->PatchTicket(t->id, levels, sla, Person("o", 2), kNow + 2);
  CHECK(matrix->priority == 4);  // low x high
  CHECK(matrix->priority_reason.empty());
  TicketPatch bad;
  bad.impact = "enormous";
  CHECK(store->PatchTicket(t->id, bad, sla, Person("o", 2), kNow).error().code ==
        ErrorCode::kInvalidArgument);
  CHECK((*store->GetTicket(t->id))->impact == "low");
}

TEST_CASE("two connections raising one fingerprint at once make one incident",
          "[server][store][incidents]") {
  EACH_STORE();
  auto setup = db.Open();
  const auto sla = DefaultSlaTargets();
  auto host = Enroll(*setup, "web-4", "medium");
  auto one = db.Open();
  auto two = db.Open();
  // Catch's assertions are not thread-safe: the threads keep what they got, checked after.
  std::vector<fleetdesk::Result<IncidentOutcome>> outcomes(
      40, fleetdesk::MakeError(ErrorCode::kInternal, "not run"));
  auto raise = [&](Store* store, int from) {
    for (int i = from; i < from + 20; ++i) {
      outcomes[static_cast<std::size_t>(i)] =
          store->RaiseIncident(Failed(host, "unit-" + std::to_string(i % 20), kNow + i), sla);
    }
  };
  std::thread a(raise, one.get(), 0);
  std::thread b(raise, two.get(), 20);
  a.join();
  b.join();
  TicketQuery q;
  q.limit = 100;
  CHECK(setup->ListTickets(q)->items.size() == 20);
  int opened = 0;
  for (const auto& o : outcomes) {
    REQUIRE(o.ok());
    opened += o->kind == IncidentOutcome::Kind::kOpened ? 1 : 0;
  }
  CHECK(opened == 20);
}

TEST_CASE("the ticket list comes in each order page by page, without a ticket twice or missed",
          "[server][store][tickets]") {
  EACH_STORE();
  auto store = db.Open();
  const auto sla = DefaultSlaTargets();
  auto oscar = AddUser(*store, "oscar", "operator");
  // Seven tickets of three urgencies; the fourth is changed last.
  const std::vector<std::string> urgencies = {"low",  "critical", "medium", "low",
                                              "high", "critical", "medium"};
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < urgencies.size(); ++i) {
    NewTicket n;
    n.title = "ticket " + std::to_string(i);
    n.urgency = urgencies[i];
    n.impact = "high";
    auto t = store->CreateTicket(n, sla, Person("oscar", oscar),
                                 kNow + static_cast<std::int64_t>(i) * kMinute);
    REQUIRE(t.ok());
    ids.push_back(t->id);
  }
  TicketAction assign = Act("assign");
  assign.assignee_id = oscar;
  REQUIRE(store->ActOnTicket(ids[3], assign, Person("oscar", oscar), kNow + 60 * kMinute).ok());

  auto all = [&](TicketSort sort) {
    TicketQuery q;
    q.sort = sort;
    q.limit = 2;
    std::vector<TicketRecord> out;
    for (int pages = 0; pages < 10; ++pages) {
      auto page = store->ListTickets(q);
      REQUIRE(page.ok());
      out.insert(out.end(), page->items.begin(), page->items.end());
      if (sort == TicketSort::kNewest) {
        if (!page->next_before_id) break;
        q.before_id = page->next_before_id;
      } else {
        if (!page->next) break;
        q.after = page->next;
      }
    }
    return out;
  };
  auto idsOf = [](const std::vector<TicketRecord>& tickets) {
    std::vector<std::int64_t> out;
    for (const auto& t : tickets) out.push_back(t.id);
    return out;
  };

  auto newest = idsOf(all(TicketSort::kNewest));
  CHECK(newest == std::vector<std::int64_t>(ids.rbegin(), ids.rend()));
  CHECK(idsOf(all(TicketSort::kOldest)) == ids);

  auto by_priority = all(TicketSort::kPriority);
  REQUIRE(by_priority.size() == ids.size());
  for (std::size_t i = 1; i < by_priority.size(); ++i) {
    const auto& a = by_priority[i - 1];
    const auto& b = by_priority[i];
    CAPTURE(i, a.priority, b.priority, a.id, b.id);
    CHECK((a.priority < b.priority || (a.priority == b.priority && a.id > b.id)));
  }

  auto by_update = idsOf(all(TicketSort::kUpdated));
  REQUIRE(by_update.size() == ids.size());
  CHECK(by_update.front() == ids[3]);
  CHECK(std::vector<std::int64_t>(by_update.begin() + 1, by_update.end()) ==
        std::vector<std::int64_t>{ids[6], ids[5], ids[4], ids[2], ids[1], ids[0]});
}
