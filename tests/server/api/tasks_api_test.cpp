// Configuration tasks over the API: the dry run, submitting once however often it is retried,
// each host's result and a page of them, cancelling, and what is refused.
#include <catch2/catch.hpp>

#include "fleetdesk/v1/tasks.pb.h"
#include "tests/server/api/api_fixture.hpp"

using namespace fleetdesk::server;
using fleetdesk::testing::As;
using fleetdesk::testing::ErrorOf;
using fleetdesk::testing::Fixture;

namespace {

std::int64_t Enroll(Fixture& f, const std::string& name, std::vector<std::string> tags) {
  auto s = f.stores->Acquire();
  // One token for every host: made by the first call, refused as a duplicate after.
  (void)(*s)->CreateEnrollmentToken({"t", NowMs(), NowMs() + 60'000, std::nullopt, ""}, {});
  auto host =
      (*s)->EnrollAgent("t", store::NewAgent{name, "m-" + name, name, "", "01", 0, NowMs()});
  REQUIRE(host.ok());
  store::AttributePatch patch;
  patch.tags = std::move(tags);
  REQUIRE((*s)->PatchHost(host->id, patch, {}, NowMs()).ok());
  return host->id;
}

}  // namespace

TEST_CASE(
    "an operator previews a task, submits it once however often it is retried, and reads "
    "each host's result",
    "[server][api][tasks]") {
  Fixture f;
  auto oscar = f.AddUser("oscar", "operator");
  auto vera = f.AddUser("vera", "viewer");
  auto web1 = Enroll(f, "web-1", {"web"});
  auto web2 = Enroll(f, "web-2", {"web", "prod"});
  Enroll(f, "db-1", {"db"});

  const std::string restart =
      R"({"kind":"service.restart","service":{"unit":"nginx.service"},"selector":{"tags":["web"]},)"
      R"("rollout":{"batchSize":1,"maxFailures":0})";
  auto preview = f.CallWith(oscar, "POST", "/api/v1/tasks", restart + R"(,"dryRun":true})");
  REQUIRE(preview.status == 200);
  auto plan = As<fleetdesk::v1::TaskPreview>(preview);
  CHECK(plan.hosts() == 2);
  CHECK(plan.batches() == 2);
  CHECK(plan.max_failures() == 0);
  REQUIRE(plan.targets_size() == 2);
  CHECK(plan.targets(0).hostname() == "web-1");
  CHECK(plan.targets(1).batch() == 1);
  CHECK(As<fleetdesk::v1::TaskViewList>(f.Call("GET", "/api/v1/tasks")).items().empty());

  const std::string keyed = restart + R"(,"idempotencyKey":"change-7"})";
  auto created = f.CallWith(oscar, "POST", "/api/v1/tasks", keyed);
  REQUIRE(created.status == 201);
  auto task = As<fleetdesk::v1::TaskView>(created);
  CHECK(task.state() == "running");
  CHECK(task.created_by() == "oscar");
  CHECK(task.selector() == "tags=web");
  CHECK(task.service().unit() == "nginx.service");
  CHECK(task.timeout_seconds() == 300);
  CHECK(task.counts().queued() == 2);
  auto retried = f.CallWith(oscar, "POST", "/api/v1/tasks", keyed);
  REQUIRE(retried.status == 200);
  CHECK(As<fleetdesk::v1::TaskView>(retried).id() == task.id());
  CHECK(As<fleetdesk::v1::TaskView>(retried).replayed());
  // The same key as the Idempotency-Key header is the same retry.
  {
    auto request = f.Request("POST", "/api/v1/tasks", restart + "}");
    request.authorization = "Bearer " + oscar.bearer;
    request.idempotency_key = "change-7";
    auto header_retry = f.api->Handle(request);
    REQUIRE(header_retry.status == 200);
    CHECK(As<fleetdesk::v1::TaskView>(header_retry).id() == task.id());
    request.body = keyed;
    request.idempotency_key = "change-8";
    CHECK(f.api->Handle(request).status == 400);
  }
  auto reused =
      f.CallWith(oscar, "POST", "/api/v1/tasks",
                 R"({"kind":"inventory.refresh","hostIds":[1],"idempotencyKey":"change-7"})");
  CHECK(reused.status == 409);
  CHECK_THAT(ErrorOf(reused).error().message(), Catch::Contains("idempotencyKey"));

  // The first host answers (as the agent channel will record it).
  {
    auto s = f.stores->Acquire();
    REQUIRE((*s)->MarkTasksSent({{task.id(), web1}}, NowMs())->at(0));
    store::TaskResultRecord ok;
    ok.state = "succeeded";
    ok.exit_code = 0;
    ok.duration_ms = 840;
    ok.stdout_text = "restarted";
    ok.stdout_size = 9;
    REQUIRE(*(*s)->RecordTaskResult(task.id(), web1, ok, NowMs()));
  }
  const auto path = "/api/v1/tasks/" + std::to_string(task.id());
  auto read = As<fleetdesk::v1::TaskView>(f.CallWith(vera, "GET", path));
  CHECK(read.counts().succeeded() == 1);
  CHECK(read.current_batch() == 1);  // the first batch is done
  REQUIRE(read.hosts_size() == 2);
  CHECK(read.hosts(0).state() == "succeeded");
  CHECK(read.hosts(0).stdout() == "restarted");
  CHECK(read.hosts(0).duration_ms() == 840);
  CHECK(read.hosts(1).state() == "queued");
  auto page = As<fleetdesk::v1::TaskView>(f.CallWith(vera, "GET", path + "?limit=1"));
  REQUIRE(page.hosts_size() == 1);
  auto next = As<fleetdesk::v1::TaskView>(
      f.CallWith(vera, "GET", path + "?limit=1&cursor=" + page.next_cursor()));
  REQUIRE(next.hosts_size() == 1);
  CHECK(next.hosts(0).host_id() == web2);
  CHECK(next.next_cursor().empty());
  auto queued = As<fleetdesk::v1::TaskView>(f.CallWith(vera, "GET", path + "?state=queued"));
  REQUIRE(queued.hosts_size() == 1);
  CHECK(queued.hosts(0).hostname() == "web-2");
  CHECK(f.CallWith(vera, "GET", path + "?state=done").status == 400);
  auto mine = As<fleetdesk::v1::TaskHostViewList>(
      f.CallWith(vera, "GET", "/api/v1/hosts/" + std::to_string(web1) + "/tasks"));
  REQUIRE(mine.items_size() == 1);
  CHECK(mine.items(0).kind() == "service.restart");
  CHECK(mine.items(0).state() == "succeeded");

  // A viewer reads and nothing more; an operator cancels what is left.
  CHECK(f.CallWith(vera, "POST", "/api/v1/tasks", restart + "}").status == 403);
  CHECK(f.CallWith(vera, "POST", path + "/cancel").status == 403);
  auto cancelled = f.CallWith(oscar, "POST", path + "/cancel");
  REQUIRE(cancelled.status == 200);
  CHECK(As<fleetdesk::v1::TaskView>(cancelled).state() == "cancelled");
  CHECK(As<fleetdesk::v1::TaskView>(cancelled).counts().cancelled() == 1);
  CHECK(f.CallWith(oscar, "POST", path + "/cancel").status == 412);  // not running
  CHECK(f.Call("GET", "/api/v1/tasks/999").status == 404);
  auto audit = f.Call("GET", "/api/v1/audit");
  CHECK_THAT(audit.body, Catch::Contains("task.create") && Catch::Contains("task.cancel"));
}

TEST_CASE("a task that is wrong in any part is refused by name, and nothing is stored",
          "[server][api][tasks]") {
  Fixture f;
  auto web1 = Enroll(f, "web-1", {"web"});
  const std::string to = R"("hostIds":[)" + std::to_string(web1) + "]";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"kind":"reboot",)" + to + "}", "kind"},
      {R"({"kind":"service.restart",)" + to + "}", "service.unit"},
      {R"({"kind":"service.restart","service":{"unit":"nginx"},)" + to + "}", "full name"},
      {R"({"kind":"service.stop","service":{"unit":"a;b.service"},)" + to + "}", "service.unit"},
      {R"({"kind":"inventory.refresh","service":{"unit":"a.service"},)" + to + "}", "service"},
      {R"({"kind":"file.write","fileWrite":{"path":"etc/motd"},)" + to + "}", "absolute"},
      {R"({"kind":"file.write","fileWrite":{"path":"/etc/../root/.ssh/keys"},)" + to + "}", ".."},
      {R"({"kind":"file.write","fileWrite":{"path":"/etc/motd","mode":4096},)" + to + "}", "mode"},
      {R"({"kind":"file.write","fileWrite":{"path":"/etc/motd","owner":"a b"},)" + to + "}",
       "owner"},
      {R"({"kind":"command.run","command":{"argv":[]},)" + to + "}", "argv"},
      {R"({"kind":"command.run","command":{"argv":["ls","-l"]},)" + to + "}", "absolute path"},
      {R"({"kind":"inventory.refresh"})", "hostIds or a selector"},
      {R"({"kind":"inventory.refresh","selector":{"tags":["web"]},)" + to + "}",
       "hostIds or a selector"},
      {R"({"kind":"inventory.refresh","selector":{}})", "selector"},
      {R"({"kind":"inventory.refresh","selector":{"tags":["mail"]}})", "no enrolled host"},
      {R"({"kind":"inventory.refresh","hostIds":[999]})", "no host has id 999"},
      {R"({"kind":"inventory.refresh","hostIds":[-1]})", "hostIds"},
      {R"({"kind":"inventory.refresh","rollout":{"batchSize":1,"batchPercent":5},)" + to + "}",
       "batchSize or batchPercent"},
      {R"({"kind":"inventory.refresh","rollout":{"maxFailurePercent":101},)" + to + "}",
       "maxFailurePercent"},
      {R"({"kind":"inventory.refresh","expiresIn":"1s",)" + to + "}", "expiresIn"},
      {R"({"kind":"inventory.refresh","expiresIn":"soon",)" + to + "}", "expiresIn"},
      {R"({"kind":"inventory.refresh","timeoutSeconds":100000,)" + to + "}", "timeoutSeconds"},
      {R"({"kind":"inventory.refresh","ticketId":77,)" + to + "}", "ticketId"},
      {R"({"kind":"inventory.refresh","dryRun":true,"idempotencyKey":"k",)" + to + "}", "dry run"},
      {R"({"kind":"inventory.refresh","hostsIds":[1]})", "hostsIds"},
  };
  for (const auto& [body, names] : cases) {
    CAPTURE(body);
    auto answer = f.Call("POST", "/api/v1/tasks", body);
    CHECK(answer.status == 400);
    CHECK_THAT(ErrorOf(answer).error().message(), Catch::Contains(names));
  }
  CHECK(As<fleetdesk::v1::TaskViewList>(f.Call("GET", "/api/v1/tasks")).items().empty());
}

TEST_CASE(
    "an admin keeps agent profiles by tag, and a host gets them merged by priority with "
    "where each value came from",
    "[server][api][profiles]") {
  Fixture f;
  auto oscar = f.AddUser("oscar", "operator");
  auto web = Enroll(f, "web-1", {"web"});
  auto db = Enroll(f, "db-1", {"db"});

  auto base =
      f.Call("POST", "/api/v1/agent-profiles",
             R"({"name":"base","config":{"inventoryIntervalSeconds":7200,)"
             R"("checks":[{"key":"dns","kind":"CHECK_KIND_DNS","target":"example.com"}]}})");
  REQUIRE(base.status == 201);
  auto base_profile = As<fleetdesk::v1::AgentProfile>(base);
  CHECK(base_profile.updated_by() == "admin");
  CHECK(base_profile.config().checks(0).interval_seconds() == 60);  // defaults filled
  auto web_profile = f.Call(
      "POST", "/api/v1/agent-profiles",
      R"({"name":"web-tier","tag":"web","priority":10,"config":{"inventoryIntervalSeconds":600,)"
      R"("serviceInclude":["nginx.service"],)"
      R"("checks":[{"key":"site","kind":"CHECK_KIND_HTTP","target":"https://web-1/health"}]}})");
  REQUIRE(web_profile.status == 201);

  auto web_config = As<fleetdesk::v1::AgentConfig>(
      f.CallWith(oscar, "GET", "/api/v1/hosts/" + std::to_string(web) + "/agent-config"));
  CHECK(web_config.inventory_interval_seconds() == 600);
  REQUIRE(web_config.checks_size() == 2);
  CHECK(web_config.checks(0).key() == "dns");
  CHECK(web_config.checks(1).key() == "site");
  CHECK(web_config.service_include(0) == "nginx.service");
  CHECK(web_config.sources().at("inventoryInterval") == "web-tier");
  CHECK(web_config.sources().at("checks.dns") == "base");
  auto db_config = As<fleetdesk::v1::AgentConfig>(
      f.Call("GET", "/api/v1/hosts/" + std::to_string(db) + "/agent-config"));
  CHECK(db_config.inventory_interval_seconds() == 7200);
  CHECK(db_config.checks_size() == 1);
  CHECK(db_config.service_include().empty());

  // Changed and deleted; each change audited.
  const auto path = "/api/v1/agent-profiles/" + std::to_string(base_profile.id());
  auto changed =
      f.Call("PUT", path, R"({"name":"base","config":{"inventoryIntervalSeconds":3600}})");
  REQUIRE(changed.status == 200);
  CHECK(As<fleetdesk::v1::AgentConfig>(
            f.Call("GET", "/api/v1/hosts/" + std::to_string(db) + "/agent-config"))
            .inventory_interval_seconds() == 3600);
  REQUIRE(f.Call("DELETE", path).status == 204);
  CHECK(f.Call("DELETE", path).status == 404);
  auto list = As<fleetdesk::v1::AgentProfileList>(f.Call("GET", "/api/v1/agent-profiles"));
  REQUIRE(list.items_size() == 1);
  CHECK(list.items(0).name() == "web-tier");
  auto audit = f.Call("GET", "/api/v1/audit");
  CHECK_THAT(audit.body, Catch::Contains("agent_profile.create") &&
                             Catch::Contains("agent_profile.update") &&
                             Catch::Contains("agent_profile.delete"));

  // What is wrong is named, and nothing changes; operators read but do not write.
  auto refused = [&](const std::string& body, const std::string& says) {
    auto r = f.Call("POST", "/api/v1/agent-profiles", body);
    CHECK(r.status == 400);
    CHECK_THAT(ErrorOf(r).error().message(), Catch::Contains(says));
  };
  refused(R"({"config":{}})", "name is required");
  auto taken = f.Call("POST", "/api/v1/agent-profiles", R"({"name":"web-tier","config":{}})");
  CHECK(taken.status == 409);
  CHECK_THAT(ErrorOf(taken).error().message(), Catch::Contains("already exists"));
  refused(R"({"name":"x","config":{"reportIntervalSeconds":5}})", "agents.heartbeat_interval");
  refused(R"({"name":"x","config":{"inventoryIntervalSeconds":5}})", "from 60 to 604800");
  refused(
      R"({"name":"x","config":{"checks":[{"key":"a","kind":"CHECK_KIND_TCP","target":"nope"}]}})",
      "config.checks");
  refused(R"({"name":"x","tag":"bad tag!","config":{}})", "tag");
  refused(R"({"name":"x","priority":5000,"config":{}})", "priority is from -1000 to 1000");
  CHECK(As<fleetdesk::v1::AgentProfileList>(f.Call("GET", "/api/v1/agent-profiles")).items_size() ==
        1);
  CHECK(f.CallWith(oscar, "POST", "/api/v1/agent-profiles", R"({"name":"mine","config":{}})")
            .status == 403);
  CHECK(f.CallWith(oscar, "GET", "/api/v1/agent-profiles").status == 200);
}
