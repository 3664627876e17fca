// The server's certificate authority and its own TLS certificate, kept in the data directory:
//   ca.crt, ca.key (0600)          signs agent certificates and the server certificate
//   server.crt, server.key (0600)  presented on both listeners
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "common/crypto.hpp"
#include "common/result.hpp"

namespace fleetdesk::server {

struct Pki {
  crypto::KeyAndCertificate ca;
  crypto::KeyAndCertificate server;

  // Makes the CA (ECDSA P-256, ten years) and a server certificate (two years) naming `names`
  // (DNS names or IP addresses) unless they exist; never replaces an existing CA.
  static Status Initialize(const std::string& data_dir, const std::vector<std::string>& names);
  static Result<Pki> Load(const std::string& data_dir);
};

// localhost, loopback addresses, this machine's host name and FQDN.
std::vector<std::string> DefaultServerNames();

}  // namespace fleetdesk::server
