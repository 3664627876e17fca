// The dashboard's files, built from server/web/ by the project's build and embedded in the
// server binary (web_assets.cpp, generated), and how they are served: every GET outside the API
// gets a file, or the dashboard's page for its own routes. Standard headers and plain structs
// only.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "server/http/message.hpp"

namespace fleetdesk::server::web {

struct Asset {
  std::string_view path;  // "/index.html", "/assets/index-3f2a.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, as the header carries it
  std::string_view body;
  std::string_view gzip;  // empty when not worth compressing
  bool immutable;         // named by its content: cached for a year
};

// Every embedded file, sorted by path.
const std::vector<Asset>& Assets();

// The answer for a request the dashboard serves; nullopt for the API's (/api/, /healthz,
// /metrics) and for methods other than GET.
std::optional<http::Response> Serve(const http::Request& request);

}  // namespace fleetdesk::server::web
