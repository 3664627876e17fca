// The asset database on both stores: history, attributes, lifecycle, lists, search, leadership.
#include <catch2/catch.hpp>
#include <map>
#include <thread>

#include "fleetdesk/v1/agent.pb.h"
#include "server/store/metric_point.hpp"
#include "server/store/store.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/test_database.hpp"

using namespace fleetdesk::server::store;
using fleetdesk::ErrorCode;
using fleetdesk::testing::TempDir;

namespace {

constexpr std::int64_t kNow = 1'800'000'000'000;

// The person the tests' changes are made by.
Actor Alice() {
  Actor a;
  a.kind = "user";
  a.name = "alice";
  a.user_id = 7;
  a.address = "192.0.2.7";
  return a;
}

HostRecord Enroll(Store& store, const std::string& agent, const std::string& hostname,
                  const std::string& serial = "") {
  (void)store.CreateEnrollmentToken({"t", kNow, kNow + 3'600'000, std::nullopt, "test"}, {});
  auto host =
      store.EnrollAgent("t", NewAgent{agent, "machine-" + agent, hostname, serial, "01", 0, kNow});
  REQUIRE(host.ok());
  return *host;
}

HostDelta::Service Service(const std::string& unit, const std::string& state) {
  fleetdesk::v1::ServiceState s;
  s.set_unit(unit);
  s.set_active_state(state);
  return {unit,
          state,
          state == "active" ? "running" : "failed",
          kNow,
          "the " + unit + " daemon",
          s.SerializeAsString()};
}

HostDelta::Section Section(const fleetdesk::v1::InventorySection& section,
                           const std::string& name) {
  return {name, std::to_string(std::hash<std::string>()(section.SerializeAsString())),
          section.SerializeAsString()};
}

HostDelta Delta(const std::string& agent, std::int64_t at) {
  HostDelta d;
  d.agent_id = agent;
  d.collected_ms = at;
  return d;
}

std::vector<HostEvent> Events(Store& store, std::int64_t host, const std::string& kind = "") {
  EventQuery q;
  q.host_id = host;
  q.kind = kind;
  q.limit = 1000;
  auto page = store.ListEvents(q);
  REQUIRE(page.ok());
  return page->items;
}

std::vector<std::string> Hostnames(const HostPage& page) {
  std::vector<std::string> out;
  for (const auto& h : page.items) out.push_back(h.record.hostname);
  return out;
}

}  // namespace

TEST_CASE("a service's state change and a check going down are recorded as transitions",
          "[server][store][history]") {
  EACH_STORE();
  auto store = db.Open();
  auto host = Enroll(*store, "a", "web-1");
  auto first = Delta("a", kNow);
  first.services.push_back(Service("nginx.service", "active"));
  first.checks.push_back({"site", true, kNow, "https://example.org", "x"});
  REQUIRE(store->Commit({{}, {first}}).ok());
  // Nothing changed yet: first sight is not a transition.
  CHECK(Events(*store, host.id, "service").empty());

  auto second = Delta("a", kNow + 1000);
  second.services.push_back(Service("nginx.service", "failed"));
  second.checks.push_back({"site", false, kNow + 1000, "https://example.org", "y"});
  REQUIRE(store->Commit({{}, {second}}).ok());
  auto services = Events(*store, host.id, "service");
  REQUIRE(services.size() == 1);
  CHECK(services[0].subject == "nginx.service");
  CHECK(services[0].old_value == "active");
  CHECK(services[0].new_value == "failed");
  CHECK(services[0].at_ms == kNow + 1000);
  auto checks = Events(*store, host.id, "check");
  REQUIRE(checks.size() == 1);
  CHECK(checks[0].old_value == "up");
  CHECK(checks[0].new_value == "down");

  // A full report without the unit records its removal.
  auto full = Delta("a", kNow + 2000);
  full.full = true;
  REQUIRE(store->Commit({{}, {full}}).ok());
  services = Events(*store, host.id, "service");
  REQUIRE(services.size() == 2);
  CHECK(services[0].new_value == "removed");  // newest first
}

TEST_CASE("a group commit applies a host's reports in order, a check's flip and flip back included",
          "[server][store][history]") {
  EACH_STORE();
  auto store = db.Open();
  auto flapping = Enroll(*store, "a", "web-1");
  auto steady = Enroll(*store, "b", "web-2");
  auto first = Delta("a", kNow);
  first.checks.push_back({"site", true, kNow, "https://example.org", "a-up"});
  auto other = Delta("b", kNow);
  other.checks.push_back({"site", true, kNow, "https://example.org", "b-up"});
  REQUIRE(store->Commit({{}, {first, other}}).ok());

  // One batch: host a goes down and comes back; host b repeats its state.
  auto down = Delta("a", kNow + 1000);
  down.checks.push_back({"site", false, kNow + 1000, "https://example.org", "a-down"});
  auto up = Delta("a", kNow + 2000);
  up.checks.push_back({"site", true, kNow + 2000, "https://example.org", "a-up-again"});
  auto repeat = Delta("b", kNow + 1000);
  repeat.checks.push_back({"site", true, kNow + 1000, "https://example.org", "b-up-again"});
  REQUIRE(store->Commit({{}, {down, repeat, up}}).ok());

  auto flips = Events(*store, flapping.id, "check");
  REQUIRE(flips.size() == 2);
  CHECK(flips[0].old_value == "down");  // newest first
  CHECK(flips[0].new_value == "up");
  CHECK(flips[1].old_value == "up");
  CHECK(flips[1].new_value == "down");
  auto a = store->GetHostDetail(flapping.id);
  REQUIRE(a.ok());
  REQUIRE(a->checks.size() == 1);
  CHECK(a->checks[0] == "a-up-again");

  CHECK(Events(*store, steady.id, "check").empty());
  auto b = store->GetHostDetail(steady.id);
  REQUIRE(b.ok());
  REQUIRE(b->checks.size() == 1);
  CHECK(b->checks[0] == "b-up-again");
}

TEST_CASE("an inventory change is recorded field by field, old to new, without the noise",
          "[server][store][history]") {
  EACH_STORE();
  auto store = db.Open();
  auto host = Enroll(*store, "a", "db-1");
  fleetdesk::v1::InventorySection memory;
  memory.mutable_memory()->set_total_bytes(64ULL << 30);
  fleetdesk::v1::InventorySection software;
  auto* pkg = software.mutable_software()->add_packages();
  pkg->set_name("openssl");
  pkg->set_version("3.0.11");
  software.mutable_software()->add_packages()->set_name("curl");
  fleetdesk::v1::InventorySection fs;
  auto* root = fs.mutable_filesystems()->add_filesystems();
  root->set_mount_point("/");
  root->set_used_bytes(100);
  auto first = Delta("a", kNow);
  first.inventory = {Section(memory, "memory"), Section(software, "software"),
                     Section(fs, "filesystems")};
  REQUIRE(store->Commit({{}, {first}}).ok());

  memory.mutable_memory()->set_total_bytes(32ULL << 30);
  pkg->set_version("3.0.13");
  software.mutable_software()->mutable_packages()->RemoveLast();  // curl goes
  software.mutable_software()->add_packages()->set_name("htop");  // htop comes
  root->set_used_bytes(200);  // usage moves all the time: not history
  auto second = Delta("a", kNow + 5000);
  second.inventory = {Section(memory, "memory"), Section(software, "software"),
                      Section(fs, "filesystems")};
  REQUIRE(store->Commit({{}, {second}}).ok());

  std::map<std::string, std::pair<std::string, std::string>> changes;
  for (const auto& e : Events(*store, host.id, "inventory")) {
    changes[e.subject] = {e.old_value, e.new_value};
  }
  CHECK(changes.size() == 4);
  CHECK(changes["memory.total_bytes"] ==
        std::pair<std::string, std::string>{"68719476736", "34359738368"});
  CHECK(changes["software.packages[openssl].version"] ==
        std::pair<std::string, std::string>{"3.0.11", "3.0.13"});
  CHECK(changes["software.packages[curl]"].second.empty());
  CHECK(changes["software.packages[htop]"].first.empty());
  CHECK(changes.count("filesystems.filesystems[/].used_bytes") == 0);

  HostQuery q;
  q.package = "htop";
  CHECK(Hostnames(*store->ListHosts(q)) == std::vector<std::string>{"db-1"});
  q.package = "curl";
  CHECK(store->ListHosts(q)->items.empty());
}

TEST_CASE("metrics are kept raw and as 5-minute rollups, and pruned by age",
          "[server][store][history]") {
  EACH_STORE();
  auto store = db.Open();
  auto host = Enroll(*store, "a", "app-1");
  const std::int64_t bucket = kNow - kNow % kRollupMs;
  for (int i = 0; i < 3; ++i) {
    fleetdesk::v1::Metrics m;
    m.set_cpu_percent(10.0 * (i + 1));  // 10, 20, 30
    m.set_memory_total_bytes(1000);
    m.set_memory_available_bytes(250);
    auto* fs = m.add_filesystems();
    fs->set_size_bytes(100);
    fs->set_used_bytes(90);
    auto d = Delta("a", bucket + i * 60'000);
    SetMetrics(d, m);
    REQUIRE(store->Commit({{}, {d}}).ok());
  }
  auto raw = store->MetricSeries(host.id, bucket, bucket + kRollupMs, MetricResolution::kRaw);
  REQUIRE(raw->size() == 3);
  CHECK((*raw)[1].cpu_percent == Approx(20));
  CHECK((*raw)[0].memory_percent == Approx(75));
  CHECK((*raw)[0].disk_percent == Approx(90));
  auto rolled =
      store->MetricSeries(host.id, bucket, bucket + kRollupMs, MetricResolution::kFiveMinutes);
  REQUIRE(rolled->size() == 1);
  CHECK((*rolled)[0].samples == 3);
  CHECK((*rolled)[0].cpu_percent == Approx(20));
  CHECK((*rolled)[0].cpu_percent_max == Approx(30));

  Retention keep;
  keep.raw_metrics_ms = 60'000;  // one minute of raw samples
  keep.rollup_metrics_ms = 3'600'000;
  auto pruned = store->Prune(keep, bucket + 2 * 60'000 + 30'000);
  REQUIRE(pruned.ok());
  CHECK(pruned->samples == 2);
  CHECK(pruned->rollups == 0);
  CHECK(store->MetricSeries(host.id, bucket, bucket + kRollupMs, MetricResolution::kRaw)->size() ==
        1);
  // The pruned samples live on in their rollup; the bucket's raw rest joins them when read.
  auto half =
      store->MetricSeries(host.id, bucket, bucket + kRollupMs, MetricResolution::kFiveMinutes);
  REQUIRE(half->size() == 1);
  CHECK((*half)[0].samples == 3);
  CHECK((*half)[0].cpu_percent == Approx(20));
  CHECK((*half)[0].cpu_percent_max == Approx(30));
  // With every raw sample gone, the stored rollup alone answers, the same.
  CHECK(store->Prune(keep, bucket + 30 * 60'000)->samples == 1);
  CHECK(store->MetricSeries(host.id, bucket, bucket + kRollupMs, MetricResolution::kRaw)->empty());
  auto stored =
      store->MetricSeries(host.id, bucket, bucket + kRollupMs, MetricResolution::kFiveMinutes);
  REQUIRE(stored->size() == 1);
  CHECK((*stored)[0].samples == 3);
  CHECK((*stored)[0].cpu_percent == Approx(20));
  CHECK((*stored)[0].cpu_percent_max == Approx(30));
  CHECK((*stored)[0].memory_percent == Approx(75));
  CHECK(store->Prune(keep, bucket + 2 * 3'600'000)->rollups == 1);
}

TEST_CASE("a silent host becomes unreachable and its next report brings it back",
          "[server][store][history]") {
  EACH_STORE();
  auto store = db.Open();
  auto quiet = Enroll(*store, "a", "quiet-1");
  auto busy = Enroll(*store, "b", "busy-1");
  busy.last_seen_ms = kNow + 100'000;
  busy.connected = true;
  REQUIRE(store->Commit({{busy}, {}}).ok());

  auto marked = store->MarkSilentHosts(kNow + 90'000, kNow + 100'000);
  REQUIRE(marked.ok());
  CHECK(*marked == std::vector<std::int64_t>{quiet.id});
  CHECK((*store->GetHostView(quiet.id))->StatusName() == "unreachable");
  CHECK(store->MarkSilentHosts(kNow + 90'000, kNow + 100'000)->empty());  // once only
  HostQuery q;
  q.status = "unreachable";
  CHECK(Hostnames(*store->ListHosts(q)) == std::vector<std::string>{"quiet-1"});

  // A closing channel is no sign of life; a report is.
  quiet.last_seen_ms = kNow + 110'000;
  quiet.connected = false;
  REQUIRE(store->Commit({{quiet}, {}}).ok());
  CHECK((*store->GetHostView(quiet.id))->unreachable_since_ms.has_value());
  quiet.connected = true;
  REQUIRE(store->Commit({{quiet}, {}}).ok());
  CHECK((*store->GetHostView(quiet.id))->StatusName() == "online");
  auto events = Events(*store, quiet.id, "reachability");
  REQUIRE(events.size() == 2);
  CHECK(events[0].new_value == "reachable");
  CHECK(events[1].new_value == "unreachable");
}

TEST_CASE("attributes are patched, each change recorded with who made it",
          "[server][store][attributes]") {
  EACH_STORE();
  auto store = db.Open();
  auto host = Enroll(*store, "a", "web-1");
  AttributePatch patch;
  patch.owner = "team-web";
  patch.criticality = "high";
  patch.tags = std::vector<std::string>{"prod", "eu", "prod"};
  auto view = store->PatchHost(host.id, patch, Alice(), kNow);
  REQUIRE(view.ok());
  CHECK(view->attributes.owner == "team-web");
  CHECK(view->attributes.criticality == "high");
  CHECK(view->attributes.tags == std::vector<std::string>{"eu", "prod"});
  auto events = Events(*store, host.id, "attribute");
  REQUIRE(events.size() == 3);
  for (const auto& e : events) CHECK(e.actor == "alice");

  // The same patch again changes nothing and records nothing.
  REQUIRE(store->PatchHost(host.id, patch, Alice(), kNow + 1).ok());
  CHECK(Events(*store, host.id, "attribute").size() == 3);

  // An enrolled host's name is its agent's to say; a bad criticality is refused; both whole.
  AttributePatch rename;
  rename.hostname = "other";
  rename.owner = "someone";
  auto refused = store->PatchHost(host.id, rename, Alice(), kNow);
  CHECK(refused.error().code == ErrorCode::kInvalidArgument);
  AttributePatch bad;
  bad.criticality = "extreme";
  CHECK(store->PatchHost(host.id, bad, Alice(), kNow).error().code == ErrorCode::kInvalidArgument);
  CHECK((*store->GetHostView(host.id))->attributes.owner == "team-web");
  CHECK(store->PatchHost(999, patch, Alice(), kNow).error().code == ErrorCode::kNotFound);
}

TEST_CASE("a pre-registered host is claimed by the agent that enrolls with its name or serial",
          "[server][store][attributes]") {
  EACH_STORE();
  auto store = db.Open();
  NewHost by_name{"Web-7", "", {}};
  by_name.attributes.owner = "team-web";
  auto pending = store->RegisterHost(by_name, Alice(), kNow);
  REQUIRE(pending.ok());
  CHECK(pending->StatusName() == "pending");
  NewHost by_serial{"placeholder", "SN-42", {}};
  by_serial.attributes.location = "rack 3";
  auto pending_serial = store->RegisterHost(by_serial, Alice(), kNow);
  REQUIRE(pending_serial.ok());
  CHECK(store->RegisterHost({"web-7", "", {}}, Alice(), kNow).error().code ==
        ErrorCode::kAlreadyExists);

  auto web = Enroll(*store, "a", "web-7");  // names compare without case
  CHECK(web.id == pending->record.id);
  auto db1 = Enroll(*store, "b", "db-1", "SN-42");
  CHECK(db1.id == pending_serial->record.id);
  auto claimed = *store->GetHostView(db1.id);
  CHECK(claimed->record.hostname == "db-1");
  CHECK(claimed->attributes.location == "rack 3");
  CHECK(claimed->StatusName() == "offline");
  auto lifecycle = Events(*store, db1.id, "lifecycle");
  REQUIRE(lifecycle.size() == 2);
  CHECK(lifecycle[0].new_value == "enrolled");
  CHECK(lifecycle[1].new_value == "registered");
}

TEST_CASE("an archived host leaves the lists, its agent is refused, and its history stays",
          "[server][store][attributes]") {
  EACH_STORE();
  auto store = db.Open();
  auto host = Enroll(*store, "a", "old-1");
  Enroll(*store, "b", "new-1");
  auto archived = store->ArchiveHost(host.id, Alice(), kNow + 1);
  REQUIRE(archived.ok());
  CHECK(archived->StatusName() == "archived");
  CHECK(archived->record.revoked);
  CHECK(store->ArchiveHost(host.id, Alice(), kNow + 2).error().code ==
        ErrorCode::kFailedPrecondition);
  CHECK(Hostnames(*store->ListHosts({})) == std::vector<std::string>{"new-1"});
  HostQuery q;
  q.status = "archived";
  CHECK(Hostnames(*store->ListHosts(q)) == std::vector<std::string>{"old-1"});
  CHECK(store->LoadHosts()->size() == 1);
  CHECK(Events(*store, host.id, "lifecycle").front().new_value == "archived");
  AttributePatch patch;
  patch.owner = "x";
  CHECK(store->PatchHost(host.id, patch, Alice(), kNow).error().code ==
        ErrorCode::kFailedPrecondition);
}

TEST_CASE("hosts are filtered by status, tag, environment, OS and text, sorted and paged",
          "[server][store][list]") {
  EACH_STORE();
  auto store = db.Open();
  std::vector<HostRecord> hosts;
  for (const char* name : {"web-2", "web-10", "db-1", "cache-1", "web-1"}) {
    hosts.push_back(Enroll(*store, std::string("agent-") + name, name));
  }
  for (std::size_t i = 0; i < hosts.size(); ++i) {
    AttributePatch p;
    p.environment = hosts[i].hostname.rfind("web", 0) == 0 ? "production" : "staging";
    p.tags = std::vector<std::string>{i % 2 == 0 ? "even" : "odd"};
    p.location = i == 3 ? "北京数据中心" : "Frankfurt";
    REQUIRE(store->PatchHost(hosts[i].id, p, Alice(), kNow).ok());
    hosts[i].os_name = i == 2 ? "rocky" : "debian";
    hosts[i].os_pretty_name = i == 2 ? "Rocky Linux 9" : "Debian GNU/Linux 12 (bookworm)";
    hosts[i].last_seen_ms = kNow + static_cast<std::int64_t>(i % 2);  // ties, broken by id
    hosts[i].connected = i != 4;
  }
  REQUIRE(store->Commit({hosts, {}}).ok());

  HostQuery q;
  q.sort = HostSort::kHostname;
  CHECK(Hostnames(*store->ListHosts(q)) ==
        std::vector<std::string>{"cache-1", "db-1", "web-1", "web-10", "web-2"});
  q.descending = true;
  q.limit = 2;
  auto page = store->ListHosts(q);
  CHECK(Hostnames(*page) == std::vector<std::string>{"web-2", "web-10"});
  q.after = page->next;
  page = store->ListHosts(q);
  CHECK(Hostnames(*page) == std::vector<std::string>{"web-1", "db-1"});
  q.after = page->next;
  page = store->ListHosts(q);
  CHECK(Hostnames(*page) == std::vector<std::string>{"cache-1"});
  CHECK_FALSE(page->next.has_value());

  HostQuery f;
  f.sort = HostSort::kHostname;
  f.environment = "production";
  f.tag = "even";
  CHECK(Hostnames(*store->ListHosts(f)) == std::vector<std::string>{"web-1", "web-2"});
  HostQuery os;
  os.os = "rocky";
  CHECK(Hostnames(*store->ListHosts(os)) == std::vector<std::string>{"db-1"});
  os.os = "BOOKWORM";
  CHECK(store->ListHosts(os)->items.size() == 4);
  HostQuery offline;
  offline.status = "offline";
  CHECK(Hostnames(*store->ListHosts(offline)) == std::vector<std::string>{"web-1"});
  HostQuery text;
  text.text = "北京";
  CHECK(Hostnames(*store->ListHosts(text)) == std::vector<std::string>{"cache-1"});
  text.text = "frankf";
  CHECK(store->ListHosts(text)->items.size() == 4);
  HostQuery seen;
  seen.sort = HostSort::kLastSeen;
  seen.descending = true;
  seen.limit = 2;
  page = store->ListHosts(seen);
  CHECK(Hostnames(*page) == std::vector<std::string>{"cache-1", "web-10"});
  seen.after = page->next;
  page = store->ListHosts(seen);
  CHECK(Hostnames(*page) == std::vector<std::string>{"web-1", "db-1"});
  seen.after = page->next;
  CHECK(Hostnames(*store->ListHosts(seen)) == std::vector<std::string>{"web-2"});
  seen.status = "online";
  seen.after.reset();
  seen.descending = false;
  CHECK(Hostnames(*store->ListHosts(seen)) == std::vector<std::string>{"web-2", "db-1"});
}

TEST_CASE("search finds hosts, services, checks and packages by prefix and substring, Chinese too",
          "[server][store][search]") {
  EACH_STORE();
  auto store = db.Open();
  auto web = Enroll(*store, "a", "web-01", "SRV-7731");
  auto db1 = Enroll(*store, "b", "db-01");
  AttributePatch p;
  p.location = "上海机房 B2";
  p.notes = "payment gateway";
  REQUIRE(store->PatchHost(db1.id, p, Alice(), kNow).ok());
  fleetdesk::v1::InventorySection net;
  auto* eth = net.mutable_network()->add_interfaces();
  eth->set_name("eth0");
  eth->set_mac("52:54:00:ab:cd:ef");
  eth->add_addresses("10.20.30.40/24");
  fleetdesk::v1::InventorySection software;
  software.mutable_software()->add_packages()->set_name("nginx-common");
  for (const char* agent : {"a", "b"}) {
    auto d = Delta(agent, kNow);
    d.inventory = {Section(net, "network"), Section(software, "software")};
    d.services.push_back(Service("nginx.service", "active"));
    d.checks.push_back({"web-frontend", true, kNow, "https://shop.example", "x"});
    REQUIRE(store->Commit({{}, {d}}).ok());
  }
  auto hits = [&](const std::string& text) {
    auto found = store->Search(text, 20);
    REQUIRE(found.ok());
    return *found;
  };
  // Exact names come first, then prefixes, then the rest.
  auto nginx = hits("nginx");
  REQUIRE(nginx.size() >= 2);
  CHECK(nginx[0].kind == "service");
  CHECK(nginx[0].title == "nginx.service");
  CHECK(nginx[0].host_count == 2);
  CHECK(nginx[1].kind == "package");
  CHECK(nginx[1].host_count == 2);
  auto serial = hits("7731");
  REQUIRE(serial.size() == 1);
  CHECK(serial[0].kind == "host");
  CHECK(serial[0].ref == std::to_string(web.id));
  CHECK(hits("ab:cd").size() == 2);  // a MAC, in the middle
  CHECK(hits("10.20.30").size() == 2);
  auto chinese = hits("上海");  // two characters: shorter than a trigram
  REQUIRE(chinese.size() == 1);
  CHECK(chinese[0].title == "db-01");
  CHECK(hits("上海机房").size() == 1);
  CHECK(hits("PAYMENT").size() == 1);
  // Case is ignored on both sides, in short queries too.
  CHECK(hits("srv-7731").size() == 1);
  auto short_upper = hits("DB");
  REQUIRE_FALSE(short_upper.empty());
  CHECK(short_upper[0].title == "db-01");
  auto check = hits("frontend");
  REQUIRE(check.size() == 1);
  CHECK(check[0].kind == "check");
  CHECK(hits("web-0")[0].kind == "host");
  CHECK(hits("no such thing").empty());
  CHECK(hits("100%").empty());  // wildcards are text
}

TEST_CASE("an import is all or nothing and names the line at fault", "[server][store][import]") {
  EACH_STORE();
  auto store = db.Open();
  auto web = Enroll(*store, "a", "web-1");
  std::vector<ImportRow> rows(3);
  rows[0].line = 2;
  rows[0].hostname = "web-1";
  rows[0].patch.owner = "team-web";
  rows[1].line = 3;
  rows[1].hostname = "new-1";
  rows[1].patch.hostname = "new-1";
  rows[1].patch.environment = "lab";
  rows[2].line = 4;
  rows[2].id = 999;
  rows[2].patch.owner = "nobody";
  auto failed = store->ImportHosts(rows, Alice(), kNow);
  REQUIRE_FALSE(failed.ok());
  CHECK_THAT(failed.error().message, Catch::StartsWith("line 4:"));
  CHECK((*store->GetHostView(web.id))->attributes.owner.empty());
  CHECK(store->ListHosts({})->items.size() == 1);

  rows.pop_back();
  auto done = store->ImportHosts(rows, Alice(), kNow);
  REQUIRE(done.ok());
  CHECK(done->created == 1);
  CHECK(done->updated == 1);
  CHECK((*store->GetHostView(web.id))->attributes.owner == "team-web");
  HostQuery pending;
  pending.status = "pending";
  auto created = store->ListHosts(pending);
  REQUIRE(created->items.size() == 1);
  CHECK(created->items[0].attributes.environment == "lab");
  // Importing the same file again changes nothing.
  auto again = store->ImportHosts(rows, Alice(), kNow + 1);
  CHECK(again->unchanged == 2);
}

TEST_CASE("one server at a time holds the jobs' lock, and it passes on when the holder goes",
          "[server][store][leader]") {
  EACH_STORE();
  auto first = db.Open();
  auto second = db.Open();
  CHECK(*first->TryLeadership());
  CHECK(*first->TryLeadership());  // asking again keeps it
  if (backend == "sqlite") {
    CHECK(*second->TryLeadership());  // one server owns a SQLite file
    return;
  }
  CHECK_FALSE(*second->TryLeadership());
  first.reset();  // the holder's connection closes, as when its process dies
  // Its backend lets go as it exits, a moment after the socket closes.
  bool taken = false;
  for (int i = 0; i < 100 && !taken; ++i) {
    taken = *second->TryLeadership();
    if (!taken) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(taken);
}
