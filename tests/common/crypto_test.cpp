#include "common/crypto.hpp"

#include <catch2/catch.hpp>
#include <regex>
#include <set>

namespace crypto = fleetdesk::crypto;

TEST_CASE("a CSR signed by the CA yields a certificate naming the agent id", "[common][crypto]") {
  auto ca = crypto::MakeCertificateAuthority("test CA", std::chrono::hours(24));
  REQUIRE(ca.ok());
  auto key = crypto::GenerateKey();
  REQUIRE(key.ok());
  auto csr = crypto::MakeCsr(*key, "asked-for-name");
  REQUIRE(csr.ok());
  auto cert =
      crypto::Sign(*ca, {*csr, "agent-123", {}, crypto::Usage::kClient, std::chrono::hours(24)});
  REQUIRE(cert.ok());
  CHECK(*crypto::CommonName(cert->certificate_pem) == "agent-123");
  CHECK_FALSE(cert->serial_hex.empty());
  CHECK(cert->not_after_unix > std::time(nullptr));
}

TEST_CASE("the CA refuses a CSR that is not a certificate request", "[common][crypto]") {
  auto ca = crypto::MakeCertificateAuthority("test CA", std::chrono::hours(24));
  REQUIRE(ca.ok());
  auto cert = crypto::Sign(
      *ca, {"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            "x",
            {},
            crypto::Usage::kClient,
            std::chrono::hours(1)});
  REQUIRE_FALSE(cert.ok());
  CHECK_THAT(cert.error().message, Catch::Contains("csr"));
}

TEST_CASE("the CA refuses a CSR whose signature does not verify", "[common][crypto]") {
  auto ca = crypto::MakeCertificateAuthority("test CA", std::chrono::hours(24));
  auto key = crypto::GenerateKey();
  auto csr = crypto::MakeCsr(*key, "host");
  REQUIRE(csr.ok());
  // Flip one character in the base64 body (the signature sits at the end of it).
  std::string tampered = *csr;
  auto end = tampered.find("-----END");
  char& c = tampered[end - 10];
  c = c == 'A' ? 'B' : 'A';
  auto cert = crypto::Sign(*ca, {tampered, "x", {}, crypto::Usage::kClient, std::chrono::hours(1)});
  CHECK_FALSE(cert.ok());
}

TEST_CASE("fingerprints are SHA256: and 64 hex digits and differ per CA", "[common][crypto]") {
  auto a = crypto::MakeCertificateAuthority("a", std::chrono::hours(1));
  auto b = crypto::MakeCertificateAuthority("b", std::chrono::hours(1));
  auto fa = crypto::Fingerprint(a->certificate_pem);
  auto fb = crypto::Fingerprint(b->certificate_pem);
  REQUIRE(fa.ok());
  CHECK(std::regex_match(*fa, std::regex("SHA256:[0-9a-f]{64}")));
  CHECK(*fa != *fb);
  CHECK(*crypto::Fingerprint(a->certificate_pem) == *fa);
}

TEST_CASE("random tokens are URL-safe and distinct", "[common][crypto]") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto token = crypto::RandomToken(32);
    CHECK(token.size() == 43);
    CHECK(token.find_first_not_of(
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          std::string::npos);
    seen.insert(token);
  }
  CHECK(seen.size() == 100);
  CHECK(std::regex_match(
      crypto::NewUuid(),
      std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
}

TEST_CASE("a certificate describes its name, serial and validity", "[common][crypto]") {
  auto ca = crypto::MakeCertificateAuthority("test CA", std::chrono::hours(24));
  auto key = crypto::GenerateKey();
  auto cert = crypto::Sign(*ca, {*crypto::MakeCsr(*key, "x"),
                                 "agent-9",
                                 {},
                                 crypto::Usage::kClient,
                                 std::chrono::seconds(7200)});
  REQUIRE(cert.ok());
  auto info = crypto::Inspect(cert->certificate_pem);
  REQUIRE(info.ok());
  CHECK(info->common_name == "agent-9");
  CHECK(info->serial_hex == cert->serial_hex);
  CHECK(info->not_after_unix == cert->not_after_unix);
  // Valid from an hour back (clock skew) for the seconds asked.
  CHECK(info->not_after_unix - info->not_before_unix == 3600 + 7200);
  CHECK_FALSE(crypto::Inspect("not a certificate").ok());
}

TEST_CASE("an issued certificate verifies only with its own key and its own CA",
          "[common][crypto]") {
  auto ca = crypto::MakeCertificateAuthority("test CA", std::chrono::hours(24));
  auto other_ca = crypto::MakeCertificateAuthority("other CA", std::chrono::hours(24));
  auto key = crypto::GenerateKey();
  auto other_key = crypto::GenerateKey();
  auto cert = crypto::Sign(
      *ca,
      {*crypto::MakeCsr(*key, "x"), "agent-9", {}, crypto::Usage::kClient, std::chrono::hours(1)});
  REQUIRE(cert.ok());
  CHECK(crypto::MatchesKey(cert->certificate_pem, *key).ok());
  CHECK(crypto::VerifyIssued(cert->certificate_pem, ca->certificate_pem, *key).ok());

  auto wrong_key = crypto::VerifyIssued(cert->certificate_pem, ca->certificate_pem, *other_key);
  REQUIRE_FALSE(wrong_key.ok());
  CHECK_THAT(wrong_key.error().message, Catch::Contains("not for this key"));
  auto wrong_ca = crypto::VerifyIssued(cert->certificate_pem, other_ca->certificate_pem, *key);
  REQUIRE_FALSE(wrong_ca.ok());
  CHECK_THAT(wrong_ca.error().message, Catch::Contains("does not verify against the CA"));
}
