#include "server/api/pki.hpp"

#include <netdb.h>
#include <unistd.h>

#include <array>

#include "common/files.hpp"

namespace fleetdesk::server {
namespace {

constexpr std::chrono::hours kCaValidity{24 * 365 * 10};
constexpr std::chrono::hours kServerValidity{24 * 365 * 2};

std::string PathIn(const std::string& dir, const char* name) { return dir + "/" + name; }

}  // namespace

std::vector<std::string> DefaultServerNames() {
  std::vector<std::string> names = {"localhost", "127.0.0.1", "::1"};
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) == 0 && host[0] != '\0') {
    names.emplace_back(host.data());
    addrinfo hints{};
    hints.ai_flags = AI_CANONNAME;
    addrinfo* info = nullptr;
    if (getaddrinfo(host.data(), nullptr, &hints, &info) == 0 && info != nullptr) {
      if (info->ai_canonname != nullptr && std::string(info->ai_canonname) != host.data()) {
        names.emplace_back(info->ai_canonname);
      }
      freeaddrinfo(info);
    }
  }
  return names;
}

Status Pki::Initialize(const std::string& data_dir, const std::vector<std::string>& names) {
  const auto ca_crt = PathIn(data_dir, "ca.crt");
  const auto ca_key = PathIn(data_dir, "ca.key");
  crypto::KeyAndCertificate ca;
  if (files::Exists(ca_crt)) {
    auto cert = files::Read(ca_crt);
    auto key = files::Read(ca_key);
    if (!cert) return cert.error();
    if (!key) return key.error();
    ca = {*key, *cert};
  } else {
    auto made = crypto::MakeCertificateAuthority("fleetdesk CA", kCaValidity);
    if (!made) return made.error();
    ca = *made;
    if (auto s = files::WriteAtomically(ca_key, ca.key_pem, 0600); !s) return s;
    if (auto s = files::WriteAtomically(ca_crt, ca.certificate_pem, 0644); !s) return s;
  }
  const auto server_crt = PathIn(data_dir, "server.crt");
  if (files::Exists(server_crt)) return {};
  auto key = crypto::GenerateKey();
  if (!key) return key.error();
  auto csr = crypto::MakeCsr(*key, "fleetdesk-server");
  if (!csr) return csr.error();
  auto signed_cert =
      crypto::Sign(ca, {*csr, "fleetdesk-server", names, crypto::Usage::kServer, kServerValidity});
  if (!signed_cert) return signed_cert.error();
  if (auto s = files::WriteAtomically(PathIn(data_dir, "server.key"), *key, 0600); !s) return s;
  // The chain file carries the CA too, so a client pinning the CA sees it in the handshake.
  return files::WriteAtomically(server_crt, signed_cert->certificate_pem + ca.certificate_pem,
                                0644);
}

Result<Pki> Pki::Load(const std::string& data_dir) {
  Pki pki;
  std::array<std::pair<const char*, std::string*>, 4> parts = {{
      {"ca.crt", &pki.ca.certificate_pem},
      {"ca.key", &pki.ca.key_pem},
      {"server.crt", &pki.server.certificate_pem},
      {"server.key", &pki.server.key_pem},
  }};
  for (auto& [name, out] : parts) {
    auto content = files::Read(PathIn(data_dir, name));
    if (!content) {
      return MakeError(content.error().code,
                       content.error().message + " (run 'fleetdesk-server init' first)");
    }
    *out = std::move(*content);
  }
  return pki;
}

}  // namespace fleetdesk::server
