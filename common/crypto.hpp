// Keys, certificates and tokens: the one place fleetdesk calls OpenSSL's X.509 and EVP APIs.
// Every function is thread-safe and takes and returns PEM text, so callers see no OpenSSL types.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"

namespace fleetdesk::crypto {

// A new ECDSA P-256 private key, PKCS#8 PEM.
Result<std::string> GenerateKey();

// A PKCS#10 request for `key_pem`'s public key with subject CN=`common_name`.
Result<std::string> MakeCsr(const std::string& key_pem, const std::string& common_name);

struct KeyAndCertificate {
  std::string key_pem;
  std::string certificate_pem;
};

// A self-signed CA (ECDSA P-256, basicConstraints CA:TRUE, keyCertSign).
Result<KeyAndCertificate> MakeCertificateAuthority(const std::string& common_name,
                                                   std::chrono::hours validity);

enum class Usage { kServer, kClient };

struct SignRequest {
  std::string csr_pem;
  std::string common_name;         // replaces whatever subject the request asked for
  std::vector<std::string> names;  // subjectAltNames: DNS names or IP addresses
  Usage usage = Usage::kClient;
  std::chrono::seconds validity{std::chrono::hours(24 * 365)};
};

struct SignedCertificate {
  std::string certificate_pem;
  std::string serial_hex;
  std::int64_t not_after_unix = 0;
};

// Checks the request's self-signature and key type (EC P-256/P-384 or RSA >= 2048), then signs.
Result<SignedCertificate> Sign(const KeyAndCertificate& ca, const SignRequest& request);

struct CertificateInfo {
  std::string common_name;
  std::string serial_hex;
  std::int64_t not_before_unix = 0;
  std::int64_t not_after_unix = 0;
};

// What the first certificate in `certificate_pem` says of itself (nothing is verified).
Result<CertificateInfo> Inspect(const std::string& certificate_pem);

// Whether `certificate_pem` carries the public half of `key_pem`.
Status MatchesKey(const std::string& certificate_pem, const std::string& key_pem);

// Checks that `certificate_pem` was signed by `ca_pem`, is valid now and carries the public half
// of `key_pem`: a certificate that passes works with that key against a server trusting that CA.
Status VerifyIssued(const std::string& certificate_pem, const std::string& ca_pem,
                    const std::string& key_pem);

// "SHA256:<64 hex digits>" of the DER form of the first certificate in `certificate_pem`.
Result<std::string> Fingerprint(const std::string& certificate_pem);

// The subject's commonName of the first certificate in `certificate_pem`.
Result<std::string> CommonName(const std::string& certificate_pem);

// `bytes` random bytes from the OS, base64url without padding.
std::string RandomToken(std::size_t bytes);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);
// HMAC-SHA256 of `data` under `key`, lower-case hex: what a webhook's receiver recomputes to
// know the request came from us.
std::string HmacSha256Hex(std::string_view key, std::string_view data);

// A random (version 4) UUID.
std::string NewUuid();

}  // namespace fleetdesk::crypto
