#include "agent/identity.hpp"

#include <catch2/catch.hpp>

#include "common/crypto.hpp"
#include "common/files.hpp"
#include "tests/support/temp_dir.hpp"

using fleetdesk::agent::NormalizeFingerprint;

TEST_CASE("fingerprints compare equal in their usual spellings", "[agent][identity]") {
  const std::string canonical = "SHA256:" + std::string(64, 'a');
  CHECK(NormalizeFingerprint(canonical) == canonical);
  CHECK(NormalizeFingerprint(std::string(64, 'A')) == canonical);
  std::string colons;
  for (int i = 0; i < 32; ++i) colons += (i ? ":" : "") + std::string("AA");
  CHECK(NormalizeFingerprint("sha256:" + colons) == canonical);
}

TEST_CASE("an agent that never enrolled says how to enroll", "[agent][identity]") {
  fleetdesk::testing::TempDir dir;
  auto identity = fleetdesk::agent::LoadIdentity(dir.path());
  REQUIRE_FALSE(identity.ok());
  CHECK_THAT(identity.error().message, Catch::Contains("fleetdesk-agent enroll"));
}

TEST_CASE("enrollment refuses a malformed pin before contacting anyone", "[agent][identity]") {
  fleetdesk::testing::TempDir dir;
  auto identity = fleetdesk::agent::Enroll(
      {"https://127.0.0.1:1", "fde_x", "SHA256:abc", dir.path(), "h", "m"});
  REQUIRE_FALSE(identity.ok());
  CHECK_THAT(identity.error().message, Catch::Contains("64 hex digits"));
}

namespace {

namespace crypto = fleetdesk::crypto;
using fleetdesk::agent::Identity;

// An enrolled state directory made without a server: a CA, the agent's key and certificate.
struct Enrolled {
  fleetdesk::testing::TempDir dir;
  crypto::KeyAndCertificate ca =
      *crypto::MakeCertificateAuthority("test CA", std::chrono::hours(24));
  Identity identity;

  Enrolled() {
    const std::string agent_id = "6f1c2d3e-0000-4000-8000-000000000001";
    auto key = *crypto::GenerateKey();
    fleetdesk::testing::WriteFile(dir / "key.pem", key);
    fleetdesk::testing::WriteFile(dir / "cert.pem", Issue(key, agent_id));
    fleetdesk::testing::WriteFile(dir / "ca.pem", ca.certificate_pem);
    fleetdesk::testing::WriteFile(dir / "enrollment.json",
                                  R"({"agentId":")" + agent_id +
                                      R"(","gatewayUrls":["wss://127.0.0.1:1/agent/v1/channel"]})");
    identity = *fleetdesk::agent::LoadIdentity(dir.path());
  }

  std::string Issue(const std::string& key, const std::string& name) const {
    return crypto::Sign(ca, {*crypto::MakeCsr(key, "ignored"),
                             name,
                             {},
                             crypto::Usage::kClient,
                             std::chrono::hours(24)})
        ->certificate_pem;
  }
  // What the server does with a RenewRequest.
  std::string SignCsr(const std::string& csr) const {
    return crypto::Sign(
               ca, {csr, identity.agent_id, {}, crypto::Usage::kClient, std::chrono::hours(24)})
        ->certificate_pem;
  }
};

}  // namespace

TEST_CASE("a renewal replaces the key and certificate together and keeps the agent id",
          "[agent][identity]") {
  Enrolled agent;
  auto csr = fleetdesk::agent::PrepareRenewal(agent.dir.path(), agent.identity);
  REQUIRE(csr.ok());
  // Until the certificate comes back the old pair stays in use.
  CHECK(fleetdesk::testing::ReadFile(agent.dir / "key.pem") == agent.identity.key_pem);
  CHECK(fleetdesk::files::Exists(agent.dir / "key.pem.new"));

  auto renewed =
      fleetdesk::agent::CompleteRenewal(agent.dir.path(), agent.identity, agent.SignCsr(*csr));
  REQUIRE(renewed.ok());
  CHECK(renewed->agent_id == agent.identity.agent_id);
  CHECK(renewed->key_pem != agent.identity.key_pem);
  CHECK_FALSE(fleetdesk::files::Exists(agent.dir / "key.pem.new"));
  auto loaded = fleetdesk::agent::LoadIdentity(agent.dir.path());
  REQUIRE(loaded.ok());
  CHECK(loaded->key_pem == renewed->key_pem);
  CHECK(loaded->certificate_pem == renewed->certificate_pem);
  CHECK(crypto::VerifyIssued(loaded->certificate_pem, loaded->ca_pem, loaded->key_pem).ok());
}

TEST_CASE("a renewed certificate for another key, agent or CA is refused and nothing changes",
          "[agent][identity]") {
  Enrolled agent;
  auto csr = fleetdesk::agent::PrepareRenewal(agent.dir.path(), agent.identity);
  REQUIRE(csr.ok());
  auto other_ca = *crypto::MakeCertificateAuthority("other CA", std::chrono::hours(24));
  const std::string new_key = fleetdesk::testing::ReadFile(agent.dir / "key.pem.new");
  const std::string wrong_key = agent.Issue(*crypto::GenerateKey(), agent.identity.agent_id);
  const std::string wrong_agent = agent.Issue(new_key, "someone-else");
  const std::string wrong_ca =
      crypto::Sign(
          other_ca,
          {*csr, agent.identity.agent_id, {}, crypto::Usage::kClient, std::chrono::hours(24)})
          ->certificate_pem;
  for (const auto& [what, certificate] :
       {std::pair{"key", wrong_key}, std::pair{"agent", wrong_agent}, std::pair{"CA", wrong_ca},
        std::pair{"garbage", std::string("garbage")}}) {
    CAPTURE(what);
    auto refused = fleetdesk::agent::CompleteRenewal(agent.dir.path(), agent.identity, certificate);
    CHECK_FALSE(refused.ok());
    CHECK(fleetdesk::testing::ReadFile(agent.dir / "cert.pem") == agent.identity.certificate_pem);
    CHECK(fleetdesk::testing::ReadFile(agent.dir / "key.pem") == agent.identity.key_pem);
  }
}

TEST_CASE("a crash between the two renames of a renewal is finished at the next start",
          "[agent][identity]") {
  Enrolled agent;
  auto csr = fleetdesk::agent::PrepareRenewal(agent.dir.path(), agent.identity);
  REQUIRE(csr.ok());
  const std::string new_key = fleetdesk::testing::ReadFile(agent.dir / "key.pem.new");
  const std::string new_certificate = agent.SignCsr(*csr);
  // As CompleteRenewal leaves it after its first rename.
  fleetdesk::testing::WriteFile(agent.dir / "cert.pem", new_certificate);
  auto loaded = fleetdesk::agent::LoadIdentity(agent.dir.path());
  REQUIRE(loaded.ok());
  CHECK(loaded->key_pem == new_key);
  CHECK(loaded->certificate_pem == new_certificate);
  CHECK_FALSE(fleetdesk::files::Exists(agent.dir / "key.pem.new"));
}

TEST_CASE("a renewal that never got its certificate leaves the old pair in use",
          "[agent][identity]") {
  Enrolled agent;
  REQUIRE(fleetdesk::agent::PrepareRenewal(agent.dir.path(), agent.identity).ok());
  auto loaded = fleetdesk::agent::LoadIdentity(agent.dir.path());
  REQUIRE(loaded.ok());
  CHECK(loaded->key_pem == agent.identity.key_pem);
  CHECK(loaded->certificate_pem == agent.identity.certificate_pem);
  CHECK_FALSE(fleetdesk::files::Exists(agent.dir / "key.pem.new"));
  // And a certificate arriving now has no key to go with.
  CHECK_FALSE(fleetdesk::agent::CompleteRenewal(agent.dir.path(), agent.identity,
                                                agent.identity.certificate_pem)
                  .ok());
}

TEST_CASE("renewal is due at the given share of the certificate's lifetime", "[agent][identity]") {
  crypto::CertificateInfo info{"a", "01", 1'000'000, 1'000'000 + 1000 * 86400};
  auto due = fleetdesk::agent::RenewalTime(info, 0.8);
  CHECK(std::chrono::system_clock::to_time_t(due) == 1'000'000 + 800 * 86400);
  CHECK(fleetdesk::agent::RenewalTime(info, 0.7) < fleetdesk::agent::RenewalTime(info, 0.9));
}
