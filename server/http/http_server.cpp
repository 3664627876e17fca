#include "server/http/http_server.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <mutex>
#include <unordered_set>

#include "common/net/listen.hpp"
#include "server/http/http_parse.hpp"

namespace fleetdesk::server::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using Stream = asio::ssl::stream<beast::tcp_stream>;

template <class Body>
void SetHeaders(bhttp::response<Body>& out, const Response& in) {
  out.set(bhttp::field::server, "fleetdesk");
  out.set(bhttp::field::content_type, in.content_type);
  out.set(bhttp::field::cache_control, "no-store");
  out.set("X-Content-Type-Options", "nosniff");
  out.set(bhttp::field::strict_transport_security, "max-age=31536000");
  for (const auto& [name, value] : in.headers) out.set(name, value);
}

bhttp::response<bhttp::string_body> ToBeast(Response in, unsigned version, bool keep_alive) {
  bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(in.status), version};
  SetHeaders(out, in);
  out.body() = std::move(in.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

Response PlainError(int status, const std::string& code, const std::string& message) {
  Response r;
  r.status = status;
  r.body = R"({"error":{"code":")" + code + R"(","message":")" + message + R"("}})";
  return r;
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  Impl(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls, asio::thread_pool& workers,
       HttpServerOptions options, Handler handler)
      : io(io),
        tls(std::move(tls)),
        workers(workers),
        options(std::move(options)),
        handler(std::move(handler)),
        acceptor(asio::make_strand(io)) {}

  asio::io_context& io;
  std::shared_ptr<asio::ssl::context> tls;
  asio::thread_pool& workers;
  HttpServerOptions options;
  Handler handler;
  tcp::acceptor acceptor;
  std::mutex mutex;
  std::unordered_set<std::shared_ptr<Stream>> connections;
  bool stopping = false;

  awaitable<void> Accept() {
    auto self = shared_from_this();
    for (;;) {
      tcp::socket socket(asio::make_strand(io));
      auto [ec] = co_await acceptor.async_accept(socket, asio::as_tuple(use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        spdlog::warn("api accept: {}", ec.message());
        continue;
      }
      // A response goes out in more than one write; with Nagle's algorithm the last would wait
      // for the client's delayed ACK, 40 ms on Linux, on every request.
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      auto stream = std::make_shared<Stream>(beast::tcp_stream(std::move(socket)), *tls);
      co_spawn(executor, Serve(stream), asio::detached);
    }
  }

  // Sends the headers, then what the source gives, each piece as a chunk, until it ends, the
  // server stops or a write fails (the client left: found at the next write, which the source's
  // keep-alive comments make happen).
  awaitable<boost::system::error_code> SendStream(Stream& stream, const Response& response,
                                                  unsigned version) {
    bhttp::response<bhttp::empty_body> head{static_cast<bhttp::status>(response.status), version};
    SetHeaders(head, response);
    head.keep_alive(false);
    head.chunked(true);
    bhttp::response_serializer<bhttp::empty_body> serializer{head};
    beast::get_lowest_layer(stream).expires_after(options.request_timeout);
    auto [ec, ignored] =
        co_await bhttp::async_write_header(stream, serializer, asio::as_tuple(use_awaitable));
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto& source = *response.stream;
    while (!ec) {
      auto next = source.Next();
      if (!next) break;
      if (!next->empty()) {
        beast::get_lowest_layer(stream).expires_after(options.request_timeout);
        std::tie(ec, std::ignore) = co_await asio::async_write(
            stream, bhttp::make_chunk(asio::buffer(*next)), asio::as_tuple(use_awaitable));
        continue;
      }
      {
        std::lock_guard lock(mutex);
        if (stopping) break;
      }
      timer.expires_after(source.poll);
      co_await timer.async_wait(asio::as_tuple(use_awaitable));
    }
    if (!ec) {
      beast::get_lowest_layer(stream).expires_after(options.request_timeout);
      std::tie(ec, std::ignore) = co_await asio::async_write(stream, bhttp::make_chunk_last(),
                                                             asio::as_tuple(use_awaitable));
    }
    co_return ec;
  }

  awaitable<void> Serve(std::shared_ptr<Stream> stream) {
    auto self = shared_from_this();
    {
      std::lock_guard lock(mutex);
      if (stopping) co_return;
      connections.insert(stream);
    }
    std::string remote;
    boost::system::error_code ec;
    auto endpoint = beast::get_lowest_layer(*stream).socket().remote_endpoint(ec);
    if (!ec) remote = endpoint.address().to_string();

    beast::get_lowest_layer(*stream).expires_after(options.request_timeout);
    std::tie(ec) = co_await stream->async_handshake(asio::ssl::stream_base::server,
                                                    asio::as_tuple(use_awaitable));
    beast::flat_buffer buffer;
    while (!ec) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(LargestBodyLimit(options));
      parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
      beast::get_lowest_layer(*stream).expires_after(options.request_timeout);
      // The headers first: the body's limit depends on the path.
      std::tie(ec, std::ignore) =
          co_await bhttp::async_read_header(*stream, buffer, parser, asio::as_tuple(use_awaitable));
      if (!ec && !BodyFits(parser, options)) ec = bhttp::error::body_limit;
      if (!ec) {
        std::tie(ec, std::ignore) =
            co_await bhttp::async_read(*stream, buffer, parser, asio::as_tuple(use_awaitable));
      }
      if (ec == bhttp::error::end_of_stream) break;
      if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit) {
        auto response = ToBeast(
            PlainError(413, "resource_exhausted", "request is larger than this server accepts"), 11,
            false);
        co_await bhttp::async_write(*stream, response, asio::as_tuple(use_awaitable));
        break;
      }
      if (ec) {
        if (ec != beast::error::timeout && ec != asio::ssl::error::stream_truncated) {
          spdlog::debug("api read from {}: {}", remote, ec.message());
        }
        break;
      }
      auto& req = parser.get();
      const bool keep_alive = req.keep_alive();
      const unsigned version = req.version();
      Request request = ToRequest(req, remote);
      // Handlers may block on the database: run them on the worker pool, then come back here.
      Response response = co_await co_spawn(
          workers, [this, &request]() -> awaitable<Response> { co_return handler(request); },
          use_awaitable);
      if (response.stream) {
        // An event stream holds its connection to the end.
        ec = co_await SendStream(*stream, response, version);
        break;
      }
      auto out = ToBeast(std::move(response), version, keep_alive);
      beast::get_lowest_layer(*stream).expires_after(options.request_timeout);
      std::tie(ec, std::ignore) =
          co_await bhttp::async_write(*stream, out, asio::as_tuple(use_awaitable));
      if (!keep_alive) break;
      std::lock_guard lock(mutex);
      if (stopping) break;
    }
    if (!ec) {
      beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(2));
      co_await stream->async_shutdown(asio::as_tuple(use_awaitable));
    }
    beast::get_lowest_layer(*stream).close();
    std::lock_guard lock(mutex);
    connections.erase(stream);
  }
};

HttpServer::HttpServer(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls,
                       asio::thread_pool& workers, HttpServerOptions options, Handler handler)
    : impl_(std::make_shared<Impl>(io, std::move(tls), workers, std::move(options),
                                   std::move(handler))) {}

HttpServer::~HttpServer() = default;

Status HttpServer::Start() {
  auto& acceptor = impl_->acceptor;
  if (auto s = net::Listen(acceptor, impl_->options.address, impl_->options.port, "the API"); !s)
    return s;
  co_spawn(acceptor.get_executor(), impl_->Accept(), asio::detached);
  return {};
}

unsigned short HttpServer::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void HttpServer::Stop() {
  auto impl = impl_;
  asio::dispatch(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
  });
  std::lock_guard lock(impl->mutex);
  impl->stopping = true;
  // Idle keep-alive connections would hold the process until their timeout; cut them now. A
  // request being handled finishes: its handler runs on the worker pool and the write fails.
  for (const auto& stream : impl->connections) {
    asio::dispatch(beast::get_lowest_layer(*stream).get_executor(),
                   [stream] { beast::get_lowest_layer(*stream).cancel(); });
  }
}

}  // namespace fleetdesk::server::http
