// Notifications: routing, the outbox's leases on both stores, and delivery to a real webhook
// receiver and a real SMTP server (python3's http.server and aiosmtpd), retries included.
#include "server/engine/notify.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "common/codec.hpp"
#include "common/config.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/tickets.pb.h"
#include "server/engine/clock.hpp"
#include "tests/support/process.hpp"
#include "tests/support/test_database.hpp"
#include "tests/support/wait.hpp"

using namespace fleetdesk::server;
using engine::notify::NotifyOptions;
using engine::notify::Route;
using fleetdesk::testing::FreePort;
using fleetdesk::testing::Process;

namespace {

store::TicketRecord Incident(store::Store& s, const std::string& title) {
  (void)s.CreateEnrollmentToken({"t", NowMs(), NowMs() + 3'600'000, std::nullopt, "test"}, {});
  auto host =
      s.EnrollAgent("t", store::NewAgent{"a-" + title, "m-" + title, "db-1", "", "01", 0, NowMs()});
  REQUIRE(host.ok());
  store::IncidentSignal signal;
  signal.host_id = host->id;
  signal.kind = "service";
  signal.subject = "postgresql.service";
  signal.title = title;
  signal.category = "database";
  signal.urgency = "critical";
  signal.at_ms = NowMs();
  auto raised = s.RaiseIncident(signal, store::DefaultSlaTargets());
  REQUIRE(raised.ok());
  return **s.GetTicket(raised->ticket_id);
}

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// A webhook receiver (tests/support/webhook_sink.py) on a free port that refuses the first
// `fail` calls (-1: all); `received` holds a JSON line per call.
struct Sink {
  explicit Sink(const fleetdesk::testing::TestDatabase& db, int fail)
      : port(FreePort()),
        received(db.url() + ".hooks"),
        process(
            {"/usr/bin/python3", std::string(FLEETDESK_TEST_FIXTURES) + "/support/webhook_sink.py",
             std::to_string(port), received, std::to_string(fail)},
            db.url() + ".sink.log") {
    REQUIRE(process.WaitForLog("listening", std::chrono::seconds(10)));
  }
  std::string Url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port) + path;
  }
  int port;
  std::string received;
  Process process;
};

fleetdesk::Result<NotifyOptions> Read(const std::string& toml) {
  auto reader = fleetdesk::config::ConfigReader::Parse(toml, "server.toml");
  REQUIRE(reader.ok());
  auto options = engine::notify::ReadNotifyOptions(*reader);
  if (!options) return options.error();
  if (auto finished = reader->Finish(); !finished) return finished.error();
  return options;
}

}  // namespace

TEST_CASE("routes pick notifications by event, category and priority", "[server][notify]") {
  auto options = Read(R"(
[notifications]
dashboard_url = "https://fleetdesk.example:8443/"
[notifications.smtp]
host = "mail.example"
from = "fleetdesk@example.com"
[[notifications.routes]]
name = "dba"
categories = ["database"]
max_priority = 2
email = ["dba@example.com", "oncall@example.com"]
[[notifications.routes]]
name = "chat"
events = ["opened"]
webhook = "https://chat.example/hook"
secret = "s3cret"
)");
  REQUIRE(options.ok());
  store::TicketRecord t;
  t.id = 42;
  t.kind = "incident";
  t.title = "postgresql.service failed on db-1";
  t.category = "database";
  t.priority = 1;
  auto opened = engine::notify::Compose(*options, "opened", t, NowMs());
  REQUIRE(opened.size() == 2);
  CHECK(opened[0].channel == "email");
  CHECK(opened[0].target == "dba@example.com,oncall@example.com");
  CHECK(opened[0].subject == "[fleetdesk] P1 opened: postgresql.service failed on db-1 (#42)");
  CHECK_THAT(opened[0].body, Catch::Contains("https://fleetdesk.example:8443/tickets/42"));
  CHECK(opened[1].channel == "webhook");
  auto body = fleetdesk::codec::Parse<fleetdesk::v1::Notification>(opened[1].body);
  REQUIRE(body.ok());
  CHECK(body->event() == "opened");
  CHECK(body->ticket().id() == 42);
  CHECK(engine::notify::Compose(*options, "resolved", t, NowMs()).size() == 1);  // the e-mail
  t.priority = 3;
  CHECK(engine::notify::Compose(*options, "resolved", t, NowMs()).empty());

  for (const char* bad :
       {"[[notifications.routes]]\nname = \"x\"\n",
        "[[notifications.routes]]\nevents = [\"exploded\"]\nwebhook = \"https://x\"\n",
        "[[notifications.routes]]\nwebhook = \"ftp://x\"\n",
        "[[notifications.routes]]\nemail = [\"oncall@example.com\"]\n",  // no SMTP server
        "[notifications.smtp]\ntls = \"maybe\"\n"}) {
    CAPTURE(bad);
    auto refused = Read(bad);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("notifications"));
  }
}

TEST_CASE("a notification is leased to one sender and due again if it never says how it went",
          "[server][store][notify]") {
  EACH_STORE();
  auto one = db.Open();
  auto two = db.Open();
  auto t = Incident(*one, "disk gone");
  store::NotificationRecord n;
  n.ticket_id = t.id;
  n.event = "opened";
  n.route = "chat";
  n.channel = "webhook";
  n.target = "https://chat.example/hook";
  n.body = "{}";
  n.created_ms = 1000;
  n.next_ms = 1000;
  REQUIRE(one->EnqueueNotifications({n}).ok());
  auto claimed = one->ClaimNotification(2000, 60'000);
  REQUIRE(claimed.ok());
  REQUIRE(claimed->has_value());
  CHECK((*claimed)->attempts == 1);
  CHECK_FALSE(two->ClaimNotification(3000, 60'000)->has_value());  // leased
  auto again = two->ClaimNotification(62'001, 60'000);             // the lease ran out
  REQUIRE(again->has_value());
  CHECK((*again)->attempts == 2);
  REQUIRE(two->FinishNotification((*again)->id, false, 62'100, "HTTP 500", 70'000).ok());
  CHECK_FALSE(one->ClaimNotification(69'999, 60'000)->has_value());
  auto third = one->ClaimNotification(70'000, 60'000);
  REQUIRE(third->has_value());
  REQUIRE(one->FinishNotification((*third)->id, true, 70'100, "", std::nullopt).ok());
  CHECK_FALSE(one->ClaimNotification(999'999'999, 60'000)->has_value());
  auto listed = *one->ListNotifications(t.id);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].delivered_ms == 70'100);
  CHECK(listed[0].attempts == 3);
}

TEST_CASE("a webhook is posted signed, and retried until the receiver takes it",
          "[server][notify]") {
  fleetdesk::testing::TestDatabase db("sqlite");
  auto s = db.Open();
  Sink sink(db, 1);
  const std::string& received = sink.received;
  NotifyOptions options;
  options.routes.push_back(Route{"chat", {}, {}, 5, sink.Url("/hook"), "s3cret", "", {}});
  options.first_retry = std::chrono::milliseconds(100);
  options.poll = std::chrono::milliseconds(50);
  ServerMetrics metrics;
  engine::notify::Notifier notifier(db.Open(), options, metrics);
  notifier.Start();
  auto t = Incident(*s, "postgresql.service failed on db-1");
  REQUIRE(s->EnqueueNotifications(engine::notify::Compose(options, "opened", t, NowMs())).ok());
  notifier.Wake();
  REQUIRE(fleetdesk::testing::WaitFor([&] { return Lines(received).size() >= 2; },
                                      std::chrono::seconds(10)));
  REQUIRE(fleetdesk::testing::WaitFor([&] { return metrics.notifications_sent_total.load() == 1; },
                                      std::chrono::seconds(5)));
  notifier.Stop();
  auto lines = Lines(received);
  REQUIRE(lines.size() == 2);  // refused once, taken the second time
  CHECK_THAT(lines[0], Catch::Contains("\"status\": 500"));
  CHECK_THAT(lines[1], Catch::Contains("\"status\": 204"));
  // The receiver checks the signature over the body it got.
  auto notification = (*s->ListNotifications(t.id))[0];
  CHECK(notification.attempts == 2);
  CHECK(notification.delivered_ms.has_value());
  const std::string signature =
      "sha256=" + fleetdesk::crypto::HmacSha256Hex("s3cret", notification.body);
  CHECK_THAT(lines[1], Catch::Contains("\"X-Fleetdesk-Signature\": \"" + signature + "\""));
  CHECK_THAT(lines[1], Catch::Contains("\"X-Fleetdesk-Event\": \"opened\""));
  CHECK(metrics.notification_failures_total == 1);
}

TEST_CASE("a webhook that never answers well is given up after its last attempt",
          "[server][notify]") {
  fleetdesk::testing::TestDatabase db("sqlite");
  auto s = db.Open();
  Sink sink(db, -1);
  const std::string& received = sink.received;
  NotifyOptions options;
  options.routes.push_back(Route{"chat", {}, {}, 5, sink.Url("/"), "", "", {}});
  options.first_retry = std::chrono::milliseconds(50);
  options.poll = std::chrono::milliseconds(20);
  options.max_attempts = 3;
  ServerMetrics metrics;
  engine::notify::Notifier notifier(db.Open(), options, metrics);
  notifier.Start();
  auto t = Incident(*s, "nginx.service failed");
  REQUIRE(s->EnqueueNotifications(engine::notify::Compose(options, "opened", t, NowMs())).ok());
  REQUIRE(fleetdesk::testing::WaitFor(
      [&] { return metrics.notifications_given_up_total.load() == 1; }, std::chrono::seconds(10)));
  notifier.Stop();
  auto n = (*s->ListNotifications(t.id))[0];
  CHECK(n.failed_ms.has_value());
  CHECK(n.attempts == 3);
  CHECK(n.last_error == "the webhook answered HTTP 500");
  CHECK(Lines(received).size() == 3);
}

TEST_CASE("an e-mail goes out over SMTP with the incident's subject and text", "[server][notify]") {
  fleetdesk::testing::TestDatabase db("sqlite");
  auto s = db.Open();
  const int port = FreePort();
  const std::string maildir = db.url() + ".mail";
  Process smtp({"/usr/bin/python3", "-m", "aiosmtpd", "-n", "-l",
                "127.0.0.1:" + std::to_string(port), "-c", "aiosmtpd.handlers.Mailbox", maildir},
               db.url() + ".smtp.log");
  // aiosmtpd says nothing when it is up: wait until it accepts.
  REQUIRE(fleetdesk::testing::WaitFor(
      [&] {
        return fleetdesk::testing::Run({"/usr/bin/python3", "-c",
                                        "import socket; socket.create_connection(('127.0.0.1', " +
                                            std::to_string(port) + "), 1)"})
                   .exit_code == 0;
      },
      std::chrono::seconds(10)));
  NotifyOptions options;
  options.smtp.host = "127.0.0.1";
  options.smtp.port = port;
  options.smtp.tls = "none";
  options.smtp.from = "fleetdesk@example.com";
  options.routes.push_back(Route{"dba", {}, {}, 5, "", "", "", {"dba@example.com"}});
  auto t = Incident(*s, "数据库连接失败 on db-1");
  auto composed = engine::notify::Compose(options, "opened", t, NowMs());
  REQUIRE(composed.size() == 1);
  composed[0].id = 7;
  CHECK(engine::notify::Notifier::Deliver(options, composed[0]).empty());
  std::vector<std::filesystem::path> mails;
  REQUIRE(fleetdesk::testing::WaitFor(
      [&] {
        mails.clear();
        if (!std::filesystem::exists(maildir + "/new")) return false;
        for (const auto& f : std::filesystem::directory_iterator(maildir + "/new")) {
          mails.push_back(f.path());
        }
        return mails.size() == 1;
      },
      std::chrono::seconds(10)));
  std::ifstream in(mails[0]);
  const std::string mail((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK_THAT(mail, Catch::Contains("To: dba@example.com"));
  CHECK_THAT(mail, Catch::Contains("Subject: =?UTF-8?B?"));  // the Chinese title, encoded
  CHECK_THAT(mail, Catch::Contains("Incident #" + std::to_string(t.id) +
                                   " opened: 数据库连接失败 on db-1"));
  CHECK_THAT(mail, Catch::Contains("Priority: P2 (impact medium, urgency critical)"));
  // Nobody listening: the reason comes back, for the retry.
  options.smtp.port = FreePort();
  CHECK_FALSE(engine::notify::Notifier::Deliver(options, composed[0]).empty());
}
