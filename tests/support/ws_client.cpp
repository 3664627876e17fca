#include "tests/support/ws_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "common/net/https_client.hpp"
#include "common/net/tls.hpp"

namespace fleetdesk::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct WsClient::Impl {
  asio::io_context io;
  std::shared_ptr<asio::ssl::context> tls;
  std::unique_ptr<websocket::stream<asio::ssl::stream<beast::tcp_stream>>> ws;
  beast::flat_buffer buffer;
  // The read in flight, which may outlive a call (Listen leaves it pending).
  bool read_pending = false;
  bool read_done = false;
  boost::system::error_code read_ec;

  void StartRead() {
    if (read_pending) return;
    read_pending = true;
    read_done = false;
    ws->async_read(buffer, [this](boost::system::error_code e, std::size_t) {
      read_ec = e;
      read_done = true;
    });
  }

  // Runs the io_context until `done` or the timeout; on timeout closes the socket.
  bool RunUntil(const bool& done, std::chrono::milliseconds timeout) {
    io.restart();
    io.run_for(timeout);
    if (done) return true;
    beast::get_lowest_layer(*ws).close();
    io.restart();
    io.run();
    return false;
  }
};

WsClient::WsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WsClient::~WsClient() = default;

Result<std::unique_ptr<WsClient>> WsClient::Connect(const std::string& url_text,
                                                    const net::ClientTlsOptions& options,
                                                    std::chrono::milliseconds timeout) {
  auto url = net::ParseUrl(url_text);
  if (!url) return url.error();
  auto impl = std::make_unique<Impl>();
  auto ctx = net::MakeClientContext(options);
  if (!ctx) return ctx.error();
  impl->tls = *ctx;
  impl->ws = std::make_unique<websocket::stream<asio::ssl::stream<beast::tcp_stream>>>(impl->io,
                                                                                       *impl->tls);
  asio::ip::tcp::resolver resolver(impl->io);
  boost::system::error_code ec;
  auto endpoints = resolver.resolve(url->host, url->port, ec);
  if (ec) return MakeError(ErrorCode::kUnavailable, "resolve: " + ec.message());
  bool done = false;
  std::string step = "connect";
  auto& ws = *impl->ws;
  beast::get_lowest_layer(ws).async_connect(endpoints, [&](boost::system::error_code e, auto) {
    if (e) {
      ec = e;
      done = true;
      return;
    }
    step = "TLS handshake";
    ws.next_layer().async_handshake(
        asio::ssl::stream_base::client, [&](boost::system::error_code e2) {
          if (e2) {
            ec = e2;
            done = true;
            return;
          }
          step = "WebSocket handshake";
          ws.async_handshake(url->host, url->target, [&](boost::system::error_code e3) {
            ec = e3;
            done = true;
          });
        });
  });
  if (!impl->RunUntil(done, timeout))
    return MakeError(ErrorCode::kUnavailable, step + ": timed out");
  if (ec) return MakeError(ErrorCode::kUnavailable, step + ": " + ec.message());
  ws.text(true);
  return std::unique_ptr<WsClient>(new WsClient(std::move(impl)));
}

Status WsClient::Send(const std::string& text) {
  impl_->ws->text(true);
  return Write(*impl_, text);
}

Status WsClient::SendBinary(const std::string& bytes) {
  impl_->ws->binary(true);
  return Write(*impl_, bytes);
}

bool WsClient::last_was_text() const { return impl_->ws->got_text(); }

Status WsClient::Write(Impl& impl, const std::string& text) {
  auto impl_ = &impl;
  bool done = false;
  boost::system::error_code ec;
  impl_->ws->async_write(asio::buffer(text), [&](boost::system::error_code e, std::size_t) {
    ec = e;
    done = true;
  });
  if (!impl_->RunUntil(done, std::chrono::seconds(5))) {
    return MakeError(ErrorCode::kUnavailable, "send: timed out");
  }
  if (ec) return MakeError(ErrorCode::kUnavailable, "send: " + ec.message());
  return {};
}

Result<std::string> WsClient::Read(std::chrono::milliseconds timeout) {
  impl_->StartRead();
  const bool in_time = impl_->RunUntil(impl_->read_done, timeout);
  impl_->read_pending = false;
  if (!in_time) return MakeError(ErrorCode::kUnavailable, "read: timed out");
  const auto ec = impl_->read_ec;
  if (ec == websocket::error::closed) {
    return MakeError(ErrorCode::kUnavailable,
                     "closed: " + std::string(impl_->ws->reason().reason.c_str()));
  }
  if (ec) return MakeError(ErrorCode::kUnavailable, "read: " + ec.message());
  auto text = beast::buffers_to_string(impl_->buffer.data());
  impl_->buffer.consume(impl_->buffer.size());
  return text;
}

Status WsClient::Listen(std::chrono::milliseconds duration) {
  impl_->StartRead();
  impl_->io.restart();
  impl_->io.run_for(duration);
  if (!impl_->read_done) return {};
  impl_->read_pending = false;
  if (impl_->read_ec)
    return MakeError(ErrorCode::kUnavailable, "read: " + impl_->read_ec.message());
  return MakeError(ErrorCode::kFailedPrecondition,
                   "a message arrived: " + beast::buffers_to_string(impl_->buffer.data()));
}

}  // namespace fleetdesk::testing
