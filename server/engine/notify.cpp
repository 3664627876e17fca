#include "server/engine/notify.hpp"

#include <curl/curl.h>
#include <google/protobuf/util/time_util.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <ctime>
#include <mutex>

#include "common/codec.hpp"
#include "common/config.hpp"
#include "common/crypto.hpp"
#include "common/time_text.hpp"
#include "common/version.hpp"
#include "server/engine/clock.hpp"
#include "server/engine/ticket_proto.hpp"

namespace fleetdesk::server::engine::notify {
namespace {

constexpr std::int64_t kLeaseMs = 120'000;
constexpr std::int64_t kLongestRetryMs = 3'600'000;
constexpr long kTimeoutSeconds = 20;

bool Contains(const std::vector<std::string>& list, const std::string& value) {
  return list.empty() || std::find(list.begin(), list.end(), value) != list.end();
}

std::string TicketUrl(const NotifyOptions& options, std::int64_t id) {
  if (options.dashboard_url.empty()) return "";
  std::string base = options.dashboard_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/tickets/" + std::to_string(id);
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const auto& item : items) out += (out.empty() ? "" : separator) + item;
  return out;
}

// A header value with non-ASCII characters, as RFC 2047 asks: =?UTF-8?B?...?=.
std::string MimeWord(const std::string& text) {
  if (std::all_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x80 && c >= 0x20; })) {
    return text;
  }
  static constexpr char kBase64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string encoded;
  for (std::size_t i = 0; i < text.size(); i += 3) {
    unsigned n = static_cast<unsigned char>(text[i]) << 16U;
    if (i + 1 < text.size()) n |= static_cast<unsigned char>(text[i + 1]) << 8U;
    if (i + 2 < text.size()) n |= static_cast<unsigned char>(text[i + 2]);
    encoded += kBase64[(n >> 18U) & 63U];
    encoded += kBase64[(n >> 12U) & 63U];
    encoded += i + 1 < text.size() ? kBase64[(n >> 6U) & 63U] : '=';
    encoded += i + 2 < text.size() ? kBase64[n & 63U] : '=';
  }
  return "=?UTF-8?B?" + encoded + "?=";
}

std::string EmailText(const NotifyOptions& options, const std::string& event,
                      const store::TicketRecord& t) {
  std::string text = "Incident #" + std::to_string(t.id) + " " + event + ": " + t.title + "\n\n";
  text += "Priority: P" + std::to_string(t.priority) + " (impact " + t.impact + ", urgency " +
          t.urgency + ")\n";
  text += "Host:     " + (t.hostname.empty() ? std::string("-") : t.hostname) + "\n";
  text += "Category: " + (t.category.empty() ? std::string("-") : t.category) + "\n";
  text += "State:    " + t.state + "\n";
  text += "Group:    " + (t.group.empty() ? std::string("-") : t.group) + "\n";
  text += "Assignee: " + (t.assignee.empty() ? std::string("-") : t.assignee) + "\n";
  text += "Seen:     " + std::to_string(t.occurrences) + " time(s), last at " +
          UtcSecondsText(t.last_seen_ms / 1000) + "\n";
  if (t.resolution_breached_ms || t.response_breached_ms) {
    text += "SLA:      breached (" +
            std::string(t.response_breached_ms ? "first response" : "resolution") + ")\n";
  }
  if (auto url = TicketUrl(options, t.id); !url.empty()) text += "Link:     " + url + "\n";
  if (!t.description.empty()) text += "\n" + t.description + "\n";
  return text;
}

void CurlInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct Easy {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  char error[CURL_ERROR_SIZE] = {};
  ~Easy() {
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
  }
  void Header(const std::string& line) { headers = curl_slist_append(headers, line.c_str()); }
  // Empty when it went through; else what went wrong.
  std::string Perform() {
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, kTimeoutSeconds);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, 10L);
    if (headers != nullptr) curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    const CURLcode code = curl_easy_perform(curl);
    if (code != CURLE_OK) return error[0] != 0 ? error : curl_easy_strerror(code);
    return {};
  }
};

std::size_t Discard(char*, std::size_t size, std::size_t count, void*) { return size * count; }

struct Upload {
  const std::string& data;
  std::size_t at = 0;
};

std::size_t ReadUpload(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* upload = static_cast<Upload*>(user);
  const std::size_t n = std::min(size * count, upload->data.size() - upload->at);
  std::copy_n(upload->data.data() + upload->at, n, buffer);
  upload->at += n;
  return n;
}

std::string PostWebhook(const Route& route, const store::NotificationRecord& n) {
  Easy easy;
  if (easy.curl == nullptr) return "curl_easy_init failed";
  curl_easy_setopt(easy.curl, CURLOPT_URL, n.target.c_str());
  curl_easy_setopt(easy.curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy.curl, CURLOPT_POST, 1L);
  curl_easy_setopt(easy.curl, CURLOPT_POSTFIELDS, n.body.c_str());
  curl_easy_setopt(easy.curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(n.body.size()));
  curl_easy_setopt(easy.curl, CURLOPT_WRITEFUNCTION, Discard);
  if (!route.ca_file.empty()) curl_easy_setopt(easy.curl, CURLOPT_CAINFO, route.ca_file.c_str());
  easy.Header("Content-Type: application/json");
  easy.Header(std::string("User-Agent: fleetdesk-server/") + kVersion);
  easy.Header("X-Fleetdesk-Event: " + n.event);
  easy.Header("X-Fleetdesk-Delivery: " + std::to_string(n.id));
  if (!route.secret.empty()) {
    easy.Header("X-Fleetdesk-Signature: sha256=" + crypto::HmacSha256Hex(route.secret, n.body));
  }
  if (auto error = easy.Perform(); !error.empty()) return error;
  long status = 0;
  curl_easy_getinfo(easy.curl, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return "the webhook answered HTTP " + std::to_string(status);
  return {};
}

std::string SendMail(const Smtp& smtp, const store::NotificationRecord& n) {
  if (smtp.host.empty()) return "no [notifications.smtp] host is set";
  Easy easy;
  if (easy.curl == nullptr) return "curl_easy_init failed";
  const std::string url = std::string(smtp.tls == "tls" ? "smtps://" : "smtp://") + smtp.host +
                          ":" + std::to_string(smtp.port);
  curl_easy_setopt(easy.curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(easy.curl, CURLOPT_USE_SSL,
                   smtp.tls == "none" ? CURLUSESSL_NONE : CURLUSESSL_ALL);
  if (!smtp.ca_file.empty()) curl_easy_setopt(easy.curl, CURLOPT_CAINFO, smtp.ca_file.c_str());
  if (!smtp.username.empty()) {
    curl_easy_setopt(easy.curl, CURLOPT_USERNAME, smtp.username.c_str());
    curl_easy_setopt(easy.curl, CURLOPT_PASSWORD, smtp.password.c_str());
  }
  const std::string from = "<" + smtp.from + ">";
  curl_easy_setopt(easy.curl, CURLOPT_MAIL_FROM, from.c_str());
  curl_slist* recipients = nullptr;
  std::vector<std::string> to;
  for (std::size_t start = 0; start <= n.target.size();) {
    auto end = std::min(n.target.find(',', start), n.target.size());
    if (end > start) to.push_back(n.target.substr(start, end - start));
    start = end + 1;
  }
  for (const auto& address : to) {
    recipients = curl_slist_append(recipients, ("<" + address + ">").c_str());
  }
  curl_easy_setopt(easy.curl, CURLOPT_MAIL_RCPT, recipients);
  char date[64];
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string message = std::string("Date: ") + date + "\r\nFrom: fleetdesk <" + smtp.from +
                        ">\r\nTo: " + Join(to, ", ") + "\r\nSubject: " + MimeWord(n.subject) +
                        "\r\nMessage-ID: <fleetdesk-" + std::to_string(n.id) + "-" +
                        std::to_string(n.created_ms) + "@" + smtp.host +
                        ">\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                        "Content-Transfer-Encoding: 8bit\r\nX-Fleetdesk-Event: " +
                        n.event + "\r\n\r\n";
  // Lines end in CRLF, whatever the text had: SMTP allows no bare CR or LF.
  for (std::size_t i = 0; i < n.body.size(); ++i) {
    const char c = n.body[i];
    if (c == '\r' && i + 1 < n.body.size() && n.body[i + 1] == '\n') continue;
    message += c == '\n' || c == '\r' ? std::string("\r\n") : std::string(1, c);
  }
  Upload upload{message};
  curl_easy_setopt(easy.curl, CURLOPT_READFUNCTION, ReadUpload);
  curl_easy_setopt(easy.curl, CURLOPT_READDATA, &upload);
  curl_easy_setopt(easy.curl, CURLOPT_UPLOAD, 1L);
  auto error = easy.Perform();
  curl_slist_free_all(recipients);
  return error;
}

}  // namespace

Result<NotifyOptions> ReadNotifyOptions(config::ConfigReader& r) {
  NotifyOptions out;
  std::int64_t attempts = out.max_attempts;
  r.String("notifications.dashboard_url", &out.dashboard_url);
  r.Int("notifications.max_attempts", 1, 100, &attempts);
  out.max_attempts = static_cast<int>(attempts);
  std::int64_t port = out.smtp.port;
  r.String("notifications.smtp.host", &out.smtp.host);
  r.Int("notifications.smtp.port", 1, 65535, &port);
  out.smtp.port = static_cast<int>(port);
  r.String("notifications.smtp.tls", &out.smtp.tls);
  r.String("notifications.smtp.from", &out.smtp.from);
  r.String("notifications.smtp.username", &out.smtp.username);
  r.String("notifications.smtp.password", &out.smtp.password);
  r.String("notifications.smtp.ca_file", &out.smtp.ca_file);
  if (out.smtp.tls != "none" && out.smtp.tls != "starttls" && out.smtp.tls != "tls") {
    return MakeError(
        ErrorCode::kInvalidArgument,
        "notifications.smtp.tls must be none, starttls or tls, not '" + out.smtp.tls + "'");
  }
  bool mail = false;
  const std::size_t count = r.TableCount("notifications.routes");
  for (std::size_t i = 0; i < count; ++i) {
    const std::string at = "notifications.routes[" + std::to_string(i) + "].";
    const std::string which = "notifications.routes[" + std::to_string(i) + "]";
    Route route;
    std::int64_t max_priority = 5;
    r.String(at + "name", &route.name);
    r.StringList(at + "events", &route.events);
    r.StringList(at + "categories", &route.categories);
    r.Int(at + "max_priority", 1, 5, &max_priority);
    r.String(at + "webhook", &route.webhook);
    r.String(at + "secret", &route.secret);
    r.String(at + "ca_file", &route.ca_file);
    r.StringList(at + "email", &route.email);
    route.max_priority = static_cast<int>(max_priority);
    if (route.name.empty()) route.name = "route " + std::to_string(i + 1);
    for (const auto& event : route.events) {
      if (std::find(std::begin(kEvents), std::end(kEvents), event) == std::end(kEvents)) {
        return MakeError(
            ErrorCode::kInvalidArgument,
            which + ".events: '" + event + "' is none of opened, reopened, escalated, resolved");
      }
    }
    if (route.webhook.empty() && route.email.empty()) {
      return MakeError(ErrorCode::kInvalidArgument, which + " needs a webhook, an email or both");
    }
    if (!route.webhook.empty() && route.webhook.rfind("https://", 0) != 0 &&
        route.webhook.rfind("http://", 0) != 0) {
      return MakeError(ErrorCode::kInvalidArgument,
                       which + ".webhook must be an http:// or https:// URL");
    }
    for (const auto& address : route.email) {
      if (address.find('@') == std::string::npos ||
          address.find_first_of(" ,<>\r\n") != std::string::npos) {
        return MakeError(ErrorCode::kInvalidArgument,
                         which + ".email: '" + address + "' is not an e-mail address");
      }
    }
    mail = mail || !route.email.empty();
    out.routes.push_back(std::move(route));
  }
  if (mail && (out.smtp.host.empty() || out.smtp.from.empty())) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "routes send e-mail: notifications.smtp needs host and from");
  }
  return out;
}

std::vector<store::NotificationRecord> Compose(const NotifyOptions& options,
                                               const std::string& event,
                                               const store::TicketRecord& ticket,
                                               std::int64_t now_ms) {
  std::vector<store::NotificationRecord> out;
  for (const auto& route : options.routes) {
    if (!Contains(route.events, event) || !Contains(route.categories, ticket.category) ||
        ticket.priority > route.max_priority) {
      continue;
    }
    store::NotificationRecord n;
    n.ticket_id = ticket.id;
    n.event = event;
    n.route = route.name;
    n.created_ms = now_ms;
    n.next_ms = now_ms;
    if (!route.webhook.empty()) {
      fleetdesk::v1::Notification body;
      body.set_event(event);
      *body.mutable_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now_ms);
      body.set_url(TicketUrl(options, ticket.id));
      *body.mutable_ticket() = TicketProto(ticket);
      n.channel = "webhook";
      n.target = route.webhook;
      n.body = codec::ToJson(body);
      out.push_back(n);
    }
    if (!route.email.empty()) {
      n.channel = "email";
      n.target = Join(route.email, ",");
      n.subject = "[fleetdesk] P" + std::to_string(ticket.priority) + " " + event + ": " +
                  ticket.title + " (#" + std::to_string(ticket.id) + ")";
      n.body = EmailText(options, event, ticket);
      out.push_back(n);
    }
  }
  return out;
}

store::Outbox MakeOutbox(NotifyOptions options) {
  // Shared: the API hands a copy of the outbox to each connection it changes a ticket on.
  auto shared = std::make_shared<const NotifyOptions>(std::move(options));
  return [shared](const std::string& event, const store::TicketRecord& ticket, std::int64_t at_ms) {
    if (ticket.kind != "incident" || shared->routes.empty()) {
      return std::vector<store::NotificationRecord>{};
    }
    return Compose(*shared, event, ticket, at_ms);
  };
}

std::string Notifier::Deliver(const NotifyOptions& options, const store::NotificationRecord& n) {
  CurlInit();
  if (n.channel == "email") return SendMail(options.smtp, n);
  for (const auto& route : options.routes) {
    if (route.name == n.route) return PostWebhook(route, n);
  }
  // The route left the config after this was queued: the URL still stands, unsigned.
  Route gone;
  return PostWebhook(gone, n);
}

Notifier::Notifier(std::unique_ptr<store::Store> store, NotifyOptions options,
                   ServerMetrics& metrics)
    : store_(std::move(store)), options_(std::move(options)), metrics_(metrics) {}

Notifier::~Notifier() { Stop(); }

void Notifier::Start() {
  CurlInit();
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "fd-notify");
    Run();
  });
}

void Notifier::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Notifier::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_one();
}

void Notifier::Run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.poll, [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    while (DeliverDue()) {
      std::lock_guard lock(mutex_);
      if (stopping_) return;
    }
  }
}

bool Notifier::DeliverDue() {
  const auto now = NowMs();
  auto claimed = store_->ClaimNotification(now, kLeaseMs);
  if (!claimed) {
    spdlog::warn("notifications: reading the outbox: {}", claimed.error().message);
    return false;
  }
  if (!*claimed) return false;
  const auto& n = **claimed;
  const auto error = Deliver(options_, n);
  Status recorded;
  if (error.empty()) {
    metrics_.notifications_sent_total.fetch_add(1, std::memory_order_relaxed);
    recorded = store_->FinishNotification(n.id, true, NowMs(), "", std::nullopt);
  } else {
    metrics_.notification_failures_total.fetch_add(1, std::memory_order_relaxed);
    std::optional<std::int64_t> retry;
    if (n.attempts < options_.max_attempts) {
      retry = NowMs() +
              std::min(kLongestRetryMs, static_cast<std::int64_t>(options_.first_retry.count())
                                            << std::min(n.attempts - 1, 20));
      spdlog::warn("notification {} ({} of ticket {} by {}) failed, attempt {}: {}", n.id, n.event,
                   n.ticket_id, n.channel, n.attempts, error);
    } else {
      metrics_.notifications_given_up_total.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("notification {} ({} of ticket {} by {}) given up after {} attempts: {}", n.id,
                    n.event, n.ticket_id, n.channel, n.attempts, error);
    }
    recorded = store_->FinishNotification(n.id, false, NowMs(), error, retry);
  }
  if (!recorded) spdlog::warn("notifications: recording: {}", recorded.error().message);
  return true;
}

}  // namespace fleetdesk::server::engine::notify
