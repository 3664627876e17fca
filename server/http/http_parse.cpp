#include "server/http/http_parse.hpp"

#include <algorithm>
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>

namespace fleetdesk::server::http {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

Request ToRequest(const bhttp::request<bhttp::string_body>& in, const std::string& remote) {
  Request out;
  out.method = std::string(in.method_string());
  std::string target(in.target());
  auto q = target.find('?');
  out.path = target.substr(0, q);
  if (q != std::string::npos) out.query = target.substr(q + 1);
  out.host = std::string(in[bhttp::field::host]);
  out.authorization = std::string(in[bhttp::field::authorization]);
  out.cookie = std::string(in[bhttp::field::cookie]);
  out.csrf_token = std::string(in["X-CSRF-Token"]);
  out.idempotency_key = std::string(in["Idempotency-Key"]);
  out.accept_encoding = std::string(in[bhttp::field::accept_encoding]);
  out.if_none_match = std::string(in[bhttp::field::if_none_match]);
  out.last_event_id = std::string(in["Last-Event-ID"]);
  out.content_type = std::string(in[bhttp::field::content_type]);
  out.body = in.body();
  out.remote_address = remote;
  return out;
}

namespace {

// `path` is `pattern`, where a "{id}" segment stands for any one non-empty segment.
bool PathMatches(std::string_view pattern, std::string_view path) {
  for (;;) {
    const auto p_end = std::min(pattern.find('/'), pattern.size());
    const auto s_end = std::min(path.find('/'), path.size());
    const auto p = pattern.substr(0, p_end);
    const auto s = path.substr(0, s_end);
    if (p == "{id}" ? s.empty() : p != s) return false;
    if (p_end == pattern.size() || s_end == path.size()) {
      return p_end == pattern.size() && s_end == path.size();
    }
    pattern.remove_prefix(p_end + 1);
    path.remove_prefix(s_end + 1);
  }
}

}  // namespace

std::size_t BodyLimit(const HttpServerOptions& options, std::string_view target) {
  for (const auto& [pattern, limit] : options.larger_bodies) {
    if (PathMatches(pattern, target.substr(0, target.find('?')))) return limit;
  }
  return options.max_body_bytes;
}

std::size_t LargestBodyLimit(const HttpServerOptions& options) {
  std::size_t most = options.max_body_bytes;
  for (const auto& entry : options.larger_bodies) most = std::max(most, entry.second);
  return most;
}

bool BodyFits(bhttp::request_parser<bhttp::string_body>& parser, const HttpServerOptions& options) {
  const auto limit = BodyLimit(options, parser.get().target());
  if (auto length = parser.content_length(); length && *length > limit) return false;
  parser.body_limit(limit);
  return true;
}

Result<Request> ParseRequest(std::string_view bytes, const HttpServerOptions& options,
                             const std::string& remote_address) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.body_limit(LargestBodyLimit(options));
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  boost::system::error_code ec;
  bool limited = false;
  while (!bytes.empty() && !parser.is_done()) {
    auto used = parser.put(asio::buffer(bytes.data(), bytes.size()), ec);
    bytes.remove_prefix(used);
    if (!ec && !limited && parser.is_header_done()) {
      limited = true;
      if (!BodyFits(parser, options)) ec = bhttp::error::body_limit;
      parser.eager(true);
    }
    if (ec == bhttp::error::need_more) {
      ec = {};
      if (used == 0) break;
    } else if (ec) {
      break;
    }
  }
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
    return MakeError(ErrorCode::kResourceExhausted, "request is larger than this server accepts");
  }
  if (ec || !parser.is_done()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "malformed request: " + (ec ? ec.message() : std::string("incomplete")));
  }
  return ToRequest(parser.get(), remote_address);
}

}  // namespace fleetdesk::server::http
