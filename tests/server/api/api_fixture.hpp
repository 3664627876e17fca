// A server's API without the network: real store, real CA, real handlers. Shared by the API's
// test files.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/access.pb.h"
#include "fleetdesk/v1/api.pb.h"
#include "server/api/api.hpp"
#include "server/api/auth.hpp"
#include "server/engine/clock.hpp"
#include "tests/support/temp_dir.hpp"

namespace fleetdesk::testing {

using namespace fleetdesk::server;

inline store::NewApiToken ApiToken(const std::string& user, const std::string& token,
                                   const std::string& scope = "full") {
  store::NewApiToken t;
  t.user_name = user;
  t.token_hash = auth::HashToken(token);
  t.scope = scope;
  t.created_ms = NowMs();
  t.expires_ms = NowMs() + 60'000;
  return t;
}

// How a call proves who makes it: a bearer token, or a session's cookie and CSRF token.
struct Credentials {
  std::string bearer;
  std::string cookie;
  std::string csrf;
};

struct Fixture {
  TempDir dir;
  std::unique_ptr<store::StorePool> stores;
  engine::StateEngine engine;
  ServerMetrics metrics;
  Pki pki;
  std::unique_ptr<api::Api> api;
  std::string token;  // the admin's full API token

  explicit Fixture(api::ApiOptions options = {}) {
    REQUIRE(Pki::Initialize(dir.path(), {"localhost"}).ok());
    pki = *Pki::Load(dir.path());
    stores = std::make_unique<store::StorePool>(dir / "fleetdesk.db");
    auto s = stores->Acquire();
    REQUIRE((*s)->Migrate().ok());
    REQUIRE((*s)->AddUser({0, "admin", "admin", "x", false, 0}, {}).ok());
    token = auth::NewApiToken();
    REQUIRE((*s)->CreateApiToken(ApiToken("admin", token), {}).ok());
    api = std::make_unique<api::Api>(std::move(options), *stores, engine, pki, metrics);
  }

  // A user with a password (Argon2id-hashed as the API does) and a token of `scope`.
  Credentials AddUser(const std::string& name, const std::string& role,
                      const std::string& password = "correct horse battery",
                      const std::string& scope = "full") {
    auto s = stores->Acquire();
    REQUIRE((*s)->AddUser({0, name, role, *auth::HashPassword(password), false, NowMs()}, {}).ok());
    return TokenOf(name, scope);
  }

  Credentials TokenOf(const std::string& user, const std::string& scope) {
    auto s = stores->Acquire();
    auto secret = auth::NewApiToken();
    REQUIRE((*s)->CreateApiToken(ApiToken(user, secret, scope), {}).ok());
    return Credentials{secret, "", ""};
  }

  http::Request Request(const std::string& method, const std::string& target,
                        const std::string& body) {
    http::Request r;
    r.method = method;
    auto q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    r.body = body;
    r.host = "fleet.example:8443";
    r.remote_address = "192.0.2.10";
    return r;
  }

  http::Response Call(const std::string& method, const std::string& target,
                      const std::string& body = "", bool authorized = true) {
    auto r = Request(method, target, body);
    if (authorized) r.authorization = "Bearer " + token;
    return api->Handle(r);
  }

  http::Response CallWith(const Credentials& who, const std::string& method,
                          const std::string& target, const std::string& body = "") {
    auto r = Request(method, target, body);
    if (!who.bearer.empty()) r.authorization = "Bearer " + who.bearer;
    if (!who.cookie.empty()) r.cookie = "theme=dark; " + who.cookie;
    r.csrf_token = who.csrf;
    return api->Handle(r);
  }

  // Signs in; the answer's cookie and CSRF token, or nullopt when refused.
  std::optional<Credentials> SignIn(const std::string& name, const std::string& password) {
    fleetdesk::v1::SignInRequest req;
    req.set_name(name);
    req.set_password(password);
    auto response = Call("POST", "/api/v1/session", fleetdesk::codec::ToJson(req), false);
    if (response.status != 201) return std::nullopt;
    Credentials out;
    for (const auto& [header, value] : response.headers) {
      if (header == "Set-Cookie") out.cookie = value.substr(0, value.find(';'));
    }
    out.csrf = fleetdesk::codec::Parse<fleetdesk::v1::Session>(response.body)->csrf_token();
    return out;
  }

  std::string EnrollmentToken(std::int64_t ttl_ms, std::optional<std::int64_t> max_hosts = {}) {
    auto t = auth::NewEnrollmentToken();
    auto s = stores->Acquire();
    REQUIRE((*s)->CreateEnrollmentToken(
                    {auth::HashToken(t), NowMs(), NowMs() + ttl_ms, max_hosts, ""}, {})
                .ok());
    return t;
  }

  std::string EnrollBody(const std::string& enrollment_token, const std::string& machine = "m1") {
    auto key = fleetdesk::crypto::GenerateKey();
    fleetdesk::v1::EnrollRequest req;
    req.set_token(enrollment_token);
    req.set_csr(*fleetdesk::crypto::MakeCsr(*key, "web-1"));
    req.set_hostname("web-1");
    req.set_machine_id(machine);
    return fleetdesk::codec::ToJson(req);
  }

  std::size_t HostCount() { return (*stores->Acquire())->LoadHosts()->size(); }
};

// The answer's body as message M.
template <typename M>
M As(const http::Response& response) {
  auto parsed = fleetdesk::codec::Parse<M>(response.body);
  REQUIRE(parsed.ok());
  return *parsed;
}

inline fleetdesk::v1::ErrorResponse ErrorOf(const http::Response& r) {
  auto e = fleetdesk::codec::Parse<fleetdesk::v1::ErrorResponse>(r.body);
  REQUIRE(e.ok());
  return *e;
}

}  // namespace fleetdesk::testing
