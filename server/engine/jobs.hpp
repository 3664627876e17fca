// The jobs that must run once per fleet, however many servers share the database: marking
// silent hosts unreachable, timing out tasks, resolving incidents quiet for long enough,
// recording SLA breaches, and pruning history past its retention. Every server runs this
// loop; only the holder of the store's leadership lock acts, and when it dies the lock (a
// PostgreSQL session lock) passes to the next server that asks.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "server/engine/notify.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server::engine {

struct JobOptions {
  // A host not heard from for this long becomes unreachable.
  std::chrono::milliseconds silent_after{90'000};
  // How often the loop looks (and asks for the lock).
  std::chrono::milliseconds tick{5'000};
  std::chrono::milliseconds prune_every{std::chrono::hours(1)};
  store::Retention retention;
  // Called on every server, leader or not, with each agent revoked or archived (by any server)
  // since this one started: it closes the agent's channel if it is here.
  std::function<void(const std::string& agent_id)> cut_off;
  // Leader only: given the hosts just marked unreachable, for the incident engine.
  std::function<void(std::vector<std::int64_t> host_ids, std::int64_t at_ms)> unreachable;
  // An incident up again for this long is resolved (when its rule allows); 0: the leader
  // resolves none and records no SLA breaches (a server without the ticket desk's jobs).
  std::chrono::milliseconds incident_quiet{5 * 60'000};
  // Who hears of incidents the leader resolves and of SLA breaches (escalations); `notified`
  // wakes the notifier.
  notify::NotifyOptions notify;
  std::function<void()> notified;
  // PostgreSQL: the size of the ranges of each searched table's newest ids that have a GIN
  // index of their own (Store::RollSearchIndexes); 0: none.
  std::int64_t search_recent_entries = store::Store::kSearchRecentEntries;
};

class FleetJobs {
 public:
  // Owns `store`: a connection of its own, which holds the lock while this server leads.
  FleetJobs(std::unique_ptr<store::Store> store, JobOptions options);
  ~FleetJobs();
  FleetJobs(const FleetJobs&) = delete;
  FleetJobs& operator=(const FleetJobs&) = delete;

  void Start();
  void Stop();

 private:
  void Run();
  void Tick();
  void CloseCutOffAgents();
  // Queues the notifications of `event` on the ticket.
  // Wakes the notifier: the store wrote notifications with the changes.
  void Notified();

  std::unique_ptr<store::Store> store_;
  JobOptions options_;
  bool leading_ = false;
  std::chrono::steady_clock::time_point leading_since_{};
  std::int64_t audit_cursor_ = -1;  // the newest audit entry read for cut-off agents
  std::chrono::steady_clock::time_point next_prune_{};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetdesk::server::engine
