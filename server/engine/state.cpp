#include "server/engine/state.hpp"

#include <algorithm>

namespace fleetdesk::server::engine {
namespace {

// Sets what the report says (an empty field says nothing); answers whether anything changed.
bool Set(std::string* field, const std::string& value) {
  if (value.empty() || *field == value) return false;
  *field = value;
  return true;
}

bool ApplyOs(const fleetdesk::v1::OsInfo& os, store::HostRecord* row) {
  bool changed = Set(&row->os_name, os.name());
  changed |= Set(&row->os_version, os.version());
  changed |= Set(&row->os_pretty_name, os.pretty_name());
  changed |= Set(&row->kernel, os.kernel());
  changed |= Set(&row->architecture, os.architecture());
  return changed;
}

}  // namespace

void StateEngine::Load(const std::vector<store::HostRecord>& hosts) {
  std::lock_guard lock(mutex_);
  hosts_.clear();
  agent_of_.clear();
  hosts_.reserve(hosts.size());
  agent_of_.reserve(hosts.size());
  for (const auto& h : hosts) {
    HostState state{h, h.last_seq};
    state.row.connected = false;
    hosts_.emplace(h.agent_id, std::move(state));
    agent_of_[h.id] = h.agent_id;
  }
}

void StateEngine::Upsert(const store::HostRecord& host) {
  std::lock_guard lock(mutex_);
  // A re-keyed host keeps its row id under a new agent id; drop the old key.
  auto [known, fresh] = agent_of_.try_emplace(host.id, host.agent_id);
  if (!fresh && known->second != host.agent_id) {
    hosts_.erase(known->second);
    known->second = host.agent_id;
  }
  hosts_[host.agent_id] = HostState{host, host.last_seq};
}

Result<ConnectOutcome> StateEngine::Connect(const std::string& agent_id,
                                            const fleetdesk::v1::Hello& hello, std::int64_t now_ms,
                                            bool* clone) {
  std::optional<store::HostRecord> stored;
  if (source_) {
    auto found = source_(agent_id);
    if (!found) return found.error();
    stored = *found;
  }
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(agent_id);
  if (stored) {
    if (it == hosts_.end()) {
      stored->connected = false;
      it = hosts_.emplace(agent_id, HostState{*stored, stored->last_seq}).first;
      agent_of_[stored->id] = agent_id;
    } else {
      // What this server accepted but has not committed yet stays ahead of the database.
      HostState& known = it->second;
      known.row.revoked = stored->revoked;
      known.row.machine_id = stored->machine_id;
      known.row.last_seq = std::max(known.row.last_seq, stored->last_seq);
      known.accepted_seq = std::max(known.accepted_seq, stored->last_seq);
    }
  } else if (source_ && it != hosts_.end()) {
    it->second.row.revoked = true;  // archived, or re-keyed elsewhere
  }
  if (it == hosts_.end()) {
    return MakeError(ErrorCode::kNotFound, "agent " + agent_id + " is not enrolled");
  }
  HostState& state = it->second;
  if (state.row.revoked) {
    return MakeError(ErrorCode::kPermissionDenied, "agent " + agent_id + " has been revoked");
  }
  if (hello.machine_id().empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "the hello must carry machineId");
  }
  if (hello.machine_id() != state.row.machine_id) {
    if (clone != nullptr) *clone = true;
    return MakeError(ErrorCode::kPermissionDenied,
                     "agent " + agent_id + " enrolled from machine " + state.row.machine_id +
                         " but connected from machine " + hello.machine_id() +
                         ": a cloned certificate");
  }
  if (!hello.hostname().empty()) state.row.hostname = hello.hostname();
  if (!hello.agent_version().empty()) state.row.agent_version = hello.agent_version();
  ApplyOs(hello.os(), &state.row);
  state.row.connected = true;
  state.row.last_seen_ms = now_ms;
  return ConnectOutcome{state.row, state.row.last_seq};
}

Result<IngestOutcome> StateEngine::Ingest(const std::string& agent_id,
                                          const fleetdesk::v1::Report& report,
                                          std::int64_t now_ms) {
  if (report.seq() == 0) {
    return MakeError(ErrorCode::kInvalidArgument, "report seq must be 1 or more");
  }
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(agent_id);
  if (it == hosts_.end()) {
    return MakeError(ErrorCode::kNotFound, "agent " + agent_id + " is not enrolled");
  }
  HostState& state = it->second;
  IngestOutcome out;
  out.committed_seq = state.row.last_seq;
  if (report.seq() <= state.row.last_seq) {
    out.kind = IngestOutcome::Kind::kCommitted;
    return out;
  }
  if (report.seq() <= state.accepted_seq) {
    out.kind = IngestOutcome::Kind::kInFlight;
    return out;
  }
  state.accepted_seq = report.seq();
  store::HostRecord& row = state.row;
  const bool fresh =
      fresh_ms_ > 0 && row.connected && row.id > 0 && now_ms - row.last_seen_ms <= fresh_ms_;
  bool renamed = false;
  if (report.has_heartbeat()) {
    const auto& hb = report.heartbeat();
    renamed = Set(&row.hostname, hb.hostname());
    renamed |= ApplyOs(hb.os(), &row);
    row.uptime_seconds = hb.uptime_seconds();
    row.load1 = hb.load1();
    row.load5 = hb.load5();
    row.load15 = hb.load15();
  }
  row.last_seen_ms = now_ms;
  out.row = row;
  out.row.heartbeat_only = fresh && !renamed;
  // The row to write carries the sequence it commits; the in-memory committed mark moves only
  // when the writer says so.
  out.row.last_seq = report.seq();
  return out;
}

std::optional<store::HostRecord> StateEngine::Disconnect(const std::string& agent_id,
                                                         std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(agent_id);
  if (it == hosts_.end()) return std::nullopt;
  it->second.row.connected = false;
  it->second.row.last_seen_ms = now_ms;
  store::HostRecord row = it->second.row;
  // Never let a disconnect row move last_seq: it carries the committed mark only.
  return row;
}

std::uint64_t StateEngine::MarkCommitted(const std::string& agent_id, std::uint64_t seq) {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(agent_id);
  if (it == hosts_.end()) return seq;
  auto& row = it->second.row;
  row.last_seq = std::max(row.last_seq, seq);
  return row.last_seq;
}

void StateEngine::ForgetUncommitted(const std::string& agent_id) {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(agent_id);
  if (it != hosts_.end()) it->second.accepted_seq = it->second.row.last_seq;
}

std::optional<store::HostRecord> StateEngine::Find(const std::string& agent_id) const {
  std::lock_guard lock(mutex_);
  auto it = hosts_.find(agent_id);
  if (it == hosts_.end()) return std::nullopt;
  return it->second.row;
}

std::size_t StateEngine::size() const {
  std::lock_guard lock(mutex_);
  return hosts_.size();
}

}  // namespace fleetdesk::server::engine
