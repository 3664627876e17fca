#include "common/net/tls_stream.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <array>
#include <boost/asio/ssl/error.hpp>

namespace fleetdesk::net {
namespace {

namespace asio = boost::asio;

// A memory BIO grows to the largest burst it carried; past this its memory is given back once
// it is empty, so a connection that once moved a large report does not keep that much forever.
constexpr std::size_t kKeepBioBytes = 4096;

boost::system::error_code SslError() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return asio::ssl::error::stream_truncated;
  return {static_cast<int>(code), asio::error::get_ssl_category()};
}

std::size_t Capacity(BIO* bio) {
  BUF_MEM* mem = nullptr;
  BIO_get_mem_ptr(bio, &mem);
  return mem != nullptr ? mem->max : 0;
}

BIO* NewMemoryBio() {
  BIO* bio = BIO_new(BIO_s_mem());
  // An empty input BIO means "no data yet", never end of file: SSL_read answers WANT_READ.
  BIO_set_mem_eof_return(bio, -1);
  return bio;
}

}  // namespace

TlsStream::TlsStream(asio::ip::tcp::socket socket, asio::ssl::context& context)
    : socket_(std::move(socket)) {
  ssl_ = SSL_new(context.native_handle());
  network_in_ = NewMemoryBio();
  network_out_ = NewMemoryBio();
  SSL_set_bio(ssl_, network_in_, network_out_);
}

TlsStream::TlsStream(const executor_type& executor, asio::ssl::context& context)
    : TlsStream(asio::ip::tcp::socket(executor), context) {}

TlsStream::~TlsStream() { SSL_free(ssl_); }

void TlsStream::SetServerName(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  if (ec) {
    SSL_set_tlsext_host_name(ssl_, host.c_str());
    SSL_set1_host(ssl_, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), host.c_str());
  }
}

TlsStream::Step TlsStream::Run(Kind kind, asio::mutable_buffer read_into, const std::string& plain,
                               std::string* out) {
  Step step{Step::Next::kDone, 0, {}};
  ERR_clear_error();
  int result = 1;
  switch (kind) {
    case Kind::kHandshake:
      result = SSL_do_handshake(ssl_);
      break;
    case Kind::kShutdown:
      result = SSL_shutdown(ssl_);
      if (result == 0) result = 1;  // our close_notify is out; the peer's is not awaited
      break;
    case Kind::kRead:
      if (read_into.size() == 0) break;
      result = SSL_read(ssl_, read_into.data(),
                        static_cast<int>(std::min<std::size_t>(read_into.size(), INT32_MAX)));
      if (result > 0) step.bytes = static_cast<std::size_t>(result);
      break;
    case Kind::kWrite:
      if (plain.empty()) break;
      result = SSL_write(ssl_, plain.data(), static_cast<int>(plain.size()));
      if (result > 0) step.bytes = static_cast<std::size_t>(result);
      break;
  }
  if (result <= 0) {
    switch (SSL_get_error(ssl_, result)) {
      case SSL_ERROR_WANT_READ:
        if (eof_) {
          step = {Step::Next::kFailed, 0, asio::ssl::error::stream_truncated};
        } else {
          step.next = Step::Next::kNeedInput;
        }
        break;
      case SSL_ERROR_ZERO_RETURN:
        step = {Step::Next::kFailed, 0, asio::error::eof};
        break;
      default:
        if (kind == Kind::kShutdown) break;  // a failed goodbye is still a goodbye
        step = {Step::Next::kFailed, 0, SslError()};
        break;
    }
  }

  // Collect what OpenSSL wrote for the peer.
  std::size_t pending = BIO_ctrl_pending(network_out_);
  std::string* sink = kind == Kind::kRead ? &deferred_ : out;
  if (kind != Kind::kRead && !deferred_.empty()) {
    out->swap(deferred_);
    deferred_.clear();
  }
  if (pending > 0) {
    std::size_t at = sink->size();
    sink->resize(at + pending);
    BIO_read(network_out_, sink->data() + at, static_cast<int>(pending));
  }
  if (Capacity(network_out_) > kKeepBioBytes) {
    network_out_ = NewMemoryBio();
    SSL_set0_wbio(ssl_, network_out_);
  }
  if (BIO_ctrl_pending(network_in_) == 0 && Capacity(network_in_) > kKeepBioBytes) {
    network_in_ = NewMemoryBio();
    SSL_set0_rbio(ssl_, network_in_);
  }
  return step;
}

bool TlsStream::Pull(error_code& ec) {
  // One buffer per thread serves every connection: it is only used between readiness and
  // handing the bytes to OpenSSL, never across a wait.
  thread_local std::array<char, 16384> buffer;
  // Asio sets the mode with an ioctl each time it is asked; once per socket is enough.
  if (!socket_.non_blocking()) socket_.non_blocking(true, ec);
  if (ec) return false;
  std::size_t n = socket_.read_some(asio::buffer(buffer), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    ec = {};
    return true;
  }
  if (ec == asio::error::eof) {
    ec = {};
    eof_ = true;
    return true;  // what OpenSSL still holds decides between a clean end and truncation
  }
  if (ec) return false;
  BIO_write(network_in_, buffer.data(), static_cast<int>(n));
  return true;
}

bool TeardownOp::DrainOnce(asio::ip::tcp::socket& socket, boost::system::error_code& ec) {
  thread_local std::array<char, 4096> sink;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  for (;;) {
    socket.read_some(asio::buffer(sink), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      return false;
    }
    if (ec) return true;  // end of stream, or the peer is gone
  }
}

void teardown(boost::beast::role_type, TlsStream& stream, boost::system::error_code& ec) {
  // Best effort: queue close_notify and send what fits without blocking.
  std::string out;
  if (stream.Run(TlsStream::Kind::kShutdown, {}, {}, &out).next != TlsStream::Step::Next::kFailed &&
      !out.empty()) {
    boost::system::error_code ignored;
    stream.next_layer().write_some(asio::buffer(out), ignored);
  }
  stream.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  stream.next_layer().close(ec);
}

}  // namespace fleetdesk::net
