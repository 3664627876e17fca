// Configuration tasks over the agent channel: real servers on loopback, hand-driven agents (the
// agent's own task runner is tested apart). A task reaches a connected agent at once and an
// offline one when it returns, never twice; its results are stored; on PostgreSQL a task made on
// one server reaches an agent connected to another.
#include <catch2/catch.hpp>
#include <optional>

#include "agent/identity.hpp"
#include "common/codec.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tasks.pb.h"
#include "tests/integration/raw_agent.hpp"
#include "tests/support/fleet.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/wait.hpp"
#include "tests/support/ws_client.hpp"

using namespace fleetdesk::testing;

namespace {

// Says hello as `machine` on `url` and reads the welcome.
std::unique_ptr<WsClient> Connect(const fleetdesk::agent::Identity& id, const std::string& machine,
                                  const std::string& url) {
  auto client = WsClient::Connect(url, {id.ca_pem, id.certificate_pem, id.key_pem});
  REQUIRE(client.ok());
  REQUIRE((*client)
              ->Send(R"({"protocolVersion":1,"hello":{"machineId":")" + machine +
                     R"(","hostname":")" + machine + R"("}})")
              .ok());
  auto welcome = (*client)->Read();
  REQUIRE(welcome.ok());
  REQUIRE_THAT(*welcome, Catch::Contains("welcome"));
  return std::move(*client);
}

// The next message the server sends on this channel that `wanted` picks, or nullopt within
// `wait`.
std::optional<fleetdesk::v1::ServerMessage> NextMessage(
    WsClient& client, std::chrono::milliseconds wait,
    bool (fleetdesk::v1::ServerMessage::*wanted)() const) {
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    auto message = client.Read(std::max(left, std::chrono::milliseconds(1)));
    if (!message) return std::nullopt;
    auto parsed = fleetdesk::codec::Parse<fleetdesk::v1::ServerMessage>(*message);
    REQUIRE(parsed.ok());
    if (((*parsed).*wanted)()) return *parsed;
  }
  return std::nullopt;
}

std::optional<fleetdesk::v1::Task> NextTask(WsClient& client, std::chrono::milliseconds wait) {
  auto message = NextMessage(client, wait, &fleetdesk::v1::ServerMessage::has_task);
  if (!message) return std::nullopt;
  return message->task();
}

// The task id of the next taskAck.
std::optional<std::string> NextAck(WsClient& client, std::chrono::milliseconds wait) {
  auto message = NextMessage(client, wait, &fleetdesk::v1::ServerMessage::has_task_ack);
  if (!message) return std::nullopt;
  return message->task_ack().task_id();
}

// Two servers on one PostgreSQL that poll once an hour, so only a notification between them is
// quick, and a hand-driven agent enrolled on the first and connected to the second.
struct PeerServers {
  explicit PeerServers(const std::string& machine)
      : database(TestPostgres::Shared().NewDatabase()),
        first(R"(task_poll_interval = "1h")", database) {
    first.Start();
    second = TestServer::Joining(first, database);
    second->AddAgentsConfig(R"(task_poll_interval = "1h")");
    second->Start();
    id = EnrollRaw(first, dir, machine);
    channel = Connect(id, machine, second->GatewayUrl());
  }
  std::string database;
  TestServer first;
  std::unique_ptr<TestServer> second;
  TempDir dir;
  fleetdesk::agent::Identity id;
  std::unique_ptr<WsClient> channel;
};

std::int64_t HostId(const TestServer& server, const std::string& agent_id) {
  auto [status, body] = server.Get("/api/v1/hosts");
  REQUIRE(status == 200);
  auto list = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body);
  REQUIRE(list.ok());
  for (const auto& h : list->items()) {
    if (h.agent_id() == agent_id) return h.id();
  }
  FAIL("no host for agent " << agent_id);
  return 0;
}

fleetdesk::v1::TaskView ReadTask(const TestServer& server, std::int64_t id) {
  auto [status, body] = server.Get("/api/v1/tasks/" + std::to_string(id));
  REQUIRE(status == 200);
  return *fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(body);
}

std::string Result(const std::string& task_id, const std::string& state,
                   const std::string& extra = "") {
  return R"({"taskResult":{"taskId":")" + task_id + R"(","state":")" + state + "\"" + extra + "}}";
}

}  // namespace

TEST_CASE(
    "a task reaches a connected agent at once and an offline one when it returns, each "
    "once, and their results are stored",
    "[integration][tasks]") {
  TestServer server;
  server.Start();
  TempDir dir;
  auto a = EnrollRaw(server, dir, "task-a");
  auto b = EnrollRaw(server, dir, "task-b");
  auto channel_a = Connect(a, "task-a", server.GatewayUrl());
  const auto host_a = HostId(server, a.agent_id);
  const auto host_b = HostId(server, b.agent_id);

  auto [status, body] = server.Call(
      "POST", "/api/v1/tasks",
      R"({"kind":"service.restart","service":{"unit":"nginx.service"},"timeoutSeconds":60,"hostIds":[)" +
          std::to_string(host_a) + "," + std::to_string(host_b) + "]}");
  REQUIRE(status == 201);
  const auto task_id = fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(body)->id();
  const auto wire_id = std::to_string(task_id);

  auto task = NextTask(*channel_a, std::chrono::seconds(5));
  REQUIRE(task.has_value());
  CHECK(task->id() == wire_id);
  CHECK(task->kind() == "service.restart");
  CHECK(task->service().unit() == "nginx.service");
  CHECK(task->timeout_seconds() == 60);
  CHECK(task->has_expires_at());
  CHECK(ReadTask(server, task_id).hosts(0).state() == "sent");

  REQUIRE(channel_a->Send(Result(wire_id, "TASK_STATE_RUNNING")).ok());
  REQUIRE(channel_a
              ->Send(Result(wire_id, "TASK_STATE_SUCCEEDED",
                            R"(,"exitCode":0,"durationMs":"840","stdout":"cmVzdGFydGVk",)"
                            R"("stdoutSize":"9","message":"job done")"))
              .ok());
  REQUIRE(WaitFor([&] { return ReadTask(server, task_id).counts().succeeded() == 1; }));
  // The final result is acked once stored (the running one is not), so the agent stops resending.
  CHECK(NextAck(*channel_a, std::chrono::seconds(5)) == wire_id);
  auto done_a = ReadTask(server, task_id).hosts(0);
  CHECK(done_a.stdout() == "restarted");
  CHECK(done_a.duration_ms() == 840);
  CHECK(done_a.message() == "job done");

  // A result that names no task of this server's is dropped, and acked so it is not sent
  // again; the channel carries on.
  REQUIRE(channel_a->Send(Result("not-a-number", "TASK_STATE_FAILED")).ok());
  CHECK(NextAck(*channel_a, std::chrono::seconds(5)) == "not-a-number");

  // The offline host gets its task when it connects; the one that has it does not again.
  auto channel_b = Connect(b, "task-b", server.GatewayUrl());
  auto for_b = NextTask(*channel_b, std::chrono::seconds(5));
  REQUIRE(for_b.has_value());
  CHECK(for_b->id() == wire_id);
  channel_a.reset();
  channel_a = Connect(a, "task-a", server.GatewayUrl());
  CHECK_FALSE(NextTask(*channel_a, std::chrono::milliseconds(2500)).has_value());

  REQUIRE(channel_b
              ->Send(Result(wire_id, "TASK_STATE_REFUSED",
                            R"(,"message":"service tasks are not allowed here")"))
              .ok());
  REQUIRE(WaitFor([&] { return ReadTask(server, task_id).state() == "finished"; }));
  auto finished = ReadTask(server, task_id);
  CHECK(finished.counts().succeeded() == 1);
  CHECK(finished.counts().refused() == 1);
  CHECK(finished.hosts(1).message() == "service tasks are not allowed here");
}

TEST_CASE(
    "on PostgreSQL a task made on one server reaches an agent connected to another at once, "
    "told by NOTIFY",
    "[integration][tasks][cluster]") {
  PeerServers servers("task-c");
  auto& first = servers.first;
  auto& id = servers.id;
  auto& channel = servers.channel;
  const auto host = HostId(first, id.agent_id);
  const auto submitted = std::chrono::steady_clock::now();
  auto [status, body] =
      first.Call("POST", "/api/v1/tasks",
                 R"({"kind":"inventory.refresh","hostIds":[)" + std::to_string(host) + "]}");
  REQUIRE(status == 201);
  const auto task_id = fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(body)->id();
  auto task = NextTask(*channel, std::chrono::seconds(10));
  REQUIRE(task.has_value());
  CHECK(std::chrono::steady_clock::now() - submitted < std::chrono::seconds(3));
  CHECK(task->id() == std::to_string(task_id));
  CHECK(task->kind() == "inventory.refresh");
  REQUIRE(channel->Send(Result(std::to_string(task_id), "TASK_STATE_SUCCEEDED")).ok());
  REQUIRE(WaitFor([&] { return ReadTask(first, task_id).state() == "finished"; }));
}

TEST_CASE(
    "on PostgreSQL an agent profile made on one server reaches an agent connected to "
    "another at once",
    "[integration][profiles][cluster]") {
  PeerServers servers("profile-a");
  auto& first = servers.first;
  auto& channel = servers.channel;
  // (No profiles yet, and the hello held none: nothing is sent. The raw channels of the other
  // tests read every message in order, so a stray config would fail them.)
  auto [status, body] =
      first.Call("POST", "/api/v1/agent-profiles",
                 R"({"name":"everyone","config":{"checks":[{"key":"gw","kind":"CHECK_KIND_TCP",)"
                 R"("target":"127.0.0.1:1"}]}})");
  REQUIRE(status == 201);
  auto pushed =
      NextMessage(*channel, std::chrono::seconds(3), &fleetdesk::v1::ServerMessage::has_config);
  REQUIRE(pushed.has_value());
  REQUIRE(pushed->config().checks_size() == 1);
  CHECK(pushed->config().checks(0).key() == "gw");
  CHECK(pushed->config().sources().at("checks.gw") == "everyone");
}
