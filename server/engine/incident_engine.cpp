#include "server/engine/incident_engine.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <charconv>

#include "server/engine/clock.hpp"

namespace fleetdesk::server::engine {
namespace {

using incidents::Decision;

// How long a failure suppressed because its host is unreachable waits before it is tried again,
// unless the host's return is seen first.
constexpr std::int64_t kUnreachableRetryMs = 5 * 60'000;

std::string Fingerprint(std::int64_t host_id, const std::string& kind, const std::string& subject) {
  return std::to_string(host_id) + "/" + kind + "/" + subject;
}

std::optional<double> Number(const std::string& text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// An inventory change of note, as (failing, subject): a disk gone (or back), the memory shrunk
// (or grown). Anything else in the inventory is history, not an incident.
std::optional<bool> InventoryFailing(const store::HostEvent& e) {
  // "disks.disks[sda]": the element itself, not one of its fields.
  if (e.subject.rfind("disks.disks[", 0) == 0 && e.subject.back() == ']' &&
      e.subject.find("].") == std::string::npos) {
    if (e.new_value.empty()) return true;
    if (e.old_value.empty()) return false;
    return std::nullopt;
  }
  if (e.subject == "memory.total_bytes") {
    auto before = Number(e.old_value);
    auto after = Number(e.new_value);
    if (!before || !after || *before == *after) return std::nullopt;
    return *after < *before;
  }
  return std::nullopt;
}

std::string Title(const std::string& kind, const std::string& subject, const std::string& host) {
  if (kind == "service") return subject + " failed on " + host;
  if (kind == "check") return "check " + subject + " is down on " + host;
  if (kind == "host") return host + " is unreachable";
  if (kind == "metric") return subject + " over its threshold on " + host;
  if (subject == "memory.total_bytes") return "memory shrank on " + host;
  if (subject.rfind("disks.disks[", 0) == 0) {
    return "disk " + subject.substr(12, subject.size() - 13) + " gone from " + host;
  }
  return subject + " changed on " + host;
}

}  // namespace

IncidentEngine::IncidentEngine(std::unique_ptr<store::Store> store, IncidentEngineOptions options,
                               ServerMetrics& metrics)
    : IncidentEngine(std::make_shared<store::SharedStore>(std::move(store)), std::move(options),
                     metrics) {}

IncidentEngine::IncidentEngine(std::shared_ptr<store::SharedStore> store,
                               IncidentEngineOptions options, ServerMetrics& metrics)
    : store_(std::move(store)),
      options_(std::move(options)),
      metrics_(metrics),
      uses_tags_(options_.rules.UsesTags()) {
  // An incident's notifications are written with it (on SQLite this connection is the writer's
  // too, which changes no ticket).
  store_->Lock()->SetOutbox(notify::MakeOutbox(options_.notify));
}

IncidentEngine::~IncidentEngine() { Stop(); }

void IncidentEngine::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fd-incidents");
    Run();
  });
}

void IncidentEngine::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void IncidentEngine::Submit(store::Observations seen) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Work{std::move(seen), {}, 0, std::chrono::steady_clock::now()});
    ++submitted_;
    metrics_.incident_queue_depth.store(static_cast<std::int64_t>(queue_.size()),
                                        std::memory_order_relaxed);
  }
  wake_.notify_one();
}

void IncidentEngine::HostsUnreachable(std::vector<std::int64_t> host_ids, std::int64_t at_ms) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(Work{{}, std::move(host_ids), at_ms, std::chrono::steady_clock::now()});
    ++submitted_;
  }
  wake_.notify_one();
}

void IncidentEngine::Flush() {
  std::unique_lock lock(mutex_);
  const auto target = submitted_;
  drained_.wait(lock, [&] { return done_ >= target || !thread_.joinable(); });
}

void IncidentEngine::Run() {
  auto next_tick = std::chrono::steady_clock::now();
  for (;;) {
    std::deque<Work> batch;
    {
      std::unique_lock lock(mutex_);
      wake_.wait_until(lock, next_tick, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_ && queue_.empty()) break;
      batch.swap(queue_);
      metrics_.incident_queue_depth.store(0, std::memory_order_relaxed);
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_refresh_) Refresh();
    for (auto& work : batch) {
      Process(work);
      metrics_.incident_latency.Observe(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - work.queued).count());
    }
    if (std::chrono::steady_clock::now() >= next_tick) {
      Tick(NowMs());
      next_tick = std::chrono::steady_clock::now() + options_.tick;
    }
    {
      std::lock_guard lock(mutex_);
      done_ += batch.size();
    }
    drained_.notify_all();
  }
  std::lock_guard lock(mutex_);
  done_ = submitted_;
  drained_.notify_all();
}

void IncidentEngine::Refresh() {
  next_refresh_ = std::chrono::steady_clock::now() + options_.refresh;
  hosts_.clear();
  auto open = store_->Lock()->OpenFingerprints();
  if (!open) {
    spdlog::warn("incidents: cannot read the open incidents: {}", open.error().message);
    return;
  }
  open_.clear();
  hosts_with_open_.clear();
  for (auto& fingerprint : *open) {
    std::int64_t host = 0;
    std::from_chars(fingerprint.data(), fingerprint.data() + fingerprint.size(), host);
    hosts_with_open_.insert(host);
    open_.insert(std::move(fingerprint));
  }
}

const IncidentEngine::HostInfo& IncidentEngine::Host(std::int64_t host_id) {
  auto it = hosts_.find(host_id);
  if (it != hosts_.end()) return it->second;
  HostInfo info;
  auto view = store_->Lock()->GetHostView(host_id);
  if (view && *view) {
    info.hostname = (*view)->record.hostname;
    info.tags = (*view)->attributes.tags;
  } else {
    info.hostname = "host " + std::to_string(host_id);
  }
  return hosts_.emplace(host_id, std::move(info)).first->second;
}

void IncidentEngine::Process(Work& work) {
  for (auto host : work.unreachable) Observe(host, "host", "", true, work.at_ms, "");
  const auto& seen = work.seen;
  for (const auto& e : seen.transitions) {
    if (e.kind == "service") {
      Observe(e.host_id, "service", e.subject, e.new_value == "failed", e.at_ms,
              e.subject + " went from " + e.old_value + " to " + e.new_value);
    } else if (e.kind == "reachability" && e.new_value == "reachable") {
      Observe(e.host_id, "host", "", false, e.at_ms, "");
      // What its being unreachable suppressed is raised at the next tick if still failing.
      if (trackers_of_host_.count(e.host_id) != 0) {
        for (auto& [fingerprint, t] : trackers_) {
          if (t.host_id == e.host_id && t.retry_ms) t.retry_ms = std::min(*t.retry_ms, e.at_ms);
        }
      }
    } else if (e.kind == "inventory") {
      if (auto failing = InventoryFailing(e)) {
        Observe(e.host_id, "inventory", e.subject, *failing, e.at_ms,
                e.subject + ": " + (e.old_value.empty() ? "(none)" : e.old_value) + " -> " +
                    (e.new_value.empty() ? "(gone)" : e.new_value));
      }
    }
    // Check transitions are left to the check results below, which count every observation.
  }
  for (const auto& c : seen.checks) {
    Observe(c.host_id, "check", c.key, !c.up, c.at_ms, "check " + c.key + " is down");
  }
  static const std::vector<std::string> kNoTags;
  for (const auto& [host, sample] : seen.metrics) {
    const auto& tags = uses_tags_ ? Host(host).tags : kNoTags;
    auto breaches = options_.rules.Breaches(sample, tags);
    for (const char* metric : incidents::kMetrics) {
      auto it = std::find_if(breaches.begin(), breaches.end(),
                             [&](const auto& b) { return b.first == metric; });
      const bool failing = it != breaches.end();
      Observe(host, "metric", metric, failing, sample.at_ms,
              failing ? fmt::format("{} is {:.1f}", metric, it->second) : std::string());
    }
  }
}

void IncidentEngine::Observe(std::int64_t host_id, const std::string& kind,
                             const std::string& subject, bool failing, std::int64_t at_ms,
                             const std::string& detail) {
  // Most observations are of things that are fine and have no tracker: done without building a
  // fingerprint.
  if (!failing && trackers_of_host_.count(host_id) == 0 && hosts_with_open_.count(host_id) == 0) {
    return;
  }
  const std::string fingerprint = Fingerprint(host_id, kind, subject);
  auto it = trackers_.find(fingerprint);
  if (it == trackers_.end()) {
    const bool open = open_.count(fingerprint) != 0;
    if (!failing && !open) return;
    static const std::vector<std::string> kNoTags;
    const auto& tags = uses_tags_ ? Host(host_id).tags : kNoTags;
    const auto& rule = options_.rules.For(kind, subject, tags);
    incidents::IncidentTracker tracker(options_.rules.PolicyFor(rule));
    if (open) tracker.AssumeOpen();
    it = trackers_.emplace(fingerprint, Tracked{tracker, host_id, kind, subject, &rule, {}, {}})
             .first;
    ++trackers_of_host_[host_id];
  }
  Tracked& t = it->second;
  if (failing && !detail.empty()) t.detail = detail;
  Apply(t.tracker.Observe(failing, at_ms), t, fingerprint, at_ms);
  if (t.tracker.Idle(at_ms)) {
    if (--trackers_of_host_[host_id] == 0) trackers_of_host_.erase(host_id);
    trackers_.erase(it);
  }
}

void IncidentEngine::Apply(const std::vector<Decision>& decisions, Tracked& t,
                           const std::string& fingerprint, std::int64_t at_ms) {
  for (auto decision : decisions) {
    Status status;
    switch (decision) {
      case Decision::kOpen:
      case Decision::kReopen:
      case Decision::kRepeat:
        // The store decides which of the three it is: a person may have resolved or closed the
        // ticket, or another server raised it, since this tracker last looked.
        Raise(t, fingerprint, at_ms);
        break;
      case Decision::kRecovered:
        if (auto done = store_->Lock()->RecoverIncident(fingerprint, at_ms); !done)
          status = done.error();
        break;
      case Decision::kResolve:
        // The leader's job resolves incidents whose quiet period ended (FleetJobs), from the
        // store's recovery time, whichever server saw the recovery.
        break;
      case Decision::kFlapping:
        if (auto done = store_->Lock()->SetFlapping(fingerprint, true, at_ms); !done)
          status = done.error();
        break;
      case Decision::kSettled:
        if (auto done = store_->Lock()->SetFlapping(fingerprint, false, at_ms); !done) {
          status = done.error();
        } else if (!t.tracker.down()) {
          if (auto rec = store_->Lock()->RecoverIncident(fingerprint, at_ms); !rec)
            status = rec.error();
        }
        break;
    }
    if (!status) {
      metrics_.incident_errors_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("incidents: {} of {} failed: {}", incidents::DecisionName(decision),
                    fingerprint, status.error().message);
    }
  }
}

void IncidentEngine::Raise(Tracked& t, const std::string& fingerprint, std::int64_t at_ms) {
  const auto& host = Host(t.host_id);
  const auto& rule = *t.rule;
  store::IncidentSignal signal;
  signal.host_id = t.host_id;
  signal.kind = t.kind;
  signal.subject = t.subject;
  signal.title = Title(t.kind, t.subject, host.hostname);
  signal.detail = t.detail;
  signal.category = rule.category;
  signal.urgency = std::string(tickets::LevelName(rule.severity));
  signal.auto_resolve = rule.auto_resolve;
  if (const auto* assign = options_.rules.AssignFor(rule.category, t.subject, host.tags)) {
    signal.group = assign->group;
    signal.assignee = assign->assignee;
  }
  signal.reopen_window_ms = options_.rules.timing.reopen_ms;
  signal.at_ms = at_ms;
  auto outcome = store_->Lock()->RaiseIncident(signal, options_.sla);
  if (!outcome) {
    metrics_.incident_errors_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("incidents: raising {} failed: {}", fingerprint, outcome.error().message);
    t.tracker.Forget();  // the next failing observation tries again
    return;
  }
  using Kind = store::IncidentOutcome::Kind;
  switch (outcome->kind) {
    case Kind::kOpened:
      metrics_.incidents_opened_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("incident {} opened: {}", outcome->ticket_id, signal.title);
      break;
    case Kind::kReopened:
      metrics_.incidents_reopened_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("incident {} reopened: {}", outcome->ticket_id, signal.title);
      break;
    case Kind::kRepeated:
      metrics_.incidents_repeated_total.fetch_add(1, std::memory_order_relaxed);
      break;
    case Kind::kSuppressed:
      metrics_.incidents_suppressed_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::debug("incident suppressed ({}): {}", outcome->why, signal.title);
      if (outcome->for_good) {
        t.tracker.Forget();
        return;
      }
      // Still failing when the window ends or the host is back, it is raised then: a unit that
      // stays failed says so only once.
      t.tracker.Suppressed();
      // A window says when it ends. An unreachable host's return is a transition, which brings
      // the retry forward (Process); the fallback is for a return another server saw.
      t.retry_ms = outcome->until_ms.value_or(at_ms + kUnreachableRetryMs);
      return;
  }
  open_.insert(fingerprint);
  hosts_with_open_.insert(t.host_id);
  // Its notifications were written with it; the notifier is told there is work.
  if (outcome->kind != Kind::kRepeated && !options_.notify.routes.empty() && options_.notified) {
    options_.notified();
  }
}

void IncidentEngine::Tick(std::int64_t now_ms) {
  for (auto it = trackers_.begin(); it != trackers_.end();) {
    Apply(it->second.tracker.Tick(now_ms), it->second, it->first, now_ms);
    if (auto& retry = it->second.retry_ms; retry && *retry <= now_ms) {
      retry.reset();
      Apply(it->second.tracker.Retry(), it->second, it->first, now_ms);
    }
    if (it->second.tracker.Idle(now_ms)) {
      const auto host = it->second.host_id;
      if (--trackers_of_host_[host] == 0) trackers_of_host_.erase(host);
      it = trackers_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace fleetdesk::server::engine
