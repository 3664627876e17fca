#include "agent/journal/journal.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/files.hpp"

namespace fleetdesk::agent::journal {
namespace {

constexpr std::size_t kHeaderBytes = 4 + 4 + 8;  // length, CRC, seq
// No report is larger than the server accepts (4 MiB by default, 64 MiB at most); a length
// beyond this is damage, not data.
constexpr std::uint32_t kMaxRecordBytes = 64U << 20U;
// Acked records are cut out once they are this large and outweigh the unacked ones.
constexpr std::size_t kCompactAfterBytes = 1U << 20U;

std::array<std::uint32_t, 256> MakeCrcTable() {
  std::array<std::uint32_t, 256> table{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1U) != 0 ? 0x82F63B78U ^ (c >> 1U) : c >> 1U;
    table[i] = c;
  }
  return table;
}

void PutLe(std::string* out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((value >> (8U * i)) & 0xFFU));
}

std::uint64_t GetLe(const char* p, int bytes) {
  std::uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = (value << 8U) | static_cast<unsigned char>(p[i]);
  return value;
}

std::string Record(std::uint64_t seq, const std::string& payload) {
  std::string body;
  PutLe(&body, seq, 8);
  body += payload;
  std::string record;
  PutLe(&record, body.size(), 4);
  PutLe(&record, Crc32c(body.data(), body.size()), 4);
  return record + body;
}

Error SystemError(const std::string& what) {
  return MakeError(ErrorCode::kUnavailable, what + ": " + std::strerror(errno));
}

Status WriteAll(int fd, const std::string& data, const std::string& path) {
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return SystemError("cannot write " + path);
    done += static_cast<std::size_t>(n);
  }
  return {};
}

}  // namespace

std::uint32_t Crc32c(const void* data, std::size_t size) {
  static const auto kTable = MakeCrcTable();
  std::uint32_t crc = 0xFFFFFFFFU;
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < size; ++i) crc = kTable[(crc ^ p[i]) & 0xFFU] ^ (crc >> 8U);
  return crc ^ 0xFFFFFFFFU;
}

Result<Journal> Journal::Open(const std::string& state_dir, std::size_t max_bytes) {
  Journal journal(state_dir, max_bytes);
  if (auto s = journal.Load(); !s) return s.error();
  return journal;
}

Journal::Journal(Journal&& other) noexcept
    : dir_(std::move(other.dir_)),
      max_bytes_(other.max_bytes_),
      fd_(other.fd_),
      last_seq_(other.last_seq_),
      floor_(other.floor_),
      evicted_(other.evicted_),
      file_bytes_(other.file_bytes_),
      pending_bytes_(other.pending_bytes_),
      recovered_bytes_(other.recovered_bytes_),
      pending_(std::move(other.pending_)) {
  other.fd_ = -1;
}

Journal::~Journal() {
  if (fd_ >= 0) ::close(fd_);
}

Status Journal::Load() {
  const std::string state_path = dir_ + "/seq";
  if (auto state = files::Read(state_path)) {
    std::istringstream in(*state);
    if (!(in >> last_seq_)) {
      return MakeError(ErrorCode::kInvalidArgument,
                       state_path + " does not hold a sequence number");
    }
    in >> floor_ >> evicted_;  // absent in files written before the journal kept them
  } else if (state.error().code != ErrorCode::kNotFound) {
    return state.error();
  }

  const std::string path = dir_ + "/journal";
  std::string content;
  if (auto existing = files::Read(path)) {
    content = std::move(*existing);
  } else if (existing.error().code != ErrorCode::kNotFound) {
    return existing.error();
  }
  std::size_t offset = 0;
  std::uint64_t previous = 0;
  while (content.size() - offset >= kHeaderBytes) {
    const char* p = content.data() + offset;
    const auto length = static_cast<std::uint32_t>(GetLe(p, 4));
    const auto crc = static_cast<std::uint32_t>(GetLe(p + 4, 4));
    if (length < 8 || length > kMaxRecordBytes || length > content.size() - offset - 8) break;
    if (Crc32c(p + 8, length) != crc) break;
    const std::uint64_t seq = GetLe(p + 8, 8);
    if (seq <= previous) break;  // sequences only grow; anything else is damage
    previous = seq;
    last_seq_ = std::max(last_seq_, seq);
    if (seq > floor_) {
      pending_.push_back({seq, offset + kHeaderBytes, length - 8});
      pending_bytes_ += 8 + length;
    }
    offset += 8 + length;
  }
  // A smaller bound than the journal was written with: keep the newest that fit.
  while (pending_bytes_ > max_bytes_ && !pending_.empty()) EvictOldest();

  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ < 0) return SystemError("cannot open " + path);
  if (offset < content.size()) {
    // A torn or damaged tail: keep every whole record before it, drop the rest.
    recovered_bytes_ = content.size() - offset;
    if (::ftruncate(fd_, static_cast<off_t>(offset)) != 0 || ::fdatasync(fd_) != 0) {
      return SystemError("cannot cut the damaged tail of " + path);
    }
  }
  file_bytes_ = offset;
  return {};
}

Status Journal::WriteState() {
  return files::WriteAtomically(dir_ + "/seq",
                                std::to_string(last_seq_) + " " + std::to_string(floor_) + " " +
                                    std::to_string(evicted_) + "\n",
                                0600);
}

void Journal::EvictOldest() {
  floor_ = pending_.front().seq;
  pending_bytes_ -= kHeaderBytes + pending_.front().size;
  pending_.pop_front();
  ++evicted_;
}

Result<std::string> Journal::Append(fleetdesk::v1::Report* report) {
  const std::uint64_t seq = last_seq_ + 1;
  report->set_seq(seq);
  fleetdesk::v1::AgentMessage message;
  message.set_protocol_version(fleetdesk::v1::PROTOCOL_VERSION_1);
  // Make room first, so this report already counts the ones it displaced. Its own size is
  // known only once serialized; the journal stats are fixed-width enough that a first
  // serialization bounds it well.
  const std::size_t estimate = kHeaderBytes + report->ByteSizeLong() + 32;
  bool evicted = false;
  while (!pending_.empty() && pending_bytes_ + estimate > max_bytes_) {
    EvictOldest();
    evicted = true;
  }
  if (evicted) {
    if (auto s = WriteState(); !s) return s.error();  // the evicted ones must not come back
  }
  report->mutable_journal()->set_evicted_reports(evicted_);
  report->mutable_journal()->set_pending_reports(pending_.size());
  *message.mutable_report() = *report;
  std::string bytes = message.SerializeAsString();
  const std::string record = Record(seq, bytes);
  auto written = WriteAll(fd_, record, dir_ + "/journal");
  if (written && ::fdatasync(fd_) != 0) written = SystemError("cannot sync " + dir_ + "/journal");
  if (!written) {
    // A half-written record would hide every later one at the next open: take it back.
    (void)::ftruncate(fd_, static_cast<off_t>(file_bytes_));
    return written.error();
  }
  last_seq_ = seq;
  pending_.push_back({seq, file_bytes_ + kHeaderBytes, static_cast<std::uint32_t>(bytes.size())});
  file_bytes_ += record.size();
  pending_bytes_ += record.size();
  return bytes;
}

void Journal::Ack(std::uint64_t seq) {
  while (!pending_.empty() && pending_.front().seq <= seq) {
    pending_bytes_ -= kHeaderBytes + pending_.front().size;
    pending_.pop_front();
  }
  const std::uint64_t floor = std::max(floor_, std::min(seq, last_seq_));
  if (floor != floor_) {
    floor_ = floor;
    // Remembered at once (one small fsync per ack): after a restart acked reports stay acked.
    (void)WriteState();
  }
  const std::size_t acked_bytes = file_bytes_ - pending_bytes_;
  if (acked_bytes >= kCompactAfterBytes && acked_bytes > pending_bytes_) {
    // A failed compaction leaves the old file, which is still correct: the floor keeps the
    // acked records from being sent again.
    (void)Compact();
  }
}

Status Journal::Compact() {
  if (auto s = WriteState(); !s) return s;
  // Compaction runs when acked records outweigh unacked ones, so what is copied here is at most
  // half the file.
  std::string content;
  content.reserve(pending_bytes_);
  std::deque<Entry> moved;
  for (const auto& entry : pending_) {
    auto payload = ReadPayload(entry);
    if (!payload) return payload.error();
    moved.push_back({entry.seq, content.size() + kHeaderBytes, entry.size});
    content += Record(entry.seq, *payload);
  }
  const std::string path = dir_ + "/journal";
  if (auto s = files::WriteAtomically(path, content, 0600); !s) return s;
  int fd = ::open(path.c_str(), O_RDWR | O_APPEND | O_CLOEXEC);
  if (fd < 0) return SystemError("cannot reopen " + path);
  ::close(fd_);
  fd_ = fd;
  file_bytes_ = content.size();
  pending_ = std::move(moved);
  return {};
}

Result<std::string> Journal::ReadPayload(const Entry& entry) const {
  std::string payload(entry.size, '\0');
  std::size_t done = 0;
  while (done < payload.size()) {
    ssize_t n = ::pread(fd_, payload.data() + done, payload.size() - done,
                        static_cast<off_t>(entry.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return SystemError("cannot read back " + dir_ + "/journal");
    done += static_cast<std::size_t>(n);
  }
  return payload;
}

std::vector<std::pair<std::uint64_t, std::string>> Journal::PendingAfter(std::uint64_t seq,
                                                                         std::size_t limit) const {
  std::vector<std::pair<std::uint64_t, std::string>> out;
  for (const auto& entry : pending_) {
    if (out.size() >= limit) break;
    if (entry.seq <= seq) continue;
    auto payload = ReadPayload(entry);
    // The record was written and synced by this process; failing to read it back means the
    // disk is failing. Send what came before it; the next round tries again.
    if (!payload) break;
    out.emplace_back(entry.seq, std::move(*payload));
  }
  return out;
}

Status Journal::AdvanceTo(std::uint64_t seq) {
  if (seq <= last_seq_) return {};
  last_seq_ = seq;
  floor_ = std::max(floor_, seq);
  return WriteState();
}

}  // namespace fleetdesk::agent::journal
