#include "server/engine/tasks.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>
#include <set>

#include "common/codec.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::engine {
namespace {

// What the server keeps of a command's output; the agent truncates first, and says how much
// there was.
constexpr std::size_t kMaxOutput = 64 * 1024;
constexpr std::size_t kMaxMessage = 1024;

// Text the database takes: valid UTF-8 without NUL (PostgreSQL's text has neither invalid
// sequences nor NUL), at most `most` bytes, cut at a character's start.
std::string Storable(std::string_view bytes, std::size_t most) {
  std::string out;
  out.reserve(std::min(bytes.size(), most));
  for (std::size_t i = 0; i < bytes.size();) {
    const auto b0 = static_cast<unsigned char>(bytes[i]);
    std::size_t length = b0 < 0x80                 ? 1
                         : b0 >= 0xF0 && b0 < 0xF5 ? 4
                         : b0 >= 0xE0              ? 3
                         : b0 >= 0xC2              ? 2
                                                   : 0;
    bool valid = length > 0 && i + length <= bytes.size() && b0 != 0;
    for (std::size_t k = 1; valid && k < length; ++k) {
      valid = (static_cast<unsigned char>(bytes[i + k]) & 0xC0) == 0x80;
    }
    const std::string_view piece = valid ? bytes.substr(i, length) : "\xEF\xBF\xBD";
    if (out.size() + piece.size() > most) break;
    out.append(piece);
    i += valid ? length : 1;
  }
  return out;
}

const std::map<fleetdesk::v1::TaskState, const char*> kStates = {
    {fleetdesk::v1::TASK_STATE_RUNNING, "running"},
    {fleetdesk::v1::TASK_STATE_SUCCEEDED, "succeeded"},
    {fleetdesk::v1::TASK_STATE_FAILED, "failed"},
    {fleetdesk::v1::TASK_STATE_TIMED_OUT, "timed_out"},
    {fleetdesk::v1::TASK_STATE_CANCELLED, "cancelled"},
    {fleetdesk::v1::TASK_STATE_REFUSED, "refused"},
};

}  // namespace

Result<store::AgentTaskResult> ResultFromAgent(const std::string& agent_id,
                                               const fleetdesk::v1::TaskResult& result) {
  store::AgentTaskResult out;
  out.agent_id = agent_id;
  const auto& id = result.task_id();
  auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), out.task_id);
  if (ec != std::errc() || end != id.data() + id.size() || out.task_id <= 0) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "taskResult.taskId '" + Storable(id, 40) + "' is not a task this server sent");
  }
  auto state = kStates.find(result.state());
  if (state == kStates.end()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "taskResult.state must be running or an outcome (succeeded, failed, "
                     "timed_out, cancelled, refused)");
  }
  auto& r = out.result;
  r.state = state->second;
  if (result.state() != fleetdesk::v1::TASK_STATE_RUNNING) {
    r.exit_code = result.exit_code();
    r.duration_ms = static_cast<std::int64_t>(
        std::min<std::uint64_t>(result.duration_ms(), std::numeric_limits<std::int64_t>::max()));
  }
  r.stdout_text = Storable(result.stdout(), kMaxOutput);
  r.stderr_text = Storable(result.stderr(), kMaxOutput);
  auto size = [](std::uint64_t said, std::size_t have) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(std::max<std::uint64_t>(said, have), INT64_MAX));
  };
  r.stdout_size = size(result.stdout_size(), result.stdout().size());
  r.stderr_size = size(result.stderr_size(), result.stderr().size());
  r.message = Storable(result.message(), kMaxMessage);
  return out;
}

TaskDispatcher::TaskDispatcher(std::shared_ptr<store::SharedStore> store, TaskChannels channels,
                               TaskDispatcherOptions options)
    : store_(std::move(store)), channels_(std::move(channels)), options_(options) {}

TaskDispatcher::~TaskDispatcher() { Stop(); }

void TaskDispatcher::Start() {
  thread_ = std::thread([this] { Run(); });
  if (options_.listen) listen_thread_ = std::thread([this] { Listen(); });
}

void TaskDispatcher::Listen() {
  std::unique_ptr<store::Listener> listener;
  bool failing = false;
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (stopping_) return;
      // After a failure, a pause before the next attempt; the stop cuts it short.
      if (!listener && failing) {
        wake_.wait_for(lock, std::chrono::seconds(5), [this] { return stopping_; });
        if (stopping_) return;
      }
    }
    if (!listener) {
      auto opened = options_.listen();
      if (!opened) {
        if (!failing)
          spdlog::warn("tasks: cannot listen for other servers' tasks: {}", opened.error().message);
        failing = true;
        continue;
      }
      if (failing) spdlog::info("tasks: listening for other servers' tasks again");
      listener = std::move(*opened);
      failing = false;
      Wake();  // whatever was submitted elsewhere while not listening
    }
    // Short waits, so a stop is noticed within one.
    auto notified = listener->Wait(std::chrono::milliseconds(500));
    if (!notified) {
      spdlog::warn("tasks: the listening connection broke: {}", notified.error().message);
      listener.reset();
      failing = true;
      continue;
    }
    if (*notified > 0) Wake();
  }
}

void TaskDispatcher::Stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (listen_thread_.joinable()) listen_thread_.join();
  // Results handed over during the last round are recorded before the connection goes.
  RecordResults();
}

void TaskDispatcher::Wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void TaskDispatcher::Submit(std::string agent_id, fleetdesk::v1::TaskResult result) {
  auto parsed = ResultFromAgent(agent_id, result);
  if (!parsed) {
    spdlog::warn("agent {}: task result refused: {}", agent_id, parsed.error().message);
    // Refused for good: sending it again would not change that.
    if (result.state() != fleetdesk::v1::TASK_STATE_RUNNING && !result.task_id().empty() &&
        result.task_id().size() <= 40) {
      if (channels_.ack) channels_.ack(agent_id, result.task_id());
    }
    return;
  }
  {
    std::lock_guard lock(mutex_);
    results_.push_back(std::move(*parsed));
    woken_ = true;
  }
  wake_.notify_all();
}

void TaskDispatcher::Run() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait_for(lock, options_.tick, [this] { return stopping_ || woken_; });
      if (stopping_) return;
      woken_ = false;
    }
    Round();
  }
}

void TaskDispatcher::RecordResults() {
  std::vector<store::AgentTaskResult> results;
  {
    std::lock_guard lock(mutex_);
    results.swap(results_);
  }
  if (results.empty()) return;
  auto recorded = store_->Lock()->RecordTaskResults(results, NowMs());
  if (!recorded) {
    // An agent sends each result once: kept for the next round rather than lost.
    spdlog::error("task results not recorded, retrying: {}", recorded.error().message);
    std::lock_guard lock(mutex_);
    results_.insert(results_.begin(), results.begin(), results.end());
    return;
  }
  for (std::size_t i = 0; i < recorded->size(); ++i) {
    const auto& outcome = (*recorded)[i];
    if (!outcome) {
      spdlog::warn("agent {}: result of task {} refused: {}", results[i].agent_id,
                   results[i].task_id, outcome.error().message);
    }
    // Recorded, or refused by the store (a task timed out meanwhile, a result sent twice): the
    // server is done with it either way. An agent gone meanwhile resends it and is acked then.
    if (results[i].result.state != "running" && channels_.ack) {
      channels_.ack(results[i].agent_id, std::to_string(results[i].task_id));
    }
  }
}

void TaskDispatcher::Round() {
  RecordResults();
  const auto now = NowMs();
  std::int64_t after_task = 0;
  std::int64_t after_host = 0;
  for (;;) {
    Result<std::vector<store::DueTaskHost>> page =
        store_->Lock()->DueTaskHosts(now, after_task, after_host, options_.page);
    if (!page) {
      spdlog::error("tasks due: {}", page.error().message);
      return;
    }
    SendPage(*page, now);
    if (static_cast<int>(page->size()) < options_.page) return;
    after_task = page->back().task_id;
    after_host = page->back().host_id;
  }
}

void TaskDispatcher::SendPage(const std::vector<store::DueTaskHost>& due, std::int64_t now) {
  std::vector<std::pair<std::int64_t, std::int64_t>> mine;
  std::vector<const store::DueTaskHost*> hosts;
  for (const auto& d : due) {
    if (!channels_.connected(d.agent_id)) continue;
    mine.emplace_back(d.task_id, d.host_id);
    hosts.push_back(&d);
  }
  if (mine.empty()) return;
  std::map<std::int64_t, fleetdesk::v1::Task> tasks;
  std::vector<bool> marked;
  {
    auto store = store_->Lock();
    auto sent = store->MarkTasksSent(mine, now);
    if (!sent) {
      spdlog::error("tasks not marked sent: {}", sent.error().message);
      return;
    }
    marked = std::move(*sent);
    std::set<std::int64_t> ids;
    for (std::size_t i = 0; i < marked.size(); ++i) {
      if (marked[i]) ids.insert(mine[i].first);
    }
    for (auto id : ids) {
      auto record = store->GetTask(id);
      if (!record || !*record) continue;
      fleetdesk::v1::Task task;
      if (auto s = codec::FromJson((*record)->spec, &task); !s) {
        spdlog::error("task {}: its stored spec does not parse: {}", id, s.error().message);
        continue;
      }
      task.set_id(std::to_string(id));
      *task.mutable_expires_at() =
          google::protobuf::util::TimeUtil::MillisecondsToTimestamp((*record)->expires_ms);
      tasks.emplace(id, std::move(task));
    }
  }
  for (std::size_t i = 0; i < marked.size(); ++i) {
    if (!marked[i]) continue;
    auto task = tasks.find(mine[i].first);
    if (task == tasks.end()) continue;
    // Gone since the check: the host stays sent, and the sweep times it out.
    if (!channels_.send(hosts[i]->agent_id, task->second)) {
      spdlog::info("agent {} left before task {} could be sent; it will time out",
                   hosts[i]->agent_id, task->first);
    }
  }
}

}  // namespace fleetdesk::server::engine
