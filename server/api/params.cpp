#include "server/api/params.hpp"

#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <charconv>

namespace fleetdesk::server::api {

using google::protobuf::util::TimeUtil;

Error Invalid(std::string message) {
  return MakeError(ErrorCode::kInvalidArgument, std::move(message));
}

bool ValidUtf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80             ? 0
                          : (c & 0xE0) == 0xC0 ? 1
                          : (c & 0xF0) == 0xE0 ? 2
                          : (c & 0xF8) == 0xF0 ? 3
                                               : 4;
    if (n == 4 || i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

bool HasControl(std::string_view s, bool allow_lines) {
  return std::any_of(s.begin(), s.end(), [&](char c) {
    const auto u = static_cast<unsigned char>(c);
    if (allow_lines && (c == '\n' || c == '\r' || c == '\t')) return false;
    return u < 0x20 || u == 0x7F;
  });
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
