// TLS contexts for every fleetdesk connection: TLS 1.2 and 1.3 only, AEAD ciphers with forward
// secrecy, no compression or renegotiation. Only the network files include this header.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <string>

#include "common/net/tls_options.hpp"
#include "common/result.hpp"

namespace fleetdesk::net {

struct ServerTlsOptions {
  std::string certificate_chain_pem;
  std::string private_key_pem;
  // When set, clients must present a certificate signed by this CA (mutual TLS).
  std::string client_ca_pem;
};

Result<std::shared_ptr<boost::asio::ssl::context>> MakeServerContext(
    const ServerTlsOptions& options);

Result<std::shared_ptr<boost::asio::ssl::context>> MakeClientContext(
    const ClientTlsOptions& options);

// The PEM of the peer's leaf certificate on a connected TLS stream's native handle, or "".
std::string PeerCertificatePem(void* ssl_native_handle);

}  // namespace fleetdesk::net
