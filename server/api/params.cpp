#include "server/api/params.hpp"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>

namespace fleetdesk::server::api {

using google::protobuf::util::TimeUtil;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

Result<std::int64_t> ParseInt(const std::string& text, const std::string& what) {
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Invalid(what + " must be a whole number, not '" + text + "'");
  }
  return value;
}

Result<int> ParseLimit(const std::map<std::string, std::string>& query, int fallback, int max) {
  auto it = query.find("limit");
  if (it == query.end()) return fallback;
  auto limit = ParseInt(it->second, "limit");
  if (!limit) return limit.error();
  if (*limit < 1 || *limit > max) {
    return Invalid("limit must be between 1 and " + std::to_string(max));
  }
  return static_cast<int>(*limit);
}

Result<std::int64_t> ParseTime(const std::string& text, const std::string& what) {
  google::protobuf::Timestamp t;
  if (!TimeUtil::FromString(text, &t)) {
    return Invalid(what + " must be an RFC 3339 time such as 2026-11-03T10:00:00Z, not '" + text +
                   "'");
  }
  return TimeUtil::TimestampToMilliseconds(t);
}

Status OnlyKeys(const std::map<std::string, std::string>& query,
                std::initializer_list<const char*> allowed, const char* resource) {
  for (const auto& [key, value] : query) {
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) {
      std::string list;
      for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return Invalid("unknown query parameter '" + key + "'; " + resource + " takes " + list);
    }
  }
  return {};
}

Result<std::int64_t> ParseCursor(const std::string& text) {
  auto before = ParseInt(text, "cursor");
  if (!before || *before <= 0) return Invalid("cursor is not one this server gave out");
  return *before;
}

}  // namespace fleetdesk::server::api
