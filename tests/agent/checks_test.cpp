#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <sstream>
#include <thread>

#include "agent/checks/runner.hpp"
#include "common/net/check_spec.hpp"
#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

using fleetdesk::v1::CheckResult;
using fleetdesk::v1::CheckSpec;

namespace {

// The servers of check_targets.py, started once for all the tests here.
class Targets {
 public:
  static Targets& Get() {
    static Targets targets;
    return targets;
  }
  std::string Url(const std::string& server, const std::string& path) const {
    const char* scheme = server == "http" ? "http" : "https";
    return std::string(scheme) + "://127.0.0.1:" + std::to_string(ports_.at(server)) + path;
  }
  int Port(const std::string& server) const { return ports_.at(server); }
  std::string Ca() const { return dir_ / "ca.pem"; }

 private:
  Targets()
      : process_({"/usr/bin/python3",
                  std::string(FLEETDESK_TEST_FIXTURES) + "/agent/check_targets.py", dir_.path()},
                 dir_ / "targets.log") {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!std::filesystem::exists(dir_ / "targets")) {
      if (std::chrono::steady_clock::now() > deadline) FAIL("check_targets.py did not start");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::istringstream lines(fleetdesk::testing::ReadFile(dir_ / "targets"));
    std::string line;
    while (std::getline(lines, line)) {
      auto eq = line.find('=');
      ports_[line.substr(0, eq)] = std::stoi(line.substr(eq + 1));
    }
  }
  fleetdesk::testing::TempDir dir_;
  fleetdesk::testing::Process process_;
  std::map<std::string, int> ports_;
};

CheckSpec Http(const std::string& url) {
  CheckSpec spec;
  spec.set_key("test");
  spec.set_kind(fleetdesk::v1::CHECK_KIND_HTTP);
  spec.set_target(url);
  spec.set_timeout_ms(2000);
  return spec;
}

CheckResult RunCheck(CheckSpec spec) {
  REQUIRE(fleetdesk::checks::Normalize(&spec).ok());
  boost::asio::io_context io;
  CheckResult out;
  fleetdesk::agent::checks::RunOnce(io, spec, [&](CheckResult result) { out = result; });
  io.run();
  return out;
}

}  // namespace

TEST_CASE("an HTTP check that gets its status and keyword is up, with its latency split",
          "[agent][checks]") {
  auto spec = Http(Targets::Get().Url("http", "/ok"));
  spec.set_body_contains("healthy");
  spec.set_body_regex("status: [a-z]+");
  auto result = RunCheck(spec);
  CHECK(result.up());
  CHECK(result.message().empty());
  CHECK(result.http_status() == 200);
  CHECK(result.latency_ms() > 0);
  CHECK(result.connect_ms() > 0);
  CHECK(result.first_byte_ms() > 0);
  CHECK(result.latency_ms() >= result.connect_ms() + result.first_byte_ms());
  CHECK_FALSE(result.has_cert_days_left());
  REQUIRE(result.addresses_size() == 1);
  CHECK(result.addresses(0) == "127.0.0.1");
}

TEST_CASE("an HTTP check with a wrong status or a missing keyword is down, saying which",
          "[agent][checks]") {
  auto wrong = RunCheck(Http(Targets::Get().Url("http", "/wrong")));
  CHECK_FALSE(wrong.up());
  CHECK(wrong.http_status() == 503);
  CHECK(wrong.message() == "unexpected status 503");

  auto spec = Http(Targets::Get().Url("http", "/ok"));
  spec.set_body_contains("database: ok");
  auto missing = RunCheck(spec);
  CHECK_FALSE(missing.up());
  CHECK(missing.message() == "the body does not contain 'database: ok'");

  auto expected = Http(Targets::Get().Url("http", "/wrong"));
  expected.add_expect_status(503);
  CHECK(RunCheck(expected).up());
}

TEST_CASE("custom headers reach the server", "[agent][checks]") {
  auto spec = Http(Targets::Get().Url("http", "/echo-header"));
  (*spec.mutable_headers())["X-Probe"] = "fleetdesk";
  spec.set_body_contains("probe=fleetdesk");
  CHECK(RunCheck(spec).up());
}

TEST_CASE("a refused connection and a closed TCP port are down at once", "[agent][checks]") {
  auto http = RunCheck(Http("http://127.0.0.1:" + std::to_string(Targets::Get().Port("closed"))));
  CHECK_FALSE(http.up());
  CHECK_THAT(http.message(), Catch::Contains("connecting") && Catch::Contains("refused"));
  CHECK(http.latency_ms() < 1000);

  CheckSpec tcp;
  tcp.set_key("tcp");
  tcp.set_kind(fleetdesk::v1::CHECK_KIND_TCP);
  tcp.set_target("127.0.0.1:" + std::to_string(Targets::Get().Port("closed")));
  auto closed = RunCheck(tcp);
  CHECK_FALSE(closed.up());
  CHECK_THAT(closed.message(), Catch::Contains("refused"));
  tcp.set_target("127.0.0.1:" + std::to_string(Targets::Get().Port("http")));
  auto open = RunCheck(tcp);
  CHECK(open.up());
  CHECK(open.connect_ms() > 0);
}

TEST_CASE("a server that never answers times out after the check's timeout", "[agent][checks]") {
  auto spec = Http("http://127.0.0.1:" + std::to_string(Targets::Get().Port("hang")) + "/");
  spec.set_timeout_ms(300);
  auto result = RunCheck(spec);
  CHECK_FALSE(result.up());
  CHECK(result.message() == "timed out after 300 ms waiting for the response");
  CHECK(result.latency_ms() >= 300);
  CHECK(result.latency_ms() < 1500);
}

TEST_CASE("a body that trickles in is cut off by the timeout", "[agent][checks]") {
  auto spec = Http(Targets::Get().Url("http", "/slow-body"));
  spec.set_timeout_ms(1500);
  auto result = RunCheck(spec);
  CHECK_FALSE(result.up());
  CHECK(result.message() == "timed out after 1500 ms reading the body");
  CHECK(result.http_status() == 0);  // the status line came, the answer never completed
}

TEST_CASE("a redirect is followed, and a redirect loop stops at the limit", "[agent][checks]") {
  auto follow = Http(Targets::Get().Url("http", "/redirect/once"));
  follow.set_max_redirects(5);
  auto once = RunCheck(follow);
  CHECK(once.up());
  CHECK(once.redirects() == 1);
  CHECK(once.http_status() == 200);
  // Not following (the protocol's 0), the redirect itself is the answer.
  auto stay = RunCheck(Http(Targets::Get().Url("http", "/redirect/once")));
  CHECK(stay.http_status() == 301);
  CHECK(stay.redirects() == 0);

  auto spec = Http(Targets::Get().Url("http", "/redirect/a"));
  spec.set_max_redirects(4);
  auto loop = RunCheck(spec);
  CHECK_FALSE(loop.up());
  CHECK(loop.message() == "more than 4 redirects (last to /redirect/b)");
}

TEST_CASE("HTTPS is verified against a custom CA and reports the days to expiry",
          "[agent][checks]") {
  auto spec = Http(Targets::Get().Url("https", "/ok"));
  spec.set_ca_file(Targets::Get().Ca());
  auto result = RunCheck(spec);
  CHECK(result.up());
  CHECK(result.tls_ms() > 0);
  REQUIRE(result.has_cert_days_left());
  CHECK(result.cert_days_left() >= 18);
  CHECK(result.cert_days_left() <= 20);

  // The same server, without our CA: the system's trust store does not know it.
  auto untrusted = RunCheck(Http(Targets::Get().Url("https", "/ok")));
  CHECK_FALSE(untrusted.up());
  CHECK_THAT(untrusted.message(), Catch::StartsWith("TLS handshake: certificate not trusted"));
}

TEST_CASE("a self-signed certificate is refused unless verification is turned off",
          "[agent][checks]") {
  auto spec = Http(Targets::Get().Url("selfsigned", "/ok"));
  spec.set_ca_file(Targets::Get().Ca());
  auto refused = RunCheck(spec);
  CHECK_FALSE(refused.up());
  CHECK_THAT(refused.message(), Catch::Contains("self-signed"));

  auto insecure = Http(Targets::Get().Url("selfsigned", "/ok"));
  insecure.set_tls_insecure(true);
  auto accepted = RunCheck(insecure);
  CHECK(accepted.up());
  REQUIRE(accepted.has_cert_days_left());
  CHECK(accepted.cert_days_left() >= 88);
}

TEST_CASE("an expired certificate is down, saying so, with negative days left", "[agent][checks]") {
  auto spec = Http(Targets::Get().Url("expired", "/ok"));
  spec.set_ca_file(Targets::Get().Ca());
  auto result = RunCheck(spec);
  CHECK_FALSE(result.up());
  CHECK_THAT(result.message(), Catch::Contains("certificate has expired"));
  REQUIRE(result.has_cert_days_left());
  CHECK(result.cert_days_left() < 0);
}

TEST_CASE("a DNS check resolves names and checks an expected address", "[agent][checks]") {
  CheckSpec spec;
  spec.set_key("dns");
  spec.set_kind(fleetdesk::v1::CHECK_KIND_DNS);
  spec.set_target("localhost");
  spec.set_record_type("A");
  auto result = RunCheck(spec);
  CHECK(result.up());
  REQUIRE(result.addresses_size() >= 1);
  CHECK(result.addresses(0) == "127.0.0.1");

  spec.set_expect_address("192.0.2.77");
  auto wrong = RunCheck(spec);
  CHECK_FALSE(wrong.up());
  CHECK(wrong.message() == "192.0.2.77 is not among the answers");

  spec.clear_expect_address();
  spec.set_target("no-such-host.invalid");
  auto missing = RunCheck(spec);
  CHECK_FALSE(missing.up());
  CHECK_THAT(missing.message(), Catch::StartsWith("resolving no-such-host.invalid"));
}

TEST_CASE("check specs are validated with the field named", "[agent][checks]") {
  auto bad = [](CheckSpec spec) {
    auto status = fleetdesk::checks::Normalize(&spec);
    REQUIRE_FALSE(status.ok());
    return status.error().message;
  };
  CHECK_THAT(bad(Http("ftp://example.com/")), Catch::Contains("http:// or https://"));
  auto regex = Http("http://example.com/");
  regex.set_body_regex("([unclosed");
  CHECK_THAT(bad(regex), Catch::Contains("body_regex"));
  auto status = Http("http://example.com/");
  status.add_expect_status(700);
  CHECK_THAT(bad(status), Catch::Contains("expect_status 700"));
  CheckSpec tcp;
  tcp.set_key("t");
  tcp.set_kind(fleetdesk::v1::CHECK_KIND_TCP);
  tcp.set_target("example.com");
  CHECK_THAT(bad(tcp), Catch::Contains("HOST:PORT"));
  auto slow = Http("http://example.com/");
  slow.set_interval_seconds(1);
  slow.set_timeout_ms(5000);
  CHECK_THAT(bad(slow), Catch::Contains("timeout must not be longer than the interval"));
}
