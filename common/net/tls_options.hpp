// What a TLS client presents and trusts, as plain PEM text.
#pragma once

#include <string>

namespace fleetdesk::net {

struct ClientTlsOptions {
  // When empty, the peer is not verified: only for fetching a CA to compare with a pinned
  // fingerprint before anything secret is sent.
  std::string ca_pem;
  std::string certificate_pem;
  std::string private_key_pem;
};

}  // namespace fleetdesk::net
