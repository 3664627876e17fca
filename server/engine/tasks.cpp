#include "server/engine/tasks.hpp"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>
#include <set>

#include "common/codec.hpp"
#include "server/engine/agent_profiles.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::engine {
namespace {

// What the server keeps of a command's output; the agent truncates first, and says how much
// there was.
constexpr std::size_t kMaxOutput = 64 * 1024;
constexpr std::size_t kMaxMessage = 1024;

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
    return MakeError(ErrorCode::kInvalidArgument, "taskResult.taskId '" + codec::Utf8Text(id, 40) +
                                                      "' is not a task this server sent");
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
  r.stdout_text = codec::Utf8Text(result.stdout(), kMaxOutput);
  r.stderr_text = codec::Utf8Text(result.stderr(), kMaxOutput);
  auto size = [](std::uint64_t said, std::size_t have) {
    return static_cast<std::int64_t>(
        std::min<std::uint64_t>(std::max<std::uint64_t>(said, have), INT64_MAX));
  };
  r.stdout_size = size(result.stdout_size(), result.stdout().size());
  r.stderr_size = size(result.stderr_size(), result.stderr().size());
  r.message = codec::Utf8Text(result.message(), kMaxMessage);
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

void TaskDispatcher::AgentConnected(const std::string& agent_id, bool holds_server_config) {
  {
    std::lock_guard lock(mutex_);
    config_due_[agent_id] = holds_server_config;
    woken_ = true;
  }
  wake_.notify_all();
}

void TaskDispatcher::PushConfigs() {
  if (!channels_.config || !channels_.connected_agents) return;
  std::map<std::string, bool> due;
  {
    std::lock_guard lock(mutex_);
    due.swap(config_due_);
  }
  auto records = store_->Lock()->ListAgentProfiles();
  if (!records) {
    spdlog::error("agent profiles: {}", records.error().message);
    std::lock_guard lock(mutex_);
    config_due_.insert(due.begin(), due.end());
    return;
  }
  std::string version;
  for (const auto& r : *records) {
    version += std::to_string(r.id) + "/" + std::to_string(r.updated_ms) + ";";
  }
  const auto now = std::chrono::steady_clock::now();
  const bool every = version != profiles_version_ || now >= next_config_pass_;
  std::vector<std::string> agents;
  if (every) {
    profiles_version_ = version;
    next_config_pass_ = now + std::chrono::seconds(30);
    agents = channels_.connected_agents();
    // Forget agents that left: one that comes back is sent its settings on connecting.
    std::set<std::string> here(agents.begin(), agents.end());
    std::erase_if(config_sent_, [&](const auto& kv) { return !here.contains(kv.first); });
  } else {
    for (const auto& [agent, holds] : due) agents.push_back(agent);
  }
  if (agents.empty()) return;
  const auto profiles = ParseProfiles(*records);
  std::map<std::string, std::vector<std::string>> tags;
  if (!profiles.empty()) {
    auto read = store_->Lock()->AgentTags(agents);
    if (!read) {
      spdlog::error("agent profiles: the hosts' tags: {}", read.error().message);
      std::lock_guard lock(mutex_);
      config_due_.insert(due.begin(), due.end());
      return;
    }
    tags = std::move(*read);
  }
  static const std::vector<std::string> kNoTags;
  for (const auto& agent : agents) {
    auto it = tags.find(agent);
    const auto config = Effective(profiles, it == tags.end() ? kNoTags : it->second);
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream stream(&bytes);
      google::protobuf::io::CodedOutputStream coded(&stream);
      coded.SetSerializationDeterministic(true);  // the sources map in a fixed order
      config.SerializeToCodedStream(&coded);
    }
    const std::size_t hash = std::hash<std::string>{}(bytes);
    auto sent = config_sent_.find(agent);
    if (auto d = due.find(agent); d != due.end()) {
      // A new channel: told its settings, and "none" too when it holds some from before (a
      // profile deleted while it was away); an agent that never had any is sent nothing.
      const bool empty = config.ByteSizeLong() == 0;
      if (empty && !d->second) {
        config_sent_[agent] = hash;
        continue;
      }
    } else if (sent != config_sent_.end() && sent->second == hash) {
      continue;
    } else if (sent == config_sent_.end() && config.ByteSizeLong() == 0) {
      continue;  // never sent anything, and nothing to send
    }
    if (channels_.config(agent, config)) config_sent_[agent] = hash;
  }
}

void TaskDispatcher::Round() {
  RecordResults();
  PushConfigs();
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
