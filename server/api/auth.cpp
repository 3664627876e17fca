#include "server/api/auth.hpp"

#include <sodium.h>

#include "common/crypto.hpp"

namespace fleetdesk::server::auth {

Result<std::string> HashPassword(const std::string& password) {
  if (sodium_init() < 0) return MakeError(ErrorCode::kInternal, "libsodium cannot start");
  std::string out(crypto_pwhash_STRBYTES, '\0');
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(),
                            crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE,
                            crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return MakeError(ErrorCode::kResourceExhausted, "out of memory hashing a password");
  }
  out.resize(out.find('\0'));
  return out;
}

bool VerifyPassword(const std::string& hash, const std::string& password) {
  if (sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string NewPassword() { return crypto::RandomToken(15); }
std::string NewApiToken() { return "fdt_" + crypto::RandomToken(32); }
std::string NewEnrollmentToken() { return "fde_" + crypto::RandomToken(32); }
std::string HashToken(const std::string& token) { return crypto::Sha256Hex(token); }
std::string NewSessionToken() { return "fds_" + crypto::RandomToken(32); }
std::string NewCsrfToken() { return crypto::RandomToken(32); }

std::string SessionCookie(const std::string& header) {
  // "a=1; fd_session=VALUE; b=2": cookies are separated by ';' and optional spaces.
  const std::string key = std::string(kSessionCookie) + "=";
  std::size_t start = 0;
  while (start < header.size()) {
    while (start < header.size() && (header[start] == ' ' || header[start] == ';')) ++start;
    auto end = header.find(';', start);
    if (end == std::string::npos) end = header.size();
    if (header.compare(start, key.size(), key) == 0) {
      return header.substr(start + key.size(), end - start - key.size());
    }
    start = end + 1;
  }
  return {};
}

bool SameSecret(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty() || a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void VerifyAgainstNobody(const std::string& password) {
  // Made once, with the same parameters as every stored hash.
  static const std::string nobody = [] {
    auto hash = HashPassword(crypto::RandomToken(32));
    return hash ? *hash : std::string();
  }();
  (void)VerifyPassword(nobody, password);
}

}  // namespace fleetdesk::server::auth
