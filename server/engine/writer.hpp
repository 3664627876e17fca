// The writer: the one thread that writes state to the store, in batches (group commit). Whatever
// queued while one transaction committed goes into the next one, so under load a commit's fsync
// is shared by hundreds of reports, and when idle a row is committed at once.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/result.hpp"
#include "server/engine/metrics.hpp"
#include "server/store/shared_store.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::server::engine {

class Writer {
 public:
  // Called on the writer thread after the row's transaction committed (or failed). Keep it short:
  // post the real work elsewhere.
  using Done = std::function<void(const Status&)>;

  // Owns `store` (a connection of its own). `max_batch` bounds one transaction.
  Writer(std::unique_ptr<store::BatchWriter> store, ServerMetrics& metrics,
         std::size_t max_batch = 5000);
  // Writes through a connection it shares with others (the incident engine's, on SQLite: see
  // SharedStore), holding it for each transaction.
  Writer(std::shared_ptr<store::SharedStore> store, ServerMetrics& metrics,
         std::size_t max_batch = 5000);
  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Given what each successful commit saw that the incident engine watches, on the writer thread
  // right after the commit. Keep it short (queue it). Set before Start.
  using Observer = std::function<void(store::Observations&&)>;
  void OnCommitted(Observer observer) { observer_ = std::move(observer); }

  void Start();
  // Commits everything queued so far, then stops the thread. Submit after Stop fails the row.
  void Stop();
  // Thread-safe. `done` may be empty. `delta` carries what the report changed beyond the row.
  void Submit(store::HostRecord row, Done done, std::optional<store::HostDelta> delta = {});
  // The row of a new channel (a hello). After a failed commit an agent's later rows are failed
  // too, until its next connection: committing a later report would move its acked sequence
  // past the failed one, whose changes would then never be resent.
  void SubmitConnect(store::HostRecord row);
  // An audit entry for something the gateway saw (a refused clone); committed with the next
  // batch. Thread-safe; dropped once the writer has stopped.
  void SubmitAudit(store::AuditEntry entry);
  // An agent's renewed certificate, recorded in a transaction of its own after the next batch
  // (a refusal must not fail the reports committed with it). Thread-safe.
  void SubmitRenewal(store::CertificateRenewal renewal, Done done);

 private:
  struct Item {
    store::HostRecord row;
    Done done;
    std::optional<store::HostDelta> delta;
    bool connect = false;
  };
  void Run();
  void CommitBatch(std::vector<Item>& items, std::vector<store::AuditEntry>& audits);
  // Runs `f` with the connection, held for the call when it is shared.
  template <typename F>
  auto WithStore(F f) {
    if (shared_) {
      auto db = shared_->Lock();
      return f(static_cast<store::BatchWriter&>(*db));
    }
    return f(*owned_);
  }

  std::unique_ptr<store::BatchWriter> owned_;
  std::shared_ptr<store::SharedStore> shared_;
  ServerMetrics& metrics_;
  Observer observer_;
  std::size_t max_batch_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Item> queue_;
  std::vector<store::AuditEntry> audits_;
  std::vector<std::pair<store::CertificateRenewal, Done>> renewals_;
  std::unordered_set<std::string> failed_agents_;  // writer thread only
  bool stopping_ = false;
  bool stopped_ = false;  // the thread has left its loop; later rows fail at once
  std::thread thread_;
};

}  // namespace fleetdesk::server::engine
