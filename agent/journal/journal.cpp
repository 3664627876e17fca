#include "agent/journal/journal.hpp"

#include <charconv>

#include "common/files.hpp"

namespace fleetdesk::agent::journal {

Result<Journal> Journal::Open(const std::string& state_dir, std::size_t max_pending) {
  std::string path = state_dir + "/seq";
  std::uint64_t last = 0;
  auto content = files::Read(path);
  if (content) {
    auto [end, ec] = std::from_chars(content->data(), content->data() + content->size(), last);
    if (ec != std::errc()) {
      return MakeError(ErrorCode::kInvalidArgument, path + " does not hold a sequence number");
    }
  } else if (content.error().code != ErrorCode::kNotFound) {
    return content.error();
  }
  return Journal(path, last, max_pending);
}

Result<std::string> Journal::Append(fleetdesk::v1::Report* report) {
  const std::uint64_t seq = last_seq_ + 1;
  if (auto s = files::WriteAtomically(path_, std::to_string(seq) + "\n", 0600); !s) {
    return s.error();
  }
  last_seq_ = seq;
  // Make room first, so this report already counts the one it displaced.
  if (pending_.size() >= max_pending_) {
    pending_.pop_front();
    ++evicted_;
  }
  report->set_seq(seq);
  report->mutable_journal()->set_evicted_reports(evicted_);
  report->mutable_journal()->set_pending_reports(pending_.size());
  fleetdesk::v1::AgentMessage message;
  message.set_protocol_version(fleetdesk::v1::PROTOCOL_VERSION_1);
  *message.mutable_report() = *report;
  std::string bytes = message.SerializeAsString();
  pending_.emplace_back(seq, bytes);
  return bytes;
}

void Journal::Ack(std::uint64_t seq) {
  while (!pending_.empty() && pending_.front().first <= seq) pending_.pop_front();
}

Status Journal::AdvanceTo(std::uint64_t seq) {
  if (seq <= last_seq_) return {};
  if (auto s = files::WriteAtomically(path_, std::to_string(seq) + "\n", 0600); !s) return s;
  last_seq_ = seq;
  return {};
}

std::vector<std::string> Journal::Pending() const {
  std::vector<std::string> out;
  out.reserve(pending_.size());
  for (const auto& [seq, bytes] : pending_) out.push_back(bytes);
  return out;
}

}  // namespace fleetdesk::agent::journal
