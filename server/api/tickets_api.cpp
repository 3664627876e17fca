// The ticket desk under /api/v1: tickets, their workflow steps, timeline, notes and worklog, and
// maintenance windows. Requesters see and act on their own tickets only; to them another's ticket
// does not exist.
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/config.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/tickets.pb.h"
#include "server/api/api.hpp"
#include "server/api/params.hpp"
#include "server/engine/clock.hpp"
#include "server/engine/ticket_proto.hpp"
#include "server/engine/ticket_workflow.hpp"

namespace fleetdesk::server::api {
namespace {

using google::protobuf::util::TimeUtil;
namespace tk = engine::tickets;

constexpr std::size_t kMaxTicketBody = 256 * 1024;  // a description or note pasted from a log
constexpr std::size_t kMaxWorklogBody = 32 * 1024;
constexpr std::size_t kMaxTitle = 200;
constexpr std::size_t kMaxText = 128 * 1024;
constexpr std::size_t kMaxWorklogNote = 16 * 1024;
constexpr std::size_t kMaxName = 100;  // categories, groups, tasks
constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 500;

google::protobuf::Timestamp Ts(std::int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }

bool IsRequester(const Call& call) { return call.who->role == "requester"; }

// A requester's view of the desk holds their own tickets only.
Status Visible(const Call& call, const store::TicketRecord& t) {
  if (IsRequester(call) && t.requester_id != call.who->user_id) {
    return MakeError(ErrorCode::kNotFound, "no ticket has id " + std::to_string(t.id));
  }
  return {};
}

Status CheckText(const std::string& value, const char* field, std::size_t most, bool required) {
  if (required && value.empty()) return Invalid(std::string(field) + " is required");
  if (value.size() > most) {
    return Invalid(std::string(field) + " is at most " + std::to_string(most) + " bytes");
  }
  return {};
}

Result<std::optional<std::string>> Level(const std::string& value, const char* field) {
  if (value.empty()) return std::optional<std::string>();
  if (!tk::ParseLevel(value)) {
    return Invalid(std::string(field) + " must be low, medium, high or critical, not '" + value +
                   "'");
  }
  return std::optional<std::string>(value);
}

struct PageQuery {
  int limit = kDefaultPage;
  std::optional<std::int64_t> before_id;
};

// A stream's query: `limit` and `cursor`, nothing else.
Result<PageQuery> ParsePageQuery(const std::string& query_string, const char* resource) {
  auto query = ParseQuery(query_string);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"limit", "cursor"}, resource); !s) return s.error();
  PageQuery out;
  auto limit = ParseLimit(*query, kDefaultPage, kMaxPage);
  if (!limit) return limit.error();
  out.limit = *limit;
  if (auto it = query->find("cursor"); it != query->end()) {
    auto cursor = ParseCursor(it->second);
    if (!cursor) return cursor.error();
    out.before_id = *cursor;
  }
  return out;
}

// The filters a ticket list and a ticket search share. A requester's are narrowed to their own
// tickets whatever they asked for.
Status ParseTicketFilters(const std::map<std::string, std::string>& query, const Call& call,
                          store::TicketQuery& q) {
  for (const auto& [key, value] : query) {
    if (key == "state") {
      std::size_t start = 0;
      while (start <= value.size()) {
        auto end = std::min(value.find(',', start), value.size());
        auto state = value.substr(start, end - start);
        if (state != "open" && !tk::ParseState(state)) {
          return Invalid(
              "state must be open, new, assigned, in_progress, pending, resolved or "
              "closed (comma-separated), not '" +
              state + "'");
        }
        q.states.push_back(state);
        start = end + 1;
      }
    } else if (key == "kind") {
      if (value != "incident" && value != "request") {
        return Invalid("kind must be incident or request, not '" + value + "'");
      }
      q.kind = value;
    } else if (key == "priority") {
      auto p = ParseInt(value, "priority");
      if (!p) return p.error();
      if (*p < 1 || *p > 5) return Invalid("priority must be 1 to 5");
      q.priority = static_cast<int>(*p);
    } else if (key == "group") {
      q.group = value;
    } else if (key == "category") {
      q.category = value;
    } else if (key == "assignee") {
      if (value == "me") {
        q.assignee_id = call.who->user_id;
      } else {
        auto id = ParseInt(value, "assignee");
        if (!id) return Invalid("assignee must be a user id or me, not '" + value + "'");
        q.assignee_id = *id;
      }
    } else if (key == "requester" || key == "host") {
      auto id = ParseInt(value, key);
      if (!id) return id.error();
      (key == "host" ? q.host_id : q.requester_id) = *id;
    } else if (key == "unassigned" || key == "breached") {
      if (value != "true" && value != "false") return Invalid(key + " must be true or false");
      (key == "unassigned" ? q.unassigned : q.breached) = value == "true";
    } else if (key == "from" || key == "to") {
      auto t = ParseTime(value, key);
      if (!t) return t.error();
      (key == "from" ? q.from_ms : q.to_ms) = *t;
    }
  }
  if (IsRequester(call)) q.requester_id = call.who->user_id;
  return {};
}

}  // namespace

Result<store::TicketRecord> Api::VisibleTicket(const Call& call, store::Store& store) {
  auto ticket = store.GetTicket(call.id());
  if (!ticket) return ticket.error();
  if (!*ticket)
    return MakeError(ErrorCode::kNotFound, "no ticket has id " + std::to_string(call.id()));
  if (auto s = Visible(call, **ticket); !s) return s.error();
  return std::move(**ticket);
}

Result<http::Response> Api::ListTickets(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s =
          OnlyKeys(*query,
                   {"state", "kind", "priority", "group", "assignee", "unassigned", "requester",
                    "host", "category", "from", "to", "breached", "sort", "limit", "cursor"},
                   "tickets");
      !s) {
    return s.error();
  }
  store::TicketQuery q;
  auto limit = ParseLimit(*query, kDefaultPage, kMaxPage);
  if (!limit) return limit.error();
  q.limit = *limit;
  if (auto s = ParseTicketFilters(*query, call, q); !s) return s.error();
  if (auto it = query->find("sort"); it != query->end()) {
    const auto& sort = it->second;
    if (sort == "newest") {
      q.sort = store::TicketSort::kNewest;
    } else if (sort == "oldest") {
      q.sort = store::TicketSort::kOldest;
    } else if (sort == "priority") {
      q.sort = store::TicketSort::kPriority;
    } else if (sort == "updated") {
      q.sort = store::TicketSort::kUpdated;
    } else {
      return Invalid("sort must be newest, oldest, priority or updated, not '" + sort + "'");
    }
  }
  if (auto it = query->find("cursor"); it != query->end()) {
    // newest: the last id; the other orders: "KEY.ID" (oldest: "0.ID"), as nextCursor gives it.
    if (q.sort == store::TicketSort::kNewest) {
      auto before = ParseCursor(it->second);
      if (!before) return before.error();
      q.before_id = *before;
    } else {
      const auto& text = it->second;
      const auto dot = text.find('.');
      auto key = dot == std::string::npos ? Result<std::int64_t>(Invalid(""))
                                          : ParseInt(text.substr(0, dot), "cursor");
      auto id = dot == std::string::npos ? Result<std::int64_t>(Invalid(""))
                                         : ParseCursor(text.substr(dot + 1));
      if (!key || !id || *key < 0) {
        return Invalid("cursor is not one this server gave out for sort=" +
                       query->find("sort")->second);
      }
      q.after = store::TicketCursor{*key, *id};
    }
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto page = (*store)->ListTickets(q);
  if (!page) return page.error();
  fleetdesk::v1::TicketList out;
  for (const auto& t : page->items) *out.add_items() = engine::TicketProto(t);
  if (page->next_before_id) out.set_next_cursor(std::to_string(*page->next_before_id));
  if (page->next) {
    out.set_next_cursor(std::to_string(page->next->key) + "." + std::to_string(page->next->id));
  }
  return Json(200, out);
}

Result<http::Response> Api::SearchTickets(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query,
                        {"q", "state", "kind", "priority", "group", "assignee", "unassigned",
                         "requester", "host", "category", "from", "to", "breached", "limit"},
                        "the ticket search");
      !s) {
    return s.error();
  }
  store::TicketSearchQuery q;
  auto text = query->find("q");
  if (text == query->end()) return Invalid("q is required: the words to search for");
  q.text = text->second;
  auto limit = ParseLimit(*query, 20, 100);
  if (!limit) return limit.error();
  q.limit = *limit;
  if (auto s = ParseTicketFilters(*query, call, q.filters); !s) return s.error();
  q.internal_notes = access::RoleMay(call.who->role, {"notes", "read_internal"});
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto hits = (*store)->SearchTickets(q);
  if (!hits) return hits.error();
  fleetdesk::v1::TicketSearchResults out;
  for (const auto& hit : *hits) {
    auto* item = out.add_items();
    *item->mutable_ticket() = engine::TicketProto(hit.ticket);
    item->set_score(hit.score);
    for (const auto& m : hit.matches) {
      auto* match = item->add_matches();
      match->set_kind(m.kind);
      match->set_id(m.id);
      *match->mutable_at() = Ts(m.at_ms);
      match->set_snippet(m.snippet);
    }
  }
  return Json(200, out);
}

Result<http::Response> Api::CreateTicket(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::NewTicket>(call.request, kMaxTicketBody);
  if (!body) return body.error();
  store::NewTicket n;
  n.kind = body->kind().empty() ? "request" : body->kind();
  if (n.kind != "request" && n.kind != "incident") {
    return Invalid("kind must be request or incident, not '" + n.kind + "'");
  }
  if (auto s = CheckText(body->title(), "title", kMaxTitle, true); !s) return s.error();
  if (auto s = CheckText(body->description(), "description", kMaxText, false); !s) {
    return s.error();
  }
  if (auto s = CheckText(body->category(), "category", kMaxName, false); !s) return s.error();
  if (auto s = CheckText(body->group(), "group", kMaxName, false); !s) return s.error();
  auto impact = Level(body->impact(), "impact");
  if (!impact) return impact.error();
  auto urgency = Level(body->urgency(), "urgency");
  if (!urgency) return urgency.error();
  if (body->host_id() < 0) return Invalid("hostId must be a host's id");
  if (IsRequester(call) &&
      (n.kind != "request" || *impact || body->host_id() != 0 || !body->group().empty())) {
    return MakeError(ErrorCode::kPermissionDenied,
                     "requesters file requests; the kind, impact, host and group are set by "
                     "operators");
  }
  n.title = body->title();
  n.description = body->description();
  n.category = body->category();
  n.impact = *impact;
  n.urgency = urgency->value_or("medium");
  if (body->host_id() != 0) n.host_id = body->host_id();
  n.group = body->group();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (n.group.empty() && !options_.assignment.empty()) {
    // Routed as incidents are: by category, and by the host's tags when it names one (a host
    // that is not there is refused by the store, with the reason).
    std::vector<std::string> tags;
    if (n.host_id) {
      auto view = (*store)->GetHostView(*n.host_id);
      if (!view) return view.error();
      if (*view) tags = (*view)->attributes.tags;
    }
    if (const auto* rule =
            engine::incidents::FirstAssignment(options_.assignment, n.category, "", tags)) {
      n.group = rule->group;
      n.assignee = rule->assignee;
      n.routed = true;
    }
  }
  auto ticket = (*store)->CreateTicket(n, options_.sla, call.Actor(), NowMs());
  if (!ticket) return ticket.error();
  return Json(201, engine::TicketProto(*ticket));
}

Result<http::Response> Api::GetTicket(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto ticket = VisibleTicket(call, **store);
  if (!ticket) return ticket.error();
  auto out = engine::TicketProto(*ticket);
  // What the caller may do now: the workflow's steps from here that the caller's role and token
  // allow.
  auto state = tk::ParseState(ticket->state);
  if (state) {
    const bool has_assignee = ticket->assignee_id.has_value() || !ticket->group.empty();
    for (auto action : tk::Offered(*state, has_assignee)) {
      if (access::Authorize(*call.who, {"tickets", tk::ActionName(action)})) {
        out.add_actions(std::string(tk::ActionName(action)));
      }
    }
  }
  return Json(200, out);
}

Result<http::Response> Api::PatchTicket(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::TicketChange>(call.request, kMaxTicketBody);
  if (!body) return body.error();
  store::TicketPatch patch;
  if (body->has_title()) {
    if (auto s = CheckText(body->title(), "title", kMaxTitle, true); !s) return s.error();
    patch.title = body->title();
  }
  if (body->has_description()) {
    if (auto s = CheckText(body->description(), "description", kMaxText, false); !s) {
      return s.error();
    }
    patch.description = body->description();
  }
  if (body->has_category()) {
    if (auto s = CheckText(body->category(), "category", kMaxName, false); !s) return s.error();
    patch.category = body->category();
  }
  if (body->has_impact()) patch.impact = body->impact();
  if (body->has_urgency()) patch.urgency = body->urgency();
  if (body->has_priority()) patch.priority = body->priority();
  if (body->has_priority_reason()) {
    if (auto s = CheckText(body->priority_reason(), "priorityReason", kMaxTitle, false); !s) {
      return s.error();
    }
    patch.priority_reason = body->priority_reason();
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto ticket = (*store)->PatchTicket(call.id(), patch, options_.sla, call.Actor(), NowMs());
  if (!ticket) return ticket.error();
  return Json(200, engine::TicketProto(*ticket));
}

Result<http::Response> Api::ActOnTicket(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::TicketActionRequest>(call.request, kMaxTicketBody);
  if (!body) return body.error();
  auto action = tk::ParseAction(body->action());
  if (!action) {
    return Invalid("action must be assign, start, pend, resolve, reopen or close, not '" +
                   body->action() + "'");
  }
  if (auto s = access::Authorize(*call.who, {"tickets", tk::ActionName(*action)}); !s) {
    return s.error();
  }
  if (auto s = CheckText(body->comment(), "comment", kMaxText, false); !s) return s.error();
  store::TicketAction a;
  a.action = body->action();
  if (body->has_group()) {
    if (auto s = CheckText(body->group(), "group", kMaxName, true); !s) return s.error();
    a.group = body->group();
  }
  if (body->has_assignee_id()) a.assignee_id = body->assignee_id();
  if (*action != tk::Action::kAssign && (a.group || a.assignee_id)) {
    return Invalid("group and assigneeId go with the assign action only");
  }
  a.comment = body->comment();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  // A resolution or reopening and its notifications are written together.
  (*store)->SetOutbox(outbox_);
  auto ticket = (*store)->ActOnTicket(call.id(), a, call.Actor(), NowMs());
  if (!ticket) return ticket.error();
  if ((*action == tk::Action::kResolve || *action == tk::Action::kReopen) &&
      !options_.notify.routes.empty() && options_.notified) {
    options_.notified();
  }
  return Json(200, engine::TicketProto(*ticket));
}

Result<http::Response> Api::TicketTimeline(const Call& call) {
  auto page_query = ParsePageQuery(call.request.query, "the timeline");
  if (!page_query) return page_query.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  auto page = (*store)->ListTicketEvents(call.id(), page_query->before_id, page_query->limit);
  if (!page) return page.error();
  fleetdesk::v1::TicketEventList out;
  for (const auto& e : page->items) {
    auto* item = out.add_items();
    item->set_id(e.id);
    *item->mutable_at() = Ts(e.at_ms);
    item->set_kind(e.kind);
    item->set_subject(e.subject);
    item->set_old_value(e.old_value);
    item->set_new_value(e.new_value);
    item->set_actor(e.actor);
  }
  if (page->next_before_id) out.set_next_cursor(std::to_string(*page->next_before_id));
  return Json(200, out);
}

Result<http::Response> Api::ListNotes(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  const bool internal = access::RoleMay(call.who->role, {"notes", "read_internal"});
  auto notes = (*store)->ListNotes(call.id(), internal);
  if (!notes) return notes.error();
  fleetdesk::v1::NoteList out;
  for (const auto& n : *notes) {
    auto* item = out.add_items();
    item->set_id(n.id);
    *item->mutable_at() = Ts(n.at_ms);
    item->set_author(n.author);
    item->set_internal(n.internal);
    item->set_body(n.body);
  }
  return Json(200, out);
}

Result<http::Response> Api::AddNote(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::NewNote>(call.request, kMaxTicketBody);
  if (!body) return body.error();
  if (auto s = access::Authorize(*call.who, {"notes", body->internal() ? "internal" : "public"});
      !s) {
    return s.error();
  }
  if (auto s = CheckText(body->body(), "body", kMaxText, true); !s) return s.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  store::TicketNote note;
  note.internal = body->internal();
  note.body = body->body();
  auto added = (*store)->AddNote(call.id(), note, call.Actor(), NowMs());
  if (!added) return added.error();
  fleetdesk::v1::Note out;
  out.set_id(added->id);
  *out.mutable_at() = Ts(added->at_ms);
  out.set_author(added->author);
  out.set_internal(added->internal);
  out.set_body(added->body);
  return Json(201, out);
}

namespace {

fleetdesk::v1::Attachment ToProto(const store::TicketAttachment& a) {
  fleetdesk::v1::Attachment out;
  out.set_id(a.id);
  *out.mutable_at() = Ts(a.at_ms);
  out.set_author(a.author);
  out.set_name(a.name);
  out.set_content_type(a.content_type);
  out.set_size_bytes(a.size_bytes);
  out.set_sha256(a.sha256);
  return out;
}

}  // namespace

Result<http::Response> Api::ListAttachments(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  auto attachments = (*store)->ListAttachments(call.id());
  if (!attachments) return attachments.error();
  fleetdesk::v1::AttachmentList out;
  for (const auto& a : *attachments) *out.add_items() = ToProto(a);
  return Json(200, out);
}

// The body is the file itself, its type in Content-Type and its name in ?name=, as curl
// --data-binary sends it; no multipart to take apart.
Result<http::Response> Api::AddAttachment(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"name"}, "an attachment"); !s) return s.error();
  const auto& options = options_.attachments;
  auto name = query->find("name");
  auto type = CheckAttachment(name == query->end() ? std::string() : name->second,
                              call.request.content_type, call.request.body, options);
  if (!type) return type.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  // Visible and open before any byte is written.
  auto ticket = VisibleTicket(call, **store);
  if (!ticket) return ticket.error();
  if (ticket->state == "closed") return store::TicketClosed(ticket->id);
  store::TicketAttachment a;
  a.name = name->second;
  a.content_type = *type;
  a.size_bytes = static_cast<std::int64_t>(call.request.body.size());
  a.sha256 = crypto::Sha256Hex(call.request.body);
  a.in_files = !options.dir.empty();
  // The file before its row: a crash in between leaves a file nobody lists, never a row whose
  // bytes are missing.
  if (a.in_files) {
    if (auto s = AttachmentFiles(options.dir).Put(a.sha256, call.request.body); !s) {
      spdlog::error("cannot store an attachment: {}", s.error().message);
      return MakeError(ErrorCode::kUnavailable, "the attachment could not be stored");
    }
  }
  auto added = (*store)->AddAttachment(call.id(), a, a.in_files ? "" : call.request.body,
                                       call.Actor(), NowMs());
  if (!added) return added.error();
  if (a.in_files) {
    // A removal of an attachment with the same bytes may have taken the file since it was put:
    // put again (Put writes only a missing file), so a listed attachment never lacks its bytes.
    if (auto s = AttachmentFiles(options.dir).Put(a.sha256, call.request.body); !s) {
      spdlog::error("attachment {} of ticket {}: cannot store its file again: {}", added->id,
                    added->ticket_id, s.error().message);
    }
  }
  return Json(201, ToProto(*added));
}

// The row goes first, then the file unless another attachment has the same bytes: a failure in
// between leaves a file nobody lists, never a listed attachment without its bytes.
Result<http::Response> Api::RemoveAttachment(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  auto removed = (*store)->RemoveAttachment(call.id(), call.ids.at(1), call.Actor(), NowMs());
  if (!removed) return removed.error();
  if (removed->in_files && options_.attachments.dir.empty()) {
    spdlog::warn(
        "attachment {} of ticket {} removed; its file stays in an attachment directory this "
        "server does not have (tickets.attachment_dir)",
        removed->id, removed->ticket_id);
  } else if (removed->in_files) {
    auto& db = **store;
    auto s = AttachmentFiles(options_.attachments.dir).Remove(removed->sha256, [&] {
      return db.AttachmentFileUsed(removed->sha256);
    });
    if (!s) {
      spdlog::error("attachment {} of ticket {} removed; its file stays: {}", removed->id,
                    removed->ticket_id, s.error().message);
    }
  }
  return Json(200, ToProto(*removed));
}

Result<http::Response> Api::GetAttachmentContent(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  auto found = (*store)->GetAttachment(call.id(), call.ids.at(1));
  if (!found) return found.error();
  if (!*found) {
    return MakeError(ErrorCode::kNotFound, "ticket " + std::to_string(call.id()) +
                                               " has no attachment " +
                                               std::to_string(call.ids.at(1)));
  }
  auto& [a, content] = **found;
  if (a.in_files) {
    if (options_.attachments.dir.empty()) {
      return MakeError(ErrorCode::kUnavailable,
                       "attachment " + std::to_string(a.id) +
                           " is in an attachment directory, and this server has none "
                           "(tickets.attachment_dir)");
    }
    auto bytes = AttachmentFiles(options_.attachments.dir).Get(a.sha256);
    if (!bytes) {
      spdlog::error("attachment {} of ticket {}: {}", a.id, a.ticket_id, bytes.error().message);
      return MakeError(ErrorCode::kInternal,
                       "attachment " + std::to_string(a.id) + " cannot be read; see the log");
    }
    content = std::move(*bytes);
  }
  http::Response response;
  response.content_type = a.content_type;
  response.body = std::move(content);
  // Always a download, never a page of ours: an HTML or SVG file someone attached must not run
  // in the dashboard's origin.
  response.headers.emplace_back("Content-Disposition", AttachmentDisposition(a.name));
  response.headers.emplace_back("Content-Security-Policy", "default-src 'none'; sandbox");
  return response;
}

namespace {

// A webhook's URL as far as its host: Slack's and most others' carry their secret in the path,
// and a user:password@ before the host is one too.
std::string ShownTarget(const store::NotificationRecord& n) {
  if (n.channel != "webhook") return n.target;
  const auto scheme = n.target.find("://");
  if (scheme == std::string::npos) return "(a URL)";
  const auto authority = scheme + 3;
  const auto path = std::min(n.target.find_first_of("/?#", authority), n.target.size());
  auto host = n.target.substr(authority, path - authority);
  if (auto at = host.rfind('@'); at != std::string::npos) host.erase(0, at + 1);
  return n.target.substr(0, authority) + host + (path < n.target.size() ? "/…" : "");
}

}  // namespace

Result<http::Response> Api::ListTicketNotifications(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto t = VisibleTicket(call, **store); !t) return t.error();
  auto sent = (*store)->ListNotifications(call.id());
  if (!sent) return sent.error();
  fleetdesk::v1::SentNotificationList out;
  for (const auto& n : *sent) {
    auto* item = out.add_items();
    item->set_id(n.id);
    item->set_event(n.event);
    item->set_route(n.route);
    item->set_channel(n.channel);
    item->set_target(ShownTarget(n));
    item->set_status(n.delivered_ms ? "delivered" : n.failed_ms ? "failed" : "pending");
    item->set_attempts(n.attempts);
    *item->mutable_created_at() = Ts(n.created_ms);
    if (n.delivered_ms) {
      *item->mutable_delivered_at() = Ts(*n.delivered_ms);
    } else if (n.failed_ms) {
      *item->mutable_failed_at() = Ts(*n.failed_ms);
    } else {
      *item->mutable_next_attempt_at() = Ts(n.next_ms);
    }
    item->set_last_error(n.last_error);
  }
  return Json(200, out);
}

Result<http::Response> Api::ListWorklog(const Call& call) {
  auto page_query = ParsePageQuery(call.request.query, "the worklog");
  if (!page_query) return page_query.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto ticket = VisibleTicket(call, **store);
  if (!ticket) return ticket.error();
  auto page = (*store)->ListWorklog(call.id(), page_query->before_id, page_query->limit);
  if (!page) return page.error();
  fleetdesk::v1::WorklogList out;
  for (const auto& e : page->items) {
    auto* item = out.add_items();
    item->set_id(e.id);
    *item->mutable_at() = Ts(e.at_ms);
    item->set_task(e.task);
    item->set_note(e.note);
    item->set_actor(e.actor);
  }
  if (page->next_before_id) out.set_next_cursor(std::to_string(*page->next_before_id));
  out.set_total(ticket->worklog_count);
  return Json(200, out);
}

Result<http::Response> Api::AppendWorklog(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::NewWorklogEntry>(call.request, kMaxWorklogBody);
  if (!body) return body.error();
  if (auto s = CheckText(body->task(), "task", kMaxName, true); !s) return s.error();
  if (auto s = CheckText(body->note(), "note", kMaxWorklogNote, true); !s) return s.error();
  store::WorklogEntry entry;
  entry.at_ms = NowMs();
  entry.task = body->task();
  entry.note = body->note();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto added = (*store)->AppendWorklog(call.id(), entry, call.Actor());
  if (!added) return added.error();
  fleetdesk::v1::WorklogEntry out;
  out.set_id(added->id);
  *out.mutable_at() = Ts(added->at_ms);
  out.set_task(added->task);
  out.set_note(added->note);
  out.set_actor(added->actor);
  return Json(201, out);
}

// Maintenance windows ---------------------------------------------------------------------------

namespace {

fleetdesk::v1::MaintenanceWindow ToProto(const store::MaintenanceWindow& w) {
  fleetdesk::v1::MaintenanceWindow out;
  out.set_id(w.id);
  out.set_host_id(w.host_id.value_or(0));
  out.set_tag(w.tag);
  *out.mutable_starts_at() = Ts(w.starts_ms);
  *out.mutable_ends_at() = Ts(w.ends_ms);
  out.set_reason(w.reason);
  out.set_created_by(w.created_by);
  *out.mutable_created_at() = Ts(w.created_ms);
  return out;
}

}  // namespace

Result<http::Response> Api::ListMaintenance(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"all"}, "maintenance"); !s) return s.error();
  bool all = false;
  if (auto it = query->find("all"); it != query->end()) {
    if (it->second != "true" && it->second != "false") return Invalid("all must be true or false");
    all = it->second == "true";
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto windows = (*store)->ListMaintenanceWindows(all, NowMs());
  if (!windows) return windows.error();
  fleetdesk::v1::MaintenanceWindowList out;
  for (const auto& w : *windows) *out.add_items() = ToProto(w);
  return Json(200, out);
}

Result<http::Response> Api::CreateMaintenance(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::NewMaintenanceWindow>(call.request, kMaxWorklogBody);
  if (!body) return body.error();
  const auto now = NowMs();
  store::MaintenanceWindow w;
  if (body->host_id() < 0) return Invalid("hostId must be a host's id");
  if (body->host_id() != 0) w.host_id = body->host_id();
  if (auto s = CheckText(body->tag(), "tag", kMaxName, false); !s) return s.error();
  w.tag = body->tag();
  if (auto s = CheckText(body->reason(), "reason", kMaxTitle, false); !s) return s.error();
  w.reason = body->reason();
  w.starts_ms = body->has_starts_at() ? TimeUtil::TimestampToMilliseconds(body->starts_at()) : now;
  if (body->has_ends_at() == !body->duration().empty()) {
    return Invalid("a maintenance window takes endsAt or duration (e.g. \"2h\"), one of them");
  }
  if (body->has_ends_at()) {
    w.ends_ms = TimeUtil::TimestampToMilliseconds(body->ends_at());
  } else {
    auto duration = config::ParseDuration(body->duration());
    if (!duration) return Invalid("duration: " + duration.error().message);
    if (duration->count() <= 0 || *duration > std::chrono::hours(24 * 366)) {
      return Invalid("duration must be more than 0 and at most 366 days");
    }
    w.ends_ms =
        w.starts_ms + std::chrono::duration_cast<std::chrono::milliseconds>(*duration).count();
  }
  if (w.ends_ms <= now) return Invalid("a maintenance window must end in the future");
  w.created_ms = now;
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto created = (*store)->CreateMaintenanceWindow(w, call.Actor());
  if (!created) return created.error();
  return Json(201, ToProto(*created));
}

Result<http::Response> Api::EndMaintenance(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  if (auto s = (*store)->EndMaintenanceWindow(call.id(), call.Actor(), NowMs()); !s) {
    return s.error();
  }
  auto windows = (*store)->ListMaintenanceWindows(true, 0);
  if (!windows) return windows.error();
  for (const auto& w : *windows) {
    if (w.id == call.id()) return Json(200, ToProto(w));
  }
  return MakeError(ErrorCode::kInternal, "maintenance window vanished after it ended");
}

}  // namespace fleetdesk::server::api
