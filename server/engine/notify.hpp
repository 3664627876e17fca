// Notifications: a webhook (JSON, signed with an HMAC header) or an e-mail (SMTP) when an
// incident opens, reopens, breaches an SLA target (escalated) or is resolved, routed by the
// [[notifications.routes]] of the server config. What is to be sent goes to the store's outbox
// right after the change; every server runs a Notifier that delivers what is due, retrying with
// backoff, through libcurl.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/result.hpp"
#include "server/engine/metrics.hpp"
#include "server/store/store.hpp"

namespace fleetdesk::config {
class ConfigReader;
}

namespace fleetdesk::server::engine::notify {

inline constexpr const char* kEvents[] = {"opened", "reopened", "escalated", "resolved"};

// Who hears of what: incidents of these events, categories and priorities, by webhook, by e-mail
// or both.
struct Route {
  std::string name;
  std::vector<std::string> events;      // empty: every event
  std::vector<std::string> categories;  // empty: any category
  int max_priority = 5;                 // P1 up to this one
  std::string webhook;                  // an http(s) URL
  std::string secret;                   // signs the webhook's body (X-Fleetdesk-Signature)
  std::string ca_file;                  // a webhook on a private CA: its certificate (PEM)
  std::vector<std::string> email;       // addresses
};

struct Smtp {
  std::string host;
  int port = 25;
  std::string tls = "starttls";  // none, starttls (required), or tls (SMTPS)
  std::string from;
  std::string username;
  std::string password;
  std::string ca_file;
};

struct NotifyOptions {
  std::vector<Route> routes;
  Smtp smtp;
  std::string dashboard_url;  // links in messages, e.g. https://fleetdesk.example:8443
  int max_attempts = 10;  // then it is given up: first_retry doubling to 1 h between, ~5 h in all
  std::chrono::milliseconds first_retry{30'000};
  std::chrono::milliseconds poll{2'000};
};

// Reads [notifications] (dashboard_url, max_attempts), [notifications.smtp] and
// [[notifications.routes]]; errors name the route and key.
Result<NotifyOptions> ReadNotifyOptions(config::ConfigReader& reader);

// The notifications `event` on `ticket` makes under the routes, one per route and channel.
std::vector<store::NotificationRecord> Compose(const NotifyOptions& options,
                                               const std::string& event,
                                               const store::TicketRecord& ticket,
                                               std::int64_t now_ms);

// What a store connection writes in a change's own transaction (Store::SetOutbox): Compose under
// `options`, for incidents only.
store::Outbox MakeOutbox(NotifyOptions options);

// Delivers due notifications from the outbox on a thread of its own. Every server runs one;
// the store's lease keeps two from sending the same message.
class Notifier {
 public:
  Notifier(std::unique_ptr<store::Store> store, NotifyOptions options, ServerMetrics& metrics);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  void Start();
  void Stop();
  // Something was queued: look now rather than at the next poll.
  void Wake();

  // One delivery attempt, for tests of a receiver: empty when it was taken, else why not.
  static std::string Deliver(const NotifyOptions& options,
                             const store::NotificationRecord& notification);

 private:
  void Run();
  // Delivers what is due; answers whether there was anything.
  bool DeliverDue();

  std::unique_ptr<store::Store> store_;
  NotifyOptions options_;
  ServerMetrics& metrics_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace fleetdesk::server::engine::notify
