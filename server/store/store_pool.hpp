// Connections for the API's worker threads: borrowed for one request, returned after. Opens a new
// connection when none is free, so it never blocks; at most as many stay open as there are
// workers. Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "server/store/store.hpp"

namespace fleetdesk::server::store {

class StorePool {
 public:
  explicit StorePool(std::string database) : database_(std::move(database)) {}

  class Lease {
   public:
    Lease(StorePool* pool, std::unique_ptr<Store> store) : pool_(pool), store_(std::move(store)) {}
    Lease(Lease&&) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    ~Lease() {
      if (store_) pool_->Return(std::move(store_));
    }
    Store* operator->() const { return store_.get(); }
    Store& operator*() const { return *store_; }

   private:
    StorePool* pool_;
    std::unique_ptr<Store> store_;
  };

  Result<Lease> Acquire() {
    {
      std::lock_guard lock(mutex_);
      if (!free_.empty()) {
        auto store = std::move(free_.back());
        free_.pop_back();
        return Lease(this, std::move(store));
      }
    }
    auto store = OpenStore(database_);
    if (!store) return store.error();
    return Lease(this, std::move(*store));
  }

 private:
  void Return(std::unique_ptr<Store> store) {
    std::lock_guard lock(mutex_);
    free_.push_back(std::move(store));
  }

  std::string database_;
  std::mutex mutex_;
  std::vector<std::unique_ptr<Store>> free_;
};

}  // namespace fleetdesk::server::store
