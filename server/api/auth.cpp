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

}  // namespace fleetdesk::server::auth
