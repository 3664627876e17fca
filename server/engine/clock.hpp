#pragma once

#include <chrono>
#include <cstdint>

namespace fleetdesk::server {

inline std::int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace fleetdesk::server
