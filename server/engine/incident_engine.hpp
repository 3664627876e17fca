// The incident engine: turns what commits saw (state transitions, check results, metric samples)
// and hosts gone silent into incident tickets. One IncidentTracker per fingerprint (host + kind +
// subject) applies confirmations, flap detection and recovery; the rules of the server config
// name each incident's category, severity and assignment. It runs on a thread of its own, so
// ingest never waits for it; on SQLite it writes through the writer's connection (SharedStore). The
// store decides what a raise means (suppressed, one more occurrence, a reopen or a new ticket) in
// one transaction, so servers sharing a database make one incident per fingerprint between them.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/engine/incident_rules.hpp"
#include "server/engine/incident_tracker.hpp"
#include "server/engine/metrics.hpp"
#include "server/engine/notify.hpp"
#include "server/store/shared_store.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server::engine {

struct IncidentEngineOptions {
  incidents::IncidentRules rules = [] {
    incidents::IncidentRules r;
    r.rules = incidents::DefaultRules();
    r.thresholds = incidents::DefaultThresholds();
    return r;
  }();
  store::SlaTargets sla = store::DefaultSlaTargets();
  // How often trackers are asked whether time alone changed something (a flap window ended).
  std::chrono::milliseconds tick{1'000};
  // How often the open incidents (to recognise their recoveries) and host tags are read again.
  std::chrono::milliseconds refresh{15'000};
  // Who hears of new and reopened incidents; `notified` is called after queueing (it wakes the
  // notifier).
  notify::NotifyOptions notify;
  std::function<void()> notified;
};

class IncidentEngine {
 public:
  // Owns `store`: a connection of its own.
  IncidentEngine(std::unique_ptr<store::Store> store, IncidentEngineOptions options,
                 ServerMetrics& metrics);
  // Uses a connection shared with others (the writer's, on SQLite), held for each call.
  IncidentEngine(std::shared_ptr<store::SharedStore> store, IncidentEngineOptions options,
                 ServerMetrics& metrics);
  ~IncidentEngine();
  IncidentEngine(const IncidentEngine&) = delete;
  IncidentEngine& operator=(const IncidentEngine&) = delete;

  void Start();
  // Processes what was submitted, then stops.
  void Stop();

  // Thread-safe. What a commit saw (the writer calls it after each commit).
  void Submit(store::Observations seen);
  // Thread-safe. Hosts the silent-host job marked unreachable at `at_ms`.
  void HostsUnreachable(std::vector<std::int64_t> host_ids, std::int64_t at_ms);
  // Returns once everything submitted before the call has been processed (tests, shutdown).
  void Flush();

 private:
  struct Tracked {
    incidents::IncidentTracker tracker;
    std::int64_t host_id = 0;
    std::string kind;
    std::string subject;
    const incidents::IncidentRule* rule = nullptr;
    std::string detail;  // what the newest failing observation said, for a new ticket
    // Suppressed and still down: when to raise it again (a maintenance window's end, or the
    // next refresh while its host is unreachable).
    std::optional<std::int64_t> retry_ms;
  };
  struct HostInfo {
    std::string hostname;
    std::vector<std::string> tags;
    std::chrono::steady_clock::time_point read;
  };
  struct Work {
    store::Observations seen;
    std::vector<std::int64_t> unreachable;
    std::int64_t at_ms = 0;
    std::chrono::steady_clock::time_point queued;
  };

  void Run();
  void Process(Work& work);
  void Observe(std::int64_t host_id, const std::string& kind, const std::string& subject,
               bool failing, std::int64_t at_ms, const std::string& detail);
  void Apply(const std::vector<incidents::Decision>& decisions, Tracked& t,
             const std::string& fingerprint, std::int64_t at_ms);
  void Raise(Tracked& t, const std::string& fingerprint, std::int64_t at_ms);
  void Tick(std::int64_t now_ms);
  void Refresh();
  // The host's name and tags, read at most once per refresh period.
  const HostInfo& Host(std::int64_t host_id);

  std::shared_ptr<store::SharedStore> store_;
  IncidentEngineOptions options_;
  ServerMetrics& metrics_;
  const bool uses_tags_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable drained_;
  std::deque<Work> queue_;
  std::uint64_t submitted_ = 0;  // under mutex_
  std::uint64_t done_ = 0;       // under mutex_
  bool stopping_ = false;
  std::thread thread_;

  // The engine thread's own.
  std::unordered_map<std::string, Tracked> trackers_;       // by fingerprint
  std::unordered_map<std::int64_t, int> trackers_of_host_;  // how many trackers a host has
  std::unordered_set<std::string> open_;                    // fingerprints with an open incident
  std::unordered_set<std::int64_t> hosts_with_open_;        // their hosts
  std::unordered_map<std::int64_t, HostInfo> hosts_;
  std::chrono::steady_clock::time_point next_refresh_{};
};

}  // namespace fleetdesk::server::engine
