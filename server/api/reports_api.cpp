// Ticket reports under /api/v1/reports: monthly counts, times to acknowledge and resolve, SLA
// breach rates, and the noisiest hosts and failures, as JSON or CSV.
#include <google/protobuf/util/time_util.h>

#include <cstdio>
#include <ctime>

#include "fleetdesk/v1/rules.pb.h"
#include "fleetdesk/v1/tickets.pb.h"
#include "server/api/api.hpp"
#include "server/api/csv.hpp"
#include "server/api/params.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

std::string MonthOf(std::int64_t ms, int months_back = 0) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm t{};
  gmtime_r(&seconds, &t);
  int month = t.tm_year * 12 + t.tm_mon - months_back;
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d", month / 12 + 1900, month % 12 + 1);
  return text;
}

// from and to, by default the twelve months up to this one.
struct Range {
  std::string from;
  std::string to;
};

Range RangeOf(const std::map<std::string, std::string>& query) {
  const auto now = NowMs();
  Range r{MonthOf(now, 11), MonthOf(now)};
  if (auto it = query.find("from"); it != query.end()) r.from = it->second;
  if (auto it = query.find("to"); it != query.end()) r.to = it->second;
  return r;
}

double Seconds(std::int64_t ms) { return static_cast<double>(ms) / 1000.0; }

}  // namespace

Result<http::Response> Api::MonthlyReport(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"from", "to", "kind", "by", "format"}, "the monthly report"); !s) {
    return s.error();
  }
  const auto range = RangeOf(*query);
  store::ReportQuery q;
  q.from_month = range.from;
  q.to_month = range.to;
  if (auto it = query->find("kind"); it != query->end()) q.kind = it->second;
  if (auto it = query->find("by"); it != query->end()) q.by = it->second;
  std::string format = "json";
  if (auto it = query->find("format"); it != query->end()) format = it->second;
  if (format != "json" && format != "csv") return Invalid("format must be json or csv");
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto rows = (*store)->MonthlyReport(q, NowMs());
  if (!rows) return rows.error();
  fleetdesk::v1::MonthlyReport out;
  out.set_kind(q.kind);
  out.set_by(q.by);
  out.set_from(q.from_month);
  out.set_to(q.to_month);
  for (const auto& r : *rows) {
    auto* item = out.add_items();
    item->set_month(r.month);
    item->set_value(r.value);
    item->set_opened(r.opened);
    item->set_resolved(r.resolved);
    item->set_responded(r.responded);
    if (r.responded > 0) {
      item->set_mean_time_to_acknowledge_seconds(Seconds(r.tta_sum_ms / r.responded));
      item->set_p90_time_to_acknowledge_seconds(Seconds(r.tta_p90_ms));
    }
    if (r.resolved > 0) {
      item->set_mean_time_to_resolve_seconds(Seconds(r.ttr_sum_ms / r.resolved));
      item->set_p90_time_to_resolve_seconds(Seconds(r.ttr_p90_ms));
    }
    item->set_response_breaches(r.response_breaches);
    item->set_resolution_breaches(r.resolution_breaches);
    item->set_breached(r.breached);
    if (r.opened > 0) {
      item->set_breach_rate(static_cast<double>(r.breached) / static_cast<double>(r.opened));
    }
    item->set_final(r.final);
  }
  if (format == "json") return Json(200, out);
  http::Response response;
  response.content_type = "text/csv; charset=utf-8";
  response.headers.emplace_back(
      "Content-Disposition",
      "attachment; filename=\"tickets-" + q.by + "-" + q.from_month + "-" + q.to_month + ".csv\"");
  response.body =
      "month," + q.by +
      ",opened,resolved,responded,mtta_seconds,p90_tta_seconds,mttr_seconds,p90_ttr_seconds,"
      "response_breaches,resolution_breaches,breached,breach_rate,final\n";
  for (const auto& i : out.items()) {
    char numbers[256];
    std::snprintf(
        numbers, sizeof numbers, "%lld,%lld,%lld,%.0f,%.0f,%.0f,%.0f,%lld,%lld,%lld,%.4f,%s",
        static_cast<long long>(i.opened()), static_cast<long long>(i.resolved()),
        static_cast<long long>(i.responded()), i.mean_time_to_acknowledge_seconds(),
        i.p90_time_to_acknowledge_seconds(), i.mean_time_to_resolve_seconds(),
        i.p90_time_to_resolve_seconds(), static_cast<long long>(i.response_breaches()),
        static_cast<long long>(i.resolution_breaches()), static_cast<long long>(i.breached()),
        i.breach_rate(), i.final() ? "true" : "false");
    response.body += i.month() + "," + csv::Field(i.value()) + "," + numbers + "\n";
  }
  return response;
}

Result<http::Response> Api::NoiseReport(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"from", "to", "what", "limit"}, "the noise report"); !s) {
    return s.error();
  }
  const auto range = RangeOf(*query);
  std::string what = "hosts";
  if (auto it = query->find("what"); it != query->end()) what = it->second;
  auto limit = ParseLimit(*query, 10, 100);
  if (!limit) return limit.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto rows = (*store)->NoiseReport(range.from, range.to, what, *limit, NowMs());
  if (!rows) return rows.error();
  fleetdesk::v1::NoiseReport out;
  out.set_what(what);
  out.set_from(range.from);
  out.set_to(range.to);
  for (const auto& r : *rows) {
    auto* item = out.add_items();
    item->set_key(r.key);
    item->set_label(r.label);
    item->set_incidents(r.incidents);
    item->set_occurrences(r.occurrences);
  }
  return Json(200, out);
}

Result<http::Response> Api::Overview(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"days"}, "the overview"); !s) return s.error();
  int days = 30;
  if (auto it = query->find("days"); it != query->end()) {
    const auto& text = it->second;
    days = 0;
    for (char c : text) {
      if (c < '0' || c > '9' || days > 1000) {
        days = -1;
        break;
      }
      days = days * 10 + (c - '0');
    }
    if (text.empty() || days < 1 || days > 366) {
      return MakeError(ErrorCode::kInvalidArgument, "days must be a number from 1 to 366");
    }
  }
  constexpr std::int64_t kDayMs = 86'400'000;
  // Whole days: from the start of the day `days - 1` days before today (UTC).
  const std::int64_t today = NowMs() / kDayMs;
  const std::int64_t first = today - days + 1;
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto overview = (*store)->GetOverview(first * kDayMs);
  if (!overview) return overview.error();
  fleetdesk::v1::Overview out;
  for (const char* status : {"pending", "online", "offline", "unreachable"}) {
    auto it = overview->hosts.find(status);
    (*out.mutable_hosts())[status] = it == overview->hosts.end() ? 0 : it->second;
  }
  for (int p = 1; p <= 5; ++p) {
    auto it = overview->open_by_priority.find(p);
    (*out.mutable_open_by_priority())[std::to_string(p)] =
        it == overview->open_by_priority.end() ? 0 : it->second;
  }
  out.set_open_incidents(overview->open_incidents);
  out.set_open_breached(overview->open_breached);
  out.set_tasks_running(overview->tasks_running);
  auto next = overview->days.begin();
  for (std::int64_t day = first; day <= today; ++day) {
    auto* row = out.add_days();
    const auto at = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(day * kDayMs);
    row->set_day(google::protobuf::util::TimeUtil::ToString(at).substr(0, 10));
    while (next != overview->days.end() && next->day < day) ++next;
    if (next != overview->days.end() && next->day == day) {
      row->set_opened(next->opened);
      row->set_resolved(next->resolved);
    }
  }
  return Json(200, out);
}

Result<http::Response> Api::Rules(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {}, "the rules"); !s) return s.error();
  const auto& in = options_.rules;
  fleetdesk::v1::RuleSet out;
  for (const auto& r : in.rules) {
    auto* rule = out.add_rules();
    rule->set_kind(r.kind);
    rule->set_name(r.name);
    for (const auto& tag : r.tags) rule->add_tags(tag);
    rule->set_category(r.category);
    rule->set_severity(std::string(engine::tickets::LevelName(r.severity)));
    rule->set_auto_resolve(r.auto_resolve);
    rule->set_fail_after(r.fail_after);
    rule->set_ok_after(r.ok_after);
  }
  for (const auto& t : in.thresholds) {
    auto* threshold = out.add_thresholds();
    threshold->set_metric(t.metric);
    threshold->set_above(t.above);
    for (const auto& tag : t.tags) threshold->add_tags(tag);
  }
  for (const auto& a : in.assignment) {
    auto* rule = out.add_assignment();
    rule->set_category(a.category);
    rule->set_name(a.name);
    for (const auto& tag : a.tags) rule->add_tags(tag);
    rule->set_group(a.group);
    rule->set_assignee(a.assignee);
  }
  auto* timing = out.mutable_timing();
  timing->set_fail_after(in.timing.fail_after);
  timing->set_ok_after(in.timing.ok_after);
  timing->set_flap_changes(in.timing.flap_changes);
  timing->set_flap_window_seconds(in.timing.flap_window_ms / 1000);
  timing->set_quiet_seconds(in.timing.quiet_ms / 1000);
  timing->set_reopen_seconds(in.timing.reopen_ms / 1000);
  return Json(200, out);
}

}  // namespace fleetdesk::server::api
