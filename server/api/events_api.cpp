// GET /api/v1/events: the dashboard's live updates as server-sent events. Each event names what
// changed (a host, a ticket, a task's end on a host) for the client to read again through the
// API, which checks its permissions as always; an event carries no more than the change's kind,
// subject and new value.
#include <google/protobuf/util/time_util.h>

#include <charconv>

#include "common/codec.hpp"
#include "fleetdesk/v1/live.pb.h"
#include "server/api/api.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

using Clock = std::chrono::steady_clock;

// A stream ends after this, and the browser opens a new one (EventSource does, resuming from
// the last id): the new request checks the session again, so a signed-out or disabled user's
// stream does not outlive it for long.
constexpr auto kStreamLife = std::chrono::minutes(5);
// A comment this often keeps proxies from closing an idle stream, and finds a client gone.
constexpr auto kKeepAlive = std::chrono::seconds(15);
// Events sent in one write at most; the rest follow at the next.
constexpr std::size_t kBatch = 200;

class EventStream final : public http::StreamSource {
 public:
  struct Rights {
    bool hosts = false, tasks = false, tickets = false;
  };
  EventStream(const engine::LiveHub& hub, Rights rights, std::uint64_t after, bool lost)
      : hub_(hub), rights_(rights), after_(after), lost_(lost), started_(Clock::now()) {}

  std::optional<std::string> Next() override {
    const auto now = Clock::now();
    if (now - started_ > kStreamLife) return std::nullopt;
    std::string out;
    if (!opened_) {
      // Reconnect after 3 s rather than the browser's default, and say so at once: the
      // dashboard shows the stream as connected when this arrives.
      out = "retry: 3000\n: connected\n\n";
      opened_ = true;
    }
    auto read = hub_.After(after_, kBatch);
    if (read.lost || lost_) {
      out += "id: " + Id(hub_.Latest()) + "\nevent: reset\ndata: {}\n\n";
      after_ = hub_.Latest();
      lost_ = false;
      read.entries.clear();
    }
    for (const auto& entry : read.entries) {
      after_ = entry.seq;
      const auto& c = entry.change;
      const char* type = nullptr;
      if (c.source == store::Change::Source::kTicket) {
        if (rights_.tickets) type = "ticket";
      } else if (c.kind == "task") {
        if (rights_.tasks) type = "task";
      } else if (rights_.hosts) {
        type = "host";
      }
      if (type == nullptr) continue;
      fleetdesk::v1::LiveEvent event;
      event.set_id(c.ref);
      event.set_kind(codec::Utf8Text(c.kind));
      event.set_subject(codec::Utf8Text(c.subject));
      event.set_value(codec::Utf8Text(c.new_value));
      *event.mutable_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(c.at_ms);
      // One line: protobuf's JSON printer escapes newlines inside strings.
      out += "id: " + Id(entry.seq) + "\nevent: " + type + "\ndata: " + codec::ToApiJson(event) +
             "\n\n";
    }
    if (out.empty() && now - last_write_ > kKeepAlive) out = ": ping\n\n";
    if (!out.empty()) last_write_ = now;
    return out;
  }

 private:
  std::string Id(std::uint64_t seq) const { return hub_.epoch() + "-" + std::to_string(seq); }

  const engine::LiveHub& hub_;
  const Rights rights_;
  std::uint64_t after_;
  bool lost_;
  bool opened_ = false;
  const Clock::time_point started_;
  Clock::time_point last_write_ = Clock::now();
};

}  // namespace

Result<http::Response> Api::Events(const Call& call) {
  if (live_ == nullptr) return MakeError(ErrorCode::kUnavailable, "live updates are off");
  EventStream::Rights rights;
  rights.hosts = static_cast<bool>(access::Authorize(*call.who, {"hosts", "read"}));
  rights.tasks = static_cast<bool>(access::Authorize(*call.who, {"tasks", "read"}));
  // Requesters read only their own tickets; the stream names tickets by id only to those who
  // may read them all.
  rights.tickets = call.who->role != "requester" &&
                   static_cast<bool>(access::Authorize(*call.who, {"tickets", "read"}));
  // A resumed stream (Last-Event-ID "EPOCH-SEQ") goes on from there; one of another run of the
  // server, or unreadable, is told to read its views again.
  std::uint64_t after = live_->Latest();
  bool lost = false;
  if (const auto& last = call.request.last_event_id; !last.empty()) {
    const auto dash = last.find('-');
    std::uint64_t seq = 0;
    const char* end = last.data() + last.size();
    if (dash != std::string::npos && last.substr(0, dash) == live_->epoch() &&
        std::from_chars(last.data() + dash + 1, end, seq).ptr == end) {
      after = seq;
    } else {
      lost = true;
    }
  }
  http::Response response;
  response.content_type = "text/event-stream";
  // Proxies such as nginx would otherwise hold the events back in their buffers.
  response.headers.emplace_back("X-Accel-Buffering", "no");
  response.stream = std::make_shared<EventStream>(*live_, rights, after, lost);
  return response;
}

}  // namespace fleetdesk::server::api
