#include "server/engine/jobs.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "server/engine/clock.hpp"

namespace fleetdesk::server::engine {

FleetJobs::FleetJobs(std::unique_ptr<store::Store> store, JobOptions options)
    : store_(std::move(store)), options_(options) {
  // Escalations and resolutions are notified in their own transactions.
  store_->SetOutbox(notify::MakeOutbox(options_.notify));
}

FleetJobs::~FleetJobs() { Stop(); }

void FleetJobs::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fd-jobs");
    Run();
  });
}

void FleetJobs::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void FleetJobs::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    Tick();
    lock.lock();
    wake_.wait_for(lock, options_.tick, [this] { return stopping_; });
  }
}

void FleetJobs::CloseCutOffAgents() {
  if (!options_.cut_off) return;
  auto feed = store_->AgentsCutOffAfter(audit_cursor_);
  if (!feed) {
    spdlog::warn("fleet jobs: reading revocations: {}", feed.error().message);
    return;
  }
  for (const auto& agent : feed->agent_ids) options_.cut_off(agent);
  audit_cursor_ = feed->last_id;
}

void FleetJobs::Notified() {
  if (!options_.notify.routes.empty() && options_.notified) options_.notified();
}

void FleetJobs::Tick() {
  // Every server, leader or not: a revocation made on one reaches channels on all.
  CloseCutOffAgents();
  auto leader = store_->TryLeadership();
  if (!leader) {
    // The database is away; whoever holds the lock when it is back does the work.
    if (leading_) spdlog::warn("fleet jobs: lost the database: {}", leader.error().message);
    leading_ = false;
    return;
  }
  if (*leader != leading_) {
    spdlog::info(*leader ? "fleet jobs: this server runs them now"
                         : "fleet jobs: another server runs them");
    leading_ = *leader;
    leading_since_ = std::chrono::steady_clock::now();
  }
  if (!leading_) return;
  const std::int64_t now = NowMs();
  // Just started, or just taken over from a server that died: every agent is still on its way
  // back (they reconnect within seconds), and hosts last seen before the outage would all be
  // marked unreachable, each one an incident. Silence counts from one limit after taking over.
  const bool settled = std::chrono::steady_clock::now() - leading_since_ >= options_.silent_after;
  auto marked = settled ? store_->MarkSilentHosts(now - options_.silent_after.count(), now)
                        : Result<std::vector<std::int64_t>>(std::vector<std::int64_t>{});
  if (!marked) {
    spdlog::warn("fleet jobs: silent hosts: {}", marked.error().message);
  } else if (!marked->empty()) {
    spdlog::info("fleet jobs: {} host(s) silent for {} s are unreachable", marked->size(),
                 options_.silent_after.count() / 1000);
    if (options_.unreachable) options_.unreachable(*marked, now);
  }
  // Tasks: hosts never sent one before it expired, and hosts that never answered in time.
  auto swept = store_->SweepTasks(now);
  if (!swept) {
    spdlog::warn("fleet jobs: tasks: {}", swept.error().message);
  } else if (swept->expired + swept->timed_out > 0) {
    spdlog::info("fleet jobs: tasks: {} host(s) expired unsent, {} timed out", swept->expired,
                 swept->timed_out);
  }
  if (options_.incident_quiet.count() > 0) {
    // Breaches first: an incident resolved below stops its clocks, and a breach it had already
    // run into would never be recorded.
    auto breaches = store_->RecordSlaBreaches(now);
    if (!breaches) {
      spdlog::warn("fleet jobs: SLA breaches: {}", breaches.error().message);
    } else {
      for (const auto& b : *breaches) {
        spdlog::info("ticket {} breached its {} target", b.ticket_id, b.clock);
      }
      if (!breaches->empty()) Notified();
    }
    auto resolved = store_->ResolveQuietIncidents(now - options_.incident_quiet.count(), now);
    if (!resolved) {
      spdlog::warn("fleet jobs: resolving quiet incidents: {}", resolved.error().message);
    } else {
      for (auto id : *resolved) {
        spdlog::info("incident {} resolved: up and quiet", id);
      }
      if (!resolved->empty()) Notified();
    }
    // One month per tick at most: a year of months to catch up on spreads over a minute.
    auto rolled = store_->RollUpReports(now);
    if (!rolled) {
      spdlog::warn("fleet jobs: report rollups: {}", rolled.error().message);
    } else if (!rolled->empty()) {
      spdlog::info("fleet jobs: rolled up the reports of {}", *rolled);
    }
  }
  // An index of a range of the newest search entries, or the drop of those passed; a build
  // takes seconds (it scans the table), so one a tick.
  auto rolled = store_->RollSearchIndexes(options_.search_recent_entries);
  if (!rolled) {
    spdlog::warn("fleet jobs: search indexes: {}", rolled.error().message);
  } else if (!rolled->empty()) {
    spdlog::info("fleet jobs: search indexes: {}", *rolled);
  }
  const auto steady = std::chrono::steady_clock::now();
  if (steady < next_prune_) return;
  next_prune_ = steady + options_.prune_every;
  auto pruned = store_->Prune(options_.retention, now);
  if (!pruned) {
    spdlog::warn("fleet jobs: retention: {}", pruned.error().message);
  } else if (pruned->samples + pruned->rollups + pruned->events > 0) {
    spdlog::info("fleet jobs: retention removed {} samples, {} rollups, {} events", pruned->samples,
                 pruned->rollups, pruned->events);
  }
}

}  // namespace fleetdesk::server::engine
