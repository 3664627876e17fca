#include "common/net/tls.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>

namespace fleetdesk::net {
namespace {

namespace ssl = boost::asio::ssl;

// TLS 1.2 suites: ECDHE only (forward secrecy), AEAD only. TLS 1.3 keeps OpenSSL's defaults,
// which are all AEAD.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305";

Status Harden(ssl::context& ctx) {
  SSL_CTX* native = ctx.native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Idle connections give their 34 KiB of record buffers back; with 10,000 agents mostly idle
  // between heartbeats this is most of the per-connection memory.
  SSL_CTX_set_mode(native, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    return MakeError(ErrorCode::kInternal, "cannot set TLS 1.2 cipher list");
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeServerContext(const ServerTlsOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  if (auto status = Harden(*ctx); !status) return status.error();
  boost::system::error_code ec;
  ctx->use_certificate_chain(boost::asio::buffer(options.certificate_chain_pem), ec);
  if (!ec)
    ctx->use_private_key(boost::asio::buffer(options.private_key_pem), ssl::context::pem, ec);
  if (ec)
    return MakeError(ErrorCode::kInvalidArgument, "server certificate or key: " + ec.message());
  if (!options.client_ca_pem.empty()) {
    ctx->add_certificate_authority(boost::asio::buffer(options.client_ca_pem), ec);
    if (ec) return MakeError(ErrorCode::kInvalidArgument, "client CA: " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    // Session resumption across our own processes is not needed; tickets would only cost memory.
    SSL_CTX_set_options(ctx->native_handle(), SSL_OP_NO_TICKET);
    static const unsigned char kSessionContext[] = "fleetdesk-gateway";
    SSL_CTX_set_session_id_context(ctx->native_handle(), kSessionContext,
                                   sizeof kSessionContext - 1);
  }
  return ctx;
}

Result<std::shared_ptr<ssl::context>> MakeClientContext(const ClientTlsOptions& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  if (auto status = Harden(*ctx); !status) return status.error();
  boost::system::error_code ec;
  if (options.ca_pem.empty()) {
    ctx->set_verify_mode(ssl::verify_none);
  } else {
    ctx->add_certificate_authority(boost::asio::buffer(options.ca_pem), ec);
    if (ec) return MakeError(ErrorCode::kInvalidArgument, "CA certificate: " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer);
  }
  if (!options.certificate_pem.empty()) {
    ctx->use_certificate_chain(boost::asio::buffer(options.certificate_pem), ec);
    if (!ec) {
      ctx->use_private_key(boost::asio::buffer(options.private_key_pem), ssl::context::pem, ec);
    }
    if (ec)
      return MakeError(ErrorCode::kInvalidArgument, "client certificate or key: " + ec.message());
  }
  return ctx;
}

std::string PeerCertificatePem(void* ssl_native_handle) {
  X509* cert = SSL_get1_peer_certificate(static_cast<SSL*>(ssl_native_handle));
  if (cert == nullptr) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  X509_free(cert);
  return pem;
}

}  // namespace fleetdesk::net
