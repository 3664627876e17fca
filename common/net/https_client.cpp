#include "common/net/https_client.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "common/net/tls.hpp"

namespace fleetdesk::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string ChainPem(SSL* ssl) {
  std::string out;
  STACK_OF(X509)* chain = SSL_get_peer_cert_chain(ssl);
  if (chain == nullptr) return out;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, sk_X509_value(chain, i));
    char* data = nullptr;
    long size = BIO_get_mem_data(bio, &data);
    out.append(data, static_cast<std::size_t>(size));
    BIO_free(bio);
  }
  return out;
}

}  // namespace

Result<Url> ParseUrl(const std::string& text) {
  auto url = ParseAnyUrl(text);
  if (url && url->scheme != "https" && url->scheme != "wss") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + text + "' must use https:// (or wss://); plain text is not supported");
  }
  return url;
}

Result<Url> ParseAnyUrl(const std::string& text) {
  Url url;
  auto scheme_end = text.find("://");
  if (scheme_end == std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + text + "' is not a URL (no scheme)");
  }
  url.scheme = text.substr(0, scheme_end);
  if (url.scheme != "https" && url.scheme != "wss" && url.scheme != "http" && url.scheme != "ws") {
    return MakeError(ErrorCode::kInvalidArgument,
                     "'" + text + "' has an unknown scheme; use http(s):// or ws(s)://");
  }
  std::string rest = text.substr(scheme_end + 3);
  auto slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  url.target = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      return MakeError(ErrorCode::kInvalidArgument, "'" + text + "' has an unclosed IPv6 address");
    }
    url.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      url.port = authority.substr(close + 2);
    }
  } else {
    auto colon = authority.rfind(':');
    url.host = authority.substr(0, colon);
    if (colon != std::string::npos) url.port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return MakeError(ErrorCode::kInvalidArgument, "'" + text + "' has no host");
  if (url.port.empty()) url.port = (url.scheme == "http" || url.scheme == "ws") ? "80" : "443";
  if (url.port.find_first_not_of("0123456789") != std::string::npos) {
    return MakeError(ErrorCode::kInvalidArgument, "'" + text + "' has a bad port");
  }
  return url;
}

Result<HttpsResponse> Fetch(const HttpsRequest& request) {
  auto url = ParseUrl(request.url);
  if (!url) return url.error();
  auto ctx = MakeClientContext(request.tls);
  if (!ctx) return ctx.error();

  asio::io_context io;
  asio::ssl::stream<beast::tcp_stream> stream(io, **ctx);
  auto fail = [&](const std::string& what, const boost::system::error_code& ec) {
    return MakeError(ErrorCode::kUnavailable, what + " " + request.url + ": " + ec.message());
  };
  boost::system::error_code ec;
  asio::ip::tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(url->host, url->port, ec);
  if (ec) return fail("cannot resolve", ec);
  beast::get_lowest_layer(stream).expires_after(request.timeout);
  // The blocking calls of tcp_stream ignore expires_after; run the async ones under one timer.
  HttpsResponse out;
  http::response<http::string_body> response;
  beast::flat_buffer buffer;
  boost::system::error_code result;
  std::string step = "cannot connect to";

  if (!request.tls.ca_pem.empty() && request.verify_host_name) {
    stream.set_verify_callback(asio::ssl::host_name_verification(url->host));
  }
  // Servers route by SNI; an IP address is not a valid SNI name.
  if (url->host.find_first_not_of("0123456789.:") != std::string::npos) {
    SSL_set_tlsext_host_name(stream.native_handle(), url->host.c_str());
  }
  http::request<http::string_body> req{http::string_to_verb(request.method), url->target, 11};
  req.set(http::field::host, url->host);
  req.set(http::field::user_agent, "fleetdesk");
  for (const auto& [name, value] : request.headers) req.set(name, value);
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT" ||
      request.method == "PATCH") {
    req.set(http::field::content_type, request.content_type);
    req.body() = request.body;
    req.prepare_payload();
  }

  beast::get_lowest_layer(stream).async_connect(
      endpoints, [&](boost::system::error_code e, const auto&) {
        if (e) {
          result = e;
          return;
        }
        // The request's last write must not wait for the server's delayed ACK.
        boost::system::error_code ignored;
        beast::get_lowest_layer(stream).socket().set_option(asio::ip::tcp::no_delay(true), ignored);
        step = "TLS handshake with";
        stream.async_handshake(asio::ssl::stream_base::client, [&](boost::system::error_code e2) {
          if (e2) {
            result = e2;
            return;
          }
          out.peer_chain_pem = ChainPem(stream.native_handle());
          step = "cannot send request to";
          http::async_write(stream, req, [&](boost::system::error_code e3, std::size_t) {
            if (e3) {
              result = e3;
              return;
            }
            step = "cannot read response from";
            http::async_read(stream, buffer, response,
                             [&](boost::system::error_code e4, std::size_t) { result = e4; });
          });
        });
      });
  io.run();
  if (result) return fail(step, result);
  out.status = static_cast<int>(response.result_int());
  out.body = std::move(response.body());
  out.content_type = std::string(response[http::field::content_type]);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(1));
  stream.shutdown(ec);  // a peer that closes without close_notify is not our error
  return out;
}

}  // namespace fleetdesk::net
