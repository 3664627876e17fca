// The state engine: the current state of every host, in memory. Network threads call it to
// decide what a hello or report means; it never touches the database itself, it hands the rows
// that changed to the writer. Thread-safe (one mutex; every call is short).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"
#include "server/store/model.hpp"

namespace fleetdesk::server::engine {

struct ConnectOutcome {
  store::HostRecord row;        // to write: connected, hello fields
  std::uint64_t committed_seq;  // for the Welcome
};

struct IngestOutcome {
  enum class Kind {
    kAccepted,   // new sequence: `row` goes to the writer, ack when committed
    kCommitted,  // already committed: ack `committed_seq` at once
    kInFlight,   // accepted earlier, not committed yet: its ack is on the way
  };
  Kind kind = Kind::kAccepted;
  store::HostRecord row;
  std::uint64_t committed_seq = 0;
};

class StateEngine {
 public:
  // Replaces the in-memory state with what the store holds; call before serving. Every host is
  // marked disconnected: no channel survives a restart.
  void Load(const std::vector<store::HostRecord>& hosts);
  // A host the API just enrolled (or re-keyed).
  void Upsert(const store::HostRecord& host);
  // With several servers on one database an agent may have enrolled, or last reported, through
  // another server: `source` answers the committed row, which Connect merges before deciding
  // (revocation, machine id, and the highest committed sequence). Set before serving.
  using Source = std::function<Result<std::optional<store::HostRecord>>(const std::string&)>;
  void SetSource(Source source) { source_ = std::move(source); }
  // A report this soon after the agent's previous one on this server cannot follow a silence
  // that marked its host unreachable: half the silent-host limit. Such a report that changes
  // only the heartbeat is marked heartbeat_only for the writer. 0 (the default): never.
  void SetFreshWindow(std::int64_t ms) { fresh_ms_ = ms; }

  // Errors: kNotFound (unknown agent id), kPermissionDenied (revoked, or a clone: the machine id
  // differs from the one the agent enrolled with; then `clone` is set, for the audit log).
  Result<ConnectOutcome> Connect(const std::string& agent_id, const fleetdesk::v1::Hello& hello,
                                 std::int64_t now_ms, bool* clone = nullptr);
  Result<IngestOutcome> Ingest(const std::string& agent_id, const fleetdesk::v1::Report& report,
                               std::int64_t now_ms);
  // The row to write when a channel closes; nullopt when the agent is unknown.
  std::optional<store::HostRecord> Disconnect(const std::string& agent_id, std::int64_t now_ms);

  // The writer committed `seq`; answers the highest committed sequence to ack.
  std::uint64_t MarkCommitted(const std::string& agent_id, std::uint64_t seq);
  // A commit failed: forget what was accepted but not committed, so a resend is taken again.
  void ForgetUncommitted(const std::string& agent_id);

  std::optional<store::HostRecord> Find(const std::string& agent_id) const;
  std::size_t size() const;

 private:
  struct HostState {
    store::HostRecord row;
    std::uint64_t accepted_seq = 0;  // highest sequence handed to the writer
  };
  Source source_;
  std::int64_t fresh_ms_ = 0;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, HostState> hosts_;
  std::unordered_map<std::int64_t, std::string> agent_of_;  // row id -> agent id, for Upsert
};

}  // namespace fleetdesk::server::engine
