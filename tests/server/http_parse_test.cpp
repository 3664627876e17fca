#include <catch2/catch.hpp>

#include "server/http/http_server.hpp"

using fleetdesk::ErrorCode;
using fleetdesk::server::http::HttpServerOptions;
using fleetdesk::server::http::ParseRequest;

TEST_CASE(
    "a request parses into method, path, query, credentials and body, as the listener reads "
    "it",
    "[server][http]") {
  auto request = ParseRequest(
      "PATCH /api/v1/hosts/1?x=1 HTTP/1.1\r\nHost: fleet:8443\r\nCookie: a=b; fd_session=s\r\n"
      "X-CSRF-Token: t\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
      HttpServerOptions{}, "192.0.2.1");
  REQUIRE(request.ok());
  CHECK(request->method == "PATCH");
  CHECK(request->path == "/api/v1/hosts/1");
  CHECK(request->query == "x=1");
  CHECK(request->cookie == "a=b; fd_session=s");
  CHECK(request->csrf_token == "t");
  CHECK(request->body == "{}");
  CHECK(request->remote_address == "192.0.2.1");
}

TEST_CASE("an oversized, malformed or cut-off request is refused saying which", "[server][http]") {
  HttpServerOptions small;
  small.max_header_bytes = 64;
  small.max_body_bytes = 4;
  CHECK(ParseRequest("GET / HTTP/1.1\r\nX-Long: " + std::string(100, 'a') + "\r\n\r\n", small, "")
            .error()
            .code == ErrorCode::kResourceExhausted);
  CHECK(ParseRequest("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", small, "")
            .error()
            .code == ErrorCode::kResourceExhausted);
  CHECK(ParseRequest("NOT HTTP\r\n\r\n", HttpServerOptions{}, "").error().code ==
        ErrorCode::kInvalidArgument);
  CHECK(ParseRequest("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n01", HttpServerOptions{}, "")
            .error()
            .code == ErrorCode::kInvalidArgument);
}

TEST_CASE("a path listed for larger bodies takes one; the others keep the usual limit",
          "[server][http]") {
  HttpServerOptions options;
  options.max_body_bytes = 16;
  options.larger_bodies = {{"/api/v1/hosts/import", 64}, {"/api/v1/tickets/{id}/attachments", 64}};
  const std::string body(40, 'x');
  auto request = [&](const std::string& path) {
    return "POST " + path + " HTTP/1.1\r\nContent-Length: 40\r\n\r\n" + body;
  };
  CHECK(ParseRequest(request("/api/v1/hosts/import"), options, "").ok());
  CHECK(ParseRequest(request("/api/v1/hosts/import?x=1"), options, "").ok());
  CHECK(ParseRequest(request("/api/v1/hosts"), options, "").error().code ==
        ErrorCode::kResourceExhausted);
  CHECK(ParseRequest(request("/api/v1/hosts/import/x"), options, "").error().code ==
        ErrorCode::kResourceExhausted);
  // {id} stands for one segment, any but an empty one.
  CHECK(ParseRequest(request("/api/v1/tickets/12/attachments?name=a.png"), options, "").ok());
  CHECK(ParseRequest(request("/api/v1/tickets//attachments"), options, "").error().code ==
        ErrorCode::kResourceExhausted);
  CHECK(ParseRequest(request("/api/v1/tickets/12/notes"), options, "").error().code ==
        ErrorCode::kResourceExhausted);
  CHECK(ParseRequest(request("/api/v1/tickets/12/attachments/3"), options, "").error().code ==
        ErrorCode::kResourceExhausted);
}
