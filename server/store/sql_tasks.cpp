// Configuration tasks: targets resolved at submit time, each host's state, the rollout's batches
// and failure threshold, cancellation and the sweep of expired and timed-out hosts.
#include <algorithm>
#include <map>
#include <set>

#include "common/codec.hpp"
#include "fleetdesk/v1/agent.pb.h"
#include "server/store/sql_base.hpp"

namespace fleetdesk::server::store {
namespace {

constexpr const char* kTaskColumns =
    "id, kind, spec, selector, batch_size, max_failures, timeout_ms, expires_ms, ticket_id, "
    "idempotency_key, created_by, created_ms, state, stop_reason, current_batch, batches, "
    "finished_ms";

TaskRecord ReadTask(const SqlRow& r) {
  TaskRecord t;
  t.id = r.Int(0);
  t.kind = r.Text(1);
  t.spec = r.Text(2);
  t.selector = r.Text(3);
  t.batch_size = static_cast<int>(r.Int(4));
  if (auto m = r.OptInt(5)) t.max_failures = static_cast<int>(*m);
  t.timeout_ms = r.Int(6);
  t.expires_ms = r.Int(7);
  t.ticket_id = r.OptInt(8);
  t.idempotency_key = r.IsNull(9) ? "" : r.Text(9);
  t.created_by = r.Text(10);
  t.created_ms = r.Int(11);
  t.state = r.Text(12);
  t.stop_reason = r.Text(13);
  t.current_batch = static_cast<int>(r.Int(14));
  t.batches = static_cast<int>(r.Int(15));
  t.finished_ms = r.OptInt(16);
  return t;
}

constexpr const char* kHostRowColumns =
    "th.task_id, th.host_id, h.hostname, th.batch, th.state, th.exit_code, th.duration_ms, "
    "th.stdout, th.stderr, th.stdout_size, th.stderr_size, th.message, th.sent_ms, "
    "th.finished_ms, t.kind";

TaskHostRecord ReadTaskHost(const SqlRow& r) {
  TaskHostRecord h;
  h.task_id = r.Int(0);
  h.host_id = r.Int(1);
  h.hostname = r.Text(2);
  h.batch = static_cast<int>(r.Int(3));
  h.state = r.Text(4);
  if (auto c = r.OptInt(5)) h.exit_code = static_cast<int>(*c);
  h.duration_ms = r.OptInt(6);
  h.stdout_text = r.Text(7);
  h.stderr_text = r.Text(8);
  h.stdout_size = r.Int(9);
  h.stderr_size = r.Int(10);
  h.message = r.Text(11);
  h.sent_ms = r.OptInt(12);
  h.finished_ms = r.OptInt(13);
  h.kind = r.Text(14);
  return h;
}

void Count(TaskCounts& c, const std::string& state, int n) {
  if (state == "queued") c.queued += n;
  if (state == "sent") c.sent += n;
  if (state == "running") c.running += n;
  if (state == "succeeded") c.succeeded += n;
  if (state == "failed") c.failed += n;
  if (state == "timed_out") c.timed_out += n;
  if (state == "cancelled") c.cancelled += n;
  if (state == "refused") c.refused += n;
}

bool FinalState(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "timed_out" ||
         state == "cancelled" || state == "refused";
}

bool Failure(const std::string& state) {
  return state == "failed" || state == "timed_out" || state == "refused";
}

}  // namespace

Result<std::vector<TaskTarget>> SqlTasks::ResolveTaskTargets(const TaskTargeting& targeting) {
  std::vector<TaskTarget> out;
  // What may be sent a task: an enrolled agent that is neither revoked nor archived.
  const std::string usable = "h.agent_id IS NOT NULL AND NOT h.revoked AND h.archived_ms IS NULL";
  if (!targeting.by_selector()) {
    std::vector<std::int64_t> ids = targeting.host_ids;
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    std::map<std::int64_t, std::pair<std::string, bool>> found;
    auto done = RunForKeys("SELECT h.id, h.hostname, CASE WHEN " + usable +
                               " THEN 1 ELSE 0 END FROM hosts h WHERE "
                               "h.id IN ",
                           ids, "", [&](const SqlRow& r) {
                             found[r.Int(0)] = {r.Text(1), r.Int(2) != 0};
                           });
    if (!done) return done.error();
    for (const auto id : ids) {
      auto host = found.find(id);
      if (host == found.end()) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "hostIds: no host has id " + std::to_string(id));
      }
      if (!host->second.second) {
        return MakeError(ErrorCode::kInvalidArgument,
                         "hostIds: host " + std::to_string(id) + " (" + host->second.first +
                             ") has no enrolled agent that may be sent tasks (not enrolled, "
                             "revoked or archived)");
      }
      out.push_back({id, host->second.first, 0});
    }
    return out;
  }
  std::string sql = "SELECT h.id, h.hostname FROM hosts h WHERE " + usable;
  std::vector<SqlArg> args;
  for (const auto& tag : targeting.tags) {
    sql += " AND EXISTS (SELECT 1 FROM host_tags t WHERE t.host_id = h.id AND t.tag = ?)";
    args.emplace_back(tag);
  }
  if (!targeting.environment.empty()) {
    sql += " AND h.environment = ?";
    args.emplace_back(targeting.environment);
  }
  sql += " ORDER BY h.id";
  auto done = db_->Run(sql, args, [&](const SqlRow& r) {
    out.push_back({r.Int(0), r.Text(1), 0});
  });
  if (!done) return done.error();
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidArgument,
                     "selector: no enrolled host (not archived, not revoked) matches it");
  }
  return out;
}

Result<std::vector<TaskRecord>> SqlTasks::ReadTasks(const std::string& where,
                                                    std::vector<SqlArg> args,
                                                    const std::string& tail) {
  std::vector<TaskRecord> out;
  auto done = db_->Run(std::string("SELECT ") + kTaskColumns + " FROM tasks WHERE " + where + tail,
                       args, [&](const SqlRow& r) { out.push_back(ReadTask(r)); });
  if (!done) return done.error();
  if (out.empty()) return out;
  std::map<std::int64_t, TaskRecord*> by_id;
  std::vector<SqlArg> ids;
  std::string in;
  for (auto& t : out) {
    by_id[t.id] = &t;
    ids.emplace_back(t.id);
    in += in.empty() ? "?" : ", ?";
  }
  done = db_->Run("SELECT task_id, state, COUNT(*) FROM task_hosts WHERE task_id IN (" + in +
                      ") GROUP BY task_id, state",
                  ids, [&](const SqlRow& r) {
                    Count(by_id[r.Int(0)]->counts, r.Text(1), static_cast<int>(r.Int(2)));
                  });
  if (!done) return done.error();
  return out;
}

Result<TaskRecord> SqlTasks::CreateTask(const NewTask& task, const Actor& actor,
                                        std::int64_t now_ms) {
  if (task.host_ids.empty()) {
    return MakeError(ErrorCode::kInvalidArgument, "a task needs at least one host");
  }
  auto tx = BeginTx();
  if (!tx) return tx.error();
  if (!task.idempotency_key.empty()) {
    std::optional<std::pair<std::int64_t, std::string>> earlier;
    auto done =
        Run("SELECT id, request_digest FROM tasks WHERE created_by = ? AND idempotency_key = ?",
            {actor.name, task.idempotency_key},
            [&](const SqlRow& r) { earlier.emplace(r.Int(0), r.Text(1)); });
    if (!done) return done.error();
    if (earlier) {
      if (earlier->second != task.request_digest) {
        return MakeError(ErrorCode::kAlreadyExists, "idempotencyKey: already used by task " +
                                                        std::to_string(earlier->first) +
                                                        " for a different request");
      }
      auto tasks = ReadTasks("id = ?", {earlier->first});
      if (!tasks) return tasks.error();
      TaskRecord replay = tasks->at(0);
      replay.replayed = true;
      return replay;
    }
  }
  if (task.ticket_id) {
    bool found = false;
    auto done = Run("SELECT 1 FROM tickets WHERE id = ?", {*task.ticket_id},
                    [&](const SqlRow&) { found = true; });
    if (!done) return done.error();
    if (!found) {
      return MakeError(ErrorCode::kInvalidArgument,
                       "ticketId: no ticket has id " + std::to_string(*task.ticket_id));
    }
  }
  const int hosts = static_cast<int>(task.host_ids.size());
  const int batch_size = task.batch_size > 0 ? std::min(task.batch_size, hosts) : hosts;
  const int batches = (hosts + batch_size - 1) / batch_size;
  std::optional<std::string> key;
  if (!task.idempotency_key.empty()) key = task.idempotency_key;
  std::optional<std::int64_t> max_failures;
  if (task.max_failures) max_failures = *task.max_failures;
  std::int64_t id = 0;
  auto done = Run(
      "INSERT INTO tasks (kind, spec, selector, batch_size, max_failures, timeout_ms, expires_ms, "
      "ticket_id, idempotency_key, request_digest, created_by, created_ms, state, batches, "
      "pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?) RETURNING id",
      {task.kind, task.spec, task.selector, batch_size, max_failures, task.timeout_ms,
       task.expires_ms, task.ticket_id, key, task.request_digest, actor.name, now_ms, batches,
       hosts},
      [&](const SqlRow& r) { id = r.Int(0); });
  if (!done) return done.error();
  // Many rows per statement: a task to 10,000 hosts is 20 statements, not 10,000 round trips.
  // (A host listed twice would be sent the task twice: the primary key refuses it, and the
  // caller resolves targets to distinct hosts.)
  constexpr int kRowsPerInsert = 500;
  for (int first = 0; first < hosts; first += kRowsPerInsert) {
    const int last = std::min(hosts, first + kRowsPerInsert);
    std::string sql = "INSERT INTO task_hosts (task_id, host_id, batch, state) VALUES ";
    std::vector<SqlArg> args;
    for (int i = first; i < last; ++i) {
      sql += i == first ? "(?, ?, ?, 'queued')" : ", (?, ?, ?, 'queued')";
      args.emplace_back(id);
      args.emplace_back(task.host_ids[static_cast<std::size_t>(i)]);
      args.emplace_back(i / batch_size);
    }
    auto inserted = db_->Run(sql, args, {});
    if (!inserted) return inserted.error();
    rows_written_ += static_cast<std::uint64_t>(*inserted);
  }
  auto entry = AuditOf("task.create", "task", id, actor, now_ms);
  entry.after = {{"kind", task.kind},
                 {"hosts", std::to_string(hosts)},
                 {"selector", task.selector},
                 {"batch_size", std::to_string(batch_size)},
                 {"max_failures", task.max_failures ? std::to_string(*task.max_failures) : ""},
                 {"spec", task.spec}};
  if (task.ticket_id) entry.after["ticket"] = std::to_string(*task.ticket_id);
  if (auto s = Audit(entry); !s) return s.error();
  if (task.ticket_id) {
    if (auto s = Event(*task.ticket_id, now_ms, "task", task.kind, "",
                       "task " + std::to_string(id) + " to " + std::to_string(hosts) +
                           (hosts == 1 ? " host" : " hosts"),
                       actor.name);
        !s) {
      return s.error();
    }
  }
  if (auto s = NotifyPeers(); !s) return s.error();
  auto created = ReadTasks("id = ?", {id});
  if (!created) return created.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return created->at(0);
}

Result<std::optional<TaskRecord>> SqlTasks::GetTask(std::int64_t id) {
  auto tasks = ReadTasks("id = ?", {id});
  if (!tasks) return tasks.error();
  if (tasks->empty()) return std::optional<TaskRecord>{};
  return std::optional<TaskRecord>(std::move(tasks->at(0)));
}

Result<TaskPage> SqlTasks::ListTasks(std::optional<std::int64_t> before_id, int limit) {
  TaskPage page;
  auto tasks = ReadTasks("id < ?", {before_id.value_or(INT64_MAX)},
                         " ORDER BY id DESC LIMIT " + std::to_string(limit + 1));
  if (!tasks) return tasks.error();
  page.items = std::move(*tasks);
  if (static_cast<int>(page.items.size()) > limit) {
    page.items.resize(static_cast<std::size_t>(limit));
    page.next_before = page.items.back().id;
  }
  return page;
}

Result<std::vector<TaskHostRecord>> SqlTasks::ListTaskHosts(std::int64_t task_id,
                                                            const std::string& state,
                                                            std::int64_t after_host, int limit) {
  std::vector<TaskHostRecord> out;
  std::string sql =
      std::string("SELECT ") + kHostRowColumns +
      " FROM task_hosts th JOIN hosts h ON h.id = th.host_id JOIN tasks t ON t.id = th.task_id "
      "WHERE th.task_id = ? "
      "AND th.host_id > ?";
  std::vector<SqlArg> args{task_id, after_host};
  if (!state.empty()) {
    sql += " AND th.state = ?";
    args.emplace_back(state);
  }
  sql += " ORDER BY th.host_id LIMIT ?";
  args.emplace_back(limit);
  auto done = db_->Run(sql, args, [&](const SqlRow& r) { out.push_back(ReadTaskHost(r)); });
  if (!done) return done.error();
  return out;
}

Result<std::vector<TaskHostRecord>> SqlTasks::HostTasks(std::int64_t host_id, int limit) {
  std::vector<TaskHostRecord> out;
  auto done =
      Run(std::string("SELECT ") + kHostRowColumns +
              " FROM task_hosts th JOIN hosts h ON h.id = th.host_id JOIN tasks t ON t.id = "
              "th.task_id WHERE th.host_id = ? "
              "ORDER BY th.task_id DESC LIMIT ?",
          {host_id, limit}, [&](const SqlRow& r) { out.push_back(ReadTaskHost(r)); });
  if (!done) return done.error();
  return out;
}

Result<std::vector<bool>> SqlTasks::MarkTasksSent(
    const std::vector<std::pair<std::int64_t, std::int64_t>>& task_hosts, std::int64_t now_ms) {
  std::vector<bool> out(task_hosts.size(), false);
  if (task_hosts.empty()) return out;
  // Each task's hosts in statements of up to 500, each answering the hosts it marked.
  std::map<std::int64_t, std::vector<std::size_t>> by_task;
  for (std::size_t i = 0; i < task_hosts.size(); ++i) by_task[task_hosts[i].first].push_back(i);
  auto tx = BeginTx();
  if (!tx) return tx.error();
  constexpr std::size_t kHostsPerUpdate = 500;
  for (const auto& [task, rows] : by_task) {
    for (std::size_t first = 0; first < rows.size(); first += kHostsPerUpdate) {
      const std::size_t last = std::min(rows.size(), first + kHostsPerUpdate);
      std::map<std::int64_t, std::size_t> position;
      std::vector<SqlArg> args{now_ms, task, now_ms};
      std::string in;
      for (std::size_t k = first; k < last; ++k) {
        const auto host = task_hosts[rows[k]].second;
        position[host] = rows[k];
        args.emplace_back(host);
        in += k == first ? "?" : ", ?";
      }
      // Only a running task's queued hosts, in a batch the rollout reached, before expiry: what
      // DueTaskHosts read, checked again where the change is made, so a cancel or another
      // server's send that came in between wins.
      auto done = db_->Run(
          "UPDATE task_hosts SET state = 'sent', sent_ms = ? WHERE task_id = ? AND state = "
          "'queued' AND EXISTS (SELECT 1 FROM tasks t WHERE t.id = task_hosts.task_id AND t.state "
          "= 'running' AND t.expires_ms > ? AND task_hosts.batch <= t.current_batch) AND host_id "
          "IN (" +
              in + ") RETURNING host_id",
          args, [&](const SqlRow& r) {
            if (auto it = position.find(r.Int(0)); it != position.end()) out[it->second] = true;
          });
      if (!done) return done.error();
    }
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<std::vector<DueTaskHost>> SqlTasks::DueTaskHosts(std::int64_t now_ms,
                                                        std::int64_t after_task,
                                                        std::int64_t after_host, int limit) {
  std::vector<DueTaskHost> out;
  auto done = Run(
      "SELECT th.task_id, th.host_id, h.agent_id FROM tasks t JOIN task_hosts th ON th.task_id = "
      "t.id AND th.state = 'queued' AND th.batch <= t.current_batch JOIN hosts h ON h.id = "
      "th.host_id WHERE t.state = 'running' AND t.expires_ms > ? AND h.agent_id IS NOT NULL "
      "AND (th.task_id > ? OR (th.task_id = ? AND th.host_id > ?)) ORDER BY th.task_id, "
      "th.host_id LIMIT ?",
      {now_ms, after_task, after_task, after_host, limit}, [&](const SqlRow& r) {
        out.push_back({r.Int(0), r.Int(1), r.Text(2)});
      });
  if (!done) return done.error();
  return out;
}

Result<bool> SqlTasks::SettleHost(std::int64_t task_id, std::int64_t host_id, const char* from,
                                  const std::string& state, const TaskResultRecord& result,
                                  std::int64_t now_ms) {
  std::optional<std::int64_t> exit_code;
  if (result.exit_code) exit_code = *result.exit_code;
  auto changed = Run(
      std::string("UPDATE task_hosts SET state = ?, exit_code = ?, duration_ms = ?, stdout = ?, "
                  "stderr = ?, stdout_size = ?, stderr_size = ?, message = ?, finished_ms = ? "
                  "WHERE task_id = ? AND host_id = ? AND state IN ") +
          from,
      {state, exit_code, result.duration_ms, result.stdout_text, result.stderr_text,
       result.stdout_size, result.stderr_size, result.message, now_ms, task_id, host_id});
  if (!changed) return changed.error();
  return *changed > 0;
}

Status SqlTasks::Advance(std::int64_t task_id, const Settled& settled, std::int64_t now_ms) {
  // One update of the task's row for all the hosts a batch of results settled: PostgreSQL keeps
  // a version of the row per update until the transaction ends, and each update walks them.
  if (auto s = Do("UPDATE tasks SET pending = pending - ?, failures = failures + ? WHERE id = ?",
                  {settled.hosts, settled.failures, task_id});
      !s) {
    return s;
  }
  std::optional<TaskRecord> task;
  std::int64_t pending = 0;
  std::int64_t failures = 0;
  auto done =
      Run(std::string("SELECT ") + kTaskColumns + ", pending, failures FROM tasks WHERE id = ?",
          {task_id}, [&](const SqlRow& r) {
            task = ReadTask(r);
            pending = r.Int(17);
            failures = r.Int(18);
          });
  if (!done) return done.error();
  if (!task) return MakeError(ErrorCode::kInternal, "task vanished while settling its hosts");
  if (pending == 0) {
    return Do(
        "UPDATE tasks SET state = CASE WHEN state = 'running' THEN 'finished' ELSE state END, "
        "finished_ms = ? WHERE id = ?",
        {now_ms, task_id});
  }
  if (task->state != "running") return {};
  if (task->max_failures && failures > *task->max_failures) {
    const std::string reason = std::to_string(failures) + " hosts failed, more than the " +
                               std::to_string(*task->max_failures) + " the rollout allows";
    if (auto s = Do("UPDATE tasks SET state = 'stopped', stop_reason = ? WHERE id = ?",
                    {reason, task_id});
        !s) {
      return s;
    }
    // The hosts not sent the task never will be; count them out of the pending ones.
    auto cancelled = Run(
        "UPDATE task_hosts SET state = 'cancelled', message = ?, finished_ms = ? WHERE task_id = "
        "? AND state = 'queued'",
        {"the rollout stopped: " + reason, now_ms, task_id});
    if (!cancelled) return cancelled.error();
    return Do(
        "UPDATE tasks SET pending = pending - ?, finished_ms = CASE WHEN pending = ? THEN ? ELSE "
        "finished_ms END WHERE id = ?",
        {*cancelled, *cancelled, now_ms, task_id});
  }
  // The batch is done when none of its hosts (nor an earlier batch's) waits for a result.
  bool open = false;
  done = Run(
      "SELECT 1 FROM task_hosts WHERE task_id = ? AND batch <= ? AND state IN ('queued', 'sent', "
      "'running') LIMIT 1",
      {task_id, task->current_batch}, [&](const SqlRow&) { open = true; });
  if (!done) return done.error();
  if (!open && task->current_batch + 1 < task->batches) {
    if (auto s = Do("UPDATE tasks SET current_batch = current_batch + 1 WHERE id = ?", {task_id});
        !s) {
      return s;
    }
    return NotifyPeers();  // the next batch's hosts may be connected to another server
  }
  return {};
}

Status SqlTasks::NotifyPeers() {
  // Delivered at the commit, once per transaction however often it is sent.
  if (!Pg()) return {};
  auto done = Run("SELECT pg_notify(?, '')", {kTasksChannel});
  if (!done) return done.error();
  return {};
}

namespace {

Status CheckResultState(const std::string& state) {
  if (state == "running" || FinalState(state)) return {};
  return MakeError(ErrorCode::kInvalidArgument,
                   "state: an agent reports running, succeeded, failed, timed_out, cancelled or "
                   "refused, not '" +
                       state + "'");
}

}  // namespace

Result<bool> SqlTasks::RecordTaskResult(std::int64_t task_id, std::int64_t host_id,
                                        const TaskResultRecord& result, std::int64_t now_ms) {
  if (auto s = CheckResultState(result.state); !s) return s.error();
  std::optional<std::string> agent;
  auto done = Run("SELECT agent_id FROM hosts WHERE id = ? AND agent_id IS NOT NULL", {host_id},
                  [&](const SqlRow& r) { agent = r.Text(0); });
  if (!done) return done.error();
  if (!agent) {
    return MakeError(ErrorCode::kNotFound,
                     "host " + std::to_string(host_id) + " has no task " + std::to_string(task_id));
  }
  auto recorded = RecordTaskResults({{*agent, task_id, result}}, now_ms);
  if (!recorded) return recorded.error();
  return std::move(recorded->at(0));
}

Result<std::vector<Result<bool>>> SqlTasks::RecordTaskResults(
    const std::vector<AgentTaskResult>& results, std::int64_t now_ms) {
  std::vector<Result<bool>> out(results.size(), false);
  if (results.empty()) return out;
  auto tx = BeginTx();
  if (!tx) return tx.error();
  // Each agent's host, 500 agents to a statement.
  std::map<std::string, std::int64_t> hosts;
  {
    std::vector<std::string> agents;
    for (const auto& r : results) agents.push_back(r.agent_id);
    std::sort(agents.begin(), agents.end());
    agents.erase(std::unique(agents.begin(), agents.end()), agents.end());
    auto done = RunForKeys("SELECT agent_id, id FROM hosts WHERE agent_id IN ", agents, "",
                           [&](const SqlRow& r) { hosts[r.Text(0)] = r.Int(1); });
    if (!done) return done.error();
  }
  // Which results go in: a known host, a state an agent sends; `running` ones first, then the
  // outcomes, each (task, host) once (a repeat in the same round changes nothing anyway).
  std::vector<std::size_t> running;
  std::vector<std::size_t> outcomes;
  std::vector<std::size_t> repeats;
  std::set<std::pair<std::int64_t, std::int64_t>> seen_running;
  std::set<std::pair<std::int64_t, std::int64_t>> seen_outcome;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& r = results[i];
    if (auto s = CheckResultState(r.result.state); !s) {
      out[i] = s.error();
      continue;
    }
    auto host = hosts.find(r.agent_id);
    if (host == hosts.end()) {
      out[i] = MakeError(ErrorCode::kNotFound, "no host has agent " + r.agent_id);
      continue;
    }
    const std::pair key{r.task_id, host->second};
    if (r.result.state == "running") {
      if (seen_running.insert(key).second) running.push_back(i);
    } else if (seen_outcome.insert(key).second) {
      outcomes.push_back(i);
    } else {
      repeats.push_back(i);  // answered false: the first outcome stands
    }
  }
  // Many results to a statement: one round trip per result was most of the time 10,000 hosts'
  // results took on PostgreSQL. The UPDATE takes a result only from a host sent the task (or
  // running it), and answers the hosts it changed.
  std::set<std::pair<std::int64_t, std::int64_t>> changed;
  std::map<std::int64_t, Settled> settled;
  std::vector<Ended> ended;
  auto record = [&](const std::vector<std::size_t>& which, bool outcome) -> Status {
    const std::size_t per_statement = outcome ? 100 : 400;
    for (std::size_t first = 0; first < which.size(); first += per_statement) {
      const std::size_t last = std::min(which.size(), first + per_statement);
      std::vector<SqlArg> args;
      std::string values;
      for (std::size_t k = first; k < last; ++k) {
        const auto& r = results[which[k]];
        values += k == first ? "" : ", ";
        args.emplace_back(r.task_id);
        args.emplace_back(hosts[r.agent_id]);
        if (!outcome) {
          values += "(CAST(? AS BIGINT), CAST(? AS BIGINT))";
          continue;
        }
        values +=
            "(CAST(? AS BIGINT), CAST(? AS BIGINT), ?, CAST(? AS BIGINT), CAST(? AS BIGINT), ?, ?, "
            "CAST(? AS BIGINT), CAST(? AS BIGINT), ?)";
        args.emplace_back(r.result.state);
        std::optional<std::int64_t> exit_code;
        if (r.result.exit_code) exit_code = *r.result.exit_code;
        args.emplace_back(exit_code);
        args.emplace_back(r.result.duration_ms);
        args.emplace_back(r.result.stdout_text);
        args.emplace_back(r.result.stderr_text);
        args.emplace_back(r.result.stdout_size);
        args.emplace_back(r.result.stderr_size);
        args.emplace_back(r.result.message);
      }
      std::string sql;
      if (outcome) {
        args.emplace_back(now_ms);
        sql =
            "WITH v (task_id, host_id, state, exit_code, duration_ms, stdout, stderr, "
            "stdout_size, stderr_size, message) AS (VALUES " +
            values +
            ") UPDATE task_hosts SET state = v.state, exit_code = v.exit_code, duration_ms = "
            "v.duration_ms, stdout = v.stdout, stderr = v.stderr, stdout_size = v.stdout_size, "
            "stderr_size = v.stderr_size, message = v.message, finished_ms = CAST(? AS BIGINT) "
            "FROM v WHERE task_hosts.task_id = v.task_id AND task_hosts.host_id = v.host_id AND "
            "task_hosts.state IN ('sent', 'running') RETURNING task_hosts.task_id, "
            "task_hosts.host_id, task_hosts.state";
      } else {
        sql = "WITH v (task_id, host_id) AS (VALUES " + values +
              ") UPDATE task_hosts SET state = 'running' FROM v WHERE task_hosts.task_id = "
              "v.task_id AND task_hosts.host_id = v.host_id AND task_hosts.state = 'sent' "
              "RETURNING task_hosts.task_id, task_hosts.host_id, task_hosts.state";
      }
      auto done = db_->Run(sql, args, [&](const SqlRow& row) {
        changed.insert({row.Int(0), row.Int(1)});
        if (!outcome) return;
        ended.push_back({row.Int(0), row.Int(1), row.Text(2)});
        auto& s = settled[row.Int(0)];
        ++s.hosts;
        s.failures += Failure(row.Text(2)) ? 1 : 0;
      });
      if (!done) return done.error();
    }
    return {};
  };
  if (auto s = record(running, false); !s) return s.error();
  std::set<std::pair<std::int64_t, std::int64_t>> running_changed;
  running_changed.swap(changed);
  if (auto s = record(outcomes, true); !s) return s.error();
  std::vector<bool> repeated(results.size(), false);
  for (auto i : repeats) repeated[i] = true;
  for (std::size_t i = 0; i < results.size(); ++i) {
    if (!out[i].ok() || repeated[i]) continue;  // refused above, or a repeat: false
    const auto& r = results[i];
    const std::pair key{r.task_id, hosts[r.agent_id]};
    const bool applied = (r.result.state == "running" ? running_changed : changed).count(key) > 0;
    if (applied) {
      out[i] = true;
      continue;
    }
    bool known = false;
    auto done = Run("SELECT 1 FROM task_hosts WHERE task_id = ? AND host_id = ?",
                    {key.first, key.second}, [&](const SqlRow&) { known = true; });
    if (!done) return done.error();
    if (!known) {
      out[i] = MakeError(ErrorCode::kNotFound, "agent " + r.agent_id + "'s host has no task " +
                                                   std::to_string(r.task_id));
    }
  }
  if (auto s = AddTaskEvents(ended, now_ms); !s) return s.error();
  for (const auto& [task, s] : settled) {
    if (auto st = Advance(task, s, now_ms); !st) return st.error();
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return out;
}

Result<TaskRecord> SqlTasks::CancelTask(std::int64_t id, const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<std::string> state;
  auto done = Run(std::string("SELECT state FROM tasks WHERE id = ?") + (Pg() ? " FOR UPDATE" : ""),
                  {id}, [&](const SqlRow& r) { state = r.Text(0); });
  if (!done) return done.error();
  if (!state) return MakeError(ErrorCode::kNotFound, "no task has id " + std::to_string(id));
  if (*state != "running") {
    return MakeError(ErrorCode::kFailedPrecondition,
                     "task " + std::to_string(id) + " is " + *state + ", not running");
  }
  auto cancelled = Run(
      "UPDATE task_hosts SET state = 'cancelled', message = ?, finished_ms = ? WHERE task_id = ? "
      "AND state = 'queued'",
      {"cancelled by " + actor.name, now_ms, id});
  if (!cancelled) return cancelled.error();
  if (auto s = Do("UPDATE tasks SET state = 'cancelled', stop_reason = ?, pending = pending - ?, "
                  "finished_ms = CASE WHEN pending = ? THEN ? ELSE finished_ms END WHERE id = ?",
                  {"cancelled by " + actor.name, *cancelled, *cancelled, now_ms, id});
      !s) {
    return s.error();
  }
  auto entry = AuditOf("task.cancel", "task", id, actor, now_ms);
  entry.before = {{"state", *state}};
  entry.after = {{"state", "cancelled"}, {"hosts_cancelled", std::to_string(*cancelled)}};
  if (auto s = Audit(entry); !s) return s.error();
  auto tasks = ReadTasks("id = ?", {id});
  if (!tasks) return tasks.error();
  if (auto s = tx->Commit(); !s) return s.error();
  return tasks->at(0);
}

Status SqlTasks::AddTaskEvents(const std::vector<Ended>& ended, std::int64_t now_ms) {
  if (ended.empty()) return {};
  // What each task was, in words, and who asked: usually one task for the whole round.
  struct About {
    std::string subject;
    std::string actor;
  };
  std::map<std::int64_t, About> about;
  for (const auto& e : ended) {
    if (about.contains(e.task_id)) continue;
    auto& a = about[e.task_id];
    a.subject = "task " + std::to_string(e.task_id);
    auto done = Run("SELECT kind, spec, created_by FROM tasks WHERE id = ?", {e.task_id},
                    [&](const SqlRow& r) {
                      a.subject += " " + r.Text(0);
                      a.actor = r.Text(2);
                      fleetdesk::v1::Task spec;
                      if (!codec::FromJson(r.Text(1), &spec)) return;
                      std::string target = spec.service().unit() + spec.file_write().path();
                      for (const auto& arg : spec.command().argv()) {
                        target += (target.empty() ? "" : " ") + arg;
                      }
                      if (target.size() > 200) target = target.substr(0, 200) + "...";
                      if (!target.empty()) a.subject += " " + target;
                    });
    if (!done) return done.error();
  }
  // 100 events to a statement, as the results themselves.
  for (std::size_t first = 0; first < ended.size(); first += 100) {
    const std::size_t last = std::min(ended.size(), first + 100);
    std::string values;
    std::vector<SqlArg> args;
    for (std::size_t k = first; k < last; ++k) {
      const auto& e = ended[k];
      const auto& a = about[e.task_id];
      values += k == first ? "(?, ?, 'task', ?, '', ?, ?)" : ", (?, ?, 'task', ?, '', ?, ?)";
      args.emplace_back(e.host_id);
      args.emplace_back(now_ms);
      args.emplace_back(a.subject);
      args.emplace_back(e.state);
      args.emplace_back(a.actor);
    }
    auto done = db_->Run(
        "INSERT INTO host_events (host_id, at_ms, kind, subject, old_value, new_value, actor) "
        "VALUES " +
            values,
        args, {});
    if (!done) return done.error();
  }
  return {};
}

Result<TaskSweep> SqlTasks::SweepTasks(std::int64_t now_ms) {
  TaskSweep sweep;
  auto tx = BeginTx();
  if (!tx) return tx.error();
  // Who is late: queued hosts of expired running tasks, and hosts sent the task longer ago
  // than its timeout.
  std::vector<std::tuple<std::int64_t, std::int64_t, bool>> late;
  auto done = Run(
      "SELECT th.task_id, th.host_id, th.state = 'queued' FROM task_hosts th JOIN tasks t ON "
      "t.id = th.task_id WHERE th.state IN ('queued', 'sent', 'running') AND ((th.state = "
      "'queued' AND t.expires_ms <= ?) OR (th.state <> 'queued' AND th.sent_ms + t.timeout_ms <= "
      "?)) ORDER BY th.task_id, th.host_id LIMIT 10000",
      {now_ms, now_ms}, [&](const SqlRow& r) { late.emplace_back(r.Int(0), r.Int(1), r.Bool(2)); });
  if (!done) return done.error();
  std::map<std::int64_t, Settled> settled;
  std::vector<Ended> ended;
  for (const auto& [task, host, queued] : late) {
    TaskResultRecord result;
    result.message = queued ? "expired before the host could be sent the task"
                            : "no result within the task's timeout";
    const std::string state = queued ? "cancelled" : "timed_out";
    auto changed = SettleHost(task, host, queued ? "('queued')" : "('sent', 'running')", state,
                              result, now_ms);
    if (!changed) return changed.error();
    if (!*changed) continue;
    if (!queued) ended.push_back({task, host, state});  // an expired one never reached the host
    auto& s = settled[task];
    ++s.hosts;
    s.failures += Failure(state) ? 1 : 0;
    ++(queued ? sweep.expired : sweep.timed_out);
  }
  if (auto s = AddTaskEvents(ended, now_ms); !s) return s.error();
  for (const auto& [task, s] : settled) {
    if (auto st = Advance(task, s, now_ms); !st) return st.error();
  }
  if (auto s = tx->Commit(); !s) return s.error();
  return sweep;
}

namespace {

constexpr const char* kProfileColumns =
    "id, name, tag, priority, config, updated_by, created_ms, updated_ms";

AgentProfileRecord ReadProfile(const SqlRow& r) {
  return AgentProfileRecord{r.Int(0),  r.Text(1), r.Text(2), static_cast<int>(r.Int(3)),
                            r.Text(4), r.Text(5), r.Int(6),  r.Int(7)};
}

// A profile as the audit log keeps it.
std::map<std::string, std::string> Fields(const AgentProfileRecord& p) {
  return {{"name", p.name},
          {"tag", p.tag},
          {"priority", std::to_string(p.priority)},
          {"config", p.config}};
}

}  // namespace

Result<std::vector<AgentProfileRecord>> SqlTasks::ListAgentProfiles() {
  std::vector<AgentProfileRecord> out;
  auto done =
      Run(std::string("SELECT ") + kProfileColumns + " FROM agent_profiles ORDER BY priority, id",
          {}, [&](const SqlRow& r) { out.push_back(ReadProfile(r)); });
  if (!done) return done.error();
  return out;
}

Result<AgentProfileRecord> SqlTasks::SaveAgentProfile(const AgentProfileRecord& profile,
                                                      const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<AgentProfileRecord> before;
  if (profile.id != 0) {
    auto done = Run(std::string("SELECT ") + kProfileColumns + " FROM agent_profiles WHERE id = ?",
                    {profile.id}, [&](const SqlRow& r) { before = ReadProfile(r); });
    if (!done) return done.error();
    if (!before) {
      return MakeError(ErrorCode::kNotFound,
                       "no agent profile has id " + std::to_string(profile.id));
    }
  }
  std::optional<AgentProfileRecord> saved;
  auto done =
      before ? Run(std::string("UPDATE agent_profiles SET name = ?, tag = ?, priority = ?, "
                               "config = ?, updated_by = ?, updated_ms = ? WHERE id = ? "
                               "RETURNING ") +
                       kProfileColumns,
                   {profile.name, profile.tag, profile.priority, profile.config, actor.name, now_ms,
                    profile.id},
                   [&](const SqlRow& r) { saved = ReadProfile(r); })
             : Run(std::string("INSERT INTO agent_profiles (name, tag, priority, config, "
                               "updated_by, created_ms, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                               "RETURNING ") +
                       kProfileColumns,
                   {profile.name, profile.tag, profile.priority, profile.config, actor.name, now_ms,
                    now_ms},
                   [&](const SqlRow& r) { saved = ReadProfile(r); });
  if (!done) {
    if (done.error().code == ErrorCode::kAlreadyExists) {
      return MakeError(ErrorCode::kAlreadyExists,
                       "an agent profile named '" + profile.name + "' already exists");
    }
    return done.error();
  }
  if (!saved) return MakeError(ErrorCode::kInternal, "the agent profile was not saved");
  AuditEntry entry{0,
                   now_ms,
                   actor,
                   before ? "agent_profile.update" : "agent_profile.create",
                   "agent_profile",
                   std::to_string(saved->id),
                   {},
                   {}};
  if (before) entry.before = Fields(*before);
  entry.after = Fields(*saved);
  if (auto s = Audit(entry); !s) return s.error();
  if (auto s = NotifyPeers(); !s) return s.error();  // their agents' configs change too
  if (auto s = tx->Commit(); !s) return s.error();
  return *saved;
}

Status SqlTasks::DeleteAgentProfile(std::int64_t id, const Actor& actor, std::int64_t now_ms) {
  auto tx = BeginTx();
  if (!tx) return tx.error();
  std::optional<AgentProfileRecord> before;
  auto done =
      Run(std::string("DELETE FROM agent_profiles WHERE id = ? RETURNING ") + kProfileColumns, {id},
          [&](const SqlRow& r) { before = ReadProfile(r); });
  if (!done) return done.error();
  if (!before)
    return MakeError(ErrorCode::kNotFound, "no agent profile has id " + std::to_string(id));
  AuditEntry entry{0,  now_ms, actor, "agent_profile.delete", "agent_profile", std::to_string(id),
                   {}, {}};
  entry.before = Fields(*before);
  if (auto s = Audit(entry); !s) return s;
  if (auto s = NotifyPeers(); !s) return s;
  return tx->Commit();
}

Result<std::map<std::string, std::vector<std::string>>> SqlTasks::AgentTags(
    const std::vector<std::string>& agent_ids) {
  std::map<std::string, std::vector<std::string>> out;
  auto done = RunForKeys(
      "SELECT h.agent_id, t.tag FROM hosts h LEFT JOIN host_tags t ON t.host_id = h.id WHERE "
      "h.archived_ms IS NULL AND h.agent_id IN ",
      agent_ids, " ORDER BY h.agent_id, t.tag", [&](const SqlRow& r) {
        auto& tags = out[r.Text(0)];
        if (!r.IsNull(1)) tags.push_back(r.Text(1));
      });
  if (!done) return done.error();
  return out;
}

}  // namespace fleetdesk::server::store
