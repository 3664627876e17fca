// Credentials: Argon2id password hashes (libsodium) and high-entropy tokens stored as SHA-256.
#pragma once

#include <string>

#include "common/result.hpp"

namespace fleetdesk::server::auth {

// Argon2id with libsodium's "interactive" limits (2 passes, 64 MiB), in the PHC string form.
Result<std::string> HashPassword(const std::string& password);
bool VerifyPassword(const std::string& hash, const std::string& password);

// A new random password for a person to type: 20 characters of base64url (120 bits).
std::string NewPassword();

// Tokens carry a kind prefix so a leaked one is recognisable in logs and by secret scanners:
// "fdt_" API tokens, "fde_" enrollment tokens. 32 random bytes each.
std::string NewApiToken();
std::string NewEnrollmentToken();

// A browser session's cookie value ("fds_") and its CSRF token, 32 random bytes each.
std::string NewSessionToken();
std::string NewCsrfToken();
// The name of the session cookie, and its value in a Cookie header ("" when absent).
inline constexpr const char* kSessionCookie = "fd_session";
std::string SessionCookie(const std::string& cookie_header);

// Equal secrets, compared in time that does not depend on where they differ; false when either
// is empty.
bool SameSecret(const std::string& a, const std::string& b);

// Verifies `password` against a hash of a password nobody has: a sign-in as an unknown user
// then takes as long as one with a wrong password, so timing does not tell which names exist.
void VerifyAgainstNobody(const std::string& password);

// Tokens have 256 bits of entropy, so a fast hash is enough to store them (no Argon2 needed).
std::string HashToken(const std::string& token);

}  // namespace fleetdesk::server::auth
