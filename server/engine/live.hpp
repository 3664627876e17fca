// Live updates for the dashboard. One thread reads what changed from the store (host events and
// ticket timeline entries) every `interval` and keeps the newest `capacity` changes in a ring;
// each event stream (GET /api/v1/events) reads the ring from its own position. The store is
// the source: on PostgreSQL every server reads the same tables, so a change another server made
// reaches this server's streams too. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server/store/store_pool.hpp"

namespace fleetdesk::server::engine {

class LiveHub {
 public:
  LiveHub(store::StorePool& stores, std::chrono::milliseconds interval,
          std::size_t capacity = 4096);
  ~LiveHub();
  LiveHub(const LiveHub&) = delete;
  LiveHub& operator=(const LiveHub&) = delete;

  void Start();
  void Stop();
  // Reads the store once now (the thread does this every interval); for tests.
  void PollOnce();

  struct Entry {
    std::uint64_t seq = 0;
    store::Change change;
  };
  struct Read {
    std::vector<Entry> entries;
    // `after` is older than the ring, or from another run of the server (a stream resumed
    // elsewhere): changes were missed and a client must read its views again.
    bool lost = false;
  };
  // Changes numbered after `after`, oldest first, at most `max`.
  Read After(std::uint64_t after, std::size_t max) const;
  // The number of the newest change: a new stream starts after it.
  std::uint64_t Latest() const;
  // Names this run of the server, so a stream's position is not taken for one of another run.
  const std::string& epoch() const { return epoch_; }

 private:
  void Run();

  store::StorePool& stores_;
  const std::chrono::milliseconds interval_;
  const std::size_t capacity_;
  const std::string epoch_;
  store::ChangeCursor cursor_;  // the poll thread's only

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Entry> ring_;
  std::uint64_t latest_ = 0;
  std::thread thread_;
};

}  // namespace fleetdesk::server::engine
