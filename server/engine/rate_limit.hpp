// Token buckets: `rate` requests a second on average, bursts of `burst`. Used per API credential
// and address (answered 429) and per agent channel (reading paused). Standard headers only.
#pragma once

#include <algorithm>
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/result.hpp"

namespace fleetdesk::server::engine {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  TokenBucket(double rate, double burst) : rate_(rate), burst_(burst), tokens_(burst) {}

  // Takes one token at `now`: zero when there was one, else how long until there is (nothing
  // is taken then).
  Clock::duration Take(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      const double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + std::max(0.0, elapsed) * rate_);
    }
    last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return Clock::duration::zero();
    }
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>((1.0 - tokens_) / rate_));
  }
  Clock::time_point last() const { return last_; }

 private:
  double rate_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
};

// A bucket per key (a token, a user, an address). Thread-safe. Buckets idle for ten minutes are
// dropped, so keys made up by a flood do not stay.
class RateLimiter {
 public:
  RateLimiter(double rate, double burst) : rate_(rate), burst_(burst) {}

  // kRateLimited, with retry_after_seconds, when `key` is over its rate; `what` names it.
  Status Take(const std::string& key, const std::string& what, TokenBucket::Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (now - swept_ > std::chrono::minutes(1)) {
      swept_ = now;
      std::erase_if(buckets_, [&](const auto& entry) {
        return now - entry.second.last() > std::chrono::minutes(10);
      });
    }
    auto it = buckets_.try_emplace(key, rate_, burst_).first;
    auto wait = it->second.Take(now);
    if (wait == TokenBucket::Clock::duration::zero()) return {};
    const auto seconds =
        std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(wait).count());
    Error error =
        MakeError(ErrorCode::kRateLimited, "too many requests from " + what + "; try again in " +
                                               std::to_string(seconds) + " s");
    error.retry_after_seconds = static_cast<int>(seconds);
    return error;
  }

 private:
  double rate_;
  double burst_;
  std::mutex mutex_;
  std::unordered_map<std::string, TokenBucket> buckets_;
  TokenBucket::Clock::time_point swept_{};
};

}  // namespace fleetdesk::server::engine
