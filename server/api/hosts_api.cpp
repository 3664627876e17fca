// /api/v1/hosts... and /api/v1/search: the asset database over REST.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>

#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "server/api/api.hpp"
#include "server/api/hosts_io.hpp"
#include "server/api/params.hpp"
#include "server/engine/clock.hpp"
#include "server/store/search_text.hpp"

namespace fleetdesk::server::api {
namespace {

using google::protobuf::util::TimeUtil;

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr int kDefaultSearchHits = 20;
constexpr int kMaxSearchHits = 100;
// Tickets the global search adds after the fleet's hits; the ticket search has the rest.
constexpr int kTicketHits = 5;
constexpr std::size_t kMaxQueryText = 200;
constexpr std::int64_t kDayMs = 24LL * 3600 * 1000;
// Ranges up to this long are answered with raw samples when the caller says "auto".
constexpr std::int64_t kRawRangeMs = kDayMs;
constexpr std::int64_t kMaxRangeMs = 400 * kDayMs;

fleetdesk::v1::Host ToProto(const store::HostView& v) {
  const auto& h = v.record;
  fleetdesk::v1::Host out;
  out.set_id(h.id);
  out.set_agent_id(h.agent_id);
  out.set_hostname(h.hostname);
  out.set_machine_id(h.machine_id);
  auto* os = out.mutable_os();
  os->set_name(h.os_name);
  os->set_version(h.os_version);
  os->set_pretty_name(h.os_pretty_name);
  os->set_kernel(h.kernel);
  os->set_architecture(h.architecture);
  out.set_agent_version(h.agent_version);
  *out.mutable_first_seen() = TimeUtil::MillisecondsToTimestamp(h.first_seen_ms);
  *out.mutable_last_seen() = TimeUtil::MillisecondsToTimestamp(h.last_seen_ms);
  out.set_connected(h.connected);
  out.set_uptime_seconds(h.uptime_seconds);
  out.set_load1(h.load1);
  out.set_load5(h.load5);
  out.set_load15(h.load15);
  out.set_last_seq(h.last_seq);
  out.set_status(v.StatusName());
  out.set_serial(v.serial);
  const auto& a = v.attributes;
  out.set_owner(a.owner);
  out.set_location(a.location);
  out.set_environment(a.environment);
  out.set_role(a.role);
  out.set_criticality(a.criticality);
  out.set_notes(a.notes);
  for (const auto& tag : a.tags) out.add_tags(tag);
  if (v.unreachable_since_ms) {
    *out.mutable_unreachable_since() = TimeUtil::MillisecondsToTimestamp(*v.unreachable_since_ms);
  }
  if (v.archived_ms) {
    *out.mutable_archived_at() = TimeUtil::MillisecondsToTimestamp(*v.archived_ms);
  }
  out.set_certificate_serial(h.cert_serial);
  if (h.cert_not_after > 0) {
    *out.mutable_certificate_not_after() = TimeUtil::SecondsToTimestamp(h.cert_not_after);
  }
  return out;
}

// The freshest view of a host: the store has what was committed, the engine what arrived since.
// With several servers the agent may report to another one: then this server's memory is older
// than the store, and the store's row is the one to show.
store::HostView Freshest(store::HostView view, engine::StateEngine& engine) {
  if (view.record.agent_id.empty() || view.archived_ms) return view;
  auto live = engine.Find(view.record.agent_id);
  if (live && live->last_seen_ms >= view.record.last_seen_ms) {
    // The certificate is the store's to know: a renewal is recorded there, not in memory.
    live->cert_serial = std::move(view.record.cert_serial);
    live->cert_not_after = view.record.cert_not_after;
    view.record = std::move(*live);
  }
  return view;
}

// Cursors name their sort, so a cursor of one ordering is refused by another.
std::string EncodeCursor(const std::string& sort, const store::HostCursor& c) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char ch : c.value) {
    hex += kHex[ch >> 4];
    hex += kHex[ch & 15];
  }
  return sort + "." + hex + "." + std::to_string(c.id);
}

Result<store::HostCursor> DecodeCursor(const std::string& sort, const std::string& text) {
  auto bad = Invalid("cursor is not one this server gave out for sort=" + sort);
  auto first = text.find('.');
  auto last = text.rfind('.');
  if (first == std::string::npos || first == last || text.substr(0, first) != sort) return bad;
  const std::string hex = text.substr(first + 1, last - first - 1);
  if (hex.size() % 2 != 0) return bad;
  store::HostCursor cursor;
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
    if (ec != std::errc() || end != hex.data() + i + 2) return bad;
    cursor.value += static_cast<char>(value);
  }
  auto id = ParseInt(text.substr(last + 1), "cursor");
  if (!id) return bad;
  cursor.id = *id;
  return cursor;
}

// The filters and order of a hosts list, from the query string (shared by list and export).
Result<store::HostQuery> HostQueryFrom(const std::map<std::string, std::string>& query,
                                       std::string* sort_name) {
  store::HostQuery q;
  std::string sort = "id";
  for (const auto& [key, value] : query) {
    if (key == "status") {
      if (value != "pending" && value != "online" && value != "offline" && value != "unreachable" &&
          value != "archived") {
        return Invalid("status must be pending, online, offline, unreachable or archived, not '" +
                       value + "'");
      }
      q.status = value;
    } else if (key == "tag") {
      q.tag = value;
    } else if (key == "environment") {
      q.environment = value;
    } else if (key == "os") {
      q.os = value;
    } else if (key == "q") {
      if (value.size() > kMaxQueryText) return Invalid("q is longer than 200 bytes");
      q.text = value;
    } else if (key == "service") {
      q.service = value;
    } else if (key == "package") {
      q.package = value;
    } else if (key == "sort") {
      sort = value;
    }
  }
  std::string field = sort;
  if (!field.empty() && field[0] == '-') {
    q.descending = true;
    field.erase(0, 1);
  }
  if (field == "id") {
    q.sort = store::HostSort::kId;
  } else if (field == "hostname") {
    q.sort = store::HostSort::kHostname;
  } else if (field == "lastSeen") {
    q.sort = store::HostSort::kLastSeen;
  } else if (field == "environment") {
    q.sort = store::HostSort::kEnvironment;
  } else if (field == "criticality") {
    q.sort = store::HostSort::kCriticality;
  } else {
    return Invalid(
        "sort must be id, hostname, lastSeen, environment or criticality (with '-' "
        "first for descending), not '" +
        sort + "'");
  }
  *sort_name = sort;
  return q;
}

// A JSON object's members, to tell "absent" from "empty" in a PATCH.
Result<google::protobuf::Struct> ParseObject(const std::string& body) {
  if (body.empty()) return Invalid("the body must be a JSON object");
  google::protobuf::Struct object;
  if (auto s = codec::FromJson(body, &object, codec::Limits{64 * 1024, 8}); !s) {
    return Invalid("the body must be a JSON object: " + s.error().message);
  }
  return object;
}

// The attributes a JSON object sets. `identity`: hostname and serial may be set too.
Result<store::AttributePatch> PatchFrom(const google::protobuf::Struct& object) {
  store::AttributePatch patch;
  for (const auto& [key, value] : object.fields()) {
    if (key == "tags") {
      if (value.kind_case() != google::protobuf::Value::kListValue) {
        return Invalid("tags must be a list of strings");
      }
      std::vector<std::string> tags;
      for (const auto& item : value.list_value().values()) {
        if (item.kind_case() != google::protobuf::Value::kStringValue) {
          return Invalid("tags must be a list of strings");
        }
        tags.push_back(item.string_value());
      }
      if (auto s = CheckTags(tags); !s) return s.error();
      patch.tags = tags;
      continue;
    }
    static const std::map<std::string, std::optional<std::string> store::AttributePatch::*>
        kFields = {{"hostname", &store::AttributePatch::hostname},
                   {"serial", &store::AttributePatch::serial},
                   {"owner", &store::AttributePatch::owner},
                   {"location", &store::AttributePatch::location},
                   {"environment", &store::AttributePatch::environment},
                   {"role", &store::AttributePatch::role},
                   {"criticality", &store::AttributePatch::criticality},
                   {"notes", &store::AttributePatch::notes}};
    auto field = kFields.find(key);
    if (field == kFields.end()) {
      return Invalid("unknown field '" + key +
                     "'; hosts take hostname, serial, owner, location, environment, role, "
                     "criticality, notes and tags");
    }
    if (value.kind_case() != google::protobuf::Value::kStringValue) {
      return Invalid(key + " must be a string");
    }
    if (auto s = CheckAttribute(key, value.string_value()); !s) return s.error();
    patch.*(field->second) = value.string_value();
  }
  return patch;
}

}  // namespace

Result<http::Response> Api::ListHosts(const Call& call) {
  const auto& request = call.request;
  auto query = ParseQuery(request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query,
                        {"status", "tag", "environment", "os", "q", "service", "package", "sort",
                         "limit", "cursor"},
                        "hosts");
      !s) {
    return s.error();
  }
  std::string sort;
  auto q = HostQueryFrom(*query, &sort);
  if (!q) return q.error();
  auto limit = ParseLimit(*query, kDefaultPageSize, kMaxPageSize);
  if (!limit) return limit.error();
  q->limit = *limit;
  if (auto it = query->find("cursor"); it != query->end()) {
    auto cursor = DecodeCursor(sort, it->second);
    if (!cursor) return cursor.error();
    q->after = *cursor;
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto page = (*store)->ListHosts(*q);
  if (!page) return page.error();
  fleetdesk::v1::HostList list;
  for (const auto& h : page->items) *list.add_items() = ToProto(Freshest(h, engine_));
  if (page->next) list.set_next_cursor(EncodeCursor(sort, *page->next));
  return Json(200, list);
}

Result<http::Response> Api::ExportHosts(const Call& call) {
  const auto& request = call.request;
  auto query = ParseQuery(request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query,
                        {"status", "tag", "environment", "os", "q", "service", "package", "sort"},
                        "hosts/export");
      !s) {
    return s.error();
  }
  std::string sort;
  auto q = HostQueryFrom(*query, &sort);
  if (!q) return q.error();
  q->limit = kMaxPageSize;
  auto store = stores_.Acquire();
  if (!store) return store.error();
  http::Response response;
  response.content_type = "text/csv; charset=utf-8";
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"hosts.csv\"");
  response.body = HostCsvHeader();
  for (;;) {
    auto page = (*store)->ListHosts(*q);
    if (!page) return page.error();
    for (const auto& h : page->items) response.body += HostCsvRow(Freshest(h, engine_));
    if (!page->next) break;
    q->after = page->next;
  }
  return response;
}

Result<http::Response> Api::ImportHosts(const Call& call) {
  const auto& request = call.request;
  if (request.body.size() > kMaxImportBytes) {
    return MakeError(ErrorCode::kResourceExhausted, "an import is at most 32 MiB");
  }
  auto parsed = ParseHostImport(request.body);
  if (!parsed.problems.empty()) {
    // Every problem of every row at once: people fix a file in one go, not one error a time.
    fleetdesk::v1::ErrorResponse body;
    body.mutable_error()->set_code(ErrorCodeName(ErrorCode::kInvalidArgument));
    body.mutable_error()->set_message(std::to_string(parsed.problems.size()) +
                                      " problem(s) in the file; nothing was imported");
    for (const auto& p : parsed.problems) {
      auto* detail = body.mutable_error()->add_details();
      detail->set_line(p.line);
      detail->set_field(p.field);
      detail->set_message(p.message);
    }
    return Json(400, body);
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto summary = (*store)->ImportHosts(parsed.rows, call.Actor(), NowMs());
  if (!summary) return summary.error();
  fleetdesk::v1::ImportResult result;
  result.set_created(summary->created);
  result.set_updated(summary->updated);
  result.set_unchanged(summary->unchanged);
  return Json(200, result);
}

Result<http::Response> Api::RegisterHost(const Call& call) {
  const auto& request = call.request;
  auto object = ParseObject(request.body);
  if (!object) return object.error();
  auto patch = PatchFrom(*object);
  if (!patch) return patch.error();
  store::NewHost host;
  host.hostname = patch->hostname.value_or("");
  host.serial = patch->serial.value_or("");
  if (host.hostname.empty()) {
    return Invalid("hostname is required to register a host (serial is optional)");
  }
  host.attributes = *patch;
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto view = (*store)->RegisterHost(host, call.Actor(), NowMs());
  if (!view) return view.error();
  return Json(201, ToProto(*view));
}

Result<http::Response> Api::GetHost(const Call& call) {
  const std::int64_t id = call.id();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto host = (*store)->GetHostView(id);
  if (!host) return host.error();
  if (!*host) return MakeError(ErrorCode::kNotFound, "no host with id " + std::to_string(id));
  auto detail = (*store)->GetHostDetail(id);
  if (!detail) return detail.error();
  auto out = ToProto(Freshest(**host, engine_));
  // The bodies were written by this server from messages it had parsed: a failure here is a
  // damaged database, reported rather than skipped.
  auto parse = [](const std::string& bytes, google::protobuf::Message* message) -> Status {
    if (!message->ParseFromString(bytes)) {
      return MakeError(ErrorCode::kInternal, "a stored host record does not parse");
    }
    return {};
  };
  for (const auto& bytes : detail->inventory) {
    if (auto s = parse(bytes, out.add_inventory()); !s) return s.error();
  }
  for (const auto& bytes : detail->services) {
    if (auto s = parse(bytes, out.add_services()); !s) return s.error();
  }
  for (const auto& bytes : detail->checks) {
    if (auto s = parse(bytes, out.add_checks()); !s) return s.error();
  }
  if (detail->metrics) {
    if (auto s = parse(*detail->metrics, out.mutable_metrics()); !s) return s.error();
  }
  if (detail->services_status) {
    if (auto s = parse(*detail->services_status, out.mutable_services_status()); !s) {
      return s.error();
    }
  }
  if (detail->journal) {
    if (auto s = parse(*detail->journal, out.mutable_journal()); !s) return s.error();
  }
  return Json(200, out);
}

Result<http::Response> Api::PatchHost(const Call& call) {
  const std::int64_t id = call.id();
  const auto& request = call.request;
  auto object = ParseObject(request.body);
  if (!object) return object.error();
  auto patch = PatchFrom(*object);
  if (!patch) return patch.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto view = (*store)->PatchHost(id, *patch, call.Actor(), NowMs());
  if (!view) return view.error();
  return Json(200, ToProto(Freshest(*view, engine_)));
}

Result<http::Response> Api::ArchiveHost(const Call& call) {
  const std::int64_t id = call.id();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto view = (*store)->ArchiveHost(id, call.Actor(), NowMs());
  if (!view) return view.error();
  // Its agent is refused from its next connection on, and its channel closed now.
  if (!view->record.agent_id.empty()) {
    engine_.Upsert(view->record);
    if (close_channel_) close_channel_(view->record.agent_id, "this host has been archived");
  }
  return Json(200, ToProto(*view));
}

Result<http::Response> Api::HostHistory(const Call& call) {
  const std::int64_t id = call.id();
  const auto& request = call.request;
  auto query = ParseQuery(request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"kind", "from", "to", "limit", "cursor"}, "history"); !s) {
    return s.error();
  }
  store::EventQuery q;
  q.host_id = id;
  auto limit = ParseLimit(*query, kDefaultPageSize, kMaxPageSize);
  if (!limit) return limit.error();
  q.limit = *limit;
  for (const auto& [key, value] : *query) {
    if (key == "kind") {
      if (value != "service" && value != "check" && value != "reachability" &&
          value != "inventory" && value != "attribute" && value != "lifecycle" && value != "task") {
        return Invalid(
            "kind must be service, check, reachability, inventory, attribute, lifecycle or task, "
            "not "
            "'" +
            value + "'");
      }
      q.kind = value;
    } else if (key == "from" || key == "to") {
      auto t = ParseTime(value, key);
      if (!t) return t.error();
      (key == "from" ? q.from_ms : q.to_ms) = *t;
    } else if (key == "cursor") {
      auto before = ParseCursor(value);
      if (!before) return before.error();
      q.before_id = *before;
    }
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto host = (*store)->GetHost(id);
  if (!host) return host.error();
  if (!*host) return MakeError(ErrorCode::kNotFound, "no host with id " + std::to_string(id));
  auto page = (*store)->ListEvents(q);
  if (!page) return page.error();
  fleetdesk::v1::HostEventList list;
  for (const auto& e : page->items) {
    auto* item = list.add_items();
    item->set_id(e.id);
    item->set_host_id(e.host_id);
    *item->mutable_at() = TimeUtil::MillisecondsToTimestamp(e.at_ms);
    item->set_kind(e.kind);
    item->set_subject(e.subject);
    item->set_old_value(e.old_value);
    item->set_new_value(e.new_value);
    item->set_actor(e.actor);
  }
  if (page->next_before_id) list.set_next_cursor(std::to_string(*page->next_before_id));
  return Json(200, list);
}

Result<http::Response> Api::HostMetrics(const Call& call) {
  const std::int64_t id = call.id();
  const auto& request = call.request;
  auto query = ParseQuery(request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"from", "to", "resolution"}, "metrics"); !s) return s.error();
  std::int64_t to = NowMs();
  std::optional<std::int64_t> from;
  std::string resolution = "auto";
  for (const auto& [key, value] : *query) {
    if (key == "from" || key == "to") {
      auto t = ParseTime(value, key);
      if (!t) return t.error();
      if (key == "from") {
        from = *t;
      } else {
        to = *t;
      }
    } else if (key == "resolution") {
      if (value != "raw" && value != "5m" && value != "auto") {
        return Invalid("resolution must be raw, 5m or auto, not '" + value + "'");
      }
      resolution = value;
    }
  }
  if (!from) from = to - kDayMs;
  if (*from >= to) return Invalid("from must be before to");
  if (to - *from > kMaxRangeMs) return Invalid("a metric range is at most 400 days");
  if (resolution == "auto") resolution = to - *from <= kRawRangeMs ? "raw" : "5m";
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto host = (*store)->GetHost(id);
  if (!host) return host.error();
  if (!*host) return MakeError(ErrorCode::kNotFound, "no host with id " + std::to_string(id));
  auto points = (*store)->MetricSeries(
      id, *from, to,
      resolution == "raw" ? store::MetricResolution::kRaw : store::MetricResolution::kFiveMinutes);
  if (!points) return points.error();
  fleetdesk::v1::MetricSeries series;
  series.set_host_id(id);
  series.set_resolution(resolution);
  *series.mutable_from() = TimeUtil::MillisecondsToTimestamp(*from);
  *series.mutable_to() = TimeUtil::MillisecondsToTimestamp(to);
  for (const auto& p : *points) {
    auto* out = series.add_points();
    *out->mutable_at() = TimeUtil::MillisecondsToTimestamp(p.at_ms);
    out->set_samples(p.samples);
    out->set_cpu_percent(p.cpu_percent);
    out->set_cpu_percent_max(p.cpu_percent_max);
    out->set_memory_percent(p.memory_percent);
    out->set_memory_percent_max(p.memory_percent_max);
    out->set_load1(p.load1);
    out->set_load1_max(p.load1_max);
    out->set_disk_percent(p.disk_percent);
    out->set_disk_percent_max(p.disk_percent_max);
    out->set_net_rx_bytes_per_second(p.net_rx_bps);
    out->set_net_rx_bytes_per_second_max(p.net_rx_bps_max);
    out->set_net_tx_bytes_per_second(p.net_tx_bps);
    out->set_net_tx_bytes_per_second_max(p.net_tx_bps_max);
  }
  return Json(200, series);
}

Result<http::Response> Api::Search(const Call& call) {
  const auto& request = call.request;
  auto query = ParseQuery(request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"q", "limit"}, "search"); !s) return s.error();
  auto text = query->find("q");
  if (text == query->end() || text->second.empty()) return Invalid("q is required: what to find");
  if (text->second.size() > kMaxQueryText) return Invalid("q is longer than 200 bytes");
  if (auto s = CheckAttribute("owner", text->second); !s) {
    return Invalid("q must be text without control characters");
  }
  auto limit = ParseLimit(*query, kDefaultSearchHits, kMaxSearchHits);
  if (!limit) return limit.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto hits = (*store)->Search(text->second, *limit);
  if (!hits) return hits.error();
  fleetdesk::v1::SearchResults results;
  results.set_query(text->second);
  for (const auto& hit : *hits) {
    auto* item = results.add_items();
    item->set_kind(hit.kind);
    item->set_ref(hit.ref);
    item->set_title(hit.title);
    item->set_detail(hit.detail);
    item->set_host_count(hit.host_count);
    if (hit.kind == "host") {
      std::int64_t host_id = 0;
      std::from_chars(hit.ref.data(), hit.ref.data() + hit.ref.size(), host_id);
      item->set_host_id(host_id);
    }
  }
  // Tickets too: by their words (a query with none, only punctuation, finds no ticket).
  store::TicketSearchQuery tickets;
  tickets.text = text->second;
  tickets.limit = kTicketHits;
  tickets.internal_notes = access::RoleMay(call.who->role, {"notes", "read_internal"});
  if (store::search::ParseQuery(tickets.text)) {
    auto found = (*store)->SearchTickets(tickets);
    if (!found) return found.error();
    for (const auto& hit : *found) {
      auto* item = results.add_items();
      item->set_kind("ticket");
      item->set_ref(std::to_string(hit.ticket.id));
      item->set_title(hit.ticket.title);
      item->set_detail(hit.ticket.state + ", P" + std::to_string(hit.ticket.priority));
      if (!hit.matches.empty()) item->set_snippet(hit.matches.front().snippet);
    }
  }
  return Json(200, results);
}

}  // namespace fleetdesk::server::api
