#include "agent/tasks/task_log.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "common/files.hpp"

namespace fleetdesk::agent::tasks {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kPending = ".pending";
constexpr std::string_view kDone = ".done";

// Oldest task first: ids are decimal, so a shorter one is smaller.
bool IdLess(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

}  // namespace

bool TaskLog::ValidId(const std::string& id) {
  return !id.empty() && id.size() <= 20 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c >= '0' && c <= '9'; });
}

Result<TaskLog> TaskLog::Open(const std::string& dir, std::chrono::hours keep) {
  if (auto s = files::MakeDirectory(dir, 0700); !s) return s.error();
  TaskLog log(dir);
  const auto forget_before = fs::file_time_type::clock::now() - keep;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    const std::string name = item.path().filename().string();
    const auto dot = name.find('.');
    const std::string id = name.substr(0, dot);
    const std::string suffix = dot == std::string::npos ? "" : name.substr(dot);
    if (!ValidId(id)) continue;
    if (suffix == ".pending.tmp" || suffix == ".done.tmp") {
      fs::remove(item.path(), ec);  // a write cut short; the file it was to replace is intact
      continue;
    }
    if (suffix == kDone) {
      if (item.last_write_time(ec) < forget_before && !ec) {
        fs::remove(item.path(), ec);
        fs::remove_all(log.BackupDir(id), ec);
        continue;
      }
      log.entries_[id].acked = true;
      continue;
    }
    if (suffix != kPending) continue;
    fleetdesk::v1::TaskResult result;
    auto bytes = files::Read(item.path().string());
    if (!bytes || !result.ParseFromString(*bytes)) {
      // Unreadable: the id is still remembered, so the task does not run again.
      result.Clear();
      result.set_task_id(id);
      result.set_state(fleetdesk::v1::TASK_STATE_RUNNING);
    }
    if (result.state() == fleetdesk::v1::TASK_STATE_RUNNING) {
      result.set_task_id(id);
      result.set_state(fleetdesk::v1::TASK_STATE_FAILED);
      result.set_message(
          "the agent stopped before this task ended; it is not run again, so whether it took "
          "effect is unknown");
      if (auto s = log.Write(id, result); !s) return s.error();
      spdlog::warn("task {} was running when the agent stopped; reported as failed", id);
    }
    log.entries_[id].result = std::move(result);
  }
  if (ec) return MakeError(ErrorCode::kUnavailable, "cannot read " + dir + ": " + ec.message());
  return log;
}

Status TaskLog::Write(const std::string& id, const fleetdesk::v1::TaskResult& result) {
  return files::WriteAtomically(dir_ + "/" + id + std::string(kPending), result.SerializeAsString(),
                                0600);
}

Status TaskLog::Begin(const std::string& id) {
  fleetdesk::v1::TaskResult running;
  running.set_task_id(id);
  running.set_state(fleetdesk::v1::TASK_STATE_RUNNING);
  if (auto s = Write(id, running); !s) return s;
  entries_[id].acked = false;
  return {};
}

Status TaskLog::Finish(const fleetdesk::v1::TaskResult& result) {
  if (auto s = Write(result.task_id(), result); !s) return s;
  auto& entry = entries_[result.task_id()];
  entry.acked = false;
  entry.result = result;
  return {};
}

void TaskLog::Ack(const std::string& id) {
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second.acked || !it->second.result) return;
  const std::string from = dir_ + "/" + id + std::string(kPending);
  if (auto s = files::Rename(from, dir_ + "/" + id + std::string(kDone)); !s) {
    // Kept pending: the result goes again on the next connection and is acked again.
    spdlog::warn("task {}: cannot mark its result acked: {}", id, s.error().message);
    return;
  }
  it->second.acked = true;
  it->second.result.reset();
}

std::vector<fleetdesk::v1::TaskResult> TaskLog::Unacked() const {
  std::vector<const std::string*> ids;
  for (const auto& [id, entry] : entries_) {
    if (!entry.acked && entry.result &&
        entry.result->state() != fleetdesk::v1::TASK_STATE_RUNNING) {
      ids.push_back(&id);
    }
  }
  std::sort(ids.begin(), ids.end(), [](auto* a, auto* b) { return IdLess(*a, *b); });
  std::vector<fleetdesk::v1::TaskResult> out;
  out.reserve(ids.size());
  for (const auto* id : ids) out.push_back(*entries_.at(*id).result);
  return out;
}

}  // namespace fleetdesk::agent::tasks
