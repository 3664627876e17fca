#include "server/engine/rate_limit.hpp"

#include <catch2/catch.hpp>

using fleetdesk::ErrorCode;
using fleetdesk::server::engine::RateLimiter;
using fleetdesk::server::engine::TokenBucket;
using namespace std::chrono_literals;

TEST_CASE("a token bucket lets a burst through, then one request per 1/rate", "[server][engine]") {
  TokenBucket bucket(10, 3);  // 10 a second, bursts of 3
  const auto t0 = TokenBucket::Clock::now();
  for (int i = 0; i < 3; ++i) CHECK(bucket.Take(t0) == TokenBucket::Clock::duration::zero());
  auto wait = bucket.Take(t0);
  CHECK(wait > 90ms);
  CHECK(wait <= 100ms);
  CHECK(bucket.Take(t0 + 100ms) == TokenBucket::Clock::duration::zero());
  CHECK(bucket.Take(t0 + 100ms) > TokenBucket::Clock::duration::zero());
  // An idle bucket refills to its burst, not beyond.
  for (int i = 0; i < 3; ++i) CHECK(bucket.Take(t0 + 10s) == TokenBucket::Clock::duration::zero());
  CHECK(bucket.Take(t0 + 10s) > TokenBucket::Clock::duration::zero());
}

TEST_CASE("a rate limiter keeps one bucket per key and says when to try again",
          "[server][engine]") {
  RateLimiter limiter(1, 2);
  const auto t0 = TokenBucket::Clock::now();
  CHECK(limiter.Take("token 1", "token 1", t0).ok());
  CHECK(limiter.Take("token 1", "token 1", t0).ok());
  auto refused = limiter.Take("token 1", "token 1", t0);
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::kRateLimited);
  CHECK(refused.error().retry_after_seconds == 1);
  CHECK_THAT(refused.error().message, Catch::Contains("token 1"));
  CHECK(limiter.Take("token 2", "token 2", t0).ok());  // another key is not held back
  CHECK(limiter.Take("token 1", "token 1", t0 + 1s).ok());
}
