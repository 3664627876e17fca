// The agent channel end to end: real server and agent binaries on loopback, real mTLS.
#include <signal.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "agent/identity.hpp"
#include "agent/journal/journal.hpp"
#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/files.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tickets.pb.h"
#include "tests/integration/raw_agent.hpp"
#include "tests/support/fleet.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/wait.hpp"
#include "tests/support/ws_client.hpp"

using namespace fleetdesk::testing;
using fleetdesk::v1::HostList;

namespace {

std::optional<fleetdesk::v1::Host> FindHost(const TestServer& server, const std::string& agent_id) {
  auto [status, body] = server.Get("/api/v1/hosts");
  if (status != 200) return std::nullopt;
  auto list = fleetdesk::codec::Parse<HostList>(body);
  if (!list) return std::nullopt;
  for (const auto& h : list->items()) {
    if (h.agent_id() == agent_id) return h;
  }
  return std::nullopt;
}

// Connects with `id`'s certificate to `url`, says hello as `machine`, and answers the server's
// first message: a welcome, or the refusal.
std::string FirstAnswer(const std::string& url, const fleetdesk::agent::Identity& id,
                        const std::string& machine) {
  auto client = WsClient::Connect(url, {id.ca_pem, id.certificate_pem, id.key_pem});
  REQUIRE(client.ok());
  REQUIRE((*client)->Send(R"({"hello":{"machineId":")" + machine + R"("}})").ok());
  auto answer = (*client)->Read();
  REQUIRE(answer.ok());
  return *answer;
}

std::unique_ptr<WsClient> ConnectRaw(const fleetdesk::agent::Identity& id,
                                     const std::string& machine, std::string url = "") {
  if (url.empty()) url = id.gateway_urls.front();
  auto client = WsClient::Connect(url, {id.ca_pem, id.certificate_pem, id.key_pem});
  INFO((client.ok() ? std::string() : client.error().message));
  REQUIRE(client.ok());
  REQUIRE((*client)
              ->Send(R"({"protocolVersion":1,"hello":{"machineId":")" + machine +
                     R"(","hostname":"raw"}})")
              .ok());
  auto welcome = (*client)->Read();
  REQUIRE(welcome.ok());
  CHECK_THAT(*welcome, Catch::Contains("welcome"));
  return std::move(*client);
}

std::string Report(std::uint64_t seq) {
  return R"({"report":{"seq":")" + std::to_string(seq) +
         R"(","heartbeat":{"hostname":"raw","load1":0.25}}})";
}

std::string Ack(int seq) {
  return R"({"protocolVersion":1,"ack":{"seq":")" + std::to_string(seq) + R"("}})";
}

std::uint64_t MetricValue(const TestServer& server, const std::string& name) {
  auto [status, body] = server.Get("/metrics");
  auto at = body.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stoull(body.substr(at + name.size() + 2));
}

}  // namespace

TEST_CASE("an enrolled agent connects and its host is visible over REST", "[integration]") {
  TestServer server;
  server.Start();
  TempDir machine;
  TestAgent agent(server, MakeMachineRoot(machine, "web-7", "0123456789abcdef0123456789abcdef"));
  agent.Start();
  std::optional<fleetdesk::v1::Host> host;
  REQUIRE(WaitFor([&] {
    host = FindHost(server, agent.agent_id());
    return host && host->connected() && host->last_seq() >= 2;
  }));
  CHECK(host->hostname() == "web-7");
  CHECK(host->machine_id() == "0123456789abcdef0123456789abcdef");
  CHECK(host->os().name() == "Debian GNU/Linux");
  CHECK(host->uptime_seconds() == 1234);
  CHECK(host->load1() == Approx(0.5));
  CHECK(host->agent_version() == "0.1.0");
  // The real agent asks for binary frames.
  CHECK_THAT(server.process().Log(), Catch::Contains("encoding protobuf"));

  auto [status, body] = server.Get("/api/v1/hosts/" + std::to_string(host->id()));
  CHECK(status == 200);
  CHECK_THAT(body, Catch::Contains("web-7"));
  CHECK(agent.Stop() == 0);
  REQUIRE(WaitFor([&] { return !FindHost(server, agent.agent_id())->connected(); }));
  CHECK(server.Stop() == 0);
}

TEST_CASE("a client with no certificate is refused at the gateway", "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-nocert");
  auto client = WsClient::Connect(id.gateway_urls.front(), {id.ca_pem, "", ""});
  if (client.ok()) {
    // TLS 1.3 finishes the client's side before the server checks the certificate; the refusal
    // then arrives as the first read.
    auto read = (*client)->Read();
    REQUIRE_FALSE(read.ok());
  } else {
    CHECK_THAT(client.error().message, Catch::Contains("handshake"));
  }
  CHECK(server.Get("/healthz").first == 200);
  CHECK(MetricValue(server, "fleetdesk_agent_handshake_failures_total") >= 1);
}

TEST_CASE("a client whose certificate another CA signed is refused", "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-other");
  auto other_ca = fleetdesk::crypto::MakeCertificateAuthority("evil CA", std::chrono::hours(1));
  auto key = fleetdesk::crypto::GenerateKey();
  auto csr = fleetdesk::crypto::MakeCsr(*key, id.agent_id);
  auto forged = fleetdesk::crypto::Sign(
      *other_ca, {*csr, id.agent_id, {}, fleetdesk::crypto::Usage::kClient, std::chrono::hours(1)});
  REQUIRE(forged.ok());
  auto client =
      WsClient::Connect(id.gateway_urls.front(), {id.ca_pem, forged->certificate_pem, *key});
  if (client.ok()) {
    REQUIRE_FALSE((*client)->Read().ok());
  }
  CHECK(MetricValue(server, "fleetdesk_agent_connections_total") == 0);
  CHECK(MetricValue(server, "fleetdesk_agent_handshake_failures_total") >= 1);
}

TEST_CASE("a malformed message closes only that channel, and the others keep reporting",
          "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  TestAgent agent(server, MakeMachineRoot(dir, "steady", "11111111111111111111111111111111"));
  agent.Start();
  REQUIRE(WaitFor([&] {
    auto h = FindHost(server, agent.agent_id());
    return h && h->connected();
  }));

  auto id = EnrollRaw(server, dir, "m-bad");
  auto client = ConnectRaw(id, "m-bad");
  REQUIRE(client->Send("{this is not json").ok());
  auto error = client->Read();
  REQUIRE(error.ok());
  CHECK_THAT(*error, Catch::Contains("invalid_argument") && Catch::Contains("AgentMessage"));
  auto closed = client->Read();
  REQUIRE_FALSE(closed.ok());
  CHECK_THAT(closed.error().message, Catch::Contains("closed"));
  CHECK_THAT(server.process().Log(),
             Catch::Contains(id.agent_id) && Catch::Contains("closing its channel"));

  auto before = FindHost(server, agent.agent_id())->last_seq();
  REQUIRE(WaitFor([&] { return FindHost(server, agent.agent_id())->last_seq() > before + 1; }));
  CHECK(FindHost(server, agent.agent_id())->connected());
  CHECK(MetricValue(server, "fleetdesk_agent_protocol_errors_total") == 1);
}

TEST_CASE("an oversized message closes that channel with 'too big'", "[integration]") {
  TestServer server("max_message_bytes = 65536");
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-big");
  auto big = ConnectRaw(id, "m-big");
  auto other_id = EnrollRaw(server, dir, "m-small");
  auto other = ConnectRaw(other_id, "m-small");
  std::string huge =
      R"({"report":{"seq":"1","heartbeat":{"hostname":")" + std::string(100000, 'x') + R"("}}})";
  // The server stops reading at the frame header and closes (1009), so the send itself may
  // already fail; either way the channel ends.
  if (big->Send(huge).ok()) REQUIRE_FALSE(big->Read().ok());
  INFO(server.process().Log());
  REQUIRE(server.process().WaitForLog("message larger than 65536 bytes", std::chrono::seconds(5)));
  // Nothing of it was stored, and the other channel still works.
  CHECK(FindHost(server, id.agent_id)->last_seq() == 0);
  REQUIRE(other->Send(Report(1)).ok());
  CHECK(*other->Read() == Ack(1));
  CHECK(MetricValue(server, "fleetdesk_agent_protocol_errors_total") == 1);
}

TEST_CASE(
    "a silent channel is pinged and kept while it answers, and closed after three quiet "
    "intervals when it does not",
    "[integration]") {
  TestServer server;  // heartbeat interval 1 s
  server.Start();
  TempDir dir;
  auto quiet_id = EnrollRaw(server, dir, "m-quiet");
  auto deaf_id = EnrollRaw(server, dir, "m-deaf");
  auto quiet = ConnectRaw(quiet_id, "m-quiet");
  auto deaf = ConnectRaw(deaf_id, "m-deaf");
  // Neither sends anything for four and a half intervals; the quiet one reads, so its WebSocket
  // answers the server's pings, and the deaf one reads nothing.
  auto listened = quiet->Listen(std::chrono::milliseconds(4500));
  INFO((listened.ok() ? std::string() : listened.error().message));
  REQUIRE(listened.ok());
  std::vector<std::string> closed_as_idle;
  {
    std::istringstream log(server.process().Log());
    for (std::string line; std::getline(log, line);) {
      if (line.find("nothing heard for") != std::string::npos) closed_as_idle.push_back(line);
    }
  }
  REQUIRE(closed_as_idle.size() == 1);
  CHECK_THAT(closed_as_idle.front(), Catch::Contains(deaf_id.agent_id));
  REQUIRE(WaitFor([&] {
    auto h = FindHost(server, deaf_id.agent_id);
    return h && !h->connected();
  }));
  auto kept = FindHost(server, quiet_id.agent_id);
  REQUIRE(kept);
  CHECK(kept->connected());
  REQUIRE(quiet->Send(Report(1)).ok());
  CHECK(*quiet->Read() == Ack(1));
  // The deaf one finds its channel gone.
  CHECK_FALSE(deaf->Read(std::chrono::seconds(2)).ok());
}

TEST_CASE("reports are acked after commit and a repeated sequence is not stored twice",
          "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-dup");
  auto client = ConnectRaw(id, "m-dup");
  REQUIRE(client->Send(Report(1)).ok());
  CHECK(*client->Read() == Ack(1));
  REQUIRE(client->Send(Report(2)).ok());
  CHECK(*client->Read() == Ack(2));
  // A resend after a lost ack: acked again at once, not stored again.
  REQUIRE(client->Send(Report(1)).ok());
  CHECK(*client->Read() == Ack(2));
  CHECK(MetricValue(server, "fleetdesk_reports_duplicate_total") == 1);
  CHECK(MetricValue(server, "fleetdesk_reports_total") == 3);
  CHECK(FindHost(server, id.agent_id)->last_seq() == 2);
}

TEST_CASE("an agent that offers protobuf gets binary frames, one that does not keeps JSON",
          "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-binary");
  auto client =
      WsClient::Connect(id.gateway_urls.front(), {id.ca_pem, id.certificate_pem, id.key_pem});
  REQUIRE(client.ok());
  auto& c = **client;
  REQUIRE(
      c.Send(R"({"protocolVersion":1,"hello":{"machineId":"m-binary","encodings":["protobuf"]}})")
          .ok());
  auto welcome = c.Read();
  REQUIRE(welcome.ok());
  CHECK(c.last_was_text());
  CHECK_THAT(*welcome, Catch::Contains(R"("encoding":"protobuf")"));

  fleetdesk::v1::AgentMessage report;
  report.mutable_report()->set_seq(1);
  report.mutable_report()->mutable_heartbeat()->set_hostname("binary-host");
  REQUIRE(c.SendBinary(report.SerializeAsString()).ok());
  auto ack = c.Read();
  REQUIRE(ack.ok());
  CHECK_FALSE(c.last_was_text());
  fleetdesk::v1::ServerMessage answer;
  REQUIRE(answer.ParseFromString(*ack));
  CHECK(answer.ack().seq() == 1);
  CHECK(answer.protocol_version() == 1);
  CHECK(FindHost(server, id.agent_id)->hostname() == "binary-host");

  // A frame that is not a protobuf message closes this channel with the reason, in binary.
  REQUIRE(c.SendBinary(std::string("\xff\xff\xff\xff garbage", 13)).ok());
  auto error = c.Read();
  REQUIRE(error.ok());
  fleetdesk::v1::ServerMessage refusal;
  REQUIRE(refusal.ParseFromString(*error));
  CHECK_THAT(refusal.error().message(), Catch::Contains("invalid AgentMessage protobuf"));
  CHECK_FALSE(c.Read().ok());

  // A client that does not offer protobuf is answered in JSON.
  auto json_id = EnrollRaw(server, dir, "m-json");
  auto json = ConnectRaw(json_id, "m-json");
  REQUIRE(json->Send(Report(1)).ok());
  CHECK(*json->Read() == Ack(1));
  CHECK(json->last_was_text());
}

TEST_CASE("a newer protocol version is refused with a message saying so", "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-future");
  auto client =
      WsClient::Connect(id.gateway_urls.front(), {id.ca_pem, id.certificate_pem, id.key_pem});
  REQUIRE(client.ok());
  REQUIRE((*client)->Send(R"({"protocolVersion":2,"hello":{"machineId":"m-future"}})").ok());
  auto refusal = (*client)->Read();
  REQUIRE(refusal.ok());
  CHECK_THAT(*refusal, Catch::Contains("newer than this server"));
}

TEST_CASE(
    "a second connection of the same machine replaces the first, and another machine is a clone",
    "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-twice");
  auto first = ConnectRaw(id, "m-twice");
  auto second = ConnectRaw(id, "m-twice");
  auto ended = first->Read();
  REQUIRE_FALSE(ended.ok());
  CHECK_THAT(ended.error().message, Catch::Contains("replaced"));
  REQUIRE(second->Send(Report(1)).ok());
  CHECK(second->Read().ok());

  CHECK_THAT(FirstAnswer(id.gateway_urls.front(), id, "somewhere-else"),
             Catch::Contains("cloned certificate"));
  // The real channel is untouched.
  REQUIRE(second->Send(Report(2)).ok());
  CHECK(*second->Read() == Ack(2));
  // The attempt is in the audit log, with the machine it came from.
  auto audited = WaitFor([&] {
    auto [status, body] = server.Get("/api/v1/audit?action=agent.clone");
    return status == 200 && body.find("somewhere-else") != std::string::npos &&
           body.find(id.agent_id) != std::string::npos;
  });
  CHECK(audited);
}

TEST_CASE("a revoked agent's channel closes at once and it is never accepted again, audited",
          "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-revoked");
  auto channel = ConnectRaw(id, "m-revoked");
  REQUIRE(channel->Send(Report(1)).ok());
  REQUIRE(*channel->Read() == Ack(1));

  CHECK(server.Call("POST", "/api/v1/agents/not-an-agent!/revoke").first == 400);
  CHECK(server.Call("POST", "/api/v1/agents/00000000-0000-0000-0000-000000000000/revoke").first ==
        404);
  auto [status, body] = server.Call("POST", "/api/v1/agents/" + id.agent_id + "/revoke");
  REQUIRE(status == 200);
  CHECK_THAT(body, Catch::Contains(R"("revoked":true)"));
  // The open channel is told why and closed.
  auto told = channel->Read();
  REQUIRE(told.ok());
  CHECK_THAT(*told, Catch::Contains("revoked"));
  CHECK_FALSE(channel->Read().ok());

  CHECK_THAT(FirstAnswer(id.gateway_urls.front(), id, "m-revoked"), Catch::Contains("revoked"));
  // After a restart too: the revocation is in the database, not only in memory.
  server.Stop();
  server.Start();
  CHECK_THAT(FirstAnswer(server.GatewayUrl(), id, "m-revoked"), Catch::Contains("revoked"));

  auto [audit_status, audit] = server.Get("/api/v1/audit?action=agent.revoke");
  REQUIRE(audit_status == 200);
  CHECK_THAT(audit, Catch::Contains(id.agent_id));
  CHECK_THAT(audit, Catch::Contains(R"("kind":"token")"));
}

TEST_CASE("a server restart loses no committed host and agents carry on", "[integration]") {
  const std::string backend = GENERATE(as<std::string>{}, "sqlite", "postgresql");
  CAPTURE(backend);
  TestServer server("", backend == "sqlite" ? "" : TestPostgres::Shared().NewDatabase());
  server.Start();
  TempDir dir;
  TestAgent agent(server, MakeMachineRoot(dir, "survivor", "22222222222222222222222222222222"));
  agent.Start();
  REQUIRE(WaitFor([&] {
    auto h = FindHost(server, agent.agent_id());
    return h && h->last_seq() >= 2;
  }));
  auto acked = FindHost(server, agent.agent_id())->last_seq();
  CHECK(server.Stop() == 0);  // SIGTERM: graceful, exit 0
  CHECK_THAT(server.process().Log(), Catch::Contains("stopped"));

  server.Start();
  auto after = FindHost(server, agent.agent_id());
  REQUIRE(after.has_value());
  CHECK(after->last_seq() >= acked);
  CHECK(after->hostname() == "survivor");
  // The agent reconnects on its own (backoff of at most 2 s here) and its sequence continues.
  REQUIRE(WaitFor(
      [&] {
        auto h = FindHost(server, agent.agent_id());
        return h && h->connected() && h->last_seq() > acked + 1;
      },
      std::chrono::seconds(20)));
}

TEST_CASE("a SIGTERM during a burst loses no acked report", "[integration]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-burst");
  auto client = ConnectRaw(id, "m-burst");
  for (int seq = 1; seq <= 200; ++seq) REQUIRE(client->Send(Report(seq)).ok());
  // Stop once the first ack is in, while the rest are still in flight; then read every ack the
  // server manages to send before it closes the channel.
  auto first = client->Read();
  REQUIRE(first.ok());
  kill(server.process().pid(), SIGTERM);
  std::uint64_t highest_acked =
      fleetdesk::codec::Parse<fleetdesk::v1::ServerMessage>(*first)->ack().seq();
  REQUIRE(highest_acked >= 1);
  for (;;) {
    auto message = client->Read(std::chrono::seconds(5));
    if (!message) break;
    auto ack = fleetdesk::codec::Parse<fleetdesk::v1::ServerMessage>(*message);
    if (ack && ack->has_ack()) highest_acked = std::max(highest_acked, ack->ack().seq());
  }
  CHECK(server.Stop() == 0);
  server.Start();
  auto host = FindHost(server, id.agent_id);
  REQUIRE(host.has_value());
  // Acked means committed: whatever the agent was told survived the stop.
  INFO("highest acked " << highest_acked << ", committed " << host->last_seq());
  CHECK(host->last_seq() >= highest_acked);
  CHECK_FALSE(host->connected());
}

TEST_CASE("reports made while the server is down survive kill -9 of the agent and arrive once",
          "[integration][journal]") {
  TestServer server;
  server.Start();
  TempDir machine;
  TestAgent agent(server, MakeMachineRoot(machine, "outage", "55555555555555555555555555555555"));
  agent.Start();
  REQUIRE(WaitFor([&] {
    auto h = FindHost(server, agent.agent_id());
    return h && h->last_seq() >= 2;
  }));
  CHECK(server.Stop() == 0);
  const auto before_outage = [&] {
    server.Start();
    auto seq = FindHost(server, agent.agent_id())->last_seq();
    server.Kill();  // down again at once; the agent keeps journaling meanwhile
    return seq;
  }();

  // The agent goes on reporting into its journal, and is killed at random points (mid-append
  // included, as far as timing allows) while the server is down.
  std::mt19937 random(std::random_device{}());
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(300, 1800)(random)));
    agent.process().Kill();
    agent.Start();
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  server.Start();
  REQUIRE(WaitFor(
      [&] {
        auto h = FindHost(server, agent.agent_id());
        return h && h->connected() && h->last_seq() > before_outage + 4;
      },
      std::chrono::seconds(20)));
  REQUIRE(agent.Stop() == 0);

  // Nothing beyond what the agent made was committed, and everything it saw acked was.
  std::uint64_t last = 0;
  std::uint64_t committed = 0;
  {
    auto journal = fleetdesk::agent::journal::Journal::Open(agent.dir() / "state", 64 << 20);
    REQUIRE(journal.ok());
    last = journal->last_seq();
    committed = FindHost(server, agent.agent_id())->last_seq();
    CHECK(committed <= last);
    CHECK(committed >= last - journal->pending_count());
    CHECK(journal->evicted() == 0);
    CHECK(journal->recovered_bytes() == 0);
  }
  // The reports of the outage travelled after it. Those still unacked when the agent stopped
  // travel on its next start; one may have slipped to the old server between reading
  // before_outage and killing it.
  CHECK(MetricValue(server, "fleetdesk_reports_total") >= committed - before_outage - 1);
  // Started once more, the agent delivers whatever was still unacked: the server ends with every
  // sequence the agent made.
  agent.Start();
  REQUIRE(WaitFor([&] { return FindHost(server, agent.agent_id())->last_seq() >= last; }));
}

TEST_CASE("an agent sending faster than its rate is paced, not refused", "[integration]") {
  TestServer server("rate_limit = 20\nrate_burst = 5");
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-fast");
  auto client = ConnectRaw(id, "m-fast");
  const auto started = std::chrono::steady_clock::now();
  constexpr int kReports = 25;
  for (int seq = 1; seq <= kReports; ++seq) REQUIRE(client->Send(Report(seq)).ok());
  for (;;) {
    auto message = client->Read();
    REQUIRE(message.ok());  // never an error, never a close
    if (*message == Ack(kReports)) break;
  }
  // 5 at once, then 20 a second: the last is read about a second after the first.
  CHECK(std::chrono::steady_clock::now() - started >= std::chrono::milliseconds(900));
  CHECK(FindHost(server, id.agent_id)->last_seq() == kReports);
}

TEST_CASE("an agent renews its certificate on its channel, and bad requests leave it working",
          "[integration][renewal]") {
  namespace crypto = fleetdesk::crypto;
  TestServer server;
  server.Start();
  TempDir dir;
  auto id = EnrollRaw(server, dir, "m-renew");
  const auto enrolled_serial = crypto::Inspect(id.certificate_pem)->serial_hex;
  auto channel = ConnectRaw(id, "m-renew");
  auto renew = [&](const std::string& csr) {
    fleetdesk::v1::AgentMessage request;
    request.set_protocol_version(1);
    request.mutable_renew()->set_csr(csr);
    REQUIRE(channel->Send(fleetdesk::codec::ToJson(request)).ok());
    auto answer = channel->Read();
    REQUIRE(answer.ok());
    auto parsed = fleetdesk::codec::Parse<fleetdesk::v1::ServerMessage>(*answer);
    REQUIRE(parsed.ok());
    REQUIRE(parsed->has_renewal());
    return parsed->renewal();
  };

  auto garbage = renew("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n");
  CHECK(garbage.certificate().empty());
  CHECK(garbage.error().code() == "invalid_argument");
  CHECK_THAT(garbage.error().message(), Catch::Contains("csr"));
  CHECK(renew("").error().message() == "csr is required");
  CHECK_THAT(renew(std::string(20000, 'x')).error().message(), Catch::Contains("16 KiB"));
  // The channel carries on after a refusal.
  REQUIRE(channel->Send(Report(1)).ok());
  REQUIRE(*channel->Read() == Ack(1));

  auto key = crypto::GenerateKey();
  auto renewal = renew(*crypto::MakeCsr(*key, "asks-for-another-name"));
  REQUIRE(renewal.error().code().empty());
  CHECK(crypto::VerifyIssued(renewal.certificate(), id.ca_pem, *key).ok());
  auto issued = crypto::Inspect(renewal.certificate());
  REQUIRE(issued.ok());
  CHECK(issued->common_name == id.agent_id);  // whatever the request asked for
  CHECK(issued->serial_hex != enrolled_serial);
  CHECK(issued->not_after_unix == renewal.not_after().seconds());
  CHECK(renewal.ca_certificate() == id.ca_pem);

  // The database knows the new certificate; the audit log says who renewed it, from where.
  auto host = FindHost(server, id.agent_id);
  REQUIRE(host.has_value());
  CHECK(host->certificate_serial() == issued->serial_hex);
  CHECK(host->certificate_not_after().seconds() == issued->not_after_unix);
  auto [audit_status, audit] = server.Get("/api/v1/audit?action=agent.renew");
  REQUIRE(audit_status == 200);
  CHECK_THAT(audit, Catch::Contains(R"("kind":"agent")") && Catch::Contains(id.agent_id) &&
                        Catch::Contains(issued->serial_hex) && Catch::Contains(enrolled_serial));
  CHECK(MetricValue(server, "fleetdesk_certificate_renewals_total") == 1);

  // One renewal per channel an hour.
  auto again = renew(*crypto::MakeCsr(*key, "x"));
  CHECK(again.error().code() == "resource_exhausted");
  CHECK(again.error().retry_after_seconds() > 3500);
  REQUIRE(channel->Send(Report(2)).ok());
  REQUIRE(*channel->Read() == Ack(2));

  // The new pair opens a channel of the same agent.
  auto renewed_id = id;
  renewed_id.key_pem = *key;
  renewed_id.certificate_pem = renewal.certificate();
  channel.reset();
  auto next = ConnectRaw(renewed_id, "m-renew");
  REQUIRE(next->Send(Report(3)).ok());
  CHECK(*next->Read() == Ack(3));
}

TEST_CASE("an agent near its certificate's expiry renews it and reconnects with the new one",
          "[integration][renewal]") {
  namespace crypto = fleetdesk::crypto;
  TestServer server;
  server.Start();
  TempDir machine;
  TestAgent agent(server, MakeMachineRoot(machine, "renewer", "77777777777777777777777777777777"));
  const std::string state = agent.dir() / "state";
  // Reissue the agent's certificate to expire in 10 s: well past the renewal point of its life.
  const crypto::KeyAndCertificate ca{ReadFile(server.dir() / "data/ca.key"),
                                     ReadFile(server.dir() / "data/ca.crt")};
  const std::string old_key = ReadFile(state + "/key.pem");
  auto short_lived = crypto::Sign(ca, {*crypto::MakeCsr(old_key, "x"),
                                       agent.agent_id(),
                                       {},
                                       crypto::Usage::kClient,
                                       std::chrono::seconds(10)});
  REQUIRE(short_lived.ok());
  WriteFile(state + "/cert.pem", short_lived->certificate_pem);
  agent.Start();

  std::optional<fleetdesk::v1::Host> host;
  REQUIRE(WaitFor([&] {
    host = FindHost(server, agent.agent_id());
    return host && host->connected() && host->certificate_serial() != short_lived->serial_hex &&
           agent.process().Log().find("certificate renewed") != std::string::npos;
  }));
  const std::string on_disk = ReadFile(state + "/cert.pem");
  CHECK(crypto::Inspect(on_disk)->serial_hex == host->certificate_serial());
  CHECK(crypto::VerifyIssued(on_disk, ca.certificate_pem, ReadFile(state + "/key.pem")).ok());
  CHECK(ReadFile(state + "/key.pem") != old_key);  // a new key, made on the agent
  CHECK_FALSE(fleetdesk::files::Exists(state + "/key.pem.new"));
  CHECK(host->certificate_not_after().seconds() > std::time(nullptr) + 300 * 86400);

  // Once the old certificate has expired only the new one gets in: make the agent reconnect.
  while (std::time(nullptr) <= short_lived->not_after_unix + 1) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const auto before = host->last_seq();
  CHECK(server.Stop() == 0);
  server.Start();
  REQUIRE(WaitFor(
      [&] {
        host = FindHost(server, agent.agent_id());
        return host && host->connected() && host->last_seq() > before + 1;
      },
      std::chrono::seconds(20)));
  CHECK(agent.process().Log().find("certificate expired") == std::string::npos);
}

namespace {

// A report whose disk and memory are `percent` full.
std::string FullDiskReport(std::uint64_t seq, int percent) {
  const auto used = std::to_string(percent);
  return R"({"report":{"seq":")" + std::to_string(seq) +
         R"(","heartbeat":{"hostname":"raw"},"metrics":{"memoryTotalBytes":"100","memoryUsedBytes":")" +
         used + R"(","filesystems":[{"mountPoint":"/","sizeBytes":"100","usedBytes":")" + used +
         R"("}]}}})";
}

}  // namespace

TEST_CASE(
    "two servers of one PostgreSQL raising the same incidents at once make one ticket of each",
    "[integration][cluster][incidents]") {
  const std::string database = TestPostgres::Shared().NewDatabase();
  TestServer first("", database);
  auto second = TestServer::Joining(first, database);
  first.Start();
  second->Start();
  TempDir dir;
  auto id = EnrollRaw(first, dir, "m-split");
  // One machine's channel open on each server, as while a network split heals: each server's
  // incident engine sees the samples that reach it, and both see the disk and the memory full
  // in reports sent at the same moment, so both raise the same two fingerprints together.
  auto a = ConnectRaw(id, "m-split", first.GatewayUrl());
  auto b = ConnectRaw(id, "m-split", second->GatewayUrl());
  std::thread other([&] { REQUIRE(b->Send(FullDiskReport(2, 99)).ok()); });
  REQUIRE(a->Send(FullDiskReport(1, 99)).ok());
  other.join();
  CHECK(a->Read().ok());
  CHECK(b->Read().ok());

  auto incidents = [&](const TestServer& server) {
    auto [status, body] = server.Get("/api/v1/tickets?kind=incident&limit=100");
    REQUIRE(status == 200);
    return *fleetdesk::codec::Parse<fleetdesk::v1::TicketList>(body);
  };
  // Both raises are counted: one ticket each, with two occurrences, whichever server won.
  auto counted = [&] {
    auto list = incidents(*second);
    return list.items_size() == 2 && list.items(0).occurrences() == 2 &&
           list.items(1).occurrences() == 2;
  };
  CHECK(WaitFor(counted, std::chrono::seconds(10)));
  auto seen = incidents(first);
  REQUIRE(seen.items_size() == 2);
  std::set<std::string> fingerprints;
  for (const auto& t : seen.items()) fingerprints.insert(t.fingerprint());
  CHECK(fingerprints.size() == 2);
}
