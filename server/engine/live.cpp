#include "server/engine/live.hpp"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <random>

#include "server/engine/clock.hpp"

namespace fleetdesk::server::engine {
namespace {

// Eight hex digits: enough that two runs of one server do not meet.
std::string NewEpoch() {
  std::random_device random;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 8; ++i) out += kHex[random() % 16];
  return out;
}

// Changes read per table per poll: a burst larger than this is read over several polls.
constexpr int kReadLimit = 1000;

}  // namespace

LiveHub::LiveHub(store::StorePool& stores, std::chrono::milliseconds interval, std::size_t capacity)
    : stores_(stores), interval_(interval), capacity_(capacity), epoch_(NewEpoch()) {}

LiveHub::~LiveHub() { Stop(); }

void LiveHub::Start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fd-live");
    Run();
  });
}

void LiveHub::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void LiveHub::Run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    PollOnce();
    lock.lock();
    wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

void LiveHub::PollOnce() {
  auto store = stores_.Acquire();
  if (!store) {
    spdlog::warn("live updates: {}", store.error().message);
    return;
  }
  // An id missing below the newest read is waited for this long, then taken for rolled back.
  constexpr std::int64_t kGapWaitMs = 60'000;
  const auto now = NowMs();
  for (auto* gaps : {&cursor_.host_gaps, &cursor_.ticket_gaps}) {
    for (auto it = gaps->begin(); it != gaps->end();) {
      if (it->second == 0) it->second = now;
      it = now - it->second > kGapWaitMs ? gaps->erase(it) : std::next(it);
    }
  }
  for (;;) {
    auto changes = (*store)->ChangesAfter(cursor_, kReadLimit);
    if (!changes) {
      spdlog::warn("live updates: {}", changes.error().message);
      return;
    }
    if (changes->empty()) return;
    std::lock_guard lock(mutex_);
    for (auto& change : *changes) {
      ring_.push_back(Entry{++latest_, std::move(change)});
      if (ring_.size() > capacity_) ring_.pop_front();
    }
  }
}

LiveHub::Read LiveHub::After(std::uint64_t after, std::size_t max) const {
  Read out;
  std::lock_guard lock(mutex_);
  if (after > latest_) {
    out.lost = true;
    return out;
  }
  if (after == latest_) return out;
  const std::uint64_t oldest = ring_.empty() ? latest_ + 1 : ring_.front().seq;
  if (after + 1 < oldest) out.lost = true;
  const std::uint64_t first = std::max(after + 1, oldest);
  for (auto i = static_cast<std::size_t>(first - oldest); i < ring_.size(); ++i) {
    if (out.entries.size() == max) break;
    out.entries.push_back(ring_[i]);
  }
  return out;
}

std::uint64_t LiveHub::Latest() const {
  std::lock_guard lock(mutex_);
  return latest_;
}

}  // namespace fleetdesk::server::engine
