// The ticket desk over SqlConn: tickets and their workflow (engine/ticket_workflow.hpp decides,
// this file applies it inside transactions), the timeline, notes, the worklog stream, what the
// incident engine does to incidents, and maintenance windows.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <utility>

#include "common/codec.hpp"
#include "fleetdesk/v1/agent.pb.h"
#include "server/store/search_text.hpp"
#include "server/store/sql_base.hpp"

namespace fleetdesk::server::store {
namespace {

namespace tk = engine::tickets;

// The incident engine's name on timelines.
constexpr const char* kEngineActor = "fleetdesk";

constexpr const char* kTicketColumns =
    "t.id, t.kind, t.title, t.description, t.state, t.category, t.impact, t.urgency, t.priority, "
    "t.priority_reason, t.host_id, h.hostname, t.fingerprint, t.source_kind, t.subject, "
    "t.occurrences, t.flapping, t.auto_resolve, t.recovered_ms, t.last_seen_ms, "
    "t.assignee_group, t.assignee_id, a.name, t.requester_id, r.name, t.created_by, "
    "t.created_ms, t.updated_ms, t.responded_ms, t.resolved_ms, t.closed_ms, t.paused_ms, "
    "t.paused_since_ms, t.response_target_ms, t.resolution_target_ms, t.response_breached_ms, "
    "t.resolution_breached_ms, t.worklog_count";
constexpr const char* kTicketFrom =
    " FROM tickets t LEFT JOIN hosts h ON h.id = t.host_id LEFT JOIN users a ON a.id = "
    "t.assignee_id LEFT JOIN users r ON r.id = t.requester_id";
// Every state before resolved, as SQL.
constexpr const char* kOpenStates = "('new', 'assigned', 'in_progress', 'pending')";

TicketRecord ReadTicketRow(const SqlRow& r) {
  TicketRecord t;
  t.id = r.Int(0);
  t.kind = r.Text(1);
  t.title = r.Text(2);
  t.description = r.Text(3);
  t.state = r.Text(4);
  t.category = r.Text(5);
  t.impact = r.Text(6);
  t.urgency = r.Text(7);
  t.priority = static_cast<int>(r.Int(8));
  t.priority_reason = r.Text(9);
  t.host_id = r.OptInt(10);
  t.hostname = r.Text(11);
  t.fingerprint = r.Text(12);
  t.source_kind = r.Text(13);
  t.subject = r.Text(14);
  t.occurrences = static_cast<int>(r.Int(15));
  t.flapping = r.Bool(16);
  t.auto_resolve = r.Bool(17);
  t.recovered_ms = r.OptInt(18);
  t.last_seen_ms = r.Int(19);
  t.group = r.Text(20);
  t.assignee_id = r.OptInt(21);
  t.assignee = r.Text(22);
  t.requester_id = r.OptInt(23);
  t.requester = r.Text(24);
  t.created_by = r.Text(25);
  t.created_ms = r.Int(26);
  t.updated_ms = r.Int(27);
  t.responded_ms = r.OptInt(28);
  t.resolved_ms = r.OptInt(29);
  t.closed_ms = r.OptInt(30);
  t.paused_ms = r.Int(31);
  t.paused_since_ms = r.OptInt(32);
  t.response_target_ms = r.Int(33);
  t.resolution_target_ms = r.Int(34);
  t.response_breached_ms = r.OptInt(35);
  t.resolution_breached_ms = r.OptInt(36);
  t.worklog_count = r.Int(37);
  return t;
}

Result<tk::Level> Level(const std::string& field, const std::string& value) {
  auto level = tk::ParseLevel(value);
  if (!level) {
    return MakeError(ErrorCode::kInvalidArgument,
                     field + " must be low, medium, high or critical, not '" + value + "'");
  }
  return *level;
}

// Whether an actor's action is a response: a person who works tickets (a session or a token of
// an admin or operator), not the requester asking for news nor the server itself.
bool Person(const Actor& actor) {
  return (actor.kind == "user" || actor.kind == "token") && actor.staff;
}

template <typename T>
Page<T> Cut(std::vector<T> items, int limit) {
  Page<T> page;
  if (static_cast<int>(items.size()) > limit) {
    items.resize(static_cast<std::size_t>(limit));
    page.next_before_id = items.back().id;
  }
  page.items = std::move(items);
  return page;
}

}  // namespace

SlaTargets DefaultSlaTargets() {
  SlaTargets out;
  for (int p = 1; p <= 5; ++p) out[static_cast<std::size_t>(p - 1)] = tk::DefaultSlaTarget(p);
  return out;
}

// Helpers ---------------------------------------------------------------------------------------

Result<std::optional<TicketRecord>> SqlTickets::ReadTicket(std::int64_t id, bool lock) {
  std::optional<TicketRecord> out;
  std::string sql = std::string("SELECT ") + kTicketColumns + kTicketFrom + " WHERE t.id = ?";
  // The joined users and host may be NULL (outer joins): lock the ticket's row only.
  if (lock && Pg()) sql += " FOR UPDATE OF t";
  auto done = Run(sql, {id}, [&](const SqlRow& r) { out = ReadTicketRow(r); });
  if (!done) return done.error();
  return out;
}

Result<TicketRecord> SqlTickets::MustRead(std::int64_t id, bool lock) {
  auto ticket = ReadTicket(id, lock);
  if (!ticket) return ticket.error();
  if (!*ticket) {
    return MakeError(ErrorCode::kNotFound, "no ticket has id " + std::to_string(id));
  }
  return std::move(**ticket);
}

Result<TicketRecord> SqlTickets::MustReadOpen(std::int64_t id) {
  auto ticket = MustRead(id, true);
  if (ticket && ticket->state == "closed") return TicketClosed(id);
  return ticket;
}

Result<std::optional<TicketRecord>> SqlTickets::OpenIncident(const std::string& fingerprint) {
  std::optional<std::int64_t> id;
  // Locked as it is found (PostgreSQL): a resolve committed between finding and locking would
  // otherwise leave this reading a ticket that is no longer open.
  auto done = Run(std::string("SELECT id FROM tickets WHERE fingerprint = ? AND state IN ") +
                      kOpenStates + (Pg() ? " FOR UPDATE" : ""),
                  {fingerprint}, [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  if (!id) return std::optional<TicketRecord>();
  return ReadTicket(*id, true);
}

Status SqlTickets::Save(const TicketRecord& t) {
  return Do(
      "UPDATE tickets SET title = ?, description = ?, state = ?, category = ?, impact = ?, "
      "urgency = ?, priority = ?, priority_reason = ?, occurrences = ?, flapping = ?, "
      "recovered_ms = ?, last_seen_ms = ?, assignee_group = ?, assignee_id = ?, updated_ms = ?, "
      "responded_ms = ?, resolved_ms = ?, closed_ms = ?, paused_ms = ?, paused_since_ms = ?, "
      "response_target_ms = ?, resolution_target_ms = ?, response_breached_ms = ?, "
      "resolution_breached_ms = ? WHERE id = ?",
      {t.title,
       t.description,
       t.state,
       t.category,
       t.impact,
       t.urgency,
       t.priority,
       t.priority_reason,
       t.occurrences,
       t.flapping,
       t.recovered_ms,
       t.last_seen_ms,
       t.group,
       t.assignee_id,
       t.updated_ms,
       t.responded_ms,
       t.resolved_ms,
       t.closed_ms,
       t.paused_ms,
       t.paused_since_ms,
       t.response_target_ms,
       t.resolution_target_ms,
       t.response_breached_ms,
       t.resolution_breached_ms,
       t.id});
}

Status SqlTickets::Event(std::int64_t ticket_id, std::int64_t at_ms, const std::string& kind,
                         const std::string& subject, const std::string& old_value,
                         const std::string& new_value, const std::string& actor) {
  return Do(
      "INSERT INTO ticket_events (ticket_id, at_ms, kind, subject, old_value, new_value, actor) "
      "VALUES (?, ?, ?, ?, ?, ?, ?)",
      {ticket_id, at_ms, kind, subject, old_value, new_value, actor});
}

Status SqlTickets::MoveTo(TicketRecord& t, tk::State to, const std::string& action,
                          const std::string& actor, std::int64_t now_ms) {
  const std::string from = t.state;
  if (to == tk::State::kResolved && !t.responded_ms && !t.response_breached_ms) {
    // Resolved without a first response, late: the response clock's breach is recorded too.
    const auto elapsed = t.paused_since_ms.value_or(now_ms) - t.created_ms - t.paused_ms;
    if (elapsed > t.response_target_ms) {
      t.response_breached_ms = t.created_ms + t.response_target_ms + t.paused_ms;
      if (auto s = Event(t.id, now_ms, "sla_breach", "response", "", "breached", kEngineActor);
          !s) {
        return s;
      }
    }
  }
  if (to == tk::State::kResolved && !t.resolution_breached_ms) {
    // Resolved late, before the breach job looked: recorded now. The clock ran until now, or
    // until the ticket went pending.
    const auto elapsed = t.paused_since_ms.value_or(now_ms) - t.created_ms - t.paused_ms;
    if (elapsed > t.resolution_target_ms) {
      t.resolution_breached_ms = t.created_ms + t.resolution_target_ms + t.paused_ms;
      if (auto s = Event(t.id, now_ms, "sla_breach", "resolution", "", "breached", kEngineActor);
          !s) {
        return s;
      }
    }
  }
  const bool off = to == tk::State::kPending || !tk::IsOpen(to);
  if (off && !t.paused_since_ms) t.paused_since_ms = now_ms;
  if (!off && t.paused_since_ms) {
    t.paused_ms += now_ms - *t.paused_since_ms;
    t.paused_since_ms.reset();
  }
  if (to == tk::State::kResolved) t.resolved_ms = now_ms;
  if (to == tk::State::kClosed) t.closed_ms = now_ms;
  if (from == "resolved" && tk::IsOpen(to)) {
    t.resolved_ms.reset();
    t.recovered_ms.reset();
  }
  t.state = std::string(tk::StateName(to));
  t.updated_ms = now_ms;
  return Event(t.id, now_ms, "state", action, from, t.state, actor);
}

Status SqlTickets::Responded(TicketRecord& t, const std::string& actor, std::int64_t now_ms) {
  if (t.responded_ms) return {};
  t.responded_ms = now_ms;
  const auto elapsed = t.paused_since_ms.value_or(now_ms) - t.created_ms - t.paused_ms;
  if (!t.response_breached_ms && elapsed > t.response_target_ms) {
    t.response_breached_ms = t.created_ms + t.response_target_ms + t.paused_ms;
    return Event(t.id, now_ms, "sla_breach", "response", "", "breached", actor);
  }
  return {};
}

Status SqlTickets::AddWords(const char* table, std::int64_t id, const std::string& text) {
  if (Pg()) return {};
  return Do(std::string("INSERT INTO ") + table + " (rowid, text) VALUES (?, ?)",
            {id, search::IndexText(text)});
}

Status SqlTickets::RemoveWords(const char* table, std::int64_t id, const std::string& text) {
  if (Pg()) return {};
  return Do(
      std::string("INSERT INTO ") + table + " (" + table + ", rowid, text) VALUES ('delete', ?, ?)",
      {id, search::IndexText(text)});
}

// Tickets ---------------------------------------------------------------------------------------

Result<TicketRecord> SqlTickets::CreateTicket(const NewTicket& n, const SlaTargets& sla,
                                              const Actor& actor, std::int64_t now_ms) {
  if (std::find(std::begin(kTicketKinds), std::end(kTicketKinds), n.kind) ==
      std::end(kTicketKinds)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "kind must be incident or request, not '" + n.kind + "'");
  }
  auto urgency = Level("urgency", n.urgency);
  if (!urgency) return urgency.error();
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::string impact_name = n.impact.value_or("low");
  if (n.host_id) {
    std::optional<std::string> criticality;
    auto done = Run("SELECT criticality FROM hosts WHERE id = ? AND archived_ms IS NULL",
                    {*n.host_id}, [&](const SqlRow& r) { criticality = r.Text(0); });
    if (!done) return done.error();
    if (!criticality) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "hostId: no host (not archived) has id " + std::to_string(*n.host_id));
    }
    if (!n.impact) impact_name = *criticality;
  }
  auto impact = Level("impact", impact_name);
  if (!impact) return impact.error();
  const int priority = tk::Priority(*impact, *urgency);
  const auto& target = sla[static_cast<std::size_t>(priority - 1)];
  std::optional<std::int64_t> assignee;
  if (!n.assignee.empty()) {
    auto done = Run(
        "SELECT id FROM users WHERE name = ? AND NOT disabled AND role IN ('admin', 'operator')",
        {n.assignee}, [&](const SqlRow& r) { assignee = r.Int(0); });
    if (!done) return done.error();
  }
  const bool assigned = !n.group.empty() || assignee.has_value();
  std::optional<std::int64_t> requester;
  if (actor.user_id != 0) requester = actor.user_id;
  std::int64_t id = 0;
  auto done = Run(
      "INSERT INTO tickets (kind, title, description, state, category, impact, urgency, priority, "
      "host_id, last_seen_ms, assignee_group, assignee_id, requester_id, created_by, created_ms, "
      "updated_ms, response_target_ms, resolution_target_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      {n.kind, n.title, n.description, assigned ? "assigned" : "new", n.category, impact_name,
       n.urgency, priority, n.host_id, now_ms, n.group, assignee, requester, actor.name, now_ms,
       now_ms, target.first_response_ms, target.resolution_ms},
      [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  if (auto s = AddWords("ticket_fts", id, n.title + " " + n.description); !s) return s.error();
  if (auto s = Event(id, now_ms, "created", n.kind, "", "new", actor.name); !s) return s.error();
  const std::string assigner = n.routed ? kEngineActor : actor.name;
  if (!n.group.empty()) {
    if (auto s = Event(id, now_ms, "assigned", "group", "", n.group, assigner); !s) {
      return s.error();
    }
  }
  if (assignee) {
    if (auto s = Event(id, now_ms, "assigned", "assignee", "", n.assignee, assigner); !s) {
      return s.error();
    }
  }
  if (assigned) {
    if (auto s = Event(id, now_ms, "state", "assign", "new", "assigned", assigner); !s) {
      return s.error();
    }
  }
  auto ticket = MustRead(id, false);
  if (!ticket) return ticket.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return ticket;
}

Result<std::optional<TicketRecord>> SqlTickets::GetTicket(std::int64_t id) {
  return ReadTicket(id, false);
}

void SqlTickets::Filters(const TicketQuery& q, std::vector<std::string>& where,
                         std::vector<SqlArg>& args) {
  if (!q.states.empty()) {
    std::string in;
    for (const auto& state : q.states) {
      if (state == "open") {
        in += std::string(in.empty() ? "" : ", ") + "'new', 'assigned', 'in_progress', 'pending'";
        continue;
      }
      in += std::string(in.empty() ? "" : ", ") + "?";
      args.emplace_back(std::string_view(state));
    }
    where.push_back("t.state IN (" + in + ")");
  }
  if (!q.kind.empty()) {
    where.push_back("t.kind = ?");
    args.emplace_back(std::string_view(q.kind));
  }
  if (q.priority) {
    where.push_back("t.priority = ?");
    args.emplace_back(*q.priority);
  }
  if (!q.group.empty()) {
    where.push_back("t.assignee_group = ?");
    args.emplace_back(std::string_view(q.group));
  }
  if (q.assignee_id) {
    where.push_back("t.assignee_id = ?");
    args.emplace_back(*q.assignee_id);
  }
  if (q.unassigned) where.push_back("t.assignee_id IS NULL");
  if (q.requester_id) {
    where.push_back("t.requester_id = ?");
    args.emplace_back(*q.requester_id);
  }
  if (q.host_id) {
    where.push_back("t.host_id = ?");
    args.emplace_back(*q.host_id);
  }
  if (!q.category.empty()) {
    where.push_back("t.category = ?");
    args.emplace_back(std::string_view(q.category));
  }
  if (q.from_ms) {
    where.push_back("t.created_ms >= ?");
    args.emplace_back(*q.from_ms);
  }
  if (q.to_ms) {
    where.push_back("t.created_ms < ?");
    args.emplace_back(*q.to_ms);
  }
  if (q.breached) {
    where.push_back("(t.response_breached_ms IS NOT NULL OR t.resolution_breached_ms IS NOT NULL)");
  }
}

Result<TicketPage> SqlTickets::ListTickets(const TicketQuery& q) {
  std::vector<std::string> where;
  std::vector<SqlArg> args;
  Filters(q, where, args);
  // Each order is an index's (tickets_priority and tickets_updated, migration 14; the primary
  // key for the others), and each cursor starts that index's range where the last page ended.
  std::string order;
  switch (q.sort) {
    case TicketSort::kNewest:
      order = "t.id DESC";
      if (q.before_id) {
        where.push_back("t.id < ?");
        args.emplace_back(*q.before_id);
      }
      break;
    case TicketSort::kOldest:
      order = "t.id ASC";
      if (q.after) {
        where.push_back("t.id > ?");
        args.emplace_back(q.after->id);
      }
      break;
    case TicketSort::kPriority:
      order = "t.priority ASC, t.id DESC";
      if (q.after) {
        where.push_back("(t.priority > ? OR (t.priority = ? AND t.id < ?))");
        args.emplace_back(q.after->key);
        args.emplace_back(q.after->key);
        args.emplace_back(q.after->id);
      }
      break;
    case TicketSort::kUpdated:
      order = "t.updated_ms DESC, t.id DESC";
      if (q.after) {
        where.push_back("(t.updated_ms, t.id) < (?, ?)");
        args.emplace_back(q.after->key);
        args.emplace_back(q.after->id);
      }
      break;
  }
  std::string sql = std::string("SELECT ") + kTicketColumns + kTicketFrom;
  for (std::size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
  sql += " ORDER BY " + order + " LIMIT ?";
  args.emplace_back(std::int64_t{q.limit} + 1);
  std::vector<TicketRecord> items;
  auto done = db_->Run(sql, args, [&](const SqlRow& r) { items.push_back(ReadTicketRow(r)); });
  if (!done) return done.error();
  auto page = Cut(std::move(items), q.limit);
  if (page.next_before_id && q.sort != TicketSort::kNewest) {
    const auto& last = page.items.back();
    const std::int64_t key = q.sort == TicketSort::kPriority  ? last.priority
                             : q.sort == TicketSort::kUpdated ? last.updated_ms
                                                              : 0;
    page.next = TicketCursor{key, last.id};
    page.next_before_id.reset();
  }
  return page;
}

Result<TicketRecord> SqlTickets::ActOnTicket(std::int64_t id, const TicketAction& a,
                                             const Actor& actor, std::int64_t now_ms) {
  auto action = tk::ParseAction(a.action);
  if (!action) return action.error();
  if (*action == tk::Action::kAssign && !a.group && !a.assignee_id) {
    return MakeError(ErrorCode::kInvalidArgument, "assign needs a group, an assigneeId or both");
  }
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto t = MustRead(id, true);
  if (!t) return t.error();
  auto from = tk::ParseState(t->state);
  if (!from) return from.error();
  bool has_assignee = t->assignee_id.has_value() || !t->group.empty();
  if (*action == tk::Action::kAssign) {
    if (a.assignee_id) {
      std::optional<std::pair<std::string, bool>> user;  // role, disabled
      auto done = Run("SELECT role, disabled, name FROM users WHERE id = ?", {*a.assignee_id},
                      [&](const SqlRow& r) { user.emplace(r.Text(0), r.Bool(1)); });
      if (!done) return done.error();
      if (!user) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "assigneeId: no user has id " + std::to_string(*a.assignee_id));
      }
      if (user->second) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "assigneeId: user " + std::to_string(*a.assignee_id) + " is disabled");
      }
      if (user->first != "admin" && user->first != "operator") {
        return MakeError(ErrorCode::kInvalidArgument,
                         "assigneeId: user " + std::to_string(*a.assignee_id) + " is a " +
                             user->first + "; only admins and operators work tickets");
      }
    }
    has_assignee = true;
  }
  auto to = tk::Next(*from, *action, has_assignee);
  if (!to) return to.error();
  if (*action == tk::Action::kAssign) {
    if (a.group && *a.group != t->group) {
      if (auto s = Event(id, now_ms, "assigned", "group", t->group, *a.group, actor.name); !s) {
        return s.error();
      }
      t->group = *a.group;
    }
    if (a.assignee_id && a.assignee_id != t->assignee_id) {
      std::string name;
      auto done = Run("SELECT name FROM users WHERE id = ?", {*a.assignee_id},
                      [&](const SqlRow& r) { name = r.Text(0); });
      if (!done) return done.error();
      if (auto s = Event(id, now_ms, "assigned", "assignee", t->assignee, name, actor.name); !s) {
        return s.error();
      }
      t->assignee_id = a.assignee_id;
    }
  }
  if (*to != *from || *action != tk::Action::kAssign) {
    if (auto s = MoveTo(*t, *to, a.action, actor.name, now_ms); !s) return s.error();
  }
  if (Person(actor)) {
    if (auto s = Responded(*t, actor.name, now_ms); !s) return s.error();
  }
  if (!a.comment.empty()) {
    std::int64_t note = 0;
    auto done = Run(
        "INSERT INTO ticket_notes (ticket_id, at_ms, author, internal, body) VALUES (?, ?, ?, ?, "
        "?) RETURNING id",
        {id, now_ms, actor.name, false, a.comment}, [&](const SqlRow& r) { note = r.Int(0); });
    if (!done) return done.error();
    if (auto s = AddWords("note_fts", note, a.comment); !s) return s.error();
    if (auto s = Event(id, now_ms, "note", "public", "", std::to_string(note), actor.name); !s) {
      return s.error();
    }
  }
  t->updated_ms = now_ms;
  if (auto s = Save(*t); !s) return s.error();
  auto out = MustRead(id, false);
  if (!out) return out.error();
  if (*action == tk::Action::kResolve || *action == tk::Action::kReopen) {
    if (auto s = Notify(*action == tk::Action::kResolve ? "resolved" : "reopened", *out, now_ms);
        !s) {
      return s.error();
    }
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<TicketRecord> SqlTickets::PatchTicket(std::int64_t id, const TicketPatch& p,
                                             const SlaTargets& sla, const Actor& actor,
                                             std::int64_t now_ms) {
  if (p.priority && (*p.priority < 1 || *p.priority > 5)) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "priority must be 1 to 5, not " + std::to_string(*p.priority));
  }
  if (p.priority && (!p.priority_reason || p.priority_reason->empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "priorityReason: setting the priority by hand needs a reason");
  }
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto t = MustReadOpen(id);
  if (!t) return t.error();
  auto field = [&](const char* name, std::string& value,
                   const std::optional<std::string>& next) -> Status {
    if (!next || *next == value) return {};
    auto s = Event(id, now_ms, "field", name, value, *next, actor.name);
    value = *next;
    return s;
  };
  const std::string words_before = t->title + " " + t->description;
  if (auto s = field("title", t->title, p.title); !s) return s.error();
  if (auto s = field("description", t->description, p.description); !s) return s.error();
  if (const std::string words = t->title + " " + t->description; words != words_before) {
    if (auto s = RemoveWords("ticket_fts", id, words_before); !s) return s.error();
    if (auto s = AddWords("ticket_fts", id, words); !s) return s.error();
  }
  if (auto s = field("category", t->category, p.category); !s) return s.error();
  if (p.impact) {
    if (auto level = Level("impact", *p.impact); !level) return level.error();
  }
  if (p.urgency) {
    if (auto level = Level("urgency", *p.urgency); !level) return level.error();
  }
  const bool levels_changed =
      (p.impact && *p.impact != t->impact) || (p.urgency && *p.urgency != t->urgency);
  if (auto s = field("impact", t->impact, p.impact); !s) return s.error();
  if (auto s = field("urgency", t->urgency, p.urgency); !s) return s.error();
  int priority = t->priority;
  std::string reason = t->priority_reason;
  if (p.priority) {
    priority = *p.priority;
    reason = *p.priority_reason;
  } else if (levels_changed) {
    // New levels take the ticket back to the matrix.
    priority = tk::Priority(*tk::ParseLevel(t->impact), *tk::ParseLevel(t->urgency));
    reason.clear();
  }
  if (priority != t->priority || reason != t->priority_reason) {
    if (auto s = Event(id, now_ms, "priority", reason, "P" + std::to_string(t->priority),
                       "P" + std::to_string(priority), actor.name);
        !s) {
      return s.error();
    }
    t->priority = priority;
    t->priority_reason = reason;
    // The clocks keep running; their targets become the new priority's.
    const auto& target = sla[static_cast<std::size_t>(priority - 1)];
    t->response_target_ms = target.first_response_ms;
    t->resolution_target_ms = target.resolution_ms;
  }
  if (Person(actor)) {
    if (auto s = Responded(*t, actor.name, now_ms); !s) return s.error();
  }
  t->updated_ms = now_ms;
  if (auto s = Save(*t); !s) return s.error();
  auto out = MustRead(id, false);
  if (!out) return out.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<TicketNote> SqlTickets::AddNote(std::int64_t ticket_id, const TicketNote& note,
                                       const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto t = MustReadOpen(ticket_id);
  if (!t) return t.error();
  TicketNote out = note;
  out.ticket_id = ticket_id;
  out.at_ms = now_ms;
  out.author = actor.name;
  auto done = Run(
      "INSERT INTO ticket_notes (ticket_id, at_ms, author, internal, body) VALUES (?, ?, ?, ?, ?) "
      "RETURNING id",
      {ticket_id, now_ms, actor.name, note.internal, note.body},
      [&](const SqlRow& r) { out.id = r.Int(0); });
  if (!done) return done.error();
  if (auto s = AddWords("note_fts", out.id, note.body); !s) return s.error();
  if (auto s = Event(ticket_id, now_ms, "note", note.internal ? "internal" : "public", "",
                     std::to_string(out.id), actor.name);
      !s) {
    return s.error();
  }
  // A public note answers the requester; an internal one is work among staff.
  if (!note.internal && Person(actor)) {
    if (auto s = Responded(*t, actor.name, now_ms); !s) return s.error();
  }
  t->updated_ms = now_ms;
  if (auto s = Save(*t); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<std::vector<TicketNote>> SqlTickets::ListNotes(std::int64_t ticket_id, bool internal_too) {
  std::vector<TicketNote> out;
  std::string sql =
      "SELECT id, ticket_id, at_ms, author, internal, body FROM ticket_notes WHERE ticket_id = ?";
  if (!internal_too) sql += " AND NOT internal";
  sql += " ORDER BY id";
  auto done = Run(sql, {ticket_id}, [&](const SqlRow& r) {
    out.push_back(TicketNote{r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Bool(4), r.Text(5)});
  });
  if (!done) return done.error();
  return out;
}

Result<TicketAttachment> SqlTickets::AddAttachment(std::int64_t ticket_id,
                                                   const TicketAttachment& attachment,
                                                   std::string_view content, const Actor& actor,
                                                   std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto t = MustReadOpen(ticket_id);
  if (!t) return t.error();
  TicketAttachment out = attachment;
  out.ticket_id = ticket_id;
  out.at_ms = now_ms;
  out.author = actor.name;
  auto done = Run(
      "INSERT INTO ticket_attachments (ticket_id, at_ms, name, content_type, size_bytes, sha256, "
      "author, in_files, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
      {ticket_id, now_ms, out.name, out.content_type, out.size_bytes, out.sha256, actor.name,
       out.in_files, out.in_files ? SqlArg(std::nullopt) : SqlArg(Bytes{content})},
      [&](const SqlRow& r) { out.id = r.Int(0); });
  if (!done) return done.error();
  if (auto s =
          Event(ticket_id, now_ms, "attachment", std::to_string(out.id), "", out.name, actor.name);
      !s) {
    return s.error();
  }
  t->updated_ms = now_ms;
  if (auto s = Save(*t); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

namespace {
constexpr const char* kAttachmentColumns =
    "id, ticket_id, at_ms, name, content_type, size_bytes, sha256, author, in_files";
TicketAttachment ReadAttachment(const SqlRow& r) {
  return TicketAttachment{r.Int(0), r.Int(1),  r.Int(2),  r.Text(3), r.Text(4),
                          r.Int(5), r.Text(6), r.Text(7), r.Bool(8)};
}
}  // namespace

Result<std::vector<TicketAttachment>> SqlTickets::ListAttachments(std::int64_t ticket_id) {
  std::vector<TicketAttachment> out;
  auto done = Run(std::string("SELECT ") + kAttachmentColumns +
                      " FROM ticket_attachments WHERE ticket_id = ? ORDER BY id",
                  {ticket_id}, [&](const SqlRow& r) { out.push_back(ReadAttachment(r)); });
  if (!done) return done.error();
  return out;
}

Result<std::optional<std::pair<TicketAttachment, std::string>>> SqlTickets::GetAttachment(
    std::int64_t ticket_id, std::int64_t attachment_id) {
  std::optional<std::pair<TicketAttachment, std::string>> out;
  auto done = Run(std::string("SELECT ") + kAttachmentColumns +
                      ", content FROM ticket_attachments WHERE id = ? AND ticket_id = ?",
                  {attachment_id, ticket_id}, [&](const SqlRow& r) {
                    out.emplace(ReadAttachment(r), r.OptBlob(9).value_or(std::string()));
                  });
  if (!done) return done.error();
  return out;
}

Result<TicketAttachment> SqlTickets::RemoveAttachment(std::int64_t ticket_id,
                                                      std::int64_t attachment_id,
                                                      const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto t = MustRead(ticket_id, true);
  if (!t) return t.error();
  std::optional<TicketAttachment> found;
  auto read = Run(std::string("SELECT ") + kAttachmentColumns +
                      " FROM ticket_attachments WHERE id = ? AND ticket_id = ?",
                  {attachment_id, ticket_id}, [&](const SqlRow& r) { found = ReadAttachment(r); });
  if (!read) return read.error();
  if (!found) {
    return MakeError(ErrorCode::kNotFound, "ticket " + std::to_string(ticket_id) +
                                               " has no attachment " +
                                               std::to_string(attachment_id));
  }
  if (auto s = Do("DELETE FROM ticket_attachments WHERE id = ?", {attachment_id}); !s) {
    return s.error();
  }
  // The same kind as its arrival, the name now the old value.
  if (auto s = Event(ticket_id, now_ms, "attachment", std::to_string(attachment_id), found->name,
                     "", actor.name);
      !s) {
    return s.error();
  }
  // Removing what someone attached is audited, with what it was.
  AuditEntry entry;
  entry.at_ms = now_ms;
  entry.actor = actor;
  entry.action = "attachment.remove";
  entry.resource = "attachment";
  entry.resource_id = std::to_string(attachment_id);
  entry.before = {{"ticket", std::to_string(ticket_id)},
                  {"name", found->name},
                  {"content_type", found->content_type},
                  {"size_bytes", std::to_string(found->size_bytes)},
                  {"sha256", found->sha256},
                  {"author", found->author}};
  if (auto s = Audit(entry); !s) return s.error();
  t->updated_ms = now_ms;
  if (auto s = Save(*t); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return *found;
}

Result<bool> SqlTickets::AttachmentFileUsed(const std::string& sha256) {
  bool used = false;
  auto done = Run("SELECT 1 FROM ticket_attachments WHERE sha256 = ? AND in_files LIMIT 1",
                  {sha256}, [&](const SqlRow&) { used = true; });
  if (!done) return done.error();
  return used;
}

Result<TicketEventPage> SqlTickets::ListTicketEvents(std::int64_t ticket_id,
                                                     std::optional<std::int64_t> before_id,
                                                     int limit) {
  std::vector<TicketEvent> items;
  auto done = Run(
      "SELECT id, ticket_id, at_ms, kind, subject, old_value, new_value, actor FROM ticket_events "
      "WHERE ticket_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
      {ticket_id, before_id.value_or(INT64_MAX), std::int64_t{limit} + 1}, [&](const SqlRow& r) {
        items.push_back(TicketEvent{r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Text(4), r.Text(5),
                                    r.Text(6), r.Text(7)});
      });
  if (!done) return done.error();
  return Cut(std::move(items), limit);
}

Result<WorklogEntry> SqlTickets::AppendWorklog(std::int64_t ticket_id, const WorklogEntry& entry,
                                               const Actor& actor) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<std::string> state;
  // Counting first takes the ticket's row lock: appends to one ticket queue up rather than
  // deadlock, and a close cannot slip in between the check and the insert.
  auto counted =
      Run("UPDATE tickets SET worklog_count = worklog_count + 1 WHERE id = ? "
          "RETURNING state",
          {ticket_id}, [&](const SqlRow& r) { state = r.Text(0); });
  if (!counted) return counted.error();
  if (!state) {
    return MakeError(ErrorCode::kNotFound, "no ticket has id " + std::to_string(ticket_id));
  }
  if (*state == "closed") return TicketClosed(ticket_id);
  WorklogEntry out = entry;
  out.ticket_id = ticket_id;
  out.actor = actor.name;
  auto done =
      Run("INSERT INTO ticket_worklog (ticket_id, at_ms, task, note, actor) VALUES (?, ?, ?, ?, ?) "
          "RETURNING id",
          {ticket_id, entry.at_ms, entry.task, entry.note, actor.name},
          [&](const SqlRow& r) { out.id = r.Int(0); });
  if (!done) return done.error();
  if (auto s = AddWords("worklog_fts", out.id, entry.task + " " + entry.note); !s) {
    return s.error();
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<WorklogPage> SqlTickets::ListWorklog(std::int64_t ticket_id,
                                            std::optional<std::int64_t> before_id, int limit) {
  std::vector<WorklogEntry> items;
  auto done = Run(
      "SELECT id, ticket_id, at_ms, task, note, actor FROM ticket_worklog WHERE ticket_id = ? "
      "AND id < ? ORDER BY id DESC LIMIT ?",
      {ticket_id, before_id.value_or(INT64_MAX), std::int64_t{limit} + 1}, [&](const SqlRow& r) {
        items.push_back(
            WorklogEntry{r.Int(0), r.Int(1), r.Int(2), r.Text(3), r.Text(4), r.Text(5)});
      });
  if (!done) return done.error();
  return Cut(std::move(items), limit);
}

// Search ----------------------------------------------------------------------------------------

namespace {

// Candidates each source (titles, notes, worklogs) hands to the ranking, newest first: a common
// word matches hundreds of thousands of rows, and ranking them all would cost what a search must
// not. The newest matches are the likely ones; the ranking orders them. Up to 300 candidates
// for a page of 20 tickets; with a filter, each costs reading its ticket (and a match the
// filter refuses costs the same), so half that.
constexpr int kCandidates = 100;
constexpr int kFilteredCandidates = 50;
// PostgreSQL reads the newest this many entries of a source along its primary key first, checking
// each one's stored tsvector; only when they hold too few matches does it ask the GIN index.
constexpr std::int64_t kRecentWindow = 20'000;
// Matches in the first window enough to judge their density by.
constexpr std::size_t kDensitySample = 3;
// A step short of matches reaches this many times as far as their density says the rest lie (a
// density of a few dozen matches is a rough one), at most kSteps steps in all.
constexpr double kStepMargin = 2.0;
constexpr int kSteps = 3;
// With filters, PostgreSQL walks the entries of the filters' tickets, newest first, this many at
// first and at most kMostWalked; at most kEntriesPerTicket of one ticket.
constexpr std::int64_t kFirstWalk = 2'000;
constexpr std::int64_t kMostWalked = 40'000;
constexpr int kEntriesPerTicket = 2'000;
// What a second window costs against what GIN would: reading an entry along the
// primary key and checking its tsvector, against fetching a match of GIN's bitmap from the heap and
// rechecking it (measured over 2 million notes: about 0.7 and 3.5 us). GIN's bitmap holds all the
// matches, which the first window's density estimates.
constexpr double kWalkCost = 0.7;
constexpr double kBitmapCost = 3.5;
// Reading an entry of the filters' tickets: by each ticket's index, so scattered (about 1-3 us).
constexpr double kTicketWalkCost = 5.0;
// Filters that leave at most this many tickets are searched from the tickets' side: their
// entries are read and matched here, rather than the index's matches being read until enough
// pass the filters (for one host's tickets and a common word, nearly all of them).
constexpr int kFewTickets = 5000;
// ...unless a source holds more entries for them than this (a ticket with a huge worklog): then
// that source goes by the index after all.
constexpr int kFewEntries = 20000;
// A filter PostgreSQL estimates to leave more tickets than this is not counted for the above.
constexpr double kBroadFilter = 10.0 * kFewTickets;
// PostgreSQL: besides the newest range of a searched table (RollSearchIndexes), this many older
// ranges have an index of their own, the newest first.
constexpr int kClosedSegments = 4;

struct Source {
  const char* kind;
  const char* fts;    // SQLite's full-text table
  const char* table;  // the rows and how they reach their ticket
  const char* join;
  const char* id;
  const char* at;
  const char* text;    // the text searched
  const char* vector;  // PostgreSQL's stored tsvector of it
  const char* ticket;
  double weight;  // a word in the title says more than one in a worklog line
};

constexpr Source kSources[] = {
    {"ticket", "ticket_fts", "tickets t", "", "t.id", "t.created_ms",
     "t.title || ' ' || t.description", "t.search", "t.id", 2.0},
    {"note", "note_fts", "ticket_notes n", " JOIN tickets t ON t.id = n.ticket_id", "n.id",
     "n.at_ms", "n.body", "n.search", "n.ticket_id", 1.0},
    {"worklog", "worklog_fts", "ticket_worklog w", " JOIN tickets t ON t.id = w.ticket_id", "w.id",
     "w.at_ms", "w.task || ' ' || w.note", "w.search", "w.ticket_id", 0.7},
};

// An IN list's placeholders for `ids`, padded with its last id up to one of a few lengths:
// connections keep each statement they prepare, by its text, and a list's every length would be
// one more.
std::string Placeholders(std::vector<SqlArg>& ids) {
  std::size_t length = 8;
  while (length < ids.size()) length *= 4;
  while (ids.size() < length) ids.push_back(ids.back());
  std::string out;
  for (std::size_t i = 0; i < length; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// A source's table, without its alias.
std::string_view SourceTable(const Source& source) {
  const std::string_view table = source.table;
  return table.substr(0, table.find(' '));
}

bool Filtered(const TicketQuery& q) {
  return !q.states.empty() || !q.kind.empty() || q.priority || !q.group.empty() || q.assignee_id ||
         q.unassigned || q.requester_id || q.host_id || !q.category.empty() || q.from_ms ||
         q.to_ms || q.breached;
}

}  // namespace

Result<std::vector<TicketSearchHit>> SqlTickets::SearchTickets(const TicketSearchQuery& q) {
  auto query = search::ParseQuery(q.text);
  if (!query) return query.error();
  const std::string match = Pg() ? search::PgTsQuery(*query) : search::Fts5Match(*query);

  // PostgreSQL: the indexes of ranges of the newest entries (RollSearchIndexes), newest first.
  std::map<std::string, std::vector<SearchSegment>, std::less<>> segments;
  if (Pg()) {
    if (auto st = ReadSearchSegments(segments); !st) return st.error();
  }

  // A selective filter: its tickets, to search from their side.
  std::optional<std::vector<SqlArg>> few;
  if (Filtered(q.filters)) {
    std::vector<std::string> where;
    std::vector<SqlArg> args;
    Filters(q.filters, where, args);
    std::string sql = "SELECT t.id FROM tickets t";
    for (std::size_t i = 0; i < where.size(); ++i) sql += (i == 0 ? " WHERE " : " AND ") + where[i];
    // PostgreSQL's estimate first: counting up to 5,001 tickets of a broad filter reads 30,000
    // wide rows (20-40 ms for "closed P2" or a group of a million tickets). Only an estimate far
    // past the mark is trusted; a wrong one costs time, not results.
    bool broad = false;
    if (Pg()) {
      bool top = true;  // the plan's first line: the whole statement's estimate
      auto plan = db_->Run("EXPLAIN " + sql, args, [&](const SqlRow& r) {
        if (!std::exchange(top, false)) return;
        const std::string line = r.Text(0);
        const auto at = line.find(" rows=");
        if (at != std::string::npos) {
          broad = std::strtod(line.c_str() + at + 6, nullptr) > kBroadFilter;
        }
      });
      if (!plan) return plan.error();
    }
    if (!broad) {
      sql += " LIMIT ?";
      args.emplace_back(kFewTickets + 1);
      std::vector<SqlArg> ids;
      auto done = db_->Run(sql, args, [&](const SqlRow& r) { ids.emplace_back(r.Int(0)); });
      if (!done) return done.error();
      if (static_cast<int>(ids.size()) <= kFewTickets) few = std::move(ids);
    }
  }

  struct Found {
    double score = 0;
    std::vector<TicketMatch> matches;
  };
  std::map<std::int64_t, Found> found;
  std::map<std::pair<std::string, std::int64_t>, std::string> texts;  // (kind, id) -> text
  // A candidate of one source: its entry's id, its ticket, when, and its text.
  auto consider = [&](const Source& source, std::int64_t id, std::int64_t ticket, std::int64_t at,
                      std::string text, bool checked) {
    const double score = search::Score(*query, text) * source.weight;
    if (score <= 0 && !checked) return;  // read by the filter, not by the index: no match
    auto& f = found[ticket];
    // An index match scores at least a little: it may hold the words only across what this
    // side reads as separate (an accent folded by the index, say).
    const double kept = std::max(score, 0.01 * source.weight);
    f.score = std::max(f.score, kept);
    f.matches.push_back(TicketMatch{source.kind, id, at, "", kept});
    texts[{source.kind, id}] = std::move(text);
  };
  for (const auto& source : kSources) {
    const bool note = std::string_view(source.kind) == "note";
    if (few && few->empty()) break;
    if (few) {
      // The filter's entries, read and matched here, newest first.
      std::vector<SqlArg> args = *few;
      std::string sql = std::string("SELECT ") + source.id + ", " + source.ticket + ", " +
                        source.at + ", " + source.text + " FROM " + source.table + " WHERE " +
                        source.ticket + " IN (" + Placeholders(args) + ")";
      if (note && !q.internal_notes) sql += " AND NOT n.internal";
      sql += std::string(" ORDER BY ") + source.id + " DESC LIMIT ?";
      args.emplace_back(kFewEntries + 1);
      int read = 0;
      auto done = db_->Run(sql, args, [&](const SqlRow& r) {
        if (++read > kFewEntries) return;
        consider(source, r.Int(0), r.Int(1), r.Int(2), r.Text(3), false);
      });
      if (!done) return done.error();
      if (read <= kFewEntries) continue;
      // Too many: what this source added is dropped, and its index decides instead.
      for (auto& [ticket, f] : found) {
        std::erase_if(f.matches, [&](const TicketMatch& m) { return m.kind == source.kind; });
      }
    }
    const int wanted = Filtered(q.filters) ? kFilteredCandidates : kCandidates;
    // The newest matches within the filters. PostgreSQL looks at the newest entries first (see
    // kRecentWindow); a rare word finds too few there, and its GIN index answers it.
    std::optional<std::int64_t> newest;
    if (Pg()) {
      auto read = Run(std::string("SELECT MAX(") + source.id + ") FROM " + source.table, {},
                      [&](const SqlRow& r) { newest = r.OptInt(0); });
      if (!read) return read.error();
    }
    using Row = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::string>;
    // The newest matches with ids above `above` and up to `up_to` (0: no bound), at most `limit`;
    // along the primary key or through the GIN index's bitmap (PostgreSQL; SQLite's FTS5 gives
    // its matches newest first either way). Through the index, the bounds are written into the
    // statement as numbers, so that the planner can prove that the index of that range of the
    // newest entries (RollSearchIndexes) covers the rows asked for; parameters would not do.
    enum class Plan { kAlongKey, kIndex };
    auto matches = [&](std::int64_t above, std::int64_t up_to, int limit, std::vector<Row>& rows,
                       Plan plan) -> Status {
      std::vector<std::string> where;
      std::vector<SqlArg> args;
      std::string sql;
      if (Pg()) {
        sql = std::string("SELECT ") + source.id + ", t.id, " + source.at + ", " + source.text +
              " FROM " + source.table + source.join + ", to_tsquery('simple', ?) q";
        where.push_back(std::string(source.vector) + " @@ q");
      } else {
        // FTS5 knows its table by name, not by an alias.
        const std::string fts = source.fts;
        sql = "SELECT " + fts + ".rowid, t.id, " + source.at + ", " + source.text + " FROM " + fts +
              " JOIN " + source.table + " ON " + source.id + " = " + fts + ".rowid" + source.join;
        where.push_back(fts + " MATCH ?");
      }
      args.emplace_back(std::string_view(match));
      if (plan == Plan::kIndex) {
        if (above > 0) where.push_back(std::string(source.id) + " > " + std::to_string(above));
        if (up_to > 0) where.push_back(std::string(source.id) + " <= " + std::to_string(up_to));
      } else if (above > 0 || up_to > 0) {
        where.push_back(std::string(source.id) + " > ?");
        args.emplace_back(above);
        if (up_to > 0) {
          where.push_back(std::string(source.id) + " <= ?");
          args.emplace_back(up_to);
        }
      }
      if (note && !q.internal_notes) where.push_back("NOT n.internal");
      Filters(q.filters, where, args);
      for (std::size_t i = 0; i < where.size(); ++i) {
        sql += (i == 0 ? " WHERE " : " AND ") + where[i];
      }
      sql += std::string(" ORDER BY ") + (Pg() ? source.id : source.fts + std::string(".rowid")) +
             " DESC LIMIT ?";
      args.emplace_back(limit);
      // On PostgreSQL a window goes along the primary key: GIN answers only through a bitmap of
      // every match of each word (for a common word, or a phrase of common CJK characters,
      // hundreds of thousands, each rechecked), while the newest rows hold enough of them.
      // GIN itself is asked through its bitmap: the walks found the matches few, and walking the
      // primary key backwards, which the planner picks for the limit, reads every row when they
      // are few or none (800 ms over 3 million worklog entries).
      std::optional<Transaction<SqlConn>> planned;
      const char* plan_setting = !Pg()                     ? nullptr
                                 : plan == Plan::kAlongKey ? "SET LOCAL enable_bitmapscan = off"
                                                           : "SET LOCAL enable_indexscan = off";
      if (plan_setting != nullptr) {
        auto tx = Transaction<SqlConn>::Begin(*db_);
        if (!tx) return tx.error();
        planned.emplace(std::move(*tx));
        if (auto st = db_->Exec(plan_setting); !st) return st.error();
      }
      auto done = db_->Run(sql, args, [&](const SqlRow& r) {
        rows.emplace_back(r.Int(0), r.Int(1), r.Int(2), r.Text(3));
      });
      if (!done) return done.error();
      if (planned) return planned->Commit();
      return {};
    };
    // PostgreSQL with filters: the matches among the newest `budget` entries of the filters'
    // tickets, newest ticket first and each ticket's newest entry first, at most `limit`.
    // Nothing orders them all, so the walk stops at the limit, having read only as far as the
    // matches needed; and at most kEntriesPerTicket of one ticket (a job's huge worklog).
    auto walk = [&](std::int64_t budget, int limit, std::vector<Row>& rows) -> Status {
      std::vector<std::string> where;
      std::vector<SqlArg> args;
      Filters(q.filters, where, args);
      std::string tickets = "SELECT t.id FROM tickets t";
      for (std::size_t i = 0; i < where.size(); ++i) {
        tickets += (i == 0 ? " WHERE " : " AND ") + where[i];
      }
      // The limit makes the planner walk the tickets along their key (or a filter's index)
      // rather than sort all that pass.
      tickets += " ORDER BY t.id DESC LIMIT ?";
      args.emplace_back(budget);
      // The entries read carry only what finds a match; the text is read for the matches alone
      // (half the walk's time went to building each entry's text), and the query is parsed once
      // (inline, a prepared statement's generic plan parses it again for every entry).
      std::string entries = std::string("SELECT ") + source.id + " AS e_id, " + source.ticket +
                            " AS e_ticket, " + source.at + " AS e_at, " + source.vector +
                            " AS e_search FROM " + source.table + " WHERE " + source.ticket +
                            " = f.id";
      if (note && !q.internal_notes) entries += " AND NOT n.internal";
      entries += std::string(" ORDER BY ") + source.id + " DESC LIMIT ?";
      args.emplace_back(kEntriesPerTicket);
      const std::string sql =
          "SELECT m.e_id, m.e_ticket, m.e_at, x.e_text FROM (SELECT e.* FROM (" + tickets +
          ") f, LATERAL (" + entries +
          ") e LIMIT ?) m, to_tsquery('simple', ?) q, LATERAL (SELECT " + source.text +
          " AS e_text FROM " + source.table + " WHERE " + source.id +
          " = m.e_id) x WHERE m.e_search @@ q LIMIT ?";
      args.emplace_back(budget);
      args.emplace_back(std::string_view(match));
      args.emplace_back(limit);
      auto done = db_->Run(sql, args, [&](const SqlRow& r) {
        rows.emplace_back(r.Int(0), r.Int(1), r.Int(2), r.Text(3));
      });
      if (!done) return done.error();
      return {};
    };
    std::vector<Row> rows;
    // SQLite's index gives matches newest first and stops at the limit: one pass. PostgreSQL
    // walks the newest first: without filters windows of the newest entries (kRecentWindow),
    // with filters the entries of the filters' newest tickets (kFirstWalk). When the first step
    // holds some matches but too few, their density says how much further back the rest lie,
    // and a second step reaches there if reading that costs less than GIN's bitmap of all the
    // matches would; else the GIN index is asked for all.
    bool answered = false;
    const auto missing = [&] {
      return static_cast<double>(wanted) - static_cast<double>(rows.size());
    };
    if (Pg() && Filtered(q.filters) && newest) {
      std::int64_t budget = kFirstWalk;
      for (int step = 0; step < kSteps; ++step) {
        rows.clear();
        if (auto st = walk(budget, wanted, rows); !st) return st.error();
        if (missing() <= 0) {
          answered = true;
          break;
        }
        if (rows.size() < kDensitySample) break;
        // The walk read its whole budget (or every entry the filters pass) for too few: as many
        // more as should hold the rest, if that costs less than GIN's bitmap of all the matches.
        const double density = static_cast<double>(rows.size()) / static_cast<double>(budget);
        budget += static_cast<std::int64_t>(kStepMargin * missing() / density);
        const double bitmap = density * static_cast<double>(*newest);
        if (budget > kMostWalked ||
            static_cast<double>(budget) * kTicketWalkCost > bitmap * kBitmapCost) {
          break;
        }
      }
    } else if (Pg() && newest && *newest > kRecentWindow) {
      std::int64_t hi = *newest;
      std::int64_t size = kRecentWindow;
      for (int step = 0; step < kSteps; ++step) {
        const std::int64_t lo = std::max<std::int64_t>(0, hi - size);
        if (auto st = matches(lo, hi, static_cast<int>(missing()), rows, Plan::kAlongKey); !st) {
          return st.error();
        }
        if (missing() <= 0 || lo == 0) {
          answered = true;
          break;
        }
        if (rows.size() < kDensitySample) break;
        const double density = static_cast<double>(rows.size()) / static_cast<double>(*newest - lo);
        size = static_cast<std::int64_t>(kStepMargin * missing() / density);
        // GIN's bitmap holds about density x entries matches.
        const double bitmap = density * static_cast<double>(*newest);
        if (static_cast<double>(size) * kWalkCost > bitmap * kBitmapCost) break;
        hi = lo;
      }
    }
    if (!answered) {
      rows.clear();
      // The indexes of the newest entries' ranges first, newest first: each one's bitmap holds
      // a tenth of the matches or less (a phrase of common CJK characters over 3 million worklog
      // lines: 2 ms instead of 37; with a group's filter, two ranges in 6 ms instead of 67 ms
      // through the whole index). While the ranges asked so far say the rest lie within the
      // ranges left, on to the next; else, and when the newest range holds none (a rare word,
      // whose whole bitmap is small), the whole index answers alone (bounded to the older ids
      // instead, the planner ANDed its bitmap with the primary key's: 300 ms).
      std::vector<SearchSegment> chain;
      if (const auto found = segments.find(SourceTable(source)); found != segments.end()) {
        for (const auto& s : found->second) {
          if (chain.empty() ? s.up_to.has_value() : s.up_to != chain.back().above) continue;
          chain.push_back(s);
        }
      }
      std::size_t asked = 0;
      for (const auto& s : chain) {
        if (auto st = matches(s.above, s.up_to.value_or(0), static_cast<int>(missing()), rows,
                              Plan::kIndex);
            !st) {
          return st.error();
        }
        ++asked;
        if (missing() <= 0) break;
        const double per_range = static_cast<double>(rows.size()) / static_cast<double>(asked);
        const auto left = static_cast<double>(chain.size() - asked);
        if (per_range == 0 || missing() > per_range * left) break;
      }
      if (missing() > 0) {
        rows.clear();
        if (auto st = matches(0, 0, wanted, rows, Plan::kIndex); !st) return st.error();
      }
    }
    for (auto& [id, ticket, at, text] : rows)
      consider(source, id, ticket, at, std::move(text), true);
  }
  // A ticket whose matches were all dropped with their source has none left.
  std::erase_if(found, [](const auto& entry) { return entry.second.matches.empty(); });
  for (auto& [ticket, f] : found) {
    f.score = 0;
    for (const auto& m : f.matches) f.score = std::max(f.score, m.score);
  }

  std::vector<std::pair<double, std::int64_t>> ranked;
  for (const auto& [id, f] : found) ranked.emplace_back(f.score, id);
  // Best first; of two equal, the newer ticket.
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second > b.second;
  });
  if (static_cast<int>(ranked.size()) > q.limit) ranked.resize(static_cast<std::size_t>(q.limit));
  if (ranked.empty()) return std::vector<TicketSearchHit>{};

  std::vector<SqlArg> ids;
  for (const auto& [score, id] : ranked) ids.emplace_back(id);
  std::map<std::int64_t, TicketRecord> tickets;
  // Built before the call: padding the list must come before the statement reads it.
  const std::string read_sql = std::string("SELECT ") + kTicketColumns + kTicketFrom +
                               " WHERE t.id IN (" + Placeholders(ids) + ")";
  auto read = db_->Run(read_sql, ids, [&](const SqlRow& r) {
    auto t = ReadTicketRow(r);
    tickets.emplace(t.id, std::move(t));
  });
  if (!read) return read.error();
  std::vector<TicketSearchHit> out;
  for (const auto& [score, id] : ranked) {
    auto t = tickets.find(id);
    if (t == tickets.end()) continue;  // gone since the candidates were read
    TicketSearchHit hit;
    hit.ticket = std::move(t->second);
    hit.score = score;
    hit.matches = std::move(found[id].matches);
    std::sort(hit.matches.begin(), hit.matches.end(), [](const auto& a, const auto& b) {
      return a.score != b.score ? a.score > b.score : a.at_ms > b.at_ms;
    });
    if (hit.matches.size() > 3) hit.matches.resize(3);
    for (auto& m : hit.matches) m.snippet = search::Snippet(texts[{m.kind, m.id}], *query);
    out.push_back(std::move(hit));
  }
  return out;
}

Result<std::string> SqlTickets::RollSearchIndexes(std::int64_t segment) {
  if (!Pg() || segment <= 0) return std::string();
  std::map<std::string, std::vector<SearchSegment>, std::less<>> current;
  if (auto st = ReadSearchSegments(current); !st) return st.error();
  for (const auto& source : kSources) {
    const std::string table(SourceTable(source));
    std::optional<std::int64_t> newest;
    auto max = db_->Run("SELECT MAX(id) FROM " + table, {},
                        [&](const SqlRow& r) { newest = r.OptInt(0); });
    if (!max) return max.error();
    // A table of twice a segment or less is quick to search whole.
    if (!newest || *newest <= 2 * segment) continue;
    // The newest segment holds a segment's worth of entries to twice that; the older ones one
    // each, on boundaries that stay where they are as the table grows.
    const std::int64_t open = (*newest - segment) / segment * segment;
    std::vector<SearchSegment> wanted{{open, std::nullopt}};
    for (int j = 1; j <= kClosedSegments && open - j * segment >= 0; ++j) {
      wanted.push_back({open - j * segment, open - (j - 1) * segment});
    }
    const auto& have = current[table];
    auto name = [&](const SearchSegment& s) {
      return table + "_search_" + std::to_string(s.above) + "_" +
             (s.up_to ? std::to_string(*s.up_to) : std::string("up"));
    };
    for (const auto& s : wanted) {
      if (std::find(have.begin(), have.end(), s) != have.end()) continue;
      std::string range = "id > " + std::to_string(s.above);
      if (s.up_to) range += " AND id <= " + std::to_string(*s.up_to);
      // As the table's whole index is kept (migration 11): titles without a pending list, notes
      // and worklog lines with one of 1 MB.
      const char* storage =
          table == "tickets" ? "fastupdate = off" : "gin_pending_list_limit = 1024";
      // Built while the table takes writes. A build that failed half way left an invalid index
      // of this name, which is dropped first.
      if (auto st = db_->Exec("DROP INDEX CONCURRENTLY IF EXISTS " + name(s)); !st) {
        return st.error();
      }
      if (auto st = db_->Exec("CREATE INDEX CONCURRENTLY " + name(s) + " ON " + table +
                              " USING gin (search) WITH (" + storage + ") WHERE " + range);
          !st) {
        return st.error();
      }
      const std::string index = name(s);
      if (auto st = Do(
              "INSERT INTO search_segments (index_name, source, above, up_to) VALUES (?, ?, ?, ?)",
              {index, table, s.above, s.up_to ? SqlArg(*s.up_to) : SqlArg(std::nullopt)});
          !st) {
        return st.error();
      }
      return table + " " + range;
    }
    // Every segment wanted is there: the others go. Searches that read them just before are
    // done first (DROP INDEX CONCURRENTLY waits for them); those that read the list after no
    // longer see them.
    std::string dropped;
    for (const auto& s : have) {
      if (std::find(wanted.begin(), wanted.end(), s) != wanted.end()) continue;
      const std::string index = name(s);
      if (auto st = Do("DELETE FROM search_segments WHERE index_name = ?", {index}); !st) {
        return st.error();
      }
      if (auto st = db_->Exec("DROP INDEX CONCURRENTLY IF EXISTS " + name(s)); !st) {
        return st.error();
      }
      dropped += (dropped.empty() ? "" : ", ") + name(s);
    }
    if (!dropped.empty()) return table + " dropped " + dropped;
  }
  return std::string();
}

Status SqlTickets::ReadSearchSegments(
    std::map<std::string, std::vector<SearchSegment>, std::less<>>& out) {
  auto read = db_->Run("SELECT source, above, up_to FROM search_segments ORDER BY above DESC", {},
                       [&](const SqlRow& r) {
                         out[r.Text(0)].push_back({r.Int(1), r.OptInt(2)});
                       });
  if (!read) return read.error();
  return {};
}

// Incidents -------------------------------------------------------------------------------------

Result<IncidentOutcome> SqlTickets::RaiseIncident(const IncidentSignal& signal,
                                                  const SlaTargets& sla) {
  // Another server may open the same fingerprint between our look and our insert: the unique
  // index refuses the second, whose retry then finds the first's ticket.
  for (int attempt = 0;; ++attempt) {
    auto outcome = TryRaise(signal, sla);
    if (outcome || outcome.error().code != ErrorCode::kAlreadyExists || attempt == 2) {
      return outcome;
    }
  }
}

Result<IncidentOutcome> SqlTickets::TryRaise(const IncidentSignal& s, const SlaTargets& sla) {
  auto urgency = Level("urgency", s.urgency);
  if (!urgency) return urgency.error();
  auto tx = BeginTx();
  if (!tx) return tx.error();
  struct Host {
    std::string criticality;
    bool unreachable = false;
    bool archived = false;
  };
  std::optional<Host> host;
  auto done = Run(
      "SELECT criticality, unreachable_since_ms IS NOT NULL, archived_ms IS NOT NULL FROM hosts "
      "WHERE id = ?",
      {s.host_id}, [&](const SqlRow& r) {
        host = Host{r.Text(0), r.Bool(1), r.Bool(2)};
      });
  if (!done) return done.error();
  if (!host) return MakeError(ErrorCode::kNotFound, "no host has id " + std::to_string(s.host_id));
  IncidentOutcome out;
  out.kind = IncidentOutcome::Kind::kSuppressed;
  if (host->archived) {
    out.why = "the host is archived";
    out.for_good = true;
    return out;
  }
  // The window that lasts longest, when several overlap: until it ends nothing is raised.
  done = Run(
      "SELECT id, reason, ends_ms FROM maintenance_windows WHERE starts_ms <= ? AND ends_ms > ? "
      "AND (host_id = ? OR tag IN (SELECT tag FROM host_tags WHERE host_id = ?)) "
      "ORDER BY ends_ms DESC, id LIMIT 1",
      {s.at_ms, s.at_ms, s.host_id, s.host_id}, [&](const SqlRow& r) {
        out.why = "maintenance window " + std::to_string(r.Int(0)) +
                  (r.Text(1).empty() ? "" : " (" + r.Text(1) + ")");
        out.until_ms = r.Int(2);
      });
  if (!done) return done.error();
  if (!out.why.empty()) return out;
  if (s.kind != "host" && host->unreachable) {
    out.why = "the host is unreachable";
    return out;
  }

  const std::string fingerprint = s.Fingerprint();
  auto open = OpenIncident(fingerprint);
  if (!open) return open.error();
  if (*open) {
    TicketRecord& t = **open;
    ++t.occurrences;
    t.last_seen_ms = std::max(t.last_seen_ms, s.at_ms);
    t.recovered_ms.reset();
    t.updated_ms = s.at_ms;
    if (auto st = Event(t.id, s.at_ms, "occurrence", "", std::to_string(t.occurrences - 1),
                        std::to_string(t.occurrences), kEngineActor);
        !st) {
      return st.error();
    }
    if (auto st = Save(t); !st) return st.error();
    if (auto st = tx->Commit(); !st) return st.error();
    return IncidentOutcome{IncidentOutcome::Kind::kRepeated, t.id, ""};
  }

  std::optional<std::int64_t> resolved;
  done = Run(
      "SELECT id FROM tickets WHERE fingerprint = ? AND state = 'resolved' AND resolved_ms >= ? "
      "ORDER BY id DESC LIMIT 1",
      {fingerprint, s.at_ms - s.reopen_window_ms}, [&](const SqlRow& r) { resolved = r.Int(0); });
  if (!done) return done.error();
  if (resolved) {
    auto t = MustRead(*resolved, true);
    if (!t) return t.error();
    // Locked now: a person may have closed it meanwhile (PostgreSQL).
    if (t->state == "resolved") {
      const bool has_assignee = t->assignee_id.has_value() || !t->group.empty();
      auto to = tk::Next(tk::State::kResolved, tk::Action::kReopen, has_assignee);
      if (!to) return to.error();
      if (auto st = MoveTo(*t, *to, "reopen", kEngineActor, s.at_ms); !st) return st.error();
      ++t->occurrences;
      t->last_seen_ms = std::max(t->last_seen_ms, s.at_ms);
      if (auto st = Save(*t); !st) return st.error();
      if (auto st = LinkServiceTasks(t->id, s); !st) return st.error();
      if (auto st = Notify("reopened", *t, s.at_ms); !st) return st.error();
      if (auto st = tx->Commit(); !st) return st.error();
      return IncidentOutcome{IncidentOutcome::Kind::kReopened, t->id, ""};
    }
  }

  auto impact = Level("the host's criticality", host->criticality);
  if (!impact) return impact.error();
  const int priority = tk::Priority(*impact, *urgency);
  const auto& target = sla[static_cast<std::size_t>(priority - 1)];
  std::optional<std::int64_t> assignee;
  if (!s.assignee.empty()) {
    done = Run(
        "SELECT id FROM users WHERE name = ? AND NOT disabled AND role IN ('admin', 'operator')",
        {s.assignee}, [&](const SqlRow& r) { assignee = r.Int(0); });
    if (!done) return done.error();
  }
  const bool assigned = !s.group.empty() || assignee.has_value();
  std::int64_t id = 0;
  done = Run(
      "INSERT INTO tickets (kind, title, description, state, category, impact, urgency, priority, "
      "host_id, fingerprint, source_kind, subject, auto_resolve, last_seen_ms, assignee_group, "
      "assignee_id, created_by, created_ms, updated_ms, response_target_ms, "
      "resolution_target_ms) VALUES ('incident', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
      "?, ?, ?, ?) RETURNING id",
      {s.title,
       s.detail,
       assigned ? "assigned" : "new",
       s.category,
       host->criticality,
       s.urgency,
       priority,
       s.host_id,
       fingerprint,
       s.kind,
       s.subject,
       s.auto_resolve,
       s.at_ms,
       s.group,
       assignee,
       kEngineActor,
       s.at_ms,
       s.at_ms,
       target.first_response_ms,
       target.resolution_ms},
      [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  if (auto st = AddWords("ticket_fts", id, s.title + " " + s.detail); !st) return st.error();
  if (auto st = Event(id, s.at_ms, "created", "incident", "", "new", kEngineActor); !st) {
    return st.error();
  }
  if (!s.group.empty()) {
    if (auto st = Event(id, s.at_ms, "assigned", "group", "", s.group, kEngineActor); !st) {
      return st.error();
    }
  }
  if (assignee) {
    if (auto st = Event(id, s.at_ms, "assigned", "assignee", "", s.assignee, kEngineActor); !st) {
      return st.error();
    }
  }
  if (assigned) {
    if (auto st = Event(id, s.at_ms, "state", "assign", "new", "assigned", kEngineActor); !st) {
      return st.error();
    }
  }
  if (auto st = LinkServiceTasks(id, s); !st) return st.error();
  if (outbox_) {
    auto created = MustRead(id, false);
    if (!created) return created.error();
    if (auto st = Notify("opened", *created, s.at_ms); !st) return st.error();
  }
  if (auto st = tx->Commit(); !st) return st.error();
  return IncidentOutcome{IncidentOutcome::Kind::kOpened, id, ""};
}

Status SqlTickets::LinkServiceTasks(std::int64_t ticket_id, const IncidentSignal& s) {
  if (s.kind != "service") return {};
  // Service tasks acting on the host at the failure: sent or running, or ended failed (or timed
  // out) within a minute of it; newest first. A task that succeeded did not leave the unit
  // failed. Their unit is in the stored spec.
  std::vector<std::tuple<std::int64_t, std::string, std::string, std::string>> candidates;
  auto done = Run(
      "SELECT t.id, t.spec, th.state, t.created_by FROM task_hosts th JOIN tasks t ON t.id = "
      "th.task_id WHERE th.host_id = ? AND t.kind IN ('service.start', 'service.stop', "
      "'service.restart', 'service.reload') AND th.sent_ms IS NOT NULL AND th.sent_ms <= ? AND "
      "th.sent_ms >= ? AND (th.state IN ('sent', 'running') OR (th.state IN ('failed', "
      "'timed_out') AND th.finished_ms >= ?)) ORDER BY th.sent_ms DESC LIMIT 20",
      {s.host_id, s.at_ms + 60'000, s.at_ms - 24 * 3'600'000, s.at_ms - 60'000},
      [&](const SqlRow& r) { candidates.emplace_back(r.Int(0), r.Text(1), r.Text(2), r.Text(3)); });
  if (!done) return done.error();
  for (const auto& [task_id, spec_json, state, by] : candidates) {
    fleetdesk::v1::Task spec;
    if (!codec::FromJson(spec_json, &spec) || spec.service().unit() != s.subject) continue;
    if (auto st = Event(ticket_id, s.at_ms, "task", spec.kind(), "",
                        "task " + std::to_string(task_id) + " (" + spec.kind() + " " + s.subject +
                            " by " + by + ", " + state + ")",
                        kEngineActor);
        !st) {
      return st;
    }
  }
  return {};
}

Result<std::int64_t> SqlTickets::RecoverIncident(const std::string& fingerprint,
                                                 std::int64_t at_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto open = OpenIncident(fingerprint);
  if (!open) return open.error();
  if (!*open) return std::int64_t{0};
  TicketRecord& t = **open;
  if (t.recovered_ms) return t.id;
  t.recovered_ms = at_ms;
  t.updated_ms = std::max(t.updated_ms, at_ms);
  if (auto s = Event(t.id, at_ms, "recovered", t.subject, "down", "up", kEngineActor); !s) {
    return s.error();
  }
  if (auto s = Save(t); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return t.id;
}

Result<std::int64_t> SqlTickets::SetFlapping(const std::string& fingerprint, bool flapping,
                                             std::int64_t at_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  auto open = OpenIncident(fingerprint);
  if (!open) return open.error();
  if (!*open) return std::int64_t{0};
  TicketRecord& t = **open;
  if (t.flapping == flapping) return t.id;
  t.flapping = flapping;
  // While it flaps its recoveries are not news; it settles down or up, said separately.
  if (flapping) t.recovered_ms.reset();
  t.updated_ms = std::max(t.updated_ms, at_ms);
  if (auto s =
          Event(t.id, at_ms, flapping ? "flapping" : "settled", t.subject, "", "", kEngineActor);
      !s) {
    return s.error();
  }
  if (auto s = Save(t); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return t.id;
}

Result<std::vector<std::int64_t>> SqlTickets::ResolveQuietIncidents(
    std::int64_t recovered_before_ms, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::vector<std::int64_t> ids;
  auto done = Run(std::string("SELECT id FROM tickets WHERE state IN ") + kOpenStates +
                      " AND fingerprint IS NOT NULL AND auto_resolve AND NOT flapping AND "
                      "recovered_ms IS NOT NULL AND recovered_ms <= ? ORDER BY id",
                  {recovered_before_ms}, [&](const SqlRow& r) { ids.push_back(r.Int(0)); });
  if (!done) return done.error();
  std::vector<std::int64_t> resolved;
  for (auto id : ids) {
    auto t = MustRead(id, true);
    if (!t) return t.error();
    // Re-checked under the lock: another server may have got there first.
    if (!tk::IsOpen(*tk::ParseState(t->state)) || !t->recovered_ms || t->flapping ||
        *t->recovered_ms > recovered_before_ms || !t->auto_resolve) {
      continue;
    }
    if (auto s = MoveTo(*t, tk::State::kResolved, "resolve", kEngineActor, now_ms); !s) {
      return s.error();
    }
    if (auto s = Save(*t); !s) return s.error();
    if (auto s = Notify("resolved", *t, now_ms); !s) return s.error();
    resolved.push_back(id);
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return resolved;
}

Result<std::vector<std::string>> SqlTickets::OpenFingerprints() {
  std::vector<std::string> out;
  auto done = Run(std::string("SELECT fingerprint FROM tickets WHERE fingerprint IS NOT NULL AND "
                              "state IN ") +
                      kOpenStates,
                  {}, [&](const SqlRow& r) { out.push_back(r.Text(0)); });
  if (!done) return done.error();
  return out;
}

Result<std::vector<SlaBreach>> SqlTickets::RecordSlaBreaches(std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  // Pending tickets are off the clock, so only the three running states are looked at (through
  // the open tickets' index).
  std::vector<std::int64_t> ids;
  auto done =
      Run("SELECT id FROM tickets WHERE state IN ('new', 'assigned', 'in_progress', 'pending') "
          "AND state <> 'pending' AND paused_since_ms IS NULL AND ((responded_ms IS NULL AND "
          "response_breached_ms IS NULL AND "
          "created_ms + response_target_ms + paused_ms < ?) OR (resolution_breached_ms IS NULL AND "
          "created_ms + resolution_target_ms + paused_ms < ?)) ORDER BY id",
          {now_ms, now_ms}, [&](const SqlRow& r) { ids.push_back(r.Int(0)); });
  if (!done) return done.error();
  std::vector<SlaBreach> out;
  for (auto id : ids) {
    auto t = MustRead(id, true);
    if (!t) return t.error();
    if (t->paused_since_ms || !tk::IsOpen(*tk::ParseState(t->state))) continue;
    bool changed = false;
    if (auto due = t->ResponseDueMs(); due && *due < now_ms && !t->response_breached_ms) {
      t->response_breached_ms = *due;
      out.push_back(SlaBreach{id, "response", *due});
      changed = true;
    }
    if (auto due = t->ResolutionDueMs(); due && *due < now_ms && !t->resolution_breached_ms) {
      t->resolution_breached_ms = *due;
      out.push_back(SlaBreach{id, "resolution", *due});
      changed = true;
    }
    if (!changed) continue;
    if (auto s = Save(*t); !s) return s.error();
    // Each clock's breach is an escalation of its own.
    for (auto it = out.rbegin(); it != out.rend() && it->ticket_id == id; ++it) {
      if (auto s = Event(id, it->at_ms, "sla_breach", it->clock, "", "breached", kEngineActor);
          !s) {
        return s.error();
      }
      if (auto s = Notify("escalated", *t, now_ms); !s) return s.error();
    }
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

// Maintenance windows -------------------------------------------------------------------------

Result<MaintenanceWindow> SqlTickets::CreateMaintenanceWindow(const MaintenanceWindow& w,
                                                              const Actor& actor) {
  if (w.host_id.has_value() == !w.tag.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a maintenance window names either a hostId or a tag, not both or neither");
  }
  if (w.ends_ms <= w.starts_ms) {
    return MakeError(ErrorCode::kInvalidArgument, "a maintenance window must end after it starts");
  }
  auto tx = BeginTx();
  if (!tx) return tx.error();
  if (w.host_id) {
    bool found = false;
    auto done = Run("SELECT 1 FROM hosts WHERE id = ? AND archived_ms IS NULL", {*w.host_id},
                    [&](const SqlRow&) { found = true; });
    if (!done) return done.error();
    if (!found) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "hostId: no host (not archived) has id " + std::to_string(*w.host_id));
    }
  }
  MaintenanceWindow out = w;
  out.created_by = actor.name;
  std::optional<std::string> tag;
  if (!w.tag.empty()) tag = w.tag;
  auto done =
      Run("INSERT INTO maintenance_windows (host_id, tag, starts_ms, ends_ms, reason, created_by, "
          "created_ms) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
          {w.host_id, tag, w.starts_ms, w.ends_ms, w.reason, actor.name, w.created_ms},
          [&](const SqlRow& r) { out.id = r.Int(0); });
  if (!done) return done.error();
  auto entry = AuditOf("maintenance.create", "maintenance", out.id, actor, w.created_ms);
  entry.after = {{"host", w.host_id ? std::to_string(*w.host_id) : ""},
                 {"tag", w.tag},
                 {"starts_ms", std::to_string(w.starts_ms)},
                 {"ends_ms", std::to_string(w.ends_ms)},
                 {"reason", w.reason}};
  if (auto s = Audit(entry); !s) return s.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<std::vector<MaintenanceWindow>> SqlTickets::ListMaintenanceWindows(bool past_too,
                                                                          std::int64_t now_ms) {
  std::vector<MaintenanceWindow> out;
  auto done =
      Run("SELECT id, host_id, tag, starts_ms, ends_ms, reason, created_by, created_ms FROM "
          "maintenance_windows WHERE ends_ms > ? ORDER BY starts_ms, id",
          {past_too ? std::int64_t{INT64_MIN} : now_ms}, [&](const SqlRow& r) {
            out.push_back(MaintenanceWindow{r.Int(0), r.OptInt(1), r.Text(2), r.Int(3), r.Int(4),
                                            r.Text(5), r.Text(6), r.Int(7)});
          });
  if (!done) return done.error();
  return out;
}

Status SqlTickets::EndMaintenanceWindow(std::int64_t id, const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<std::pair<std::int64_t, std::int64_t>> span;
  auto done = Run("SELECT starts_ms, ends_ms FROM maintenance_windows WHERE id = ?", {id},
                  [&](const SqlRow& r) { span.emplace(r.Int(0), r.Int(1)); });
  if (!done) return done.error();
  if (!span) {
    return MakeError(ErrorCode::kNotFound, "no maintenance window has id " + std::to_string(id));
  }
  if (span->second <= now_ms) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "maintenance window " + std::to_string(id) + " has already ended");
  }
  // A window that has not started becomes a millisecond in the past: it never starts, and the
  // list of past windows still shows it was planned.
  const std::int64_t starts = std::min(span->first, now_ms - 1);
  if (auto s = Do("UPDATE maintenance_windows SET starts_ms = ?, ends_ms = ? WHERE id = ?",
                  {starts, now_ms, id});
      !s) {
    return s;
  }
  auto entry = AuditOf("maintenance.end", "maintenance", id, actor, now_ms);
  entry.before = {{"ends_ms", std::to_string(span->second)}};
  entry.after = {{"ends_ms", std::to_string(now_ms)}};
  if (auto s = Audit(entry); !s) return s;
  return tx->Commit();
}

}  // namespace fleetdesk::server::store
