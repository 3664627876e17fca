#include "common/time_text.hpp"

#include <ctime>

namespace fleetdesk {

std::string UtcSecondsText(std::int64_t unix_seconds) {
  if (unix_seconds <= 0) return {};
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &parts);
  return text;
}

}  // namespace fleetdesk
