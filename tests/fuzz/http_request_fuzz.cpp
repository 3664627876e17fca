// The API's request path: raw bytes through the listener's HTTP parser and limits into the API
// with a real SQLite store, as an admin's token, a session cookie or nobody. Any request is
// answered, never crashes; every answer is a status the error contract allows, with a JSON body
// for errors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>

#include "server/api/api.hpp"
#include "server/api/auth.hpp"
#include "server/engine/clock.hpp"
#include "server/http/http_server.hpp"

namespace {

using namespace fleetdesk::server;

// The corpus's requests carry this token; it is the admin's.
constexpr const char* kToken = "fdt_fuzz";

struct World {
  std::string dir;
  std::unique_ptr<store::StorePool> stores;
  engine::StateEngine engine;
  ServerMetrics metrics;
  Pki pki;
  std::unique_ptr<api::Api> api;

  World() {
    char pattern[] = "/tmp/fleetdesk-fuzz-XXXXXX";
    dir = ::mkdtemp(pattern);
    if (!Pki::Initialize(dir, {"localhost"})) std::abort();
    pki = *Pki::Load(dir);
    stores = std::make_unique<store::StorePool>(dir + "/fleetdesk.db");
    auto s = stores->Acquire();
    if (!s || !(*s)->Migrate()) std::abort();
    auto hash = auth::HashPassword("correct horse battery");
    if (!(*s)->AddUser({0, "admin", "admin", *hash, false, NowMs()}, {})) std::abort();
    store::NewApiToken token;
    token.user_name = "admin";
    token.token_hash = auth::HashToken(kToken);
    token.expires_ms = NowMs() + 86'400'000LL * 365;
    if (!(*s)->CreateApiToken(token, {})) std::abort();
    api::ApiOptions options;
    options.rate_limit = 1e12;  // a fuzzer's millions of calls would meet only the limiter
    options.rate_burst = 1e12;
    api = std::make_unique<api::Api>(options, *stores, engine, pki, metrics);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto request = http::ParseRequest(bytes, http::HttpServerOptions{}, "192.0.2.1");
  if (!request) return 0;
  auto response = world.api->Handle(*request);
  if (response.status < 200 || response.status > 599) std::abort();
  if (response.status >= 400 && response.body.find("\"error\"") == std::string::npos) std::abort();
  return 0;
}
