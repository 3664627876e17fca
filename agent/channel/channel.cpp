#include "agent/channel/channel.hpp"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <random>
#include <variant>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/net/https_client.hpp"
#include "common/net/tls.hpp"
#include "common/net/tls_stream.hpp"
#include "common/time_text.hpp"
#include "common/version.hpp"

namespace fleetdesk::agent::channel {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
using WebSocket = websocket::stream<net::TlsStream>;

constexpr std::chrono::seconds kConnectTimeout{15};
// A channel that stayed up this long was healthy: the next failure starts the backoff over.
constexpr std::chrono::seconds kHealthyAfter{60};
// A renewal request unanswered this long is sent again; one refused without a retry-after is
// tried again after an hour (the server allows one renewal per channel an hour).
constexpr std::chrono::minutes kRenewalUnanswered{10};
constexpr std::chrono::hours kRenewalRetry{1};
// Wall-clock deadlines are checked at least this often, so a clock step is noticed.
constexpr std::chrono::minutes kRenewalRecheck{10};

}  // namespace

struct Channel::Impl : std::enable_shared_from_this<Channel::Impl> {
  Impl(asio::io_context& io, const AgentConfig& config, Identity identity,
       journal::Journal& journal, const collectors::SystemCollector& system, ReportSource source)
      : io(io),
        config(config),
        identity(std::move(identity)),
        journal(journal),
        system(system),
        source(std::move(source)),
        sleep(io),
        report_timer(io),
        journal_grew(io),
        renew_timer(io),
        random(std::random_device{}()),
        interval(config.report_interval) {
    renew_fraction = std::uniform_real_distribution<double>(0.7, 0.9)(random);
    ScheduleRenewal();
  }

  asio::io_context& io;
  const AgentConfig& config;
  Identity identity;
  journal::Journal& journal;
  const collectors::SystemCollector& system;
  ReportSource source;
  asio::steady_timer sleep;         // splay and backoff waits
  asio::steady_timer report_timer;  // the next report; cancelled to report at once
  asio::steady_timer journal_grew;  // wakes the sender; cancelled when a report is appended
  asio::steady_timer renew_timer;   // the certificate renewal's next step; cancelled to recheck
  std::mt19937_64 random;
  std::shared_ptr<asio::ssl::context> tls;
  std::shared_ptr<WebSocket> ws;
  bool stopping = false;
  bool binary = false;     // negotiated in the welcome
  bool need_full = false;  // the next report is a full one (the first on a connection)
  std::chrono::seconds interval;
  bool interval_from_server = false;

  // Certificate renewal. The request goes out through the send loop (one writer per socket).
  double renew_fraction = 0.8;
  std::optional<crypto::CertificateInfo> certificate;  // what identity.certificate_pem says
  std::chrono::system_clock::time_point renew_at = std::chrono::system_clock::time_point::max();
  std::optional<std::chrono::system_clock::time_point> renewal_sent;
  // Serialized AgentMessages the send loop sends before reports: a renewal request, task results.
  std::deque<std::string> control_out;
  bool session_up = false;  // between the welcome and the connection's end
  TaskHooks task_hooks;
  std::function<void(const fleetdesk::v1::AgentConfig&)> on_server_config;
  bool holds_server_config = false;

  void ScheduleRenewal() {
    auto info = crypto::Inspect(identity.certificate_pem);
    if (!info) {
      spdlog::error("cannot read this agent's certificate: {}", info.error().message);
      certificate.reset();
      renew_at = std::chrono::system_clock::time_point::max();
      return;
    }
    certificate = *info;
    renew_at = RenewalTime(*info, renew_fraction);
  }

  // Sends a serialized AgentMessage in the negotiated encoding.
  awaitable<boost::system::error_code> SendMessage(WebSocket& socket, const std::string& bytes) {
    if (binary) {
      socket.binary(true);
      auto [ec, n] = co_await socket.async_write(asio::buffer(bytes), kTuple);
      co_return ec;
    }
    fleetdesk::v1::AgentMessage message;
    message.ParseFromString(bytes);
    socket.text(true);
    auto [ec, n] = co_await socket.async_write(asio::buffer(codec::ToJson(message)), kTuple);
    co_return ec;
  }

  std::chrono::milliseconds Jitter(std::chrono::milliseconds upto) {
    if (upto.count() <= 0) return std::chrono::milliseconds(0);
    return std::chrono::milliseconds(
        std::uniform_int_distribution<std::int64_t>(0, upto.count())(random));
  }

  awaitable<void> Wait(std::chrono::milliseconds delay) {
    sleep.expires_after(delay);
    co_await sleep.async_wait(kTuple);
  }

  // Makes a report every interval whether or not the server is reachable: the journal keeps
  // what cannot be sent yet, and the sender catches up after a reconnect. Between ticks the
  // timer is cancelled for a full report (a new connection) or an event report (a change).
  awaitable<void> Produce() {
    auto self = shared_from_this();
    auto next_tick = std::chrono::steady_clock::now();
    while (!stopping) {
      auto now = std::chrono::steady_clock::now();
      ReportKind kind = ReportKind::kEvent;
      if (need_full) {
        kind = ReportKind::kFull;
      } else if (now >= next_tick) {
        kind = ReportKind::kTick;
      }
      need_full = false;
      // A reload may have shortened the interval: the next tick must not wait out the old one.
      if (!interval_from_server) interval = config.report_interval;
      next_tick = std::min(next_tick, now + interval);
      if (kind != ReportKind::kEvent) next_tick = now + interval;
      if (auto report = source(kind)) {
        if (auto bytes = journal.Append(&*report); !bytes) {
          spdlog::error("cannot journal a report: {}", bytes.error().message);
        } else {
          journal_grew.cancel();
        }
      }
      report_timer.expires_at(next_tick);
      co_await report_timer.async_wait(kTuple);  // cancelled: report now (or stop)
    }
  }

  awaitable<void> Run() {
    auto self = shared_from_this();
    co_await Wait(Jitter(std::chrono::duration_cast<std::chrono::milliseconds>(config.splay)));
    int failures = 0;
    std::size_t url_index = 0;
    while (!stopping) {
      // A copy: a renewal during the session replaces `identity`.
      const std::string url = identity.gateway_urls[url_index % identity.gateway_urls.size()];
      auto started = std::chrono::steady_clock::now();
      auto [status, retry_after] = co_await Session(url);
      if (stopping) break;
      if (std::chrono::steady_clock::now() - started > kHealthyAfter) failures = 0;
      ++failures;
      ++url_index;  // several gateways: try the next one
      // Full jitter (a random wait between 0 and the exponential cap) spreads a fleet's
      // reconnects after a server restart instead of synchronising them.
      std::chrono::milliseconds cap =
          config.reconnect_min * (std::int64_t{1} << std::min(failures - 1, 20));
      cap = std::min(cap, config.reconnect_max);
      auto delay = std::max(Jitter(cap), retry_after);
      spdlog::warn("channel to {} ended: {}; reconnecting in {} ms", url,
                   status ? "closed" : status.error().message, delay.count());
      sd_notifyf(0, "STATUS=Disconnected (%s); %zu report(s) kept; retrying in %lld s",
                 status ? "closed" : status.error().message.c_str(), journal.pending_count(),
                 static_cast<long long>(delay.count() / 1000));
      co_await Wait(delay);
    }
  }

  // One connection, from dial to close. Answers why it ended and any retry-after the server set.
  awaitable<std::pair<Status, std::chrono::milliseconds>> Session(const std::string& url_text) {
    using Out = std::pair<Status, std::chrono::milliseconds>;
    std::chrono::milliseconds retry_after{0};
    auto url = net::ParseUrl(url_text);
    if (!url) co_return Out(url.error(), retry_after);
    if (certificate && std::chrono::system_clock::now() >=
                           std::chrono::system_clock::time_point(
                               std::chrono::seconds(certificate->not_after_unix))) {
      // No server would take it: say what to do instead of failing in the TLS handshake.
      co_return Out(MakeError(ErrorCode::kFailedPrecondition,
                              "this agent's certificate expired at " +
                                  UtcSecondsText(certificate->not_after_unix) +
                                  "; enroll it again with 'fleetdesk-agent enroll'"),
                    retry_after);
    }
    if (!tls) {
      auto ctx =
          net::MakeClientContext({identity.ca_pem, identity.certificate_pem, identity.key_pem});
      if (!ctx) co_return Out(ctx.error(), retry_after);
      tls = *ctx;
    }
    ws = std::make_shared<WebSocket>(io.get_executor(), *tls);
    auto& socket = beast::get_lowest_layer(*ws);
    // Dial, TLS, upgrade, hello and welcome must all be done by the deadline; past it the socket
    // closes and the step under way fails.
    struct Deadline {
      asio::steady_timer timer;
      ~Deadline() { timer.cancel(); }
    } deadline{asio::steady_timer(io, kConnectTimeout)};
    deadline.timer.async_wait([socket_owner = ws](boost::system::error_code e) {
      if (e) return;
      boost::system::error_code ignored;
      beast::get_lowest_layer(*socket_owner).close(ignored);
    });
    asio::ip::tcp::resolver resolver(io);
    auto [resolve_ec, endpoints] = co_await resolver.async_resolve(url->host, url->port, kTuple);
    if (resolve_ec)
      co_return Out(MakeError(ErrorCode::kUnavailable, "resolve: " + resolve_ec.message()),
                    retry_after);
    // A stop that came while resolving found no socket to close.
    if (stopping) co_return Out(Status{}, retry_after);
    auto [connect_ec, endpoint] = co_await asio::async_connect(socket, endpoints, kTuple);
    if (connect_ec)
      co_return Out(MakeError(ErrorCode::kUnavailable, "connect: " + connect_ec.message()),
                    retry_after);
    // A task's running and final results go out back to back: the second must not wait for the
    // server's delayed ACK of the first (Nagle's algorithm), 40 ms on Linux.
    boost::system::error_code no_delay_ec;
    socket.set_option(asio::ip::tcp::no_delay(true), no_delay_ec);
    ws->next_layer().SetServerName(url->host);
    auto [tls_ec] =
        co_await ws->next_layer().async_handshake(asio::ssl::stream_base::client, kTuple);
    if (tls_ec)
      co_return Out(MakeError(ErrorCode::kUnavailable, "TLS handshake: " + tls_ec.message()),
                    retry_after);
    ws->set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws->set_option(websocket::stream_base::decorator([](websocket::request_type& req) {
      req.set(beast::http::field::user_agent, std::string("fleetdesk-agent/") + kVersion);
    }));
    ws->read_message_max(16U << 20U);
    auto [ws_ec] = co_await ws->async_handshake(url->host, url->target, kTuple);
    if (ws_ec)
      co_return Out(MakeError(ErrorCode::kUnavailable, "WebSocket handshake: " + ws_ec.message()),
                    retry_after);

    fleetdesk::v1::AgentMessage hello;
    hello.set_protocol_version(fleetdesk::v1::PROTOCOL_VERSION_1);
    auto machine_id = system.MachineId();
    if (machine_id) hello.mutable_hello()->set_machine_id(*machine_id);
    hello.mutable_hello()->set_hostname(system.Hostname());
    hello.mutable_hello()->set_agent_version(kVersion);
    *hello.mutable_hello()->mutable_os() = system.Os();
    hello.mutable_hello()->set_last_seq(journal.last_seq());
    hello.mutable_hello()->set_holds_server_config(holds_server_config);
    if (config.encoding == "protobuf") hello.mutable_hello()->add_encodings("protobuf");
    binary = false;
    ws->text(true);
    auto [hello_ec, hello_n] = co_await ws->async_write(asio::buffer(codec::ToJson(hello)), kTuple);
    if (hello_ec)
      co_return Out(MakeError(ErrorCode::kUnavailable, "send hello: " + hello_ec.message()),
                    retry_after);

    beast::flat_buffer buffer;
    auto [welcome_ec, welcome_n] = co_await ws->async_read(buffer, kTuple);
    if (welcome_ec)
      co_return Out(MakeError(ErrorCode::kUnavailable, "read welcome: " + welcome_ec.message()),
                    retry_after);
    fleetdesk::v1::ServerMessage first;
    if (auto s = codec::FromJson(beast::buffers_to_string(buffer.data()), &first); !s) {
      co_return Out(s, retry_after);
    }
    buffer.consume(buffer.size());
    if (first.has_error()) {
      retry_after = std::chrono::seconds(first.error().retry_after_seconds());
      co_return Out(MakeError(ErrorCode::kPermissionDenied,
                              "the server refused the channel: " + first.error().message()),
                    retry_after);
    }
    if (!first.has_welcome()) {
      co_return Out(
          MakeError(ErrorCode::kInvalidArgument, "the server's first message is not a welcome"),
          retry_after);
    }
    deadline.timer.cancel();
    if (stopping) {
      // The stop came during the handshakes, before the loops that would end the session.
      auto [close_ec] = co_await ws->async_close(websocket::close_code::going_away, kTuple);
      co_return Out(Status{}, retry_after);
    }
    const auto& welcome = first.welcome();
    interval_from_server = welcome.heartbeat_interval_seconds() > 0;
    interval = interval_from_server ? std::chrono::seconds(welcome.heartbeat_interval_seconds())
                                    : config.report_interval;
    binary = welcome.encoding() == "protobuf";
    // A silent server (half-open connection) is noticed after three intervals, as the server
    // notices a silent agent.
    auto timeouts = websocket::stream_base::timeout::suggested(beast::role_type::client);
    timeouts.idle_timeout = interval * 3;
    timeouts.keep_alive_pings = true;
    ws->set_option(timeouts);
    if (auto s = journal.AdvanceTo(welcome.committed_seq()); !s) co_return Out(s, retry_after);
    journal.Ack(welcome.committed_seq());
    spdlog::info("connected to {} as agent {}; {} report(s) to resend", url_text, identity.agent_id,
                 journal.pending_count());
    sd_notifyf(0, "STATUS=Connected to %s; %zu report(s) to resend", url_text.c_str(),
               journal.pending_count());
    // The first report on a connection is a full one, made now rather than at the next tick.
    need_full = true;
    report_timer.cancel();
    renewal_sent.reset();
    control_out.clear();
    // Results of tasks that ended while the server was out of reach, or whose ack was lost.
    if (task_hooks.unacked) {
      for (const auto& result : task_hooks.unacked()) QueueTaskResult(result);
    }
    session_up = true;
    auto ended = co_await (ReadLoop(ws, &retry_after) || SendLoop(ws, welcome.committed_seq()) ||
                           RenewLoop());
    session_up = false;
    Status status = std::visit([](Status s) { return s; }, ended);
    co_return Out(status, retry_after);
  }

  awaitable<Status> ReadLoop(std::shared_ptr<WebSocket> socket,
                             std::chrono::milliseconds* retry_after) {
    beast::flat_buffer buffer;
    for (;;) {
      auto [ec, n] = co_await socket->async_read(buffer, kTuple);
      if (ec) {
        if (ec == websocket::error::closed) {
          co_return MakeError(
              ErrorCode::kUnavailable,
              "the server closed the channel: " + std::string(socket->reason().reason.c_str()));
        }
        co_return MakeError(ErrorCode::kUnavailable, "read: " + ec.message());
      }
      fleetdesk::v1::ServerMessage message;
      auto payload = beast::buffers_to_string(buffer.data());
      auto status = socket->got_text() ? codec::FromJson(payload, &message)
                                       : codec::FromBinary(payload, &message);
      buffer.consume(buffer.size());
      if (!status) {
        spdlog::warn("ignoring a server message: {}", status.error().message);
        continue;
      }
      if (message.has_ack()) {
        journal.Ack(message.ack().seq());
      } else if (message.has_renewal()) {
        Renewed(message.renewal());
      } else if (message.has_error()) {
        *retry_after = std::chrono::seconds(message.error().retry_after_seconds());
        spdlog::warn("server: {} ({})", message.error().message(), message.error().code());
      } else if (message.has_task()) {
        if (task_hooks.received) {
          task_hooks.received(message.task());
        } else {
          spdlog::warn("task {} ({}) received, but this agent runs no tasks", message.task().id(),
                       message.task().kind());
        }
      } else if (message.has_task_ack()) {
        if (task_hooks.acked) task_hooks.acked(message.task_ack().task_id());
      } else if (message.has_config()) {
        if (on_server_config) on_server_config(message.config());
      }
    }
  }

  // Sends every journaled report above `sent`, oldest first, then waits for the journal to
  // grow. There is no suspension between finding nothing to send and waiting, so no append is
  // missed.
  awaitable<Status> SendLoop(std::shared_ptr<WebSocket> socket, std::uint64_t sent) {
    for (;;) {
      if (!control_out.empty()) {
        auto bytes = std::move(control_out.front());
        control_out.pop_front();
        if (auto ec = co_await SendMessage(*socket, bytes)) {
          co_return MakeError(ErrorCode::kUnavailable, "send: " + ec.message());
        }
        continue;
      }
      // A bounded batch: after a long outage the journal may hold tens of megabytes.
      auto batch = journal.PendingAfter(sent, 64);
      if (batch.empty()) {
        // Only the read side ends a connection (its close handshake ends it cleanly); this loop
        // ends when the connection's end cancels it.
        journal_grew.expires_at(asio::steady_timer::time_point::max());
        co_await journal_grew.async_wait(kTuple);
        auto state = co_await asio::this_coro::cancellation_state;
        if (state.cancelled() != asio::cancellation_type::none) co_return Status{};
        continue;
      }
      for (const auto& [seq, bytes] : batch) {
        if (!control_out.empty()) break;  // a renewal or a result does not wait behind a resend
        if (auto ec = co_await SendMessage(*socket, bytes)) {
          co_return MakeError(ErrorCode::kUnavailable, "send report: " + ec.message());
        }
        sent = seq;
      }
    }
  }

  // Asks for a new certificate once the renewal time has come, on whichever channel is up then,
  // and again when a request went unanswered. Ends only when the connection's end cancels it.
  awaitable<Status> RenewLoop() {
    for (;;) {
      const auto now = std::chrono::system_clock::now();
      auto due = renew_at;
      if (renewal_sent) due = *renewal_sent + kRenewalUnanswered;
      if (now >= due) {
        auto csr = PrepareRenewal(config.state_dir, identity);
        if (!csr) {
          spdlog::error("cannot prepare a certificate renewal: {}", csr.error().message);
          renew_at = now + kRenewalRetry;
          continue;
        }
        spdlog::info("certificate {} expires at {}; asking the server for a new one",
                     certificate ? certificate->serial_hex : "?",
                     certificate ? UtcSecondsText(certificate->not_after_unix) : "?");
        fleetdesk::v1::AgentMessage request;
        request.set_protocol_version(fleetdesk::v1::PROTOCOL_VERSION_1);
        request.mutable_renew()->set_csr(*csr);
        control_out.push_back(request.SerializeAsString());
        renewal_sent = now;
        journal_grew.cancel();  // wakes the send loop
        continue;
      }
      renew_timer.expires_after(std::min<std::chrono::system_clock::duration>(
          due - now, std::chrono::duration_cast<std::chrono::system_clock::duration>(
                         std::chrono::minutes(kRenewalRecheck))));
      co_await renew_timer.async_wait(kTuple);
      auto state = co_await asio::this_coro::cancellation_state;
      if (state.cancelled() != asio::cancellation_type::none) co_return Status{};
    }
  }

  void QueueTaskResult(const fleetdesk::v1::TaskResult& result) {
    fleetdesk::v1::AgentMessage message;
    message.set_protocol_version(fleetdesk::v1::PROTOCOL_VERSION_1);
    *message.mutable_task_result() = result;
    control_out.push_back(message.SerializeAsString());
    journal_grew.cancel();  // wakes the send loop
  }

  // The server's answer to a renewal request.
  void Renewed(const fleetdesk::v1::Renewal& answer) {
    renewal_sent.reset();
    const auto now = std::chrono::system_clock::now();
    if (answer.has_error() || answer.certificate().empty()) {
      const auto wait = answer.error().retry_after_seconds() > 0
                            ? std::chrono::seconds(answer.error().retry_after_seconds())
                            : std::chrono::seconds(kRenewalRetry);
      spdlog::warn("the server refused to renew the certificate: {} ({}); trying again in {} s",
                   answer.error().message(), answer.error().code(), wait.count());
      renew_at = std::max(renew_at, now + wait);
    } else if (auto renewed = CompleteRenewal(config.state_dir, identity, answer.certificate());
               !renewed) {
      spdlog::error("{}", renewed.error().message);
      renew_at = now + kRenewalRetry;
    } else {
      identity = std::move(*renewed);
      tls.reset();  // the next connection presents the new certificate
      ScheduleRenewal();
      spdlog::info("certificate renewed: serial {}, valid until {}; the next connection uses it",
                   certificate ? certificate->serial_hex : "?",
                   certificate ? UtcSecondsText(certificate->not_after_unix) : "?");
    }
    renew_timer.cancel();
  }
};

Channel::Channel(asio::io_context& io, const AgentConfig& config, Identity identity,
                 journal::Journal& journal, const collectors::SystemCollector& system,
                 ReportSource source)
    : impl_(std::make_shared<Impl>(io, config, std::move(identity), journal, system,
                                   std::move(source))) {}

void Channel::ReportSoon() {
  if (!impl_->stopping) impl_->report_timer.cancel();
}

Channel::~Channel() = default;

void Channel::SetTaskHooks(TaskHooks hooks) { impl_->task_hooks = std::move(hooks); }

void Channel::OnServerConfig(std::function<void(const fleetdesk::v1::AgentConfig&)> handler) {
  impl_->on_server_config = std::move(handler);
}

void Channel::SetHoldsServerConfig(bool holds) { impl_->holds_server_config = holds; }

void Channel::SendTaskResult(const fleetdesk::v1::TaskResult& result) {
  if (impl_->session_up) impl_->QueueTaskResult(result);
}

Result<std::uint64_t> Channel::Enqueue(fleetdesk::v1::Report report) {
  if (auto bytes = impl_->journal.Append(&report); !bytes) return bytes.error();
  impl_->journal_grew.cancel();
  return impl_->journal.last_seq();
}

void Channel::Start() {
  co_spawn(impl_->io, impl_->Produce(), asio::detached);
  co_spawn(impl_->io, impl_->Run(), asio::detached);
}

void Channel::Stop() {
  auto impl = impl_;
  asio::post(impl->io, [impl] {
    impl->stopping = true;
    impl->sleep.cancel();
    impl->report_timer.cancel();
    impl->journal_grew.cancel();
    if (impl->ws && impl->ws->is_open()) {
      impl->ws->async_close(websocket::close_code::going_away,
                            [impl](boost::system::error_code) {});
    } else if (impl->ws) {
      beast::get_lowest_layer(*impl->ws).close();
    }
  });
}

}  // namespace fleetdesk::agent::channel
