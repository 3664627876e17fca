// Ticket reports over SqlConn: monthly counts, times to acknowledge and resolve, SLA breaches and
// the noisiest hosts and failures, computed from the timestamps written at each transition.
// Months whose figures have settled are kept as rollups (the leader writes them), so a year's
// report reads a few hundred rows and computes only the current month from the tickets.
#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>
#include <map>
#include <tuple>

#include "server/store/sql_base.hpp"

namespace fleetdesk::server::store {
namespace {

// A month's figures still move for a while after it ends: a ticket opened on its last day
// breaches its resolution target up to a week later (P5's). Eight days on, they are final.
constexpr std::int64_t kSettleMs = 8 * 86'400'000LL;
// A month that has not settled (the current one too) is rolled up again this often; its
// rollup is read while it is younger than kFreshMs, so reports read rollups only and the current
// month's figures are at most that old.
constexpr std::int64_t kRerollMs = 5 * 60'000;
constexpr std::int64_t kFreshMs = 10 * 60'000;
// How far a report reaches.
constexpr int kMaxMonths = 60;

std::string MonthOf(std::int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm t{};
  gmtime_r(&seconds, &t);
  char text[16];
  std::snprintf(text, sizeof text, "%04d-%02d", t.tm_year + 1900, t.tm_mon + 1);
  return text;
}

// The first millisecond of "YYYY-MM", and of the month after it.
Result<std::pair<std::int64_t, std::int64_t>> MonthSpan(const std::string& month) {
  auto digit = [&](std::size_t i) { return month[i] >= '0' && month[i] <= '9'; };
  const bool shaped = month.size() == 7 && month[4] == '-' && digit(0) && digit(1) && digit(2) &&
                      digit(3) && digit(5) && digit(6);
  const int year = shaped ? std::stoi(month.substr(0, 4)) : 0;
  const int mon = shaped ? std::stoi(month.substr(5, 2)) : 0;
  if (!shaped || year < 1970 || mon < 1 || mon > 12) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "a month is YYYY-MM, such as 2026-03, not '" + month + "'");
  }
  auto start = [](int y, int m) {
    std::tm t{};
    t.tm_year = y - 1900;
    t.tm_mon = m - 1;
    t.tm_mday = 1;
    return static_cast<std::int64_t>(timegm(&t)) * 1000;
  };
  return std::make_pair(start(year, mon), mon == 12 ? start(year + 1, 1) : start(year, mon + 1));
}

// The months from `from` to `to`, both included.
Result<std::vector<std::string>> Months(const std::string& from, const std::string& to) {
  auto first = MonthSpan(from);
  if (!first) return first.error();
  auto last = MonthSpan(to);
  if (!last) return last.error();
  if (first->first > last->first) {
    return MakeError(ErrorCode::kInvalidArgument, "from (" + from + ") is after to (" + to + ")");
  }
  std::vector<std::string> out;
  for (std::int64_t at = first->first; at <= last->first;) {
    out.push_back(MonthOf(at));
    if (static_cast<int>(out.size()) > kMaxMonths) {
      return MakeError(ErrorCode::kInvalidArgument, "a report spans at most 60 months");
    }
    at = MonthSpan(out.back())->second;
  }
  return out;
}

std::int64_t P90(std::vector<std::int64_t>& values) {
  if (values.empty()) return 0;
  const auto at = (values.size() * 9 + 9) / 10 - 1;  // the nearest rank
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
  return values[at];
}

std::string Named(const std::string& value) { return value.empty() ? "(none)" : value; }

// The value of each dimension for one ticket, in kReportDimensions' order.
std::array<std::string, 5> Values(const SqlRow& r) {
  return {"", Named(r.Text(1)), "P" + std::to_string(r.Int(2)), Named(r.Text(3)), Named(r.Text(4))};
}

}  // namespace

// One month's figures for every kind and dimension, and its noise, from the tickets.
struct SqlReports::MonthFigures {
  using Key = std::tuple<std::string, std::string, std::string>;  // kind, dimension, value
  struct Acc {
    MonthlyRow row;
    std::vector<std::int64_t> tta;
    std::vector<std::int64_t> ttr;
  };
  std::map<Key, Acc> rows;
  std::map<std::pair<std::string, std::string>, NoiseRow> noise;  // (what, key)
};

Result<SqlReports::MonthFigures> SqlReports::Figures(const std::string& month) {
  auto span = MonthSpan(month);
  if (!span) return span.error();
  MonthFigures out;
  auto each = [&](const std::string& kind, const std::array<std::string, 5>& values,
                  const auto& add) {
    for (const auto& k : {std::string("all"), kind}) {
      for (std::size_t d = 0; d < values.size(); ++d) {
        auto& acc = out.rows[{k, kReportDimensions[d], values[d]}];
        acc.row.month = month;
        acc.row.value = values[d];
        add(acc);
      }
    }
  };
  // Opened that month: responses, breaches, and where incidents came from.
  auto opened = Run(
      "SELECT t.kind, t.category, t.priority, t.assignee_group, COALESCE(h.environment, ''), "
      "t.created_ms, t.responded_ms, t.response_breached_ms IS NOT NULL, "
      "t.resolution_breached_ms IS NOT NULL, t.host_id, COALESCE(h.hostname, ''), t.source_kind, "
      "t.subject, t.occurrences FROM tickets t LEFT JOIN hosts h ON h.id = t.host_id WHERE "
      "t.created_ms >= ? AND t.created_ms < ?",
      {span->first, span->second}, [&](const SqlRow& r) {
        const auto responded = r.OptInt(6);
        const bool response = r.Bool(7);
        const bool resolution = r.Bool(8);
        each(r.Text(0), Values(r), [&](MonthFigures::Acc& acc) {
          ++acc.row.opened;
          if (responded) {
            ++acc.row.responded;
            acc.row.tta_sum_ms += *responded - r.Int(5);
            acc.tta.push_back(*responded - r.Int(5));
          }
          acc.row.response_breaches += response ? 1 : 0;
          acc.row.resolution_breaches += resolution ? 1 : 0;
          acc.row.breached += response || resolution ? 1 : 0;
        });
        if (r.Text(0) != "incident") return;
        const auto occurrences = r.Int(13);
        if (auto host = r.OptInt(9)) {
          auto& n = out.noise[{"hosts", std::to_string(*host)}];
          n.key = std::to_string(*host);
          n.label = r.Text(10);
          ++n.incidents;
          n.occurrences += occurrences;
        }
        if (!r.Text(11).empty()) {
          const std::string key = r.Text(11) + "/" + r.Text(12);
          auto& n = out.noise[{"sources", key}];
          n.key = key;
          n.label = r.Text(12).empty() ? r.Text(11) : r.Text(12) + " (" + r.Text(11) + ")";
          ++n.incidents;
          n.occurrences += occurrences;
        }
      });
  if (!opened) return opened.error();
  // Resolved that month: how long it took.
  auto resolved =
      Run("SELECT t.kind, t.category, t.priority, t.assignee_group, COALESCE(h.environment, ''), "
          "t.created_ms, t.resolved_ms FROM tickets t LEFT JOIN hosts h ON h.id = t.host_id WHERE "
          "t.resolved_ms >= ? AND t.resolved_ms < ?",
          {span->first, span->second}, [&](const SqlRow& r) {
            const auto took = r.Int(6) - r.Int(5);
            each(r.Text(0), Values(r), [&](MonthFigures::Acc& acc) {
              ++acc.row.resolved;
              acc.row.ttr_sum_ms += took;
              acc.ttr.push_back(took);
            });
          });
  if (!resolved) return resolved.error();
  for (auto& [key, acc] : out.rows) {
    acc.row.tta_p90_ms = P90(acc.tta);
    acc.row.ttr_p90_ms = P90(acc.ttr);
  }
  return out;
}

Result<std::map<std::string, std::int64_t>> SqlReports::RolledUp(const std::string& from,
                                                                 const std::string& to) {
  std::map<std::string, std::int64_t> out;
  auto done = Run("SELECT month, computed_ms FROM report_months WHERE month >= ? AND month <= ?",
                  {from, to}, [&](const SqlRow& r) { out[r.Text(0)] = r.Int(1); });
  if (!done) return done.error();
  return out;
}

bool SqlReports::Final(const std::string& month, std::int64_t computed_ms) {
  auto span = MonthSpan(month);
  return span && computed_ms >= span->second + kSettleMs;
}

bool SqlReports::Usable(const std::string& month, std::int64_t computed_ms, std::int64_t now_ms) {
  return Final(month, computed_ms) || now_ms - computed_ms < kFreshMs;
}

Result<std::vector<MonthlyRow>> SqlReports::MonthlyReport(const ReportQuery& q,
                                                          std::int64_t now_ms) {
  if (q.kind != "all" && q.kind != "incident" && q.kind != "request") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "kind must be all, incident or request, not '" + q.kind + "'");
  }
  if (std::find(std::begin(kReportDimensions), std::end(kReportDimensions), q.by) ==
      std::end(kReportDimensions)) {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "by must be all, category, priority, group or environment, not '" + q.by + "'");
  }
  auto months = Months(q.from_month, q.to_month);
  if (!months) return months.error();
  auto rolled = RolledUp(q.from_month, q.to_month);
  if (!rolled) return rolled.error();
  std::vector<MonthlyRow> out;
  auto kept =
      Run("SELECT month, value, opened, resolved, responded, tta_sum_ms, tta_p90_ms, ttr_sum_ms, "
          "ttr_p90_ms, response_breaches, resolution_breaches, breached FROM ticket_rollups WHERE "
          "kind = ? AND dimension = ? AND month >= ? AND month <= ?",
          {q.kind, q.by, q.from_month, q.to_month}, [&](const SqlRow& r) {
            auto it = rolled->find(r.Text(0));
            if (it == rolled->end() || !Usable(it->first, it->second, now_ms)) return;
            MonthlyRow row;
            row.month = r.Text(0);
            row.value = r.Text(1);
            row.opened = r.Int(2);
            row.resolved = r.Int(3);
            row.responded = r.Int(4);
            row.tta_sum_ms = r.Int(5);
            row.tta_p90_ms = r.Int(6);
            row.ttr_sum_ms = r.Int(7);
            row.ttr_p90_ms = r.Int(8);
            row.response_breaches = r.Int(9);
            row.resolution_breaches = r.Int(10);
            row.breached = r.Int(11);
            row.final = Final(it->first, it->second);
            out.push_back(std::move(row));
          });
  if (!kept) return kept.error();
  for (const auto& month : *months) {
    auto it = rolled->find(month);
    if (it != rolled->end() && Usable(month, it->second, now_ms)) continue;
    // Not rolled up yet, or its rollup is stale: from the tickets.
    auto span = MonthSpan(month);
    if (span->first > now_ms) continue;  // the future has no tickets
    auto figures = Figures(month);
    if (!figures) return figures.error();
    for (auto& [key, acc] : figures->rows) {
      if (std::get<0>(key) == q.kind && std::get<1>(key) == q.by) out.push_back(acc.row);
    }
  }
  std::sort(out.begin(), out.end(), [](const MonthlyRow& a, const MonthlyRow& b) {
    return std::tie(a.month, a.value) < std::tie(b.month, b.value);
  });
  return out;
}

Result<std::vector<NoiseRow>> SqlReports::NoiseReport(const std::string& from_month,
                                                      const std::string& to_month,
                                                      const std::string& what, int limit,
                                                      std::int64_t now_ms) {
  if (what != "hosts" && what != "sources") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "what must be hosts or sources, not '" + what + "'");
  }
  auto months = Months(from_month, to_month);
  if (!months) return months.error();
  auto rolled = RolledUp(from_month, to_month);
  if (!rolled) return rolled.error();
  std::map<std::string, NoiseRow> total;
  std::vector<std::string> final_months;
  for (const auto& [month, computed] : *rolled) {
    if (Usable(month, computed, now_ms)) final_months.push_back(month);
  }
  auto add = [&](const NoiseRow& n) {
    auto& t = total[n.key];
    t.key = n.key;
    t.label = n.label;
    t.incidents += n.incidents;
    t.occurrences += n.occurrences;
  };
  if (!final_months.empty()) {
    std::vector<SqlArg> args;
    args.emplace_back(std::string_view(what));
    std::string in;
    for (const auto& m : final_months) {
      in += in.empty() ? "?" : ", ?";
      args.emplace_back(std::string_view(m));
    }
    auto done = db_->Run(
        "SELECT key, MAX(label), SUM(incidents), SUM(occurrences) FROM ticket_noise WHERE what = "
        "? AND month IN (" +
            in + ") GROUP BY key",
        args, [&](const SqlRow& r) {
          add({r.Text(0), r.Text(1), r.Int(2), r.Int(3)});
        });
    if (!done) return done.error();
  }
  for (const auto& month : *months) {
    auto it = rolled->find(month);
    if (it != rolled->end() && Usable(month, it->second, now_ms)) continue;
    if (MonthSpan(month)->first > now_ms) continue;
    auto figures = Figures(month);
    if (!figures) return figures.error();
    for (const auto& [key, n] : figures->noise) {
      if (key.first == what) add(n);
    }
  }
  std::vector<NoiseRow> out;
  for (auto& [key, n] : total) out.push_back(std::move(n));
  std::sort(out.begin(), out.end(), [](const NoiseRow& a, const NoiseRow& b) {
    return std::tie(b.incidents, b.occurrences, a.key) <
           std::tie(a.incidents, a.occurrences, b.key);
  });
  if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
  return out;
}

Result<std::string> SqlReports::RollUpReports(std::int64_t now_ms) {
  std::optional<std::int64_t> first;
  auto done =
      Run("SELECT MIN(created_ms) FROM tickets", {}, [&](const SqlRow& r) { first = r.OptInt(0); });
  if (!done) return done.error();
  const std::string current = MonthOf(now_ms);
  if (!first) return std::string();
  // The months a report can reach, and no older: the newest kMaxMonths up to this one.
  std::vector<std::string> all;
  for (std::int64_t at = MonthSpan(current)->first;
       static_cast<int>(all.size()) < kMaxMonths && MonthOf(at) >= MonthOf(*first);) {
    all.insert(all.begin(), MonthOf(at));
    at = MonthSpan(MonthOf(at - 1))->first;  // the month before
  }
  auto rolled = RolledUp(all.front(), all.back());
  if (!rolled) return rolled.error();
  std::string month;
  for (const auto& m : all) {
    auto it = rolled->find(m);
    if (it == rolled->end() || (!Final(m, it->second) && now_ms - it->second >= kRerollMs)) {
      month = m;
      break;
    }
  }
  if (month.empty()) return month;
  auto figures = Figures(month);
  if (!figures) return figures.error();
  auto tx = BeginTx();
  if (!tx) return tx.error();
  if (auto s = Do("DELETE FROM ticket_rollups WHERE month = ?", {month}); !s) return s.error();
  if (auto s = Do("DELETE FROM ticket_noise WHERE month = ?", {month}); !s) return s.error();
  for (const auto& [key, acc] : figures->rows) {
    const auto& r = acc.row;
    if (auto s = Write(
            "INSERT INTO ticket_rollups (month, kind, dimension, value, opened, resolved, "
            "responded, tta_sum_ms, tta_p90_ms, ttr_sum_ms, ttr_p90_ms, response_breaches, "
            "resolution_breaches, breached) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            {month, std::get<0>(key), std::get<1>(key), std::get<2>(key), r.opened, r.resolved,
             r.responded, r.tta_sum_ms, r.tta_p90_ms, r.ttr_sum_ms, r.ttr_p90_ms,
             r.response_breaches, r.resolution_breaches, r.breached});
        !s) {
      return s.error();
    }
  }
  for (const auto& [key, n] : figures->noise) {
    if (auto s = Write(
            "INSERT INTO ticket_noise (month, what, key, label, incidents, occurrences) VALUES (?, "
            "?, ?, ?, ?, ?)",
            {month, key.first, n.key, n.label, n.incidents, n.occurrences});
        !s) {
      return s.error();
    }
  }
  auto sent = db_->Flush();
  if (!sent) return sent.error();
  if (auto s = Do("DELETE FROM report_months WHERE month = ?", {month}); !s) return s.error();
  if (auto s = Do("INSERT INTO report_months (month, computed_ms) VALUES (?, ?)", {month, now_ms});
      !s) {
    return s.error();
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return month;
}

}  // namespace fleetdesk::server::store
