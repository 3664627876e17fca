// A TLS stream over a TCP socket that holds no buffers while idle.
//
// asio::ssl::stream keeps four 17 KiB buffers per connection (its own input and output
// buffers and an OpenSSL BIO pair), ~68 KiB whether or not anything is in flight; with 10,000
// agents that is most of the gateway's memory. TlsStream instead waits for the socket to be
// readable with no buffer, reads into a per-thread buffer, and hands OpenSSL only the bytes that
// arrived (memory BIOs that grow to what is in flight and shrink back).
//
// Use: the next layer of boost::beast::websocket::stream (teardown is provided), one read and one
// write in flight at most, all on one strand. Output that OpenSSL produces while reading (an alert,
// a KeyUpdate answer) goes out with the next write or shutdown. Timeouts are the caller's: close
// the socket to abort what is pending.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/role.hpp>
#include <string>

namespace fleetdesk::net {

class TlsStream {
 public:
  using executor_type = boost::asio::any_io_executor;
  using next_layer_type = boost::asio::ip::tcp::socket;
  using lowest_layer_type = boost::asio::ip::tcp::socket;
  using error_code = boost::system::error_code;

  TlsStream(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context);
  TlsStream(const executor_type& executor, boost::asio::ssl::context& context);
  ~TlsStream();
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  next_layer_type& next_layer() { return socket_; }
  lowest_layer_type& lowest_layer() { return socket_; }
  SSL* native_handle() { return ssl_; }

  // Client side: send `host` as SNI (when it is a name) and require the server's certificate to
  // name it (DNS name or IP address).
  void SetServerName(const std::string& host);

  template <typename Token>
  auto async_handshake(boost::asio::ssl::stream_base::handshake_type type, Token&& token) {
    if (type == boost::asio::ssl::stream_base::client) {
      SSL_set_connect_state(ssl_);
    } else {
      SSL_set_accept_state(ssl_);
    }
    return boost::asio::async_compose<Token, void(error_code)>(Op<Kind::kHandshake>{*this, {}, {}},
                                                               token, socket_);
  }

  // Sends close_notify; does not wait for the peer's.
  template <typename Token>
  auto async_shutdown(Token&& token) {
    return boost::asio::async_compose<Token, void(error_code)>(Op<Kind::kShutdown>{*this, {}, {}},
                                                               token, socket_);
  }

  template <typename Buffers, typename Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    boost::asio::mutable_buffer first;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      if (boost::asio::buffer_size(*it) > 0) {
        first = *it;
        break;
      }
    }
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op<Kind::kRead>{*this, first, {}}, token, socket_);
  }

  // Encrypts up to 16 KiB of `buffers` as one record, and completes once it is on the wire.
  template <typename Buffers, typename Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    std::string plain;
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers) && plain.size() < kMaxRecord; ++it) {
      boost::asio::const_buffer b = *it;
      plain.append(static_cast<const char*>(b.data()),
                   std::min(b.size(), kMaxRecord - plain.size()));
    }
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        Op<Kind::kWrite>{*this, {}, std::move(plain)}, token, socket_);
  }

 private:
  friend void teardown(boost::beast::role_type, TlsStream&, boost::system::error_code&);
  static constexpr std::size_t kMaxRecord = 16384;  // TLS's largest plaintext record
  enum class Kind { kHandshake, kShutdown, kRead, kWrite };

  // What one step of OpenSSL work left to do.
  struct Step {
    enum class Next { kDone, kNeedInput, kFailed } next;
    std::size_t bytes = 0;
    error_code ec;
  };

  // Runs the OpenSSL call for `kind` once on what has arrived; moves any output into `out`.
  Step Run(Kind kind, boost::asio::mutable_buffer read_into, const std::string& plain,
           std::string* out);
  // After the socket became readable: reads what is there into the BIO without blocking.
  // Answers false with `ec` set on error or end of stream.
  bool Pull(error_code& ec);

  template <Kind K>
  struct Op {
    TlsStream& stream;
    boost::asio::mutable_buffer read_into;
    std::string plain;
    std::string out = {};
    Step step = {};
    enum { kStart, kFlushed, kReadable } state = kStart;

    template <typename Self>
    void operator()(Self& self, error_code ec = {}, std::size_t = 0) {
      for (;;) {
        switch (state) {
          case kStart:
            step = stream.Run(K, read_into, plain, &out);
            if (!out.empty() && K != Kind::kRead) {
              state = kFlushed;
              boost::asio::async_write(stream.socket_, boost::asio::buffer(out), std::move(self));
              return;
            }
            [[fallthrough]];
          case kFlushed:
            if (ec) return Complete(self, ec, 0);
            out.clear();
            if (step.next == Step::Next::kDone) return Complete(self, {}, step.bytes);
            if (step.next == Step::Next::kFailed) return Complete(self, step.ec, 0);
            state = kReadable;
            stream.socket_.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(self));
            return;
          case kReadable:
            if (ec || !stream.Pull(ec)) return Complete(self, ec, 0);
            state = kStart;
            break;
        }
      }
    }

    template <typename Self>
    void Complete(Self& self, error_code ec, std::size_t n) {
      if constexpr (K == Kind::kRead || K == Kind::kWrite) {
        self.complete(ec, n);
      } else {
        self.complete(ec);
      }
    }
  };

  boost::asio::ip::tcp::socket socket_;
  SSL* ssl_ = nullptr;
  BIO* network_in_ = nullptr;   // ciphertext from the peer, read by OpenSSL
  BIO* network_out_ = nullptr;  // ciphertext OpenSSL wrote for the peer
  std::string deferred_;        // output made while reading, sent with the next write
  bool eof_ = false;
};

// Beast's websocket stream closes its next layer through these (found by argument lookup).
void teardown(boost::beast::role_type role, TlsStream& stream, boost::system::error_code& ec);

// Sends close_notify and a FIN, then drains until the peer closes too, so the peer reads our
// goodbye instead of a reset. The WebSocket's close timeout bounds the wait.
struct TeardownOp {
  TlsStream& stream;
  enum { kShutdown, kDrain } state = kShutdown;

  template <typename Self>
  void operator()(Self& self, boost::system::error_code ec = {}) {
    auto& socket = stream.next_layer();
    if (state == kShutdown) {
      state = kDrain;
      stream.async_shutdown(std::move(self));
      return;
    }
    boost::system::error_code ignored;
    if (!ec && socket.is_open()) {
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
      if (!DrainOnce(socket, ec)) {
        socket.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(self));
        return;
      }
    }
    socket.close(ignored);
    self.complete(boost::system::error_code{});
  }

  // Reads and drops what arrived; true once the peer has closed (or the socket failed).
  static bool DrainOnce(boost::asio::ip::tcp::socket& socket, boost::system::error_code& ec);
};

template <typename Handler>
void async_teardown(boost::beast::role_type, TlsStream& stream, Handler&& handler) {
  boost::asio::async_compose<Handler, void(boost::system::error_code)>(TeardownOp{stream}, handler,
                                                                       stream.next_layer());
}

}  // namespace fleetdesk::net
