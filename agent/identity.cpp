#include "agent/identity.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/files.hpp"
#include "common/net/https_client.hpp"
#include "fleetdesk/v1/api.pb.h"

namespace fleetdesk::agent {
namespace {

std::string In(const std::string& dir, const char* name) { return dir + "/" + name; }

Error ServerError(const std::string& what, const net::HttpsResponse& response) {
  fleetdesk::v1::ErrorResponse error;
  std::string message = response.body.substr(0, 200);
  if (codec::FromJson(response.body, &error) && !error.error().message().empty()) {
    message = error.error().message();
  }
  ErrorCode code = response.status == 401   ? ErrorCode::kUnauthenticated
                   : response.status == 403 ? ErrorCode::kPermissionDenied
                                            : ErrorCode::kInvalidArgument;
  return MakeError(
      code, what + ": the server answered " + std::to_string(response.status) + ": " + message);
}

constexpr const char* kNewKey = "key.pem.new";

// A crash between CompleteRenewal's two renames leaves the new certificate beside the new key
// still named key.pem.new: finish the move. Any other leftover key.pem.new is from a renewal
// that never got its certificate: the old pair is intact, so drop it.
Status FinishInterruptedRenewal(const std::string& dir) {
  const auto new_key_path = In(dir, kNewKey);
  if (!files::Exists(new_key_path)) return {};
  auto new_key = files::Read(new_key_path);
  auto certificate = files::Read(In(dir, "cert.pem"));
  if (new_key && certificate && crypto::MatchesKey(*certificate, *new_key)) {
    return files::Rename(new_key_path, In(dir, "key.pem"));
  }
  std::remove(new_key_path.c_str());
  return {};
}

}  // namespace

std::string NormalizeFingerprint(const std::string& text) {
  std::string hex;
  std::string body = text;
  if (body.size() > 7 && (body.rfind("SHA256:", 0) == 0 || body.rfind("sha256:", 0) == 0)) {
    body = body.substr(7);
  }
  for (char c : body) {
    if (std::isxdigit(static_cast<unsigned char>(c)) != 0) {
      hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return "SHA256:" + hex;
}

Result<Identity> LoadIdentity(const std::string& state_dir) {
  if (auto s = FinishInterruptedRenewal(state_dir); !s) return s.error();
  auto enrollment = files::Read(In(state_dir, "enrollment.json"));
  if (!enrollment) {
    return MakeError(ErrorCode::kFailedPrecondition, "this agent is not enrolled (no " +
                                                         In(state_dir, "enrollment.json") +
                                                         "); run 'fleetdesk-agent enroll' first");
  }
  fleetdesk::v1::EnrollResponse saved;
  if (auto s = codec::FromJson(*enrollment, &saved); !s) return s.error();
  Identity id;
  id.agent_id = saved.agent_id();
  id.gateway_urls.assign(saved.gateway_urls().begin(), saved.gateway_urls().end());
  for (auto [name, out] :
       {std::pair{"key.pem", &id.key_pem}, std::pair{"cert.pem", &id.certificate_pem},
        std::pair{"ca.pem", &id.ca_pem}}) {
    auto content = files::Read(In(state_dir, name));
    if (!content) return content.error();
    *out = std::move(*content);
  }
  if (id.gateway_urls.empty()) {
    return MakeError(ErrorCode::kFailedPrecondition, "enrollment.json names no gateway URL");
  }
  return id;
}

Result<Identity> Enroll(const EnrollOptions& options) {
  const std::string pinned = NormalizeFingerprint(options.ca_fingerprint);
  if (pinned.size() != 7 + 64) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "--ca-fingerprint must be SHA256: followed by 64 hex digits, as "
                     "'fleetdesk-server ca-fingerprint' prints it");
  }
  std::string base = options.server_url;
  while (!base.empty() && base.back() == '/') base.pop_back();

  // 1. The CA, fetched without trusting anything yet; only its fingerprint decides.
  net::HttpsRequest get_ca;
  get_ca.url = base + "/api/v1/ca";
  auto ca_response = net::Fetch(get_ca);
  if (!ca_response) return ca_response.error();
  if (ca_response->status != 200) return ServerError("fetching the CA", *ca_response);
  auto fingerprint = crypto::Fingerprint(ca_response->body);
  if (!fingerprint)
    return MakeError(ErrorCode::kInvalidArgument,
                     "the server's CA: " + fingerprint.error().message);
  if (*fingerprint != pinned) {
    return MakeError(ErrorCode::kPermissionDenied, "the server's CA has fingerprint " +
                                                       *fingerprint + ", not the pinned " + pinned +
                                                       "; refusing to send the enrollment token");
  }
  const std::string ca_pem = ca_response->body;

  // 2. The CSR, over a connection verified against that CA.
  auto key = crypto::GenerateKey();
  if (!key) return key.error();
  auto csr = crypto::MakeCsr(*key, options.hostname);
  if (!csr) return csr.error();
  fleetdesk::v1::EnrollRequest body;
  body.set_token(options.token);
  body.set_csr(*csr);
  body.set_hostname(options.hostname);
  body.set_machine_id(options.machine_id);
  body.set_serial(options.serial);
  net::HttpsRequest post;
  post.method = "POST";
  post.url = base + "/api/v1/enroll";
  post.body = codec::ToJson(body);
  post.tls.ca_pem = ca_pem;
  auto response = net::Fetch(post);
  if (!response) return response.error();
  if (response->status != 200) return ServerError("enrollment refused", *response);
  auto enrolled = codec::Parse<fleetdesk::v1::EnrollResponse>(response->body);
  if (!enrolled) return enrolled.error();
  auto cn = crypto::CommonName(enrolled->certificate());
  if (!cn || *cn != enrolled->agent_id() || enrolled->gateway_urls_size() == 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the server's enrollment answer is inconsistent (certificate, agent id or "
                     "gateway URLs)");
  }

  // 3. Everything on disk, the key and certificate readable by us alone.
  if (auto s = files::MakeDirectory(options.state_dir, 0700); !s) return s.error();
  Identity id{enrolled->agent_id(),
              *key,
              enrolled->certificate(),
              ca_pem,
              {enrolled->gateway_urls().begin(), enrolled->gateway_urls().end()}};
  fleetdesk::v1::EnrollResponse saved = *enrolled;
  saved.clear_certificate();
  saved.clear_ca_certificate();
  for (auto [name, content, mode] : {std::tuple{"key.pem", &id.key_pem, 0600U},
                                     std::tuple{"cert.pem", &id.certificate_pem, 0600U},
                                     std::tuple{"ca.pem", &id.ca_pem, 0644U}}) {
    if (auto s = files::WriteAtomically(In(options.state_dir, name), *content, mode); !s) {
      return s.error();
    }
  }
  // A new identity starts a new sequence and an empty journal: the server's record for it
  // starts at zero, and reports of the old identity are not this one's to send.
  std::remove(In(options.state_dir, "seq").c_str());
  std::remove(In(options.state_dir, "journal").c_str());
  std::remove(In(options.state_dir, kNewKey).c_str());
  if (auto s = files::WriteAtomically(In(options.state_dir, "enrollment.json"),
                                      codec::ToPrettyJson(saved), 0600);
      !s) {
    return s.error();
  }
  return id;
}

Result<std::string> PrepareRenewal(const std::string& state_dir, const Identity& identity) {
  auto key = crypto::GenerateKey();
  if (!key) return key.error();
  auto csr = crypto::MakeCsr(*key, identity.agent_id);
  if (!csr) return csr.error();
  if (auto s = files::WriteAtomically(In(state_dir, kNewKey), *key, 0600); !s) return s.error();
  return csr;
}

Result<Identity> CompleteRenewal(const std::string& state_dir, const Identity& identity,
                                 const std::string& certificate_pem) {
  auto new_key = files::Read(In(state_dir, kNewKey));
  if (!new_key) {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "a renewed certificate arrived but no renewal is in progress");
  }
  if (auto s = crypto::VerifyIssued(certificate_pem, identity.ca_pem, *new_key); !s) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the renewed certificate is refused: " + s.error().message);
  }
  auto name = crypto::CommonName(certificate_pem);
  if (!name || *name != identity.agent_id) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "the renewed certificate does not name agent " + identity.agent_id);
  }
  if (auto s = files::WriteAtomically(In(state_dir, "cert.pem"), certificate_pem, 0600); !s) {
    return s.error();
  }
  if (auto s = files::Rename(In(state_dir, kNewKey), In(state_dir, "key.pem")); !s) {
    return s.error();
  }
  Identity renewed = identity;
  renewed.key_pem = std::move(*new_key);
  renewed.certificate_pem = certificate_pem;
  return renewed;
}

std::chrono::system_clock::time_point RenewalTime(const crypto::CertificateInfo& certificate,
                                                  double fraction) {
  const auto lifetime =
      static_cast<double>(certificate.not_after_unix - certificate.not_before_unix);
  const auto offset = static_cast<std::int64_t>(lifetime * fraction);
  return std::chrono::system_clock::time_point(
      std::chrono::seconds(certificate.not_before_unix + offset));
}

}  // namespace fleetdesk::agent
