// Configuration tasks as the store keeps them: a task (what to do, to which hosts, in which
// batches) and its hosts, each with its own state and result. Plain structs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fleetdesk::server::store {

// Which hosts a task goes to: listed, or every enrolled host (not archived, not revoked) with
// all of `tags` and, when given, the environment.
struct TaskTargeting {
  std::vector<std::int64_t> host_ids;
  std::vector<std::string> tags;
  std::string environment;
  bool by_selector() const { return host_ids.empty(); }
};

// A host a task goes to, in rollout order.
struct TaskTarget {
  std::int64_t host_id = 0;
  std::string hostname;
  int batch = 0;  // 0 is the first
};

struct NewTask {
  std::string kind;
  // The agent's Task message without its id and expiry, protobuf JSON: sent as it is, so what
  // an agent runs is what was asked.
  std::string spec;
  std::string selector;  // what the targets were chosen by, for people ("tags=web,prod")
  std::vector<std::int64_t> host_ids;  // resolved, in rollout order
  int batch_size = 0;                  // hosts per batch; all at once when 0
  // The rollout stops once more hosts than this failed (failed, timed out or refused); never
  // when unset.
  std::optional<int> max_failures;
  std::int64_t timeout_ms = 0;            // from sent to a result, per host
  std::int64_t expires_ms = 0;            // a host not sent the task by then never gets it
  std::optional<std::int64_t> ticket_id;  // the change record it belongs to
  // A retried submission (same creator and key) answers the first task; the digest tells a
  // retry from a different request that reuses the key.
  std::string idempotency_key;
  std::string request_digest;
};

// Per host: queued, sent, running, and then succeeded, failed, timed_out, cancelled or refused.
struct TaskHostRecord {
  std::int64_t task_id = 0;
  std::string kind;  // the task's
  std::int64_t host_id = 0;
  std::string hostname;
  int batch = 0;
  std::string state = "queued";
  std::optional<int> exit_code;
  std::optional<std::int64_t> duration_ms;
  std::string stdout_text;
  std::string stderr_text;
  std::int64_t stdout_size = 0;  // before truncation
  std::int64_t stderr_size = 0;
  std::string message;
  std::optional<std::int64_t> sent_ms;
  std::optional<std::int64_t> finished_ms;
};

// How many of a task's hosts are in each state.
struct TaskCounts {
  int queued = 0, sent = 0, running = 0, succeeded = 0, failed = 0, timed_out = 0, cancelled = 0,
      refused = 0;
  int total() const {
    return queued + sent + running + succeeded + failed + timed_out + cancelled + refused;
  }
  // What counts against the rollout's failure threshold.
  int failures() const { return failed + timed_out + refused; }
};

struct TaskRecord {
  std::int64_t id = 0;
  std::string kind;
  std::string spec;
  std::string selector;
  int batch_size = 0;
  std::optional<int> max_failures;
  std::int64_t timeout_ms = 0;
  std::int64_t expires_ms = 0;
  std::optional<std::int64_t> ticket_id;
  std::string idempotency_key;
  std::string created_by;
  std::int64_t created_ms = 0;
  // running (hosts still to hear from), finished, stopped (the failure threshold), cancelled.
  std::string state = "running";
  std::string stop_reason;
  int current_batch = 0;  // hosts of batches up to this one may be sent the task
  int batches = 1;
  std::optional<std::int64_t> finished_ms;
  TaskCounts counts;
  bool replayed = false;  // CreateTask found it by its idempotency key
};

struct TaskPage {
  std::vector<TaskRecord> items;
  std::optional<std::int64_t> next_before;  // the cursor of the next (older) page
};

// What an agent said about a task.
struct TaskResultRecord {
  std::string state;  // running, or a final state
  std::optional<int> exit_code;
  std::optional<std::int64_t> duration_ms;
  std::string stdout_text;
  std::string stderr_text;
  std::int64_t stdout_size = 0;
  std::int64_t stderr_size = 0;
  std::string message;
};

// A host due a task, and the agent to send it to.
struct DueTaskHost {
  std::int64_t task_id = 0;
  std::int64_t host_id = 0;
  std::string agent_id;
};

// A result as it came over an agent's channel: the host is the agent's.
struct AgentTaskResult {
  std::string agent_id;
  std::int64_t task_id = 0;
  TaskResultRecord result;
};

// What the sweep changed: hosts whose tasks expired unsent or timed out.
struct TaskSweep {
  int expired = 0;
  int timed_out = 0;
};

// Agent settings kept on the server and assigned by tag (empty: every host).
struct AgentProfileRecord {
  std::int64_t id = 0;
  std::string name;
  std::string tag;
  int priority = 0;
  std::string config;  // the AgentConfig message as JSON
  std::string updated_by;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

}  // namespace fleetdesk::server::store
