#include "agent/checks/runner.hpp"

#include <google/protobuf/util/time_util.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <random>
#include <regex>

#include "common/net/https_client.hpp"
#include "common/version.hpp"

namespace fleetdesk::agent::checks {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
// What a check reads of a body to look for its keyword; a health page is far smaller.
constexpr std::uint64_t kBodyLimit = 1U << 20U;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// One run of one check: the deadline, the phase it is in, the sockets the deadline closes.
struct Attempt : std::enable_shared_from_this<Attempt> {
  Attempt(asio::io_context& io, fleetdesk::v1::CheckSpec spec)
      : io(io), spec(std::move(spec)), deadline(io), resolver(io), socket(io) {}

  asio::io_context& io;
  fleetdesk::v1::CheckSpec spec;
  asio::steady_timer deadline;
  tcp::resolver resolver;
  tcp::socket socket;
  std::shared_ptr<asio::ssl::stream<tcp::socket&>> tls;
  bool timed_out = false;
  std::string phase = "resolving";
  fleetdesk::v1::CheckResult result;
  Clock::time_point started;

  void ArmDeadline() {
    deadline.expires_after(std::chrono::milliseconds(spec.timeout_ms()));
    deadline.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec) return;
      self->timed_out = true;
      self->resolver.cancel();
      boost::system::error_code ignored;
      self->socket.close(ignored);
    });
  }

  // Ends the check as down, naming the phase and the reason.
  void Down(const std::string& why) {
    result.set_up(false);
    if (timed_out) {
      result.set_message("timed out after " + std::to_string(spec.timeout_ms()) + " ms " + phase);
    } else {
      result.set_message(phase.empty() ? why : phase + ": " + why);
    }
  }

  awaitable<std::optional<tcp::resolver::results_type>> Resolve(const std::string& host,
                                                                const std::string& port) {
    phase = "resolving " + host;
    auto t = Clock::now();
    auto [ec, endpoints] = co_await resolver.async_resolve(host, port, kTuple);
    result.set_dns_ms(result.dns_ms() + Ms(Clock::now() - t));
    if (ec || endpoints.empty()) {
      Down(ec ? ec.message() : "no address");
      co_return std::nullopt;
    }
    co_return endpoints;
  }

  awaitable<bool> Connect(const tcp::resolver::results_type& endpoints) {
    phase = "connecting";
    auto t = Clock::now();
    boost::system::error_code ignored;
    socket.close(ignored);
    auto [ec, endpoint] = co_await asio::async_connect(socket, endpoints, kTuple);
    result.set_connect_ms(result.connect_ms() + Ms(Clock::now() - t));
    if (ec) {
      Down(ec.message());
      co_return false;
    }
    result.clear_addresses();
    result.add_addresses(endpoint.address().to_string());
    co_return true;
  }

  awaitable<void> RunTcp() {
    auto colon = spec.target().rfind(':');
    auto host = spec.target().substr(0, colon);
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
      host = host.substr(1, host.size() - 2);
    }
    auto endpoints = co_await Resolve(host, spec.target().substr(colon + 1));
    if (!endpoints) co_return;
    if (!co_await Connect(*endpoints)) co_return;
    result.set_up(true);
  }

  awaitable<void> RunDns() {
    phase = "resolving " + spec.target();
    auto t = Clock::now();
    auto protocol = spec.record_type() == "AAAA" ? tcp::v6() : tcp::v4();
    boost::system::error_code ec;
    tcp::resolver::results_type endpoints;
    if (spec.record_type().empty()) {
      std::tie(ec, endpoints) = co_await resolver.async_resolve(spec.target(), "", kTuple);
    } else {
      std::tie(ec, endpoints) =
          co_await resolver.async_resolve(protocol, spec.target(), "", kTuple);
    }
    result.set_dns_ms(Ms(Clock::now() - t));
    if (ec) {
      Down(ec.message());
      co_return;
    }
    std::vector<std::string> seen;
    for (const auto& entry : endpoints) {
      auto address = entry.endpoint().address().to_string();
      if (std::find(seen.begin(), seen.end(), address) == seen.end()) seen.push_back(address);
    }
    for (const auto& address : seen) result.add_addresses(address);
    if (seen.empty()) {
      Down("no " + (spec.record_type().empty() ? std::string("address") : spec.record_type()) +
           " record");
      co_return;
    }
    if (!spec.expect_address().empty() &&
        std::find(seen.begin(), seen.end(), spec.expect_address()) == seen.end()) {
      phase.clear();
      Down(spec.expect_address() + " is not among the answers");
      co_return;
    }
    result.set_up(true);
  }

  // Sends the request and reads the answer over `stream` (a socket or a TLS stream on it).
  template <class Stream>
  awaitable<std::optional<http::response<http::string_body>>> Exchange(Stream& stream,
                                                                       const net::Url& url) {
    http::request<http::empty_body> request{http::string_to_verb(spec.method()), url.target, 11};
    if (request.method() == http::verb::unknown) request.method_string(spec.method());
    bool default_port =
        (url.scheme == "http" && url.port == "80") || (url.scheme == "https" && url.port == "443");
    std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
    request.set(http::field::host, default_port ? host : host + ":" + url.port);
    request.set(http::field::user_agent, std::string("fleetdesk-agent/") + kVersion);
    request.set(http::field::connection, "close");
    for (const auto& [name, value] : spec.headers()) request.set(name, value);
    phase = "sending the request";
    auto [write_ec, written] = co_await http::async_write(stream, request, kTuple);
    if (write_ec) {
      Down(write_ec.message());
      co_return std::nullopt;
    }
    phase = "waiting for the response";
    auto t = Clock::now();
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    auto [header_ec, header_n] = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (header_ec) {
      Down(header_ec.message());
      co_return std::nullopt;
    }
    result.set_first_byte_ms(Ms(Clock::now() - t));
    phase = "reading the body";
    auto [body_ec, body_n] = co_await http::async_read(stream, buffer, parser, kTuple);
    // A body past the limit is cut there: the keyword is looked for in what was read.
    if (body_ec && body_ec != http::error::body_limit && body_ec != http::error::end_of_stream) {
      Down(body_ec.message());
      co_return std::nullopt;
    }
    co_return parser.release();
  }

  awaitable<void> RunHttp() {
    auto url = net::ParseAnyUrl(spec.target());
    std::shared_ptr<asio::ssl::context> context;
    for (std::uint32_t hop = 0;; ++hop) {
      auto endpoints = co_await Resolve(url->host, url->port);
      if (!endpoints) co_return;
      if (!co_await Connect(*endpoints)) co_return;
      std::optional<http::response<http::string_body>> response;
      if (url->scheme == "https") {
        if (!context) {
          auto made = MakeContext();
          if (!made) co_return;
          context = std::move(made);
        }
        if (!co_await Handshake(*context, url->host)) co_return;
        response = co_await Exchange(*tls, *url);
        // Connection: close was asked for; the server's close_notify need not be waited for.
        tls.reset();
      } else {
        response = co_await Exchange(socket, *url);
      }
      if (!response) co_return;
      const unsigned status = response->result_int();
      result.set_http_status(status);
      bool redirect =
          status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
      if (redirect && spec.max_redirects() > 0) {
        auto location = std::string((*response)[http::field::location]);
        if (hop >= spec.max_redirects()) {
          phase.clear();
          Down("more than " + std::to_string(spec.max_redirects()) + " redirects (last to " +
               location + ")");
          co_return;
        }
        auto next = FollowLocation(*url, location);
        if (!next) {
          phase.clear();
          Down("redirect to an unusable location '" + location + "'");
          co_return;
        }
        url = *next;
        result.set_redirects(hop + 1);
        continue;
      }
      phase.clear();
      bool expected = spec.expect_status().empty()
                          ? status >= 200 && status < 400
                          : std::find(spec.expect_status().begin(), spec.expect_status().end(),
                                      status) != spec.expect_status().end();
      if (!expected) {
        Down("unexpected status " + std::to_string(status));
        co_return;
      }
      const std::string& body = response->body();
      if (!spec.body_contains().empty() && body.find(spec.body_contains()) == std::string::npos) {
        Down("the body does not contain '" + spec.body_contains() + "'");
        co_return;
      }
      if (!spec.body_regex().empty() && !std::regex_search(body, std::regex(spec.body_regex()))) {
        Down("the body does not match /" + spec.body_regex() + "/");
        co_return;
      }
      result.set_up(true);
      co_return;
    }
  }

  // A redirect's Location, absolute or relative to `base`.
  static std::optional<net::Url> FollowLocation(const net::Url& base, const std::string& location) {
    if (location.empty()) return std::nullopt;
    if (location.find("://") != std::string::npos) {
      auto url = net::ParseAnyUrl(location);
      if (!url || (url->scheme != "http" && url->scheme != "https")) return std::nullopt;
      return *url;
    }
    net::Url next = base;
    if (location.starts_with("//")) {
      auto url = net::ParseAnyUrl(base.scheme + ":" + location);
      if (!url) return std::nullopt;
      return *url;
    }
    if (location.front() == '/') {
      next.target = location;
    } else {
      auto path = base.target.substr(0, base.target.find('?'));
      next.target = path.substr(0, path.rfind('/') + 1) + location;
    }
    return next;
  }

  std::shared_ptr<asio::ssl::context> MakeContext() {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    boost::system::error_code ec;
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                             asio::ssl::context::no_sslv3,
                         ec);
    if (spec.tls_insecure()) {
      context->set_verify_mode(asio::ssl::verify_none, ec);
    } else {
      context->set_verify_mode(asio::ssl::verify_peer, ec);
      if (!spec.ca_file().empty()) {
        context->load_verify_file(spec.ca_file(), ec);
        if (ec) {
          phase.clear();
          Down("cannot load ca_file " + spec.ca_file() + ": " + ec.message());
          return nullptr;
        }
      } else {
        context->set_default_verify_paths(ec);
      }
    }
    return context;
  }

  void NoteCertificate(X509* certificate) {
    if (certificate == nullptr) return;
    int days = 0;
    int seconds = 0;
    if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(certificate)) == 1) {
      result.set_cert_days_left(days);
    }
  }

  awaitable<bool> Handshake(asio::ssl::context& context, const std::string& host) {
    phase = "TLS handshake";
    tls = std::make_shared<asio::ssl::stream<tcp::socket&>>(socket, context);
    boost::system::error_code address_ec;
    asio::ip::make_address(host, address_ec);
    if (address_ec) SSL_set_tlsext_host_name(tls->native_handle(), host.c_str());
    std::string verify_error;
    if (!spec.tls_insecure()) {
      asio::ssl::host_name_verification verify_name(host);
      tls->set_verify_callback([this, verify_name, &verify_error, host](
                                   bool preverified, asio::ssl::verify_context& ctx) mutable {
        X509_STORE_CTX* store = ctx.native_handle();
        if (X509_STORE_CTX_get_error_depth(store) == 0) {
          NoteCertificate(X509_STORE_CTX_get_current_cert(store));
        }
        bool ok = verify_name(preverified, ctx);
        if (!ok && verify_error.empty()) {
          int error = X509_STORE_CTX_get_error(store);
          verify_error = error != X509_V_OK ? X509_verify_cert_error_string(error)
                                            : "the certificate does not name " + host;
        }
        return ok;
      });
    }
    auto t = Clock::now();
    auto [ec] = co_await tls->async_handshake(asio::ssl::stream_base::client, kTuple);
    result.set_tls_ms(result.tls_ms() + Ms(Clock::now() - t));
    if (ec) {
      Down(verify_error.empty() ? ec.message() : "certificate not trusted: " + verify_error);
      co_return false;
    }
    if (spec.tls_insecure()) {
      X509* certificate = SSL_get1_peer_certificate(tls->native_handle());
      NoteCertificate(certificate);
      X509_free(certificate);
    }
    co_return true;
  }

  awaitable<fleetdesk::v1::CheckResult> Run() {
    auto self = shared_from_this();
    result.set_key(spec.key());
    result.set_kind(spec.kind());
    result.set_target(spec.target());
    *result.mutable_checked_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
    started = Clock::now();
    ArmDeadline();
    switch (spec.kind()) {
      case fleetdesk::v1::CHECK_KIND_HTTP:
        co_await RunHttp();
        break;
      case fleetdesk::v1::CHECK_KIND_TCP:
        co_await RunTcp();
        break;
      case fleetdesk::v1::CHECK_KIND_DNS:
        co_await RunDns();
        break;
      default:
        Down("unknown check type");
        break;
    }
    deadline.cancel();
    boost::system::error_code ignored;
    socket.close(ignored);
    result.set_latency_ms(Ms(Clock::now() - started));
    if (result.up()) result.clear_message();
    co_return result;
  }
};

}  // namespace

void RunOnce(asio::io_context& io, const fleetdesk::v1::CheckSpec& spec,
             std::function<void(fleetdesk::v1::CheckResult)> done) {
  auto attempt = std::make_shared<Attempt>(io, spec);
  asio::co_spawn(io, attempt->Run(),
                 [attempt, done = std::move(done)](std::exception_ptr error,
                                                   fleetdesk::v1::CheckResult result) {
                   if (error) {
                     result.set_key(attempt->spec.key());
                     result.set_up(false);
                     result.set_message("the check failed inside the agent");
                   }
                   done(std::move(result));
                 });
}

struct CheckRunner::Impl : std::enable_shared_from_this<CheckRunner::Impl> {
  Impl(asio::io_context& io, Callback on_result)
      : io(io), on_result(std::move(on_result)), random(std::random_device{}()) {}

  struct Scheduled {
    fleetdesk::v1::CheckSpec spec;
    std::unique_ptr<asio::steady_timer> timer;
    std::uint64_t generation = 0;
  };

  asio::io_context& io;
  Callback on_result;
  std::mt19937_64 random;
  std::map<std::string, Scheduled> checks;
  std::map<std::string, fleetdesk::v1::CheckResult> latest;
  std::uint64_t generation = 0;
  bool stopped = false;

  void Schedule(const std::string& key, std::chrono::milliseconds delay) {
    auto it = checks.find(key);
    if (it == checks.end()) return;
    it->second.timer->expires_after(delay);
    it->second.timer->async_wait([weak = weak_from_this(), key,
                                  gen = it->second.generation](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || self->stopped) return;
      auto found = self->checks.find(key);
      if (found == self->checks.end() || found->second.generation != gen) return;
      RunOnce(self->io, found->second.spec, [weak, key, gen](fleetdesk::v1::CheckResult result) {
        auto me = weak.lock();
        if (!me || me->stopped) return;
        auto still = me->checks.find(key);
        if (still == me->checks.end() || still->second.generation != gen) return;
        auto previous = me->latest.find(key);
        bool changed = previous == me->latest.end() || previous->second.up() != result.up();
        me->latest[key] = result;
        me->on_result(result, changed);
        me->Schedule(key, std::chrono::seconds(still->second.spec.interval_seconds()));
      });
    });
  }
};

CheckRunner::CheckRunner(asio::io_context& io, Callback on_result)
    : impl_(std::make_shared<Impl>(io, std::move(on_result))) {}

CheckRunner::~CheckRunner() { Stop(); }

void CheckRunner::Set(std::vector<fleetdesk::v1::CheckSpec> specs) {
  auto& impl = *impl_;
  std::map<std::string, fleetdesk::v1::CheckSpec> wanted;
  for (auto& spec : specs) wanted[spec.key()] = std::move(spec);
  for (auto it = impl.checks.begin(); it != impl.checks.end();) {
    auto w = wanted.find(it->first);
    if (w == wanted.end() || w->second.SerializeAsString() != it->second.spec.SerializeAsString()) {
      it->second.timer->cancel();
      impl.latest.erase(it->first);
      it = impl.checks.erase(it);
    } else {
      wanted.erase(w);
      ++it;
    }
  }
  for (auto& [key, spec] : wanted) {
    auto& entry = impl.checks[key];
    entry.spec = std::move(spec);
    entry.timer = std::make_unique<asio::steady_timer>(impl.io);
    entry.generation = ++impl.generation;
    // The first run comes soon, spread over a tenth of the interval (at most 5 s) so the first
    // report after a start has results without every check firing in the same millisecond.
    auto spread = std::min<std::int64_t>(5000, entry.spec.interval_seconds() * 100);
    auto delay = std::uniform_int_distribution<std::int64_t>(0, spread)(impl.random);
    impl.Schedule(key, std::chrono::milliseconds(delay));
  }
}

void CheckRunner::Stop() {
  impl_->stopped = true;
  for (auto& [key, entry] : impl_->checks) entry.timer->cancel();
}

std::vector<fleetdesk::v1::CheckResult> CheckRunner::Latest() const {
  std::vector<fleetdesk::v1::CheckResult> out;
  for (const auto& [key, result] : impl_->latest) out.push_back(result);
  return out;
}

}  // namespace fleetdesk::agent::checks
