// Polling until a condition holds, for tests that watch real processes.
#pragma once

#include <chrono>
#include <thread>

namespace fleetdesk::testing {

// Polls `predicate` every `poll` until it holds or `timeout` passes; answers its last value.
template <typename Predicate>
bool WaitFor(Predicate predicate, std::chrono::milliseconds timeout = std::chrono::seconds(15),
             std::chrono::milliseconds poll = std::chrono::milliseconds(50)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(poll);
  }
  return predicate();
}

}  // namespace fleetdesk::testing
