// Configuration tasks under /api/v1/tasks: submit (with a dry run), list, read with each host's
// result, cancel; and a host's tasks. What a task does is checked here against its kind; what a
// host accepts is the agent's own allow-list, which has the last word.
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cmath>

#include "common/codec.hpp"
#include "common/config.hpp"
#include "common/crypto.hpp"
#include "fleetdesk/v1/tasks.pb.h"
#include "server/api/api.hpp"
#include "server/api/params.hpp"
#include "server/engine/clock.hpp"

namespace fleetdesk::server::api {
namespace {

using google::protobuf::util::TimeUtil;

constexpr std::size_t kMaxTaskBody = 2 * 1024 * 1024;  // a file.write's content, in base64
constexpr std::size_t kMaxFileContent = 1024 * 1024;
constexpr std::size_t kMaxArgs = 256;
constexpr std::size_t kMaxArgBytes = 4096;
constexpr std::size_t kMaxPath = 4096;
constexpr std::size_t kMaxKey = 200;
constexpr std::size_t kMaxHostIds = 100'000;
constexpr std::int64_t kDefaultTimeoutSeconds = 300;
constexpr std::int64_t kMaxTimeoutSeconds = 24 * 3600;
constexpr std::chrono::seconds kDefaultExpiry{24 * 3600};
constexpr std::chrono::seconds kMaxExpiry{30 * 24 * 3600};
constexpr int kDefaultPage = 50;
constexpr int kMaxPage = 1000;
constexpr int kPreviewTargets = 1000;

google::protobuf::Timestamp Ts(std::int64_t ms) { return TimeUtil::MillisecondsToTimestamp(ms); }

bool ServiceKind(const std::string& kind) {
  return kind == "service.start" || kind == "service.stop" || kind == "service.restart" ||
         kind == "service.reload";
}

// A systemd unit's full name: letters, digits and ":-_.\@", with its type after the last dot.
Status CheckUnit(const std::string& unit) {
  if (unit.empty()) return Invalid("service.unit is required for " + std::string("service tasks"));
  if (unit.size() > 256) return Invalid("service.unit is at most 256 bytes");
  const bool chars = std::all_of(unit.begin(), unit.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '-' || c == '_' ||
           c == '.' || c == '\\' || c == '@';
  });
  const auto dot = unit.rfind('.');
  if (!chars || dot == std::string::npos || dot == 0 || dot + 1 == unit.size()) {
    return Invalid("service.unit '" + unit +
                   "' is not a unit's full name (letters, digits, \":-_.\\@\" and a type, e.g. "
                   "nginx.service)");
  }
  return {};
}

Status CheckPath(const std::string& path) {
  if (path.empty() || path[0] != '/') return Invalid("fileWrite.path must be an absolute path");
  if (path.size() > kMaxPath) return Invalid("fileWrite.path is at most 4096 bytes");
  if (path.find('\0') != std::string::npos || HasControl(path, false) || !ValidUtf8(path)) {
    return Invalid("fileWrite.path has a control character or is not UTF-8");
  }
  if (path.back() == '/') return Invalid("fileWrite.path names a directory, not a file");
  // "/etc/../root/x" would get past an agent's prefix list by name; refused here, and by the
  // agent again.
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string::npos) end = path.size();
    const auto part = std::string_view(path).substr(start, end - start);
    if (part == "." || part == "..") {
      return Invalid("fileWrite.path must not have . or .. parts");
    }
    start = end + 1;
  }
  return {};
}

Status CheckAccountName(const std::string& name, const char* field) {
  if (name.empty()) return {};
  const bool ok =
      name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  if (!ok) return Invalid(std::string(field) + " '" + name + "' is not a user or group name");
  return {};
}

// The agent's Task for the request's kind, parameters checked. Its id and expiry are the
// delivery's to add.
Result<fleetdesk::v1::Task> AgentTask(const fleetdesk::v1::NewTaskRequest& body) {
  fleetdesk::v1::Task task;
  const std::string& kind = body.kind();
  task.set_kind(kind);
  const bool service = body.has_service();
  const bool file = body.has_file_write();
  const bool command = body.has_command();
  auto only = [&](bool wanted_service, bool wanted_file, bool wanted_command) -> Status {
    if (service && !wanted_service) return Invalid("service is for service.* tasks, not " + kind);
    if (file && !wanted_file) return Invalid("fileWrite is for file.write tasks, not " + kind);
    if (command && !wanted_command) return Invalid("command is for command.run tasks, not " + kind);
    return {};
  };
  if (ServiceKind(kind)) {
    if (auto s = only(true, false, false); !s) return s.error();
    if (auto s = CheckUnit(body.service().unit()); !s) return s.error();
    *task.mutable_service() = body.service();
  } else if (kind == "file.write") {
    if (auto s = only(false, true, false); !s) return s.error();
    const auto& f = body.file_write();
    if (auto s = CheckPath(f.path()); !s) return s.error();
    if (f.content().size() > kMaxFileContent) return Invalid("fileWrite.content is at most 1 MiB");
    if (f.mode() > 07777) return Invalid("fileWrite.mode is a permission mode, at most 07777");
    if (auto s = CheckAccountName(f.owner(), "fileWrite.owner"); !s) return s.error();
    if (auto s = CheckAccountName(f.group(), "fileWrite.group"); !s) return s.error();
    // No mode: the agent keeps the replaced file's own (a 0600 secret stays 0600), 0644 for a
    // new one.
    *task.mutable_file_write() = f;
  } else if (kind == "command.run") {
    if (auto s = only(false, false, true); !s) return s.error();
    const auto& argv = body.command().argv();
    if (argv.empty()) return Invalid("command.argv is required: the program and its arguments");
    if (static_cast<std::size_t>(argv.size()) > kMaxArgs) {
      return Invalid("command.argv has at most 256 entries");
    }
    if (argv[0].empty() || argv[0][0] != '/') {
      return Invalid("command.argv[0] must be the program's absolute path (no shell runs it)");
    }
    for (int i = 0; i < argv.size(); ++i) {
      const auto& arg = argv[i];
      if (arg.size() > kMaxArgBytes || arg.find('\0') != std::string::npos || !ValidUtf8(arg)) {
        return Invalid("command.argv[" + std::to_string(i) +
                       "] is over 4096 bytes, has a NUL or is not UTF-8");
      }
    }
    *task.mutable_command() = body.command();
  } else if (kind == "inventory.refresh") {
    if (auto s = only(false, false, false); !s) return s.error();
  } else {
    return Invalid(
        "kind must be service.start, service.stop, service.restart, service.reload, "
        "file.write, command.run or inventory.refresh, not '" +
        kind + "'");
  }
  std::int64_t timeout = body.timeout_seconds() == 0
                             ? kDefaultTimeoutSeconds
                             : static_cast<std::int64_t>(body.timeout_seconds());
  if (timeout > kMaxTimeoutSeconds) return Invalid("timeoutSeconds is at most 86400 (a day)");
  task.set_timeout_seconds(static_cast<std::uint32_t>(timeout));
  return task;
}

fleetdesk::v1::TaskCounts CountsOf(const store::TaskCounts& c) {
  fleetdesk::v1::TaskCounts out;
  out.set_queued(c.queued);
  out.set_sent(c.sent);
  out.set_running(c.running);
  out.set_succeeded(c.succeeded);
  out.set_failed(c.failed);
  out.set_timed_out(c.timed_out);
  out.set_cancelled(c.cancelled);
  out.set_refused(c.refused);
  out.set_total(c.total());
  return out;
}

fleetdesk::v1::TaskView ToProto(const store::TaskRecord& t) {
  fleetdesk::v1::TaskView out;
  out.set_id(t.id);
  out.set_kind(t.kind);
  fleetdesk::v1::Task spec;
  if (codec::FromJson(t.spec, &spec).ok()) {
    if (spec.has_service()) *out.mutable_service() = spec.service();
    if (spec.has_file_write()) *out.mutable_file_write() = spec.file_write();
    if (spec.has_command()) *out.mutable_command() = spec.command();
  }
  out.set_selector(t.selector);
  out.set_batch_size(t.batch_size);
  out.set_batches(t.batches);
  out.set_current_batch(t.current_batch);
  if (t.max_failures) out.set_max_failures(*t.max_failures);
  out.set_timeout_seconds(t.timeout_ms / 1000);
  *out.mutable_expires_at() = Ts(t.expires_ms);
  if (t.ticket_id) out.set_ticket_id(*t.ticket_id);
  out.set_created_by(t.created_by);
  *out.mutable_created_at() = Ts(t.created_ms);
  out.set_state(t.state);
  out.set_stop_reason(t.stop_reason);
  if (t.finished_ms) *out.mutable_finished_at() = Ts(*t.finished_ms);
  *out.mutable_counts() = CountsOf(t.counts);
  out.set_replayed(t.replayed);
  return out;
}

fleetdesk::v1::TaskHostView ToProto(const store::TaskHostRecord& h) {
  fleetdesk::v1::TaskHostView out;
  out.set_task_id(h.task_id);
  out.set_kind(h.kind);
  out.set_host_id(h.host_id);
  out.set_hostname(h.hostname);
  out.set_batch(h.batch);
  out.set_state(h.state);
  if (h.exit_code) out.set_exit_code(*h.exit_code);
  if (h.duration_ms) out.set_duration_ms(*h.duration_ms);
  out.set_stdout(h.stdout_text);
  out.set_stderr(h.stderr_text);
  out.set_stdout_size(h.stdout_size);
  out.set_stderr_size(h.stderr_size);
  out.set_message(h.message);
  if (h.sent_ms) *out.mutable_sent_at() = Ts(*h.sent_ms);
  if (h.finished_ms) *out.mutable_finished_at() = Ts(*h.finished_ms);
  return out;
}

const char* const kHostStates[] = {"queued", "sent",      "running",   "succeeded",
                                   "failed", "timed_out", "cancelled", "refused"};

}  // namespace

Result<http::Response> Api::SubmitTask(const Call& call) {
  auto body = JsonBody<fleetdesk::v1::NewTaskRequest>(call.request, kMaxTaskBody);
  if (!body) return body.error();
  auto agent_task = AgentTask(*body);
  if (!agent_task) return agent_task.error();

  store::TaskTargeting targeting;
  const bool listed = body->host_ids_size() > 0;
  if (listed == body->has_selector()) {
    return Invalid("a task goes to hostIds or a selector, one of them");
  }
  std::string selector = "hosts";
  if (listed) {
    if (static_cast<std::size_t>(body->host_ids_size()) > kMaxHostIds) {
      return Invalid("hostIds has at most 100000 entries; use a selector");
    }
    for (auto id : body->host_ids()) {
      if (id <= 0) return Invalid("hostIds holds host ids, positive whole numbers");
      targeting.host_ids.push_back(id);
    }
  } else {
    const auto& s = body->selector();
    if (s.tags().empty() && s.environment().empty()) {
      return Invalid("selector needs tags or an environment (a task to every host names them)");
    }
    selector.clear();
    for (const auto& tag : s.tags()) {
      if (tag.empty() || tag.size() > 100) return Invalid("selector.tags are 1-100 bytes each");
      targeting.tags.push_back(tag);
    }
    std::sort(targeting.tags.begin(), targeting.tags.end());
    targeting.tags.erase(std::unique(targeting.tags.begin(), targeting.tags.end()),
                         targeting.tags.end());
    if (!targeting.tags.empty()) {
      selector = "tags=";
      for (std::size_t i = 0; i < targeting.tags.size(); ++i) {
        selector += (i > 0 ? "," : "") + targeting.tags[i];
      }
    }
    if (s.environment().size() > 100) return Invalid("selector.environment is at most 100 bytes");
    targeting.environment = s.environment();
    if (!s.environment().empty()) {
      selector += (selector.empty() ? "" : " ") + std::string("environment=") + s.environment();
    }
  }

  const auto& rollout = body->rollout();
  if (rollout.batch_size() > 0 && rollout.batch_percent() > 0) {
    return Invalid("rollout takes batchSize or batchPercent, not both");
  }
  if (rollout.batch_percent() > 100) return Invalid("rollout.batchPercent is 1-100");
  if (rollout.has_max_failures() && rollout.has_max_failure_percent()) {
    return Invalid("rollout takes maxFailures or maxFailurePercent, not both");
  }
  if (rollout.max_failure_percent() > 100) return Invalid("rollout.maxFailurePercent is 0-100");

  std::chrono::seconds expiry = kDefaultExpiry;
  if (!body->expires_in().empty()) {
    auto parsed = config::ParseDuration(body->expires_in());
    if (!parsed) return Invalid("expiresIn: " + parsed.error().message);
    if (parsed->count() < 60 || *parsed > kMaxExpiry) {
      return Invalid("expiresIn is 1m to 30 days");
    }
    expiry = *parsed;
  }
  if (body->ticket_id() < 0) return Invalid("ticketId must be a ticket's id");
  // The key may come as the Idempotency-Key header, as for other HTTP APIs, or in the body.
  if (const auto& header = call.request.idempotency_key; !header.empty()) {
    if (!body->idempotency_key().empty() && body->idempotency_key() != header) {
      return Invalid("the Idempotency-Key header and idempotencyKey differ; give one of them");
    }
    body->set_idempotency_key(header);
  }
  if (body->idempotency_key().size() > kMaxKey || HasControl(body->idempotency_key(), false)) {
    return Invalid("idempotencyKey is at most 200 bytes, without control characters");
  }
  if (body->dry_run() && !body->idempotency_key().empty()) {
    return Invalid("a dry run makes nothing: it takes no idempotencyKey");
  }

  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto targets = (*store)->ResolveTaskTargets(targeting);
  if (!targets) return targets.error();
  const int hosts = static_cast<int>(targets->size());
  int batch_size = hosts;
  if (rollout.batch_size() > 0) {
    batch_size = std::min(hosts, static_cast<int>(rollout.batch_size()));
  } else if (rollout.batch_percent() > 0) {
    batch_size = std::max(1, static_cast<int>(std::ceil(hosts * rollout.batch_percent() / 100.0)));
  }
  std::optional<int> max_failures;
  if (rollout.has_max_failures()) {
    max_failures = static_cast<int>(rollout.max_failures());
  } else if (rollout.has_max_failure_percent()) {
    max_failures = static_cast<int>(hosts * rollout.max_failure_percent() / 100);
  }

  if (body->dry_run()) {
    fleetdesk::v1::TaskPreview preview;
    preview.set_hosts(hosts);
    preview.set_batch_size(batch_size);
    preview.set_batches((hosts + batch_size - 1) / batch_size);
    if (max_failures) preview.set_max_failures(*max_failures);
    for (int i = 0; i < std::min(hosts, kPreviewTargets); ++i) {
      auto* row = preview.add_targets();
      row->set_host_id((*targets)[static_cast<std::size_t>(i)].host_id);
      row->set_hostname((*targets)[static_cast<std::size_t>(i)].hostname);
      row->set_batch(i / batch_size);
    }
    return Json(200, preview);
  }

  store::NewTask task;
  task.kind = body->kind();
  task.spec = codec::ToJson(*agent_task);
  task.selector = selector;
  for (const auto& t : *targets) task.host_ids.push_back(t.host_id);
  task.batch_size = batch_size;
  task.max_failures = max_failures;
  task.timeout_ms = static_cast<std::int64_t>(agent_task->timeout_seconds()) * 1000;
  const auto now = NowMs();
  task.expires_ms = now + std::chrono::duration_cast<std::chrono::milliseconds>(expiry).count();
  if (body->ticket_id() > 0) task.ticket_id = body->ticket_id();
  task.idempotency_key = body->idempotency_key();
  // A retry is the same request: the same work to the same hosts in the same way. (Not the
  // expiry, which counts from each submission.)
  std::string digest = task.spec + "\n" + task.selector + "\n" + std::to_string(batch_size) + "\n" +
                       (max_failures ? std::to_string(*max_failures) : "-") + "\n" +
                       std::to_string(body->ticket_id()) + "\n" + body->expires_in() + "\n";
  for (auto id : task.host_ids) digest += std::to_string(id) + ",";
  task.request_digest = crypto::Sha256Hex(digest);
  auto created = (*store)->CreateTask(task, call.Actor(), now);
  if (!created) return created.error();
  if (!created->replayed && task_submitted_) task_submitted_();
  return Json(created->replayed ? 200 : 201, ToProto(*created));
}

Result<http::Response> Api::ListTasks(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"limit", "cursor"}, "tasks"); !s) return s.error();
  auto limit = ParseLimit(*query, kDefaultPage, kMaxPage);
  if (!limit) return limit.error();
  std::optional<std::int64_t> before;
  if (auto it = query->find("cursor"); it != query->end()) {
    auto cursor = ParseCursor(it->second);
    if (!cursor) return cursor.error();
    before = *cursor;
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto page = (*store)->ListTasks(before, *limit);
  if (!page) return page.error();
  fleetdesk::v1::TaskViewList out;
  for (const auto& t : page->items) *out.add_items() = ToProto(t);
  if (page->next_before) out.set_next_cursor(std::to_string(*page->next_before));
  return Json(200, out);
}

Result<http::Response> Api::GetTaskView(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"state", "limit", "cursor"}, "a task"); !s) return s.error();
  auto limit = ParseLimit(*query, 100, kMaxPage);
  if (!limit) return limit.error();
  std::string state;
  if (auto it = query->find("state"); it != query->end()) {
    state = it->second;
    if (std::find(std::begin(kHostStates), std::end(kHostStates), state) == std::end(kHostStates)) {
      return Invalid(
          "state must be queued, sent, running, succeeded, failed, timed_out, "
          "cancelled or refused, not '" +
          state + "'");
    }
  }
  std::int64_t after = 0;
  if (auto it = query->find("cursor"); it != query->end()) {
    auto cursor = ParseCursor(it->second);
    if (!cursor) return cursor.error();
    after = *cursor;
  }
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto task = (*store)->GetTask(call.id());
  if (!task) return task.error();
  if (!*task) return MakeError(ErrorCode::kNotFound, "no task has id " + std::to_string(call.id()));
  auto hosts = (*store)->ListTaskHosts(call.id(), state, after, *limit + 1);
  if (!hosts) return hosts.error();
  auto out = ToProto(**task);
  for (std::size_t i = 0; i < hosts->size() && static_cast<int>(i) < *limit; ++i) {
    *out.add_hosts() = ToProto((*hosts)[i]);
  }
  if (static_cast<int>(hosts->size()) > *limit) {
    out.set_next_cursor(std::to_string((*hosts)[static_cast<std::size_t>(*limit) - 1].host_id));
  }
  return Json(200, out);
}

Result<http::Response> Api::CancelTask(const Call& call) {
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto task = (*store)->CancelTask(call.id(), call.Actor(), NowMs());
  if (!task) return task.error();
  return Json(200, ToProto(*task));
}

Result<http::Response> Api::HostTasks(const Call& call) {
  auto query = ParseQuery(call.request.query);
  if (!query) return query.error();
  if (auto s = OnlyKeys(*query, {"limit"}, "a host's tasks"); !s) return s.error();
  auto limit = ParseLimit(*query, kDefaultPage, kMaxPage);
  if (!limit) return limit.error();
  auto store = stores_.Acquire();
  if (!store) return store.error();
  auto host = (*store)->GetHost(call.id());
  if (!host) return host.error();
  if (!*host) return MakeError(ErrorCode::kNotFound, "no host has id " + std::to_string(call.id()));
  auto rows = (*store)->HostTasks(call.id(), *limit);
  if (!rows) return rows.error();
  fleetdesk::v1::TaskHostViewList out;
  for (const auto& row : *rows) *out.add_items() = ToProto(row);
  return Json(200, out);
}

}  // namespace fleetdesk::server::api
