// Both listeners' TLS, probed with openssl s_client as an outside client would: old protocol
// versions and weak ciphers are refused, TLS 1.2 with forward-secret AEAD suites and TLS 1.3 are
// taken.
#include <catch2/catch.hpp>

#include "agent/identity.hpp"
#include "tests/support/fleet.hpp"
#include "tests/support/process.hpp"

using namespace fleetdesk::testing;

namespace {

std::string PortOf(const std::string& url) {
  auto colon = url.rfind(':');
  auto end = url.find('/', colon);
  return url.substr(colon + 1, end == std::string::npos ? std::string::npos : end - colon - 1);
}

enum class Outcome { kEstablished, kRefused, kOther };

// A TLS handshake with `options` on 127.0.0.1:`port`. The client is told to accept anything the
// server might (SECLEVEL=0), so a refusal is the server's: an alert it sent, or the TLS layer's
// error at what the server did instead. kOther: no handshake took place (no openssl, say).
Outcome Handshake(const std::string& port, const std::string& options, const std::string& cert = "",
                  const std::string& key = "") {
  std::string command =
      "openssl s_client -brief -connect 127.0.0.1:" + port + " -servername localhost " + options;
  if (!cert.empty()) command += " -cert " + cert + " -key " + key;
  auto result = Run({"/bin/sh", "-c", command + " </dev/null"});
  const std::string said = result.err + result.out;
  UNSCOPED_INFO(command << " -> " << result.exit_code << "\n" << said);
  if (result.exit_code == 0 && said.find("CONNECTION ESTABLISHED") != std::string::npos) {
    return Outcome::kEstablished;
  }
  return said.find("SSL routines:ssl3_read_bytes") != std::string::npos ? Outcome::kRefused
                                                                        : Outcome::kOther;
}

}  // namespace

TEST_CASE("both ports refuse TLS 1.0, 1.1 and weak ciphers, and take TLS 1.2 and 1.3",
          "[integration][tls]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto token = server.Cli({"enroll-token", "create", "--ttl", "1h"});
  auto id = fleetdesk::agent::Enroll(
      {server.ApiUrl(), token, server.fingerprint(), dir / "state", "tls-probe", "tls-probe"});
  REQUIRE(id.ok());
  WriteFile(dir / "cert.pem", id->certificate_pem);
  WriteFile(dir / "key.pem", id->key_pem);

  const std::string cert = dir / "cert.pem";
  const std::string key = dir / "key.pem";
  const std::string weak = "-cipher DEFAULT@SECLEVEL=0";
  for (const auto& [name, port] :
       {std::pair<std::string, std::string>{"api", PortOf(server.ApiUrl())},
        {"gateway", PortOf(server.GatewayUrl())}}) {
    CAPTURE(name);
    const bool gateway = name == "gateway";
    const std::string c = gateway ? cert : "";
    const std::string k = gateway ? key : "";
    CHECK(Handshake(port, "-tls1 " + weak, c, k) == Outcome::kRefused);
    CHECK(Handshake(port, "-tls1_1 " + weak, c, k) == Outcome::kRefused);
    // TLS 1.2 without forward secrecy (RSA key exchange) or without AEAD (CBC) is refused.
    CHECK(Handshake(port, "-tls1_2 -cipher AES128-GCM-SHA256@SECLEVEL=0", c, k) ==
          Outcome::kRefused);
    CHECK(Handshake(port, "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA@SECLEVEL=0", c, k) ==
          Outcome::kRefused);
    CHECK(Handshake(port, "-tls1_2", c, k) == Outcome::kEstablished);
    CHECK(Handshake(port, "-tls1_3", c, k) == Outcome::kEstablished);
    // No client certificate, no channel. (TLS 1.2: in 1.3 the client may finish before the
    // server's verdict on its certificate arrives, and s_client would not wait for it.)
    if (gateway) CHECK(Handshake(port, "-tls1_2") == Outcome::kRefused);
  }
}
