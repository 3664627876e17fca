// Reports waiting for the server's ack, with the sequence numbers that make delivery
// exactly-once in effect. The last sequence is persisted (fsync) before a report leaves, so a
// restarted agent never reuses one. Not thread-safe: the channel's one thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::journal {

class Journal {
 public:
  // Reads <state_dir>/seq (absent: 0). `max_pending` bounds what is kept unacked.
  static Result<Journal> Open(const std::string& state_dir, std::size_t max_pending);

  // Gives `report` the next sequence number, persists it, and keeps the message until acked.
  // Answers the AgentMessage carrying it, serialized (binary protobuf).
  Result<std::string> Append(fleetdesk::v1::Report* report);
  // The server committed everything up to `seq`.
  void Ack(std::uint64_t seq);
  // Unacked messages (serialized AgentMessages), oldest first, to resend after reconnecting.
  std::vector<std::string> Pending() const;

  // The server has committed `seq` although our file says less (a state dir restored from an
  // old backup): continue above it, or every new report would look like a duplicate.
  Status AdvanceTo(std::uint64_t seq);

  std::uint64_t last_seq() const { return last_seq_; }
  std::uint64_t evicted() const { return evicted_; }
  std::size_t pending_count() const { return pending_.size(); }

 private:
  Journal(std::string path, std::uint64_t last_seq, std::size_t max_pending)
      : path_(std::move(path)), last_seq_(last_seq), max_pending_(max_pending) {}

  std::string path_;
  std::uint64_t last_seq_;
  std::size_t max_pending_;
  std::uint64_t evicted_ = 0;
  std::deque<std::pair<std::uint64_t, std::string>> pending_;
};

}  // namespace fleetdesk::agent::journal
