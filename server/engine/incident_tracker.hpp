// What one fingerprint's observations mean for its incident: confirmations (N failures before it
// counts as down, M successes before up), flap detection, recovery with a quiet period, and
// reopening inside a window. Pure logic over timestamps: the incident engine keeps one tracker
// per fingerprint (host + kind + key) and turns its decisions into ticket changes.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fleetdesk::server::engine::incidents {

struct IncidentPolicy {
  int fail_after = 1;  // consecutive failing observations before the thing counts as down (N)
  int ok_after = 1;    // consecutive good ones before it counts as up again (M)
  // This many changes between down and up inside the window mark the fingerprint flapping: one
  // incident stays open, without a recovery note or a resolve per change, until it settles.
  int flap_changes = 6;
  std::int64_t flap_window_ms = 30 * 60'000;
  // Up for this long after a recovery: the incident is resolved.
  std::int64_t quiet_ms = 5 * 60'000;
  // Down again this soon after the resolve: the same ticket reopens instead of a new one.
  std::int64_t reopen_ms = 60 * 60'000;
};

enum class Decision {
  kOpen,       // a new incident
  kReopen,     // the last incident of this fingerprint, resolved moments ago, opens again
  kRepeat,     // down again while its incident is still open: one more occurrence
  kRecovered,  // up again: a timeline entry; the quiet period starts
  kResolve,    // up through the quiet period: the incident is resolved
  kFlapping,   // too many changes: the incident stays open and quiet
  kSettled,    // no change for a flap window: normal rules again
};

std::string_view DecisionName(Decision decision);

// One fingerprint's state. Not thread-safe; observations must come in time order.
class IncidentTracker {
 public:
  explicit IncidentTracker(IncidentPolicy policy) : policy_(policy) {}

  // The thing was seen failing (or fine) at `at_ms`. Answers what that decides, in order.
  std::vector<Decision> Observe(bool failing, std::int64_t at_ms);
  // Time passed without an observation: a quiet period may have ended, or flapping settled.
  std::vector<Decision> Tick(std::int64_t now_ms);

  // For a fingerprint whose incident is open in the store before this tracker saw anything (a
  // restart, or its agent moved from another server): down, its incident open, so that what it
  // sees next (a recovery) counts.
  void AssumeOpen();
  // Nothing to remember: up, no incident, no failures counted, no change inside the flap window.
  // The engine drops idle trackers.
  bool Idle(std::int64_t now_ms) const;
  // The incident could not be opened (the store failed): forget the failure, so the next failing
  // observations count again and raise it.
  void Forget();
  // The incident was suppressed (a maintenance window, the host unreachable): still down, with no
  // incident; Retry raises it when what suppressed it may have ended, unless it came up since.
  void Suppressed();
  std::vector<Decision> Retry();

  bool down() const { return down_; }
  bool incident_open() const { return open_; }
  bool flapping() const { return flapping_; }
  // Times it went down since its incident opened, the opening included.
  int occurrences() const { return occurrences_; }

 private:
  // A confirmed change between down and up, counted for flap detection: answers whether it made
  // the fingerprint flapping.
  bool Changed(std::int64_t at_ms);
  void Settle(std::int64_t now_ms, std::vector<Decision>& out);

  IncidentPolicy policy_;
  bool down_ = false;  // confirmed, after N failures or M successes
  int failures_ = 0;   // consecutive, of the current run
  int successes_ = 0;
  bool open_ = false;
  bool flapping_ = false;
  int occurrences_ = 0;
  std::optional<std::int64_t> recovered_at_;  // up since, while its incident is open
  std::optional<std::int64_t> resolved_at_;   // the last resolve, for the reopen window
  std::deque<std::int64_t> changes_;          // confirmed changes inside the flap window
};

}  // namespace fleetdesk::server::engine::incidents
