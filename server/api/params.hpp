// Reading what a request's query string and path say: whole numbers, page sizes, times and the
// parameters an endpoint takes. Each error names the parameter and what it should have been.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <map>
#include <string>

#include "common/codec.hpp"
#include "common/result.hpp"
#include "server/http/message.hpp"

namespace fleetdesk::server::api {

Error Invalid(std::string message);
bool ValidUtf8(std::string_view s);
// Control characters, but for newlines and tabs when `allow_lines`.
bool HasControl(std::string_view s, bool allow_lines);
Result<std::int64_t> ParseInt(const std::string& text, const std::string& what);
// The query's "limit", `fallback` when absent; errors outside 1..max.
Result<int> ParseLimit(const std::map<std::string, std::string>& query, int fallback, int max);
// A page cursor of the "older than this id" kind, as the server gave it out.
Result<std::int64_t> ParseCursor(const std::string& text);
// RFC 3339 ("2026-11-03T10:00:00Z") to Unix milliseconds.
Result<std::int64_t> ParseTime(const std::string& text, const std::string& what);
// kInvalidArgument naming the first parameter `resource` does not take, and those it does.
Status OnlyKeys(const std::map<std::string, std::string>& query,
                std::initializer_list<const char*> allowed, const char* resource);

// A JSON request body as message M: at most `max_bytes`, nested at most 8 deep, and every field
// one M has (a misspelt field is refused by name rather than ignored). An empty body is {}.
template <typename M>
Result<M> JsonBody(const http::Request& request, std::size_t max_bytes) {
  if (request.body.size() > max_bytes) {
    return MakeError(ErrorCode::kResourceExhausted,
                     "this body is at most " + std::to_string(max_bytes / 1024) + " KiB");
  }
  codec::Limits limits{max_bytes, 8};
  limits.refuse_unknown_fields = true;
  return codec::Parse<M>(request.body.empty() ? std::string_view("{}") : request.body, limits);
}

}  // namespace fleetdesk::server::api
