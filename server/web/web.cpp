#include "server/web/web.hpp"

#include <algorithm>
#include <string>

namespace fleetdesk::server::web {
namespace {

// The dashboard loads nothing from elsewhere: scripts, styles, data and images from this server
// only (ECharts draws on a canvas; Preact sets styles through the DOM, which CSP allows).
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' "
    "data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'";

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

const Asset* Find(std::string_view path) {
  const auto& assets = Assets();
  auto it = std::lower_bound(assets.begin(), assets.end(), path,
                             [](const Asset& a, std::string_view p) { return a.path < p; });
  return it != assets.end() && it->path == path ? &*it : nullptr;
}

// Whether the client takes gzip: "gzip" among its codings, not refused with q=0.
bool AcceptsGzip(std::string_view header) {
  std::size_t at = 0;
  while (at < header.size()) {
    auto end = std::min(header.find(',', at), header.size());
    auto part = header.substr(at, end - at);
    at = end + 1;
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    auto semi = part.find(';');
    auto coding = part.substr(0, semi);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "*") continue;
    if (semi != std::string_view::npos) {
      auto params = part.substr(semi + 1);
      auto q = params.find("q=");
      if (q != std::string_view::npos) {
        auto value = params.substr(q + 2);
        if (value == "0" || StartsWith(value, "0.000") || value == "0.0" || value == "0.00") {
          return false;
        }
      }
    }
    return true;
  }
  return false;
}

http::Response NotFound(const std::string& path) {
  http::Response r;
  r.status = 404;
  r.content_type = "text/plain; charset=utf-8";
  r.body = "no file " + path + " in this dashboard\n";
  return r;
}

}  // namespace

std::optional<http::Response> Serve(const http::Request& request) {
  if (request.method != "GET") return std::nullopt;
  const std::string_view path = request.path;
  if (StartsWith(path, "/api/") || path == "/api" || path == "/healthz" || path == "/metrics") {
    return std::nullopt;
  }
  const Asset* asset = Find(path == "/" ? "/index.html" : path);
  if (asset == nullptr) {
    // The dashboard's own routes (/hosts/12, /tickets) are its page, which reads the path; a
    // missing file (a name with a dot: a stale bundle's) is a 404, not a page in its place.
    const auto last = path.substr(path.rfind('/') + 1);
    if (last.find('.') != std::string_view::npos) return NotFound(request.path);
    asset = Find("/index.html");
    if (asset == nullptr) return NotFound(request.path);
  }
  http::Response r;
  r.content_type = std::string(asset->content_type);
  r.headers.emplace_back("Cache-Control",
                         asset->immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("ETag", std::string(asset->etag));
  r.headers.emplace_back("Vary", "Accept-Encoding");
  r.headers.emplace_back("Content-Security-Policy", kPolicy);
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  if (!request.if_none_match.empty() &&
      request.if_none_match.find(asset->etag) != std::string::npos) {
    r.status = 304;
    return r;
  }
  // Only the bundles are sent compressed. They are the same bytes for everyone, so there is
  // nothing for a BREACH-style attack to guess; the page (half a kilobyte) goes as it is, which
  // keeps any secret a later version puts in it out of compressed responses.
  if (asset->immutable && !asset->gzip.empty() && AcceptsGzip(request.accept_encoding)) {
    r.headers.emplace_back("Content-Encoding", "gzip");
    r.body = std::string(asset->gzip);
  } else {
    r.body = std::string(asset->body);
  }
  return r;
}

}  // namespace fleetdesk::server::web
