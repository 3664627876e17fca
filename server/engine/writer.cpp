#include "server/engine/writer.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <unordered_map>

namespace fleetdesk::server::engine {

Writer::Writer(std::unique_ptr<store::BatchWriter> store, ServerMetrics& metrics,
               std::size_t max_batch)
    : owned_(std::move(store)), metrics_(metrics), max_batch_(max_batch) {}

Writer::Writer(std::shared_ptr<store::SharedStore> store, ServerMetrics& metrics,
               std::size_t max_batch)
    : shared_(std::move(store)), metrics_(metrics), max_batch_(max_batch) {}

Writer::~Writer() { Stop(); }

void Writer::Start() {
  thread_ = std::thread([this] {
    // Named for top -H and ps -T.
    pthread_setname_np(pthread_self(), "fd-writer");
    Run();
  });
}

void Writer::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Writer::SubmitConnect(store::HostRecord row) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    queue_.push_back(Item{std::move(row), {}, std::nullopt, true});
    metrics_.writer_queue_depth.store(static_cast<std::int64_t>(queue_.size()),
                                      std::memory_order_relaxed);
  }
  wake_.notify_one();
}

void Writer::SubmitAudit(store::AuditEntry entry) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) return;
    audits_.push_back(std::move(entry));
  }
  wake_.notify_one();
}

void Writer::SubmitRenewal(store::CertificateRenewal renewal, Done done) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      if (done) done(MakeError(ErrorCode::kUnavailable, "the writer has stopped"));
      return;
    }
    renewals_.emplace_back(std::move(renewal), std::move(done));
  }
  wake_.notify_one();
}

void Writer::Submit(store::HostRecord row, Done done, std::optional<store::HostDelta> delta) {
  {
    std::lock_guard lock(mutex_);
    if (stopped_) {
      if (done) done(MakeError(ErrorCode::kUnavailable, "the writer has stopped"));
      return;
    }
    queue_.push_back(Item{std::move(row), std::move(done), std::move(delta), false});
    metrics_.writer_queue_depth.store(static_cast<std::int64_t>(queue_.size()),
                                      std::memory_order_relaxed);
  }
  wake_.notify_one();
}

void Writer::Run() {
  std::vector<Item> batch;
  std::vector<store::AuditEntry> audits;
  std::vector<std::pair<store::CertificateRenewal, Done>> renewals;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] {
        return stopping_ || !queue_.empty() || !audits_.empty() || !renewals_.empty();
      });
      audits.swap(audits_);
      renewals.swap(renewals_);
      if (queue_.empty() && audits.empty() && renewals.empty()) {
        // Stopping, and everything is committed.
        stopped_ = true;
        break;
      }
      if (queue_.size() <= max_batch_) {
        batch.swap(queue_);
      } else {
        auto split = queue_.begin() + static_cast<std::ptrdiff_t>(max_batch_);
        batch.assign(std::make_move_iterator(queue_.begin()), std::make_move_iterator(split));
        queue_.erase(queue_.begin(), split);
      }
      metrics_.writer_queue_depth.store(static_cast<std::int64_t>(queue_.size()),
                                        std::memory_order_relaxed);
    }
    if (!batch.empty() || !audits.empty()) CommitBatch(batch, audits);
    for (auto& [renewal, done] : renewals) {
      // Captured by name: a lambda may not capture a structured binding (C++20, clang).
      Status status = WithStore(
          [&renewal = renewal](store::BatchWriter& db) { return db.RecordRenewal(renewal); });
      if (!status) {
        spdlog::error("cannot record the renewed certificate of agent {}: {}", renewal.agent_id,
                      status.error().message);
      }
      if (done) done(status);
    }
    batch.clear();
    audits.clear();
    renewals.clear();
  }
}

void Writer::CommitBatch(std::vector<Item>& all, std::vector<store::AuditEntry>& audits) {
  // Rows of an agent whose earlier commit failed are refused until it reconnects (see
  // SubmitConnect); the rest go into the transaction.
  std::vector<Item> items;
  items.reserve(all.size());
  const Status refused =
      MakeError(ErrorCode::kUnavailable, "an earlier report of this agent was not stored");
  for (auto& item : all) {
    if (!failed_agents_.empty()) {
      if (item.connect) {
        failed_agents_.erase(item.row.agent_id);
      } else if (failed_agents_.count(item.row.agent_id) != 0) {
        if (item.done) item.done(refused);
        continue;
      }
    }
    items.push_back(std::move(item));
  }
  // Several rows of one host in a batch collapse to the last: it is the newest state and carries
  // the highest sequence (the store keeps MAX(last_seq) anyway). Deltas are all kept, in order.
  store::WriteBatch batch;
  batch.audits = std::move(audits);
  batch.hosts.reserve(items.size());  // never reallocated: `index` holds views of its ids
  batch.deltas.reserve(items.size());
  std::unordered_map<std::string_view, std::size_t> index;
  index.reserve(items.size());
  for (auto& item : items) {
    if (item.delta) batch.deltas.push_back(std::move(*item.delta));
    auto found = index.find(item.row.agent_id);
    if (found == index.end()) {
      batch.hosts.push_back(std::move(item.row));
      index.emplace(batch.hosts.back().agent_id, batch.hosts.size() - 1);
    } else {
      // The newer row replaces the kept one, which keeps its own agent id string: the index
      // views it (moving a string back into the same object leaves its bytes where they were).
      auto& kept = batch.hosts[found->second];
      const auto seq = std::max(kept.last_seq, item.row.last_seq);
      // A rename in any of the collapsed rows must still be read back and written.
      const bool heartbeat_only = kept.heartbeat_only && item.row.heartbeat_only;
      std::string id = std::move(kept.agent_id);
      kept = std::move(item.row);
      kept.agent_id = std::move(id);
      kept.last_seq = seq;
      kept.heartbeat_only = heartbeat_only;
    }
  }
  store::Observations seen;
  std::uint64_t rows = 0;
  Status status = WithStore([&](store::BatchWriter& db) {
    // Timed from when the connection is held: waiting for it is the queue's time, not the commit's.
    auto started = std::chrono::steady_clock::now();
    const auto rows_before = db.RowsWritten();
    Status committed = db.Commit(batch, observer_ ? &seen : nullptr);
    metrics_.commit_latency.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    rows = db.RowsWritten() - rows_before;
    return committed;
  });
  metrics_.commits_total.fetch_add(1, std::memory_order_relaxed);
  if (status) {
    metrics_.rows_written_total.fetch_add(rows, std::memory_order_relaxed);
  } else {
    metrics_.commit_errors_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("commit of {} host rows failed: {}", batch.hosts.size(), status.error().message);
    for (const auto& host : batch.hosts) failed_agents_.insert(host.agent_id);
  }
  for (auto& item : items) {
    if (item.done) item.done(status);
  }
  if (status && observer_ && !seen.empty()) observer_(std::move(seen));
}

}  // namespace fleetdesk::server::engine
