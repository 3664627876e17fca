#include "server/engine/incident_tracker.hpp"

#include <algorithm>

namespace fleetdesk::server::engine::incidents {

std::string_view DecisionName(Decision decision) {
  switch (decision) {
    case Decision::kOpen:
      return "open";
    case Decision::kReopen:
      return "reopen";
    case Decision::kRepeat:
      return "repeat";
    case Decision::kRecovered:
      return "recovered";
    case Decision::kResolve:
      return "resolve";
    case Decision::kFlapping:
      return "flapping";
    case Decision::kSettled:
      return "settled";
  }
  return "?";
}

std::vector<Decision> IncidentTracker::Observe(bool failing, std::int64_t at_ms) {
  std::vector<Decision> out;
  // Time first: a quiet period or a flap window may have ended before this observation.
  Settle(at_ms, out);
  if (failing) {
    successes_ = 0;
    ++failures_;
    if (!down_ && failures_ >= policy_.fail_after) {
      down_ = true;
      const bool flaps = Changed(at_ms);
      ++occurrences_;
      if (open_) {
        recovered_at_.reset();
        if (!flapping_) out.push_back(Decision::kRepeat);
      } else {
        // The incident first, then its flapping: a flag on no ticket would be lost.
        const bool soon = resolved_at_ && at_ms - *resolved_at_ <= policy_.reopen_ms;
        open_ = true;
        occurrences_ = 1;
        out.push_back(soon ? Decision::kReopen : Decision::kOpen);
      }
      if (flaps) out.push_back(Decision::kFlapping);
    }
  } else {
    failures_ = 0;
    ++successes_;
    if (down_ && successes_ >= policy_.ok_after) {
      down_ = false;
      if (Changed(at_ms)) out.push_back(Decision::kFlapping);
      if (open_) {
        recovered_at_ = at_ms;
        if (!flapping_) out.push_back(Decision::kRecovered);
      }
    }
  }
  return out;
}

void IncidentTracker::AssumeOpen() {
  down_ = true;
  open_ = true;
  occurrences_ = std::max(occurrences_, 1);
  failures_ = policy_.fail_after;
}

bool IncidentTracker::Idle(std::int64_t now_ms) const {
  return !down_ && !open_ && !flapping_ && failures_ == 0 &&
         (changes_.empty() || now_ms - changes_.back() > policy_.flap_window_ms);
}

std::vector<Decision> IncidentTracker::Tick(std::int64_t now_ms) {
  std::vector<Decision> out;
  Settle(now_ms, out);
  return out;
}

// A confirmed change between down and up: counted for flap detection.
bool IncidentTracker::Changed(std::int64_t at_ms) {
  changes_.push_back(at_ms);
  while (!changes_.empty() && at_ms - changes_.front() > policy_.flap_window_ms) {
    changes_.pop_front();
  }
  if (flapping_ || static_cast<int>(changes_.size()) < policy_.flap_changes) return false;
  flapping_ = true;
  return true;
}

void IncidentTracker::Suppressed() {
  open_ = false;
  occurrences_ = 0;
  recovered_at_.reset();
}

std::vector<Decision> IncidentTracker::Retry() {
  if (!down_ || open_) return {};
  open_ = true;
  occurrences_ = 1;
  return {Decision::kOpen};
}

void IncidentTracker::Forget() {
  down_ = false;
  open_ = false;
  failures_ = 0;
  successes_ = 0;
  occurrences_ = 0;
  recovered_at_.reset();
}

void IncidentTracker::Settle(std::int64_t now_ms, std::vector<Decision>& out) {
  if (flapping_ && !changes_.empty() && now_ms - changes_.back() > policy_.flap_window_ms) {
    // A whole window without a change: what it settled on decides from here, and a settled
    // recovery counts its quiet period from the last change.
    flapping_ = false;
    changes_.clear();
    out.push_back(Decision::kSettled);
  }
  if (open_ && !down_ && !flapping_ && recovered_at_ &&
      now_ms - *recovered_at_ >= policy_.quiet_ms) {
    open_ = false;
    resolved_at_ = *recovered_at_ + policy_.quiet_ms;
    recovered_at_.reset();
    out.push_back(Decision::kResolve);
  }
}

}  // namespace fleetdesk::server::engine::incidents
