#include "agent/tasks/runner.hpp"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "agent/tasks/executor.hpp"
#include "common/time_text.hpp"

namespace fleetdesk::agent::tasks {
namespace {

using fleetdesk::v1::TaskResult;
using google::protobuf::util::TimeUtil;

TaskResult Final(const std::string& id, fleetdesk::v1::TaskState state, std::string message) {
  TaskResult result;
  result.set_task_id(id);
  result.set_state(state);
  result.set_message(std::move(message));
  return result;
}

struct Job {
  fleetdesk::v1::Task task;
  ExecuteOptions options;
};

}  // namespace

struct TaskRunner::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, TaskLog log, const AgentConfig& config, std::string config_name,
       RunnerHooks hooks)
      : io(io),
        log(std::move(log)),
        config(config),
        config_name(std::move(config_name)),
        hooks(std::move(hooks)) {}

  boost::asio::io_context& io;
  TaskLog log;  // io thread only
  const AgentConfig& config;
  std::string config_name;
  RunnerHooks hooks;

  std::mutex mutex;  // guards what follows; held while posting, so no post outlives Stop
  std::condition_variable wake;
  std::deque<Job> queue;
  bool stopping = false;
  bool busy = false;
  std::thread worker;

  // The final result: written down, then handed to the channel.
  void Settle(const TaskResult& result) {
    if (auto s = log.Finish(result); !s) {
      // Sent anyway; only a resend after a reconnect is lost.
      spdlog::error("task {}: cannot write down its result: {}", result.task_id(),
                    s.error().message);
    }
    spdlog::info("task {}: {} ({} ms): {}", result.task_id(),
                 fleetdesk::v1::TaskState_Name(result.state()), result.duration_ms(),
                 result.message());
    hooks.result(result);
  }

  void Run() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(mutex);
        busy = false;
        wake.wait(lock, [this] { return stopping || !queue.empty(); });
        if (stopping) return;
        job = std::move(queue.front());
        queue.pop_front();
        busy = true;
      }
      TaskResult result = Execute(job.task, job.options);
      std::lock_guard lock(mutex);
      if (stopping) return;
      boost::asio::post(
          io, [self = shared_from_this(), result = std::move(result)] { self->Settle(result); });
    }
  }
};

TaskRunner::TaskRunner(boost::asio::io_context& io, TaskLog log, const AgentConfig& config,
                       std::string config_name, RunnerHooks hooks)
    : impl_(std::make_shared<Impl>(io, std::move(log), config, std::move(config_name),
                                   std::move(hooks))) {
  impl_->worker = std::thread([impl = impl_] { impl->Run(); });
}

TaskRunner::~TaskRunner() {
  Stop();
  bool busy = false;
  {
    std::lock_guard lock(impl_->mutex);
    busy = impl_->busy;
  }
  // A task under way is not waited for: a command may run for an hour. Its thread holds the
  // state it needs and ends with the process.
  if (busy) {
    impl_->worker.detach();
  } else if (impl_->worker.joinable()) {
    impl_->worker.join();
  }
}

void TaskRunner::Stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->queue.clear();
  }
  impl_->wake.notify_all();
}

void TaskRunner::Receive(const fleetdesk::v1::Task& task) {
  auto& impl = *impl_;
  const std::string& id = task.id();
  if (!TaskLog::ValidId(id)) {
    spdlog::warn("a task with id '{}' refused: ids are decimal", id.substr(0, 40));
    impl.hooks.result(Final(id.substr(0, 40), fleetdesk::v1::TASK_STATE_REFUSED,
                            "the task id is not a decimal number"));
    return;
  }
  if (impl.log.Known(id)) {
    // Sent again (a server restored from an old backup, a bug): never run twice.
    spdlog::warn("task {} ({}) was received before; not run again", id, task.kind());
    for (const auto& result : impl.log.Unacked()) {
      if (result.task_id() == id) impl.hooks.result(result);
    }
    return;
  }
  spdlog::info("task {} ({}) received", id, task.kind());
  if (task.has_expires_at() && task.expires_at().seconds() > 0 &&
      TimeUtil::GetCurrentTime() >= task.expires_at()) {
    impl.Settle(Final(
        id, fleetdesk::v1::TASK_STATE_CANCELLED,
        "expired at " + UtcSecondsText(task.expires_at().seconds()) + " before it could run here"));
    return;
  }
  if (auto why = Refusal(task, impl.config.tasks, impl.config_name)) {
    impl.Settle(Final(id, fleetdesk::v1::TASK_STATE_REFUSED, *why));
    return;
  }
  // Written down before anything runs: after a crash the id is known and the task is not run
  // again. A disk that refuses means the task does not run at all.
  if (auto s = impl.log.Begin(id); !s) {
    impl.hooks.result(Final(id, fleetdesk::v1::TASK_STATE_FAILED,
                            "not run: the agent cannot write it down: " + s.error().message));
    return;
  }
  impl.hooks.result(Final(id, fleetdesk::v1::TASK_STATE_RUNNING, ""));
  if (task.kind() == "inventory.refresh") {
    auto result = impl.hooks.refresh_inventory(task);
    result.set_task_id(id);
    impl.Settle(result);
    return;
  }
  Job job{task, {}};
  job.options.timeout = Timeout(task, impl.config.tasks);
  job.options.backup_dir = impl.log.BackupDir(id);
  job.options.file_paths = impl.config.tasks.file_paths;
  {
    std::lock_guard lock(impl.mutex);
    if (impl.stopping) return;  // the record says running: the next start reports it
    impl.queue.push_back(std::move(job));
  }
  impl.wake.notify_all();
}

void TaskRunner::Ack(const std::string& task_id) { impl_->log.Ack(task_id); }

std::vector<fleetdesk::v1::TaskResult> TaskRunner::Unacked() const { return impl_->log.Unacked(); }

}  // namespace fleetdesk::agent::tasks
