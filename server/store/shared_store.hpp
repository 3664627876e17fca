// One connection that several threads use in turn, each holding it for one call.
//
// On SQLite the writer and the incident engine share one: SQLite lets one connection write at a
// time anyway, and a commit by another connection makes every other connection discard its whole
// page cache at its next transaction. With two writing connections the writer re-read its pages
// after each of the incident engine's commits (a fifth of its time at 10,000 reports/s with 1 %
// of them changing state). PostgreSQL has no such cost, so there each gets a connection of its own.
#pragma once

#include <memory>
#include <mutex>

#include "server/store/store.hpp"

namespace fleetdesk::server::store {

class SharedStore {
 public:
  explicit SharedStore(std::unique_ptr<Store> store) : store_(std::move(store)) {}
  SharedStore(const SharedStore&) = delete;
  SharedStore& operator=(const SharedStore&) = delete;

  // The connection, held until the lease ends. Keep it short: the other users wait.
  class Lease {
   public:
    Lease(std::mutex& mutex, Store& store) : lock_(mutex), store_(store) {}
    Store* operator->() const { return &store_; }
    Store& operator*() const { return store_; }

   private:
    std::unique_lock<std::mutex> lock_;
    Store& store_;
  };
  Lease Lock() { return Lease(mutex_, *store_); }

 private:
  std::mutex mutex_;
  std::unique_ptr<Store> store_;
};

}  // namespace fleetdesk::server::store
