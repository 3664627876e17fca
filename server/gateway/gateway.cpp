#include "server/gateway/gateway.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <list>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/net/listen.hpp"
#include "common/net/tls.hpp"
#include "common/net/tls_stream.hpp"
#include "server/engine/clock.hpp"
#include "server/engine/delta.hpp"
#include "server/engine/rate_limit.hpp"

namespace fleetdesk::server::gateway {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using tcp = asio::ip::tcp;
using WebSocket = websocket::stream<net::TlsStream>;
constexpr auto kTuple = asio::as_tuple(use_awaitable);
constexpr const char* kChannelPath = "/agent/v1/channel";

constexpr const char* kProtobufEncoding = "protobuf";
// A CSR is a few hundred bytes; an RSA-4096 one about 2 KiB.
constexpr std::size_t kMaxCsrBytes = 16 * 1024;
// One renewal per channel per hour: enough for any agent, and a misbehaving one cannot make the
// CA sign (and the audit log record) certificates in a loop.
constexpr std::chrono::hours kRenewalCooldown{1};

}  // namespace

struct Session;

struct Gateway::Impl : std::enable_shared_from_this<Gateway::Impl> {
  Impl(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls, GatewayOptions options,
       engine::StateEngine& engine, engine::Writer& writer, ServerMetrics& metrics)
      : io(io),
        tls(std::move(tls)),
        options(std::move(options)),
        engine(engine),
        writer(writer),
        metrics(metrics),
        acceptor(asio::make_strand(io)),
        idle_timer(acceptor.get_executor()) {}

  asio::io_context& io;
  std::shared_ptr<asio::ssl::context> tls;
  GatewayOptions options;
  engine::StateEngine& engine;
  engine::Writer& writer;
  ServerMetrics& metrics;
  tcp::acceptor acceptor;
  asio::steady_timer idle_timer;  // WatchIdle's; on the acceptor's strand

  std::mutex mutex;
  // The open channel of each agent; a newer channel of the same agent replaces the older.
  std::unordered_map<std::string, std::shared_ptr<Session>> channels;
  // Every live session, from accept to close, so Stop reaches those still handshaking too.
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  bool stopping = false;
  std::function<void(const std::string&, const fleetdesk::v1::TaskResult&)> on_task_result;
  std::function<void(const std::string&, bool)> on_connected;

  awaitable<void> Accept();
  // Pings channels that have been silent for half their idle limit and closes those silent for
  // all of it; runs every half heartbeat interval.
  awaitable<void> WatchIdle();

  // A channel's executor: its own strand, or with one network thread the io_context itself.
  asio::any_io_executor ChannelExecutor() {
    if (options.network_threads == 1) return io.get_executor();
    return asio::make_strand(io);
  }

  // Acks of committed reports, handed over by the writer thread. One handler per batch drains
  // them on a network thread, rather than one posted handler per report.
  struct PendingAck {
    std::shared_ptr<Session> session;
    std::uint64_t seq;
    std::chrono::steady_clock::time_point received;
  };
  std::mutex acks_mutex;
  std::vector<PendingAck> pending_acks;
  bool acks_posted = false;
  void QueueAck(std::shared_ptr<Session> session, std::uint64_t seq,
                std::chrono::steady_clock::time_point received);
  void DrainAcks();
};

// One agent connection. Everything on it runs on its strand: the read loop (a coroutine) and the
// write queue (one async_write in flight, as Beast's chat-multi example does).
struct Session : std::enable_shared_from_this<Session> {
  Session(std::shared_ptr<Gateway::Impl> gateway, tcp::socket socket)
      : gateway(std::move(gateway)), ws(std::move(socket), *this->gateway->tls) {}

  std::shared_ptr<Gateway::Impl> gateway;
  WebSocket ws;
  std::string agent_id;
  crypto::CertificateInfo certificate;  // the one presented in the TLS handshake
  std::string remote;
  // Each queued message with whether it goes as a text (JSON) frame. A list, not a deque: an
  // empty std::deque already holds 600 bytes, times every idle agent; and unlike a vector it
  // never moves the message being written.
  std::list<std::pair<std::string, bool>> outbox;
  // Negotiated in the hello: binary protobuf frames instead of JSON text after the Welcome.
  bool binary = false;
  bool closing = false;
  std::optional<websocket::close_reason> close_reason;
  bool renewing = false;  // a RenewRequest is being recorded
  std::optional<std::chrono::steady_clock::time_point> renewed_at;
  // When the agent was last heard (any frame, pongs included), for WatchIdle: read from another
  // strand, hence a count of steady_clock ticks in an atomic.
  std::atomic<std::chrono::steady_clock::rep> last_heard{0};
  std::atomic<bool> open{false};  // past the hello: WatchIdle's to watch
  bool pinging = false;
  void Heard() {
    last_heard.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                     std::memory_order_relaxed);
  }
  void CheckIdle(std::chrono::steady_clock::time_point now);

  awaitable<void> Run();
  awaitable<Status> Handshake();
  Status HandleMessage(std::string_view payload, bool text,
                       std::chrono::steady_clock::time_point received);
  void Send(fleetdesk::v1::ServerMessage message);
  void WriteNext();
  void Close(websocket::close_code code, const std::string& reason);
  void Ack(std::uint64_t seq, std::chrono::steady_clock::time_point received);
  void Renew(const std::string& csr);
  void RefuseRenewal(ErrorCode code, const std::string& why, std::uint32_t retry_after = 0);
};

awaitable<void> Gateway::Impl::Accept() {
  auto self = shared_from_this();
  for (;;) {
    tcp::socket socket(ChannelExecutor());
    auto [ec] = co_await acceptor.async_accept(socket, kTuple);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      // EMFILE and friends: say so, back off a little instead of spinning.
      spdlog::warn("gateway accept: {}", ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(kTuple);
      continue;
    }
    // Acks and tasks are small messages that must not wait for the agent's delayed ACK of the
    // one before (Nagle's algorithm): each is a whole message, written at once.
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto executor = socket.get_executor();
    auto session = std::make_shared<Session>(self, std::move(socket));
    co_spawn(executor, session->Run(), asio::detached);
  }
}

awaitable<Status> Session::Handshake() {
  auto& socket = beast::get_lowest_layer(ws);
  boost::system::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  if (!ec) remote = endpoint.address().to_string() + ":" + std::to_string(endpoint.port());
  // TLS and the upgrade request must be done by the deadline; past it the socket is closed and
  // whatever is pending fails.
  struct Deadline {
    asio::steady_timer timer;
    ~Deadline() { timer.cancel(); }
  } deadline{asio::steady_timer(ws.get_executor(), gateway->options.handshake_timeout)};
  deadline.timer.async_wait([&socket](boost::system::error_code e) {
    if (e) return;  // cancelled: the handshake finished (and `socket` may be gone)
    boost::system::error_code ignored;
    socket.close(ignored);
  });
  std::tie(ec) = co_await ws.next_layer().async_handshake(asio::ssl::stream_base::server, kTuple);
  if (ec) co_return MakeError(ErrorCode::kUnauthenticated, "TLS handshake: " + ec.message());
  // The CA verified the chain; the subject names the agent.
  auto presented = crypto::Inspect(net::PeerCertificatePem(ws.next_layer().native_handle()));
  if (!presented) co_return presented.error();
  certificate = std::move(*presented);
  agent_id = certificate.common_name;

  beast::flat_buffer buffer;
  beast::http::request_parser<beast::http::empty_body> parser;
  parser.header_limit(8192);
  std::tie(ec, std::ignore) =
      co_await beast::http::async_read(ws.next_layer(), buffer, parser, kTuple);
  if (ec) co_return MakeError(ErrorCode::kInvalidArgument, "upgrade request: " + ec.message());
  const auto& req = parser.get();
  if (req.target() != kChannelPath || !websocket::is_upgrade(req)) {
    beast::http::response<beast::http::string_body> res{beast::http::status::not_found, 11};
    res.set(beast::http::field::content_type, "text/plain");
    res.body() = std::string("the agent channel is a WebSocket at ") + kChannelPath + "\n";
    res.prepare_payload();
    co_await beast::http::async_write(ws.next_layer(), res, kTuple);
    co_return MakeError(ErrorCode::kNotFound, "request for " + std::string(req.target()));
  }
  // The WebSocket's own timer bounds the handshake and the closing handshake. Idle channels are
  // watched by WatchIdle instead: Beast re-arms its idle timer on every read (a timer cancelled,
  // its handler run, a new one queued: per report, on 10,000 channels), while one sweep over
  // the channels every half interval costs next to nothing.
  websocket::stream_base::timeout timeouts{};
  timeouts.handshake_timeout = gateway->options.handshake_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.control_callback([this](websocket::frame_type, beast::string_view) { Heard(); });
  // The read loop enforces max_message_bytes itself; this only bounds the hello.
  ws.read_message_max(gateway->options.max_message_bytes);
  ws.auto_fragment(false);
  std::tie(ec) = co_await ws.async_accept(req, kTuple);
  if (ec) co_return MakeError(ErrorCode::kInvalidArgument, "WebSocket accept: " + ec.message());
  co_return Status{};
}

awaitable<void> Session::Run() {
  auto self = shared_from_this();
  auto& metrics = gateway->metrics;
  {
    std::lock_guard lock(gateway->mutex);
    if (gateway->stopping) co_return;
    gateway->sessions.emplace(this, self);
  }
  // Leaves the registry however the session ends.
  struct Deregister {
    Session* session;
    ~Deregister() {
      std::lock_guard lock(session->gateway->mutex);
      session->gateway->sessions.erase(session);
    }
  } deregister{this};
  auto handshake = co_await Handshake();
  if (!handshake) {
    metrics.agent_handshake_failures_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::info("agent connection from {} refused: {}", remote, handshake.error().message);
    co_return;
  }

  // The first message must be the hello.
  beast::flat_buffer buffer;
  auto [ec, n] = co_await ws.async_read(buffer, kTuple);
  if (ec) {
    if (ec == websocket::error::message_too_big) {
      metrics.agent_protocol_errors_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("agent {} at {}: hello larger than {} bytes", agent_id, remote,
                   gateway->options.max_message_bytes);
    }
    co_return;
  }
  fleetdesk::v1::AgentMessage hello_message;
  // The hello is always JSON, so any agent version can be told what went wrong.
  auto parsed = codec::FromJson(beast::buffers_to_string(buffer.data()), &hello_message,
                                {gateway->options.max_message_bytes, 32});
  buffer.consume(buffer.size());
  if (parsed && hello_message.protocol_version() > fleetdesk::v1::PROTOCOL_VERSION_1) {
    parsed = MakeError(ErrorCode::kFailedPrecondition,
                       "protocol version " + std::to_string(hello_message.protocol_version()) +
                           " is newer than this server's 1; upgrade the server first");
  }
  if (!parsed || !hello_message.has_hello()) {
    metrics.agent_protocol_errors_total.fetch_add(1, std::memory_order_relaxed);
    std::string why = parsed ? "the first message must be a hello" : parsed.error().message;
    spdlog::warn("agent {} at {}: {}", agent_id, remote, why);
    fleetdesk::v1::ServerMessage error;
    error.mutable_error()->set_code(parsed ? "invalid_argument"
                                           : ErrorCodeName(parsed.error().code));
    error.mutable_error()->set_message(why);
    Send(error);
    Close(websocket::close_code::policy_error, why);
    co_return;
  }
  bool clone = false;
  auto connected = gateway->engine.Connect(agent_id, hello_message.hello(), NowMs(), &clone);
  if (!connected) {
    metrics.agent_handshake_failures_total.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("agent {} at {} refused: {}", agent_id, remote, connected.error().message);
    if (clone) {
      // A second machine presenting this agent's certificate: its key was copied. Worth an
      // entry in the audit log, which the writer commits (network threads never write).
      store::AuditEntry entry;
      entry.at_ms = NowMs();
      entry.actor.kind = "agent";
      entry.actor.name = agent_id;
      entry.actor.address = remote;
      entry.action = "agent.clone";
      entry.resource = "agent";
      entry.resource_id = agent_id;
      entry.after = {{"machineId", hello_message.hello().machine_id()},
                     {"hostname", hello_message.hello().hostname()}};
      gateway->writer.SubmitAudit(std::move(entry));
    }
    fleetdesk::v1::ServerMessage refusal;
    refusal.mutable_error()->set_code(ErrorCodeName(connected.error().code));
    refusal.mutable_error()->set_message(connected.error().message);
    Send(refusal);
    Close(websocket::close_code::policy_error, connected.error().message);
    co_return;
  }
  std::shared_ptr<Session> replaced;
  {
    std::lock_guard lock(gateway->mutex);
    auto& slot = gateway->channels[agent_id];
    replaced = std::exchange(slot, self);
  }
  if (replaced) {
    // The same agent reconnected before its old connection was noticed dead.
    asio::dispatch(replaced->ws.get_executor(), [replaced] {
      replaced->Close(websocket::close_code::policy_error, "replaced by a newer connection");
    });
  }
  metrics.agents_connected.fetch_add(1, std::memory_order_relaxed);
  metrics.agent_connections_total.fetch_add(1, std::memory_order_relaxed);
  gateway->writer.SubmitConnect(connected->row);

  fleetdesk::v1::ServerMessage welcome;
  welcome.mutable_welcome()->set_agent_id(agent_id);
  welcome.mutable_welcome()->set_committed_seq(connected->committed_seq);
  welcome.mutable_welcome()->set_heartbeat_interval_seconds(
      static_cast<std::uint32_t>(gateway->options.heartbeat_interval.count()));
  const auto& offered = hello_message.hello().encodings();
  const bool use_binary =
      std::find(offered.begin(), offered.end(), kProtobufEncoding) != offered.end();
  welcome.mutable_welcome()->set_encoding(use_binary ? kProtobufEncoding : "json");
  Send(welcome);
  binary = use_binary;
  // Tasks queued for this host while it was away, and its settings, go out after the welcome.
  if (gateway->on_connected) {
    gateway->on_connected(agent_id, hello_message.hello().holds_server_config());
  }
  spdlog::debug("agent {} ({}) connected from {}, encoding {}", agent_id, connected->row.hostname,
                remote, use_binary ? kProtobufEncoding : "json");

  Heard();
  open.store(true, std::memory_order_relaxed);
  ws.read_message_max(0);  // from here the loop below counts
  engine::TokenBucket bucket(gateway->options.rate_limit, gateway->options.rate_burst);
  asio::steady_timer pace(ws.get_executor());
  boost::system::error_code end;
  const std::size_t max_bytes = gateway->options.max_message_bytes;
  for (;;) {
    // Read in pieces and count, rather than leave the limit to read_message_max: Beast reports
    // an oversized message as whatever its teardown hit, and we want to say what happened.
    auto [read_ec, bytes] = co_await ws.async_read_some(buffer, 64 * 1024, kTuple);
    end = read_ec;
    if (read_ec) break;
    Heard();
    if (buffer.size() > max_bytes) {
      metrics.agent_protocol_errors_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("agent {} at {}: message larger than {} bytes; closing its channel", agent_id,
                   remote, max_bytes);
      Close(websocket::close_code::too_big, "message too big");
      break;
    }
    if (!ws.is_message_done()) continue;
    auto received = std::chrono::steady_clock::now();
    auto data = buffer.cdata();
    auto status =
        HandleMessage(std::string_view(static_cast<const char*>(data.data()), data.size()),
                      ws.got_text(), received);
    buffer.consume(buffer.size());
    // This message's token: waited for before the next message is read.
    while (status) {
      auto wait = bucket.Take(std::chrono::steady_clock::now());
      if (wait == engine::TokenBucket::Clock::duration::zero()) break;
      pace.expires_after(wait);
      auto [timer_ec] = co_await pace.async_wait(kTuple);
      if (timer_ec) break;
    }
    if (!status) {
      metrics.agent_protocol_errors_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("agent {} at {}: {}; closing its channel", agent_id, remote,
                   status.error().message);
      fleetdesk::v1::ServerMessage error;
      error.mutable_error()->set_code(ErrorCodeName(status.error().code));
      error.mutable_error()->set_message(status.error().message);
      Send(error);
      Close(websocket::close_code::policy_error, status.error().message);
      break;
    }
  }

  bool current = false;
  {
    std::lock_guard lock(gateway->mutex);
    auto it = gateway->channels.find(agent_id);
    if (it != gateway->channels.end() && it->second == self) {
      gateway->channels.erase(it);
      current = true;
    }
  }
  metrics.agents_connected.fetch_sub(1, std::memory_order_relaxed);
  // A replaced channel must not mark the agent offline: its successor is connected.
  if (current) {
    if (auto row = gateway->engine.Disconnect(agent_id, NowMs())) gateway->writer.Submit(*row, {});
  }
  spdlog::debug("agent {} disconnected: {}", agent_id,
                end ? end.message() : "closed by the server");
}

Status Session::HandleMessage(std::string_view payload, bool text,
                              std::chrono::steady_clock::time_point received) {
  fleetdesk::v1::AgentMessage message;
  // Each frame says its own encoding: text is JSON, binary is protobuf.
  const codec::Limits limits{gateway->options.max_message_bytes, 32};
  auto status = text ? codec::FromJson(payload, &message, limits)
                     : codec::FromBinary(payload, &message, limits);
  if (!status) return status;
  switch (message.body_case()) {
    case fleetdesk::v1::AgentMessage::kReport: {
      gateway->metrics.reports_total.fetch_add(1, std::memory_order_relaxed);
      const auto now = NowMs();
      // Checked before the engine takes it: a refused report changes nothing.
      auto delta = engine::DeltaFromReport(agent_id, message.report(), now);
      if (!delta) return delta.error();
      auto outcome = gateway->engine.Ingest(agent_id, message.report(), now);
      if (!outcome) return outcome.error();
      using Kind = engine::IngestOutcome::Kind;
      if (outcome->kind == Kind::kCommitted) {
        gateway->metrics.reports_duplicate_total.fetch_add(1, std::memory_order_relaxed);
        Ack(outcome->committed_seq, received);
      } else if (outcome->kind == Kind::kInFlight) {
        gateway->metrics.reports_duplicate_total.fetch_add(1, std::memory_order_relaxed);
      } else {
        const std::uint64_t seq = outcome->row.last_seq;
        gateway->writer.Submit(
            std::move(outcome->row),
            [self = shared_from_this(), seq, received](const Status& status) {
              // On the writer thread: record the commit, then hand the ack to a network thread.
              // A failure overtaking acks queued before it loses nothing: the agent resends
              // those reports, and the server acks them as already committed.
              auto& engine = self->gateway->engine;
              if (!status) {
                engine.ForgetUncommitted(self->agent_id);
                asio::post(self->ws.get_executor(), [self] {
                  fleetdesk::v1::ServerMessage error;
                  error.mutable_error()->set_code("unavailable");
                  error.mutable_error()->set_message("the server cannot store reports right now");
                  // The store is failing for everyone: spread the fleet's reconnects out.
                  error.mutable_error()->set_retry_after_seconds(30);
                  self->Send(error);
                  self->Close(websocket::close_code::try_again_later, "store unavailable");
                });
                return;
              }
              auto committed = engine.MarkCommitted(self->agent_id, seq);
              self->gateway->QueueAck(self, committed, received);
            },
            std::move(*delta));
      }
      return {};
    }
    case fleetdesk::v1::AgentMessage::kRenew:
      Renew(message.renew().csr());
      return {};
    case fleetdesk::v1::AgentMessage::kTaskResult:
      if (gateway->on_task_result) gateway->on_task_result(agent_id, message.task_result());
      return {};
    case fleetdesk::v1::AgentMessage::kHello:
      return MakeError(ErrorCode::kInvalidArgument, "a second hello on one channel");
    case fleetdesk::v1::AgentMessage::BODY_NOT_SET:
      return MakeError(ErrorCode::kInvalidArgument,
                       "message has no body (expected report, renew or taskResult)");
  }
  return {};
}

// Signs a new certificate for this channel's agent; the writer records it (serial, expiry, host
// event, audit entry) and only then is it sent, so an agent never holds a certificate the
// database does not know. A refusal leaves the channel open: reports are unaffected.
void Session::Renew(const std::string& csr) {
  const auto& options = gateway->options;
  if (options.ca.key_pem.empty()) {
    return RefuseRenewal(ErrorCode::kFailedPrecondition, "this gateway does not sign certificates");
  }
  if (renewing) {
    return RefuseRenewal(ErrorCode::kFailedPrecondition,
                         "a renewal is already in progress on this channel");
  }
  const auto now = std::chrono::steady_clock::now();
  if (renewed_at && now - *renewed_at < kRenewalCooldown) {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(kRenewalCooldown - (now - *renewed_at));
    return RefuseRenewal(ErrorCode::kResourceExhausted,
                         "the certificate was renewed on this channel less than an hour ago",
                         static_cast<std::uint32_t>(left.count()) + 1);
  }
  if (csr.empty()) return RefuseRenewal(ErrorCode::kInvalidArgument, "csr is required");
  if (csr.size() > kMaxCsrBytes) {
    return RefuseRenewal(ErrorCode::kInvalidArgument, "csr is larger than 16 KiB");
  }
  auto signed_certificate = crypto::Sign(
      options.ca, {csr, agent_id, {}, crypto::Usage::kClient, options.certificate_validity});
  if (!signed_certificate) {
    return RefuseRenewal(ErrorCode::kInvalidArgument, "csr: " + signed_certificate.error().message);
  }
  renewing = true;
  store::CertificateRenewal renewal{agent_id, signed_certificate->serial_hex,
                                    signed_certificate->not_after_unix, NowMs(), remote};
  gateway->writer.SubmitRenewal(
      std::move(renewal),
      [self = shared_from_this(), issued = std::move(*signed_certificate)](const Status& status) {
        // On the writer thread: hop to the channel's strand to answer.
        asio::post(self->ws.get_executor(), [self, issued, status] {
          self->renewing = false;
          if (!status) {
            const bool retry = status.error().code == ErrorCode::kUnavailable;
            self->RefuseRenewal(
                status.error().code,
                "the new certificate could not be recorded: " + status.error().message,
                retry ? 60 : 0);
            return;
          }
          self->renewed_at = std::chrono::steady_clock::now();
          self->gateway->metrics.certificate_renewals_total.fetch_add(1, std::memory_order_relaxed);
          spdlog::info("agent {} at {}: certificate {} renewed as {}, valid until unix {}",
                       self->agent_id, self->remote, self->certificate.serial_hex,
                       issued.serial_hex, issued.not_after_unix);
          fleetdesk::v1::ServerMessage answer;
          auto* renewal = answer.mutable_renewal();
          renewal->set_certificate(issued.certificate_pem);
          renewal->set_ca_certificate(self->gateway->options.ca.certificate_pem);
          renewal->mutable_not_after()->set_seconds(issued.not_after_unix);
          self->Send(std::move(answer));
        });
      });
}

void Session::RefuseRenewal(ErrorCode code, const std::string& why, std::uint32_t retry_after) {
  spdlog::warn("agent {} at {}: certificate renewal refused: {}", agent_id, remote, why);
  fleetdesk::v1::ServerMessage answer;
  auto* error = answer.mutable_renewal()->mutable_error();
  error->set_code(ErrorCodeName(code));
  error->set_message(why);
  error->set_retry_after_seconds(retry_after);
  Send(std::move(answer));
}

void Session::Ack(std::uint64_t seq, std::chrono::steady_clock::time_point received) {
  fleetdesk::v1::ServerMessage ack;
  ack.mutable_ack()->set_seq(seq);
  Send(std::move(ack));
  gateway->metrics.acks_total.fetch_add(1, std::memory_order_relaxed);
  gateway->metrics.ack_latency.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - received).count());
}

void Session::Send(fleetdesk::v1::ServerMessage message) {
  if (closing || !ws.is_open()) return;
  message.set_protocol_version(fleetdesk::v1::PROTOCOL_VERSION_1);
  if (binary) {
    outbox.emplace_back(message.SerializeAsString(), false);
  } else {
    outbox.emplace_back(codec::ToJson(message), true);
  }
  if (outbox.size() == 1) WriteNext();
}

void Session::WriteNext() {
  ws.text(outbox.front().second);
  ws.async_write(asio::buffer(outbox.front().first),
                 [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                   self->outbox.pop_front();
                   if (ec) {
                     self->outbox.clear();
                     return;
                   }
                   if (!self->outbox.empty()) {
                     self->WriteNext();
                   } else if (self->close_reason) {
                     self->ws.async_close(*self->close_reason,
                                          [self](boost::system::error_code) {});
                   }
                 });
}

void Session::CheckIdle(std::chrono::steady_clock::time_point now) {
  if (closing || !ws.is_open()) return;
  const auto heard = std::chrono::steady_clock::time_point(
      std::chrono::steady_clock::duration(last_heard.load(std::memory_order_relaxed)));
  const auto interval = gateway->options.heartbeat_interval;
  if (now - heard >= interval * 3) {
    // As Beast's own idle timeout does: the socket goes, and the read loop ends on it.
    spdlog::info("agent {} at {}: nothing heard for {} s; closing its channel", agent_id, remote,
                 std::chrono::duration_cast<std::chrono::seconds>(now - heard).count());
    boost::system::error_code ignored;
    beast::get_lowest_layer(ws).close(ignored);
    return;
  }
  if (now - heard >= interval * 3 / 2 && !pinging) {
    // The agent's WebSocket answers with a pong, which the control callback counts as heard.
    pinging = true;
    ws.async_ping(
        {}, [self = shared_from_this()](boost::system::error_code) { self->pinging = false; });
  }
}

void Session::Close(websocket::close_code code, const std::string& reason) {
  if (closing) return;
  closing = true;
  // Control frames carry at most 125 bytes; the reason is for people reading captures.
  close_reason.emplace(code, reason.substr(0, 120));
  // A close frame may not overtake queued messages (an error explaining the close, say): when a
  // write is in flight, its completion sends the close.
  if (outbox.empty()) {
    ws.async_close(*close_reason, [self = shared_from_this()](boost::system::error_code) {});
  }
}

awaitable<void> Gateway::Impl::WatchIdle() {
  auto self = shared_from_this();
  // Half an interval between sweeps: a channel is pinged 1.5 to 2 intervals after it was last
  // heard, and closed 3 to 3.5 intervals after.
  const auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::max<std::chrono::milliseconds>(options.heartbeat_interval / 2,
                                          std::chrono::milliseconds(100)));
  for (;;) {
    idle_timer.expires_after(period);
    auto [ec] = co_await idle_timer.async_wait(kTuple);
    if (ec) co_return;
    std::vector<std::shared_ptr<Session>> open;
    {
      std::lock_guard lock(mutex);
      if (stopping) co_return;
      open.reserve(sessions.size());
      for (auto& [ptr, weak] : sessions) {
        if (!ptr->open.load(std::memory_order_relaxed)) continue;
        if (auto session = weak.lock()) open.push_back(std::move(session));
      }
    }
    const auto now = std::chrono::steady_clock::now();
    for (auto& session : open) {
      auto executor = session->ws.get_executor();
      asio::dispatch(executor, [session = std::move(session), now] { session->CheckIdle(now); });
    }
  }
}

void Gateway::Impl::QueueAck(std::shared_ptr<Session> session, std::uint64_t seq,
                             std::chrono::steady_clock::time_point received) {
  std::lock_guard lock(acks_mutex);
  pending_acks.push_back({std::move(session), seq, received});
  if (acks_posted) return;
  acks_posted = true;
  asio::post(io, [self = shared_from_this()] { self->DrainAcks(); });
}

void Gateway::Impl::DrainAcks() {
  std::vector<PendingAck> acks;
  {
    std::lock_guard lock(acks_mutex);
    acks.swap(pending_acks);
    pending_acks.reserve(acks.size());
    acks_posted = false;
  }
  for (auto& ack : acks) {
    if (options.network_threads == 1) {
      // The channel's handlers all run on this thread: answer in place.
      ack.session->Ack(ack.seq, ack.received);
    } else {
      auto executor = ack.session->ws.get_executor();
      asio::dispatch(executor, [session = std::move(ack.session), seq = ack.seq,
                                received = ack.received] { session->Ack(seq, received); });
    }
  }
}

Gateway::Gateway(asio::io_context& io, std::shared_ptr<asio::ssl::context> tls,
                 GatewayOptions options, engine::StateEngine& engine, engine::Writer& writer,
                 ServerMetrics& metrics)
    : impl_(std::make_shared<Impl>(io, std::move(tls), std::move(options), engine, writer,
                                   metrics)) {}

Gateway::~Gateway() = default;

Status Gateway::Start() {
  auto& acceptor = impl_->acceptor;
  if (auto s = net::Listen(acceptor, impl_->options.address, impl_->options.port, "agents"); !s)
    return s;
  co_spawn(acceptor.get_executor(), impl_->Accept(), asio::detached);
  co_spawn(acceptor.get_executor(), impl_->WatchIdle(), asio::detached);
  return {};
}

unsigned short Gateway::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

void Gateway::Disconnect(const std::string& agent_id, const std::string& reason) {
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->channels.find(agent_id);
    if (it == impl_->channels.end()) return;
    session = it->second;
  }
  asio::dispatch(session->ws.get_executor(), [session, reason] {
    fleetdesk::v1::ServerMessage error;
    error.mutable_error()->set_code("permission_denied");
    error.mutable_error()->set_message(reason);
    session->Send(error);
    session->Close(websocket::close_code::policy_error, reason);
  });
}

bool Gateway::Connected(const std::string& agent_id) const {
  std::lock_guard lock(impl_->mutex);
  return impl_->channels.contains(agent_id);
}

std::vector<std::string> Gateway::ConnectedAgents() const {
  std::lock_guard lock(impl_->mutex);
  std::vector<std::string> out;
  out.reserve(impl_->channels.size());
  for (const auto& [agent, session] : impl_->channels) out.push_back(agent);
  return out;
}

bool Gateway::Send(const std::string& agent_id, fleetdesk::v1::ServerMessage message) {
  std::shared_ptr<Session> session;
  {
    std::lock_guard lock(impl_->mutex);
    auto it = impl_->channels.find(agent_id);
    if (it == impl_->channels.end()) return false;
    session = it->second;
  }
  asio::post(session->ws.get_executor(), [session, message = std::move(message)]() mutable {
    session->Send(std::move(message));
  });
  return true;
}

void Gateway::OnTaskResult(
    std::function<void(const std::string&, const fleetdesk::v1::TaskResult&)> handler) {
  impl_->on_task_result = std::move(handler);
}

void Gateway::OnAgentConnected(
    std::function<void(const std::string&, bool holds_server_config)> handler) {
  impl_->on_connected = std::move(handler);
}

void Gateway::Stop() {
  auto impl = impl_;
  asio::dispatch(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ec;
    impl->acceptor.close(ec);
    impl->idle_timer.cancel();
  });
  std::vector<std::shared_ptr<Session>> sessions;
  {
    std::lock_guard lock(impl->mutex);
    impl->stopping = true;
    for (auto& [ptr, weak] : impl->sessions) {
      if (auto s = weak.lock()) sessions.push_back(s);
    }
  }
  for (auto& session : sessions) {
    asio::dispatch(session->ws.get_executor(), [session] {
      if (session->ws.is_open()) {
        session->Close(websocket::close_code::going_away, "server shutting down");
      } else {
        beast::get_lowest_layer(session->ws).close();
      }
    });
  }
}

}  // namespace fleetdesk::server::gateway
