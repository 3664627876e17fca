// The agent's report journal: every report gets its sequence number and is appended to an
// on-disk log (fdatasync) before it is sent; acked reports are dropped; unacked ones are resent
// after a reconnect, oldest first, and survive a restart of the agent or the host.
//
// Files in the state directory:
//   journal  records of [u32 length][u32 CRC-32C][u64 seq][serialized AgentMessage], appended;
//            rewritten without the acked records when they make up most of it. Only the
//            records' positions are kept in memory, so a long outage costs disk, not RSS.
//   seq      "LAST FLOOR EVICTED": the highest sequence ever used, the highest that must never
//            be sent again (acked or evicted), and how many reports were evicted
//
// A torn or corrupt tail (a crash mid-append) is found at open and cut off; every record before
// it is kept. Not thread-safe: the channel's one thread owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/result.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::agent::journal {

// CRC-32C (Castagnoli), the checksum of each record.
std::uint32_t Crc32c(const void* data, std::size_t size);

class Journal {
 public:
  // Opens (creating if needed) the journal in `state_dir`, cutting off a damaged tail.
  // `max_bytes` bounds the unacked records kept; past it the oldest are evicted and counted.
  static Result<Journal> Open(const std::string& state_dir, std::size_t max_bytes);
  Journal(Journal&& other) noexcept;
  Journal& operator=(Journal&&) = delete;
  Journal(const Journal&) = delete;
  ~Journal();

  // Gives `report` the next sequence number, makes it durable, and keeps it until acked.
  // Answers the AgentMessage carrying it, serialized (binary protobuf).
  Result<std::string> Append(fleetdesk::v1::Report* report);
  // The server committed everything up to `seq`.
  void Ack(std::uint64_t seq);
  // The unacked messages (serialized AgentMessages) above `seq`, with their sequences, oldest
  // first: what a fresh connection resends (above the committed sequence) and what a live one
  // has yet to send (above the last it sent).
  // At most `limit` of them, read back from the file.
  std::vector<std::pair<std::uint64_t, std::string>> PendingAfter(
      std::uint64_t seq, std::size_t limit = SIZE_MAX) const;

  // The server has committed `seq` although our file says less (a state dir restored from an
  // old backup): continue above it, or every new report would look like a duplicate.
  Status AdvanceTo(std::uint64_t seq);

  std::uint64_t last_seq() const { return last_seq_; }
  std::uint64_t evicted() const { return evicted_; }
  std::size_t pending_count() const { return pending_.size(); }
  std::size_t pending_bytes() const { return pending_bytes_; }
  // Bytes cut off a damaged tail when the journal was opened (0 for a clean file).
  std::size_t recovered_bytes() const { return recovered_bytes_; }

 private:
  // Where an unacked record's payload (the serialized AgentMessage) sits in the file.
  struct Entry {
    std::uint64_t seq;
    std::uint64_t offset;
    std::uint32_t size;
  };

  Journal(std::string dir, std::size_t max_bytes) : dir_(std::move(dir)), max_bytes_(max_bytes) {}
  Status Load();
  Status WriteState();
  Status Compact();
  void EvictOldest();
  Result<std::string> ReadPayload(const Entry& entry) const;

  std::string dir_;
  std::size_t max_bytes_;
  int fd_ = -1;
  std::uint64_t last_seq_ = 0;
  std::uint64_t floor_ = 0;  // never send a sequence at or below this again
  std::uint64_t evicted_ = 0;
  std::size_t file_bytes_ = 0;
  std::size_t pending_bytes_ = 0;
  std::size_t recovered_bytes_ = 0;
  std::deque<Entry> pending_;
};

}  // namespace fleetdesk::agent::journal
