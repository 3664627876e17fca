// The dashboard's files as the server serves them from its own binary.
#include "server/web/web.hpp"

#include <catch2/catch.hpp>

using namespace fleetdesk::server;

namespace {

http::Request Get(const std::string& path, const std::string& encoding = "") {
  http::Request r;
  r.method = "GET";
  r.path = path;
  r.accept_encoding = encoding;
  return r;
}

std::string Header(const http::Response& r, const std::string& name) {
  for (const auto& [key, value] : r.headers) {
    if (key == name) return value;
  }
  return "";
}

const web::Asset& Script() {
  for (const auto& asset : web::Assets()) {
    if (asset.path.starts_with("/assets/") && asset.path.ends_with(".js")) return asset;
  }
  FAIL("the dashboard has no script");
  throw;
}

}  // namespace

TEST_CASE("the dashboard's page is served at / and at each of its own routes", "[server][web]") {
  for (const char* path : {"/", "/hosts", "/hosts/12", "/tickets/4711", "/admin/audit"}) {
    CAPTURE(path);
    auto r = web::Serve(Get(path));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->content_type == "text/html; charset=utf-8");
    CHECK(r->body.find("<div id=\"app\">") != std::string::npos);
    CHECK(Header(*r, "Cache-Control") == "no-cache");
  }
}

TEST_CASE("the dashboard leaves the API's paths and other methods to the API", "[server][web]") {
  for (const char* path : {"/api/v1/hosts", "/api/v1/nothing", "/healthz", "/metrics", "/api"}) {
    CAPTURE(path);
    CHECK_FALSE(web::Serve(Get(path)));
  }
  auto post = Get("/");
  post.method = "POST";
  CHECK_FALSE(web::Serve(post));
}

TEST_CASE("a bundle is sent compressed to a client that takes gzip, plain to one that does not",
          "[server][web]") {
  const auto& script = Script();
  CHECK(script.immutable);
  REQUIRE_FALSE(script.gzip.empty());
  CHECK(script.gzip.size() < script.body.size());
  const std::string path(script.path);

  auto packed = web::Serve(Get(path, "gzip, deflate, br"));
  REQUIRE(packed);
  CHECK(Header(*packed, "Content-Encoding") == "gzip");
  CHECK(packed->body == script.gzip);
  CHECK(Header(*packed, "Cache-Control") == "public, max-age=31536000, immutable");
  CHECK(packed->content_type == "text/javascript; charset=utf-8");

  for (const char* refuses : {"", "identity", "gzip;q=0", "br"}) {
    CAPTURE(refuses);
    auto plain = web::Serve(Get(path, refuses));
    REQUIRE(plain);
    CHECK(Header(*plain, "Content-Encoding").empty());
    CHECK(plain->body == script.body);
  }
}

TEST_CASE("the page itself is never sent compressed", "[server][web]") {
  for (const char* path : {"/", "/index.html", "/tickets/12"}) {
    CAPTURE(path);
    auto r = web::Serve(Get(path, "gzip"));
    REQUIRE(r);
    CHECK(Header(*r, "Content-Encoding").empty());
    CHECK(r->body.find("<div id=\"app\">") != std::string::npos);
  }
}

TEST_CASE("a file the client holds already answers 304 to its ETag", "[server][web]") {
  auto first = web::Serve(Get("/"));
  REQUIRE(first);
  const auto etag = Header(*first, "ETag");
  REQUIRE(etag.size() > 2);
  auto again = Get("/");
  again.if_none_match = etag;
  auto second = web::Serve(again);
  REQUIRE(second);
  CHECK(second->status == 304);
  CHECK(second->body.empty());
  again.if_none_match = "\"something-else\"";
  CHECK(web::Serve(again)->status == 200);
}

TEST_CASE("a missing file is a 404, not the page in its place", "[server][web]") {
  auto r = web::Serve(Get("/assets/index-0000.js"));
  REQUIRE(r);
  CHECK(r->status == 404);
  CHECK(web::Serve(Get("/favicon.ico"))->status == 404);
}

TEST_CASE("every file forbids loading from elsewhere and being framed", "[server][web]") {
  for (const auto& asset : web::Assets()) {
    CAPTURE(asset.path);
    auto r = web::Serve(Get(std::string(asset.path)));
    REQUIRE(r);
    const auto policy = Header(*r, "Content-Security-Policy");
    CHECK(policy.find("default-src 'self'") != std::string::npos);
    CHECK(policy.find("connect-src 'self'") != std::string::npos);
    CHECK(policy.find("frame-ancestors 'none'") != std::string::npos);
    CHECK(Header(*r, "X-Frame-Options") == "DENY");
    // No address of another origin is built into the bundle for the browser to fetch.
    CHECK(std::string(asset.body).find("src=\"http") == std::string::npos);
  }
}
