#include "agent/tasks/executor.hpp"

#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

#include "agent/services/sd_bus.hpp"
#include "common/crypto.hpp"
#include "common/files.hpp"

namespace fleetdesk::agent::tasks {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using fleetdesk::v1::TaskResult;

constexpr std::chrono::seconds kKillGrace{5};

TaskResult Outcome(fleetdesk::v1::TaskState state, std::string message) {
  TaskResult result;
  result.set_state(state);
  result.set_message(std::move(message));
  return result;
}

TaskResult Failed(std::string message) {
  return Outcome(fleetdesk::v1::TASK_STATE_FAILED, std::move(message));
}

std::string Errno(const std::string& what, int error) { return what + ": " + strerror(error); }

bool Under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// A unit name as systemd writes them: letters, digits and ":-_.\@", with a type suffix.
bool ValidUnit(const std::string& unit) {
  if (unit.empty() || unit.size() > 255 || unit.find('.') == std::string::npos) return false;
  return std::all_of(unit.begin(), unit.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::strchr(":-_.\\@", c) != nullptr;
  });
}

std::string Joined(const google::protobuf::RepeatedPtrField<std::string>& argv) {
  std::string out;
  for (const auto& arg : argv) out += (out.empty() ? "" : " ") + arg;
  return out.size() > 200 ? out.substr(0, 200) + "..." : out;
}

// --- service.* --------------------------------------------------------------------------------

using sdbus::BusError;
using sdbus::kDestination;
using sdbus::kManager;
using sdbus::kManagerPath;

struct JobWait {
  std::string job;  // the job's object path, once the method answered
  bool removed = false;
  std::string result;
};

int OnJobRemoved(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* wait = static_cast<JobWait*>(userdata);
  std::uint32_t id = 0;
  const char* path = nullptr;
  const char* unit = nullptr;
  const char* result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0) return 0;
  if (!wait->job.empty() && wait->job == path) {
    wait->removed = true;
    wait->result = result;
  }
  return 0;
}

std::string UnitState(sd_bus* bus, const std::string& unit) {
  BusError error;
  sd_bus_message* reply = nullptr;
  if (sd_bus_call_method(bus, kDestination, kManagerPath, kManager, "GetUnit", &error.error, &reply,
                         "s", unit.c_str()) < 0) {
    return "";
  }
  sdbus::MessagePtr owned(reply);
  const char* path = nullptr;
  if (sd_bus_message_read(reply, "o", &path) < 0) return "";
  std::string out;
  for (const char* property : {"ActiveState", "SubState"}) {
    char* value = nullptr;
    BusError e;
    if (sd_bus_get_property_string(bus, kDestination, path, sdbus::kUnit, property, &e.error,
                                   &value) < 0) {
      return out;
    }
    out += out.empty() ? std::string(value) : " (" + std::string(value) + ")";
    free(value);  // NOLINT: sd-bus hands over malloc'd memory
  }
  return out;
}

TaskResult ServiceJob(const fleetdesk::v1::Task& task, Clock::time_point deadline) {
  static const std::map<std::string, const char*> kMethods = {{"service.start", "StartUnit"},
                                                              {"service.stop", "StopUnit"},
                                                              {"service.restart", "RestartUnit"},
                                                              {"service.reload", "ReloadUnit"}};
  const std::string& unit = task.service().unit();
  const char* method = kMethods.at(task.kind());
  sd_bus* raw = nullptr;
  int r = sd_bus_open_system(&raw);
  if (r < 0) return Failed(Errno("cannot reach systemd on the system bus", -r));
  sdbus::BusPtr bus(raw);
  JobWait wait;
  sd_bus_slot* slot = nullptr;
  r = sd_bus_match_signal(bus.get(), &slot, kDestination, kManagerPath, kManager, "JobRemoved",
                          &OnJobRemoved, &wait);
  if (r < 0) return Failed(Errno("cannot watch systemd's jobs", -r));
  sdbus::SlotPtr owned_slot(slot);
  BusError error;
  // Without Subscribe systemd sends this client no job signals.
  r = sd_bus_call_method(bus.get(), kDestination, kManagerPath, kManager, "Subscribe", &error.error,
                         nullptr, "");
  if (r < 0) return Failed("systemd Subscribe: " + error.Message(r));
  sd_bus_message* reply = nullptr;
  r = sd_bus_call_method(bus.get(), kDestination, kManagerPath, kManager, method, &error.error,
                         &reply, "ss", unit.c_str(), "replace");
  if (r < 0) return Failed(std::string(method) + " " + unit + ": " + error.Message(r));
  sdbus::MessagePtr owned_reply(reply);
  const char* job = nullptr;
  if (sd_bus_message_read(reply, "o", &job) < 0) return Failed("systemd's answer has no job");
  wait.job = job;
  // Signals that came before the answer are queued; processing them now finds the job's end
  // even when it was quicker than the answer.
  while (!wait.removed) {
    r = sd_bus_process(bus.get(), nullptr);
    if (r < 0) return Failed(Errno("lost the system bus while waiting for the job", -r));
    if (r > 0) continue;
    const auto now = Clock::now();
    if (now >= deadline) {
      return Outcome(fleetdesk::v1::TASK_STATE_TIMED_OUT,
                     "systemd's job " + wait.job + " for " + unit +
                         " had not finished at the task's timeout; it was left running");
    }
    sd_bus_wait(bus.get(),
                static_cast<std::uint64_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count()));
  }
  const std::string state = UnitState(bus.get(), unit);
  const std::string after = state.empty() ? "" : "; " + unit + " is " + state;
  if (wait.result == "done" || wait.result == "skipped") {
    return Outcome(fleetdesk::v1::TASK_STATE_SUCCEEDED,
                   std::string(method) + " " + unit + ": job " + wait.result + after);
  }
  return Failed(std::string(method) + " " + unit + ": job " + wait.result + after);
}

// --- file.write -------------------------------------------------------------------------------

struct Fd {
  int fd = -1;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

Result<std::string> ReadAll(int fd) {
  std::string out;
  std::array<char, 65536> buffer{};
  for (;;) {
    ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return MakeError(ErrorCode::kUnavailable, strerror(errno));
    if (n == 0) return out;
    out.append(buffer.data(), static_cast<std::size_t>(n));
  }
}

bool WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

Result<uid_t> UserId(const std::string& name) {
  std::array<char, 4096> buffer{};
  passwd entry{};
  passwd* found = nullptr;
  getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "no user '" + name + "' on this host");
  }
  return found->pw_uid;
}

Result<gid_t> GroupId(const std::string& name) {
  std::array<char, 4096> buffer{};
  group entry{};
  group* found = nullptr;
  getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    return MakeError(ErrorCode::kInvalidArgument, "no group '" + name + "' on this host");
  }
  return found->gr_gid;
}

TaskResult WriteFile(const fleetdesk::v1::Task& task, const ExecuteOptions& options) {
  const auto& params = task.file_write();
  const std::string& path = params.path();
  const std::string digest = "sha256 " + crypto::Sha256Hex(params.content());
  if (params.mode() > 07777)
    return Failed("mode " + std::to_string(params.mode()) + " is above 07777");

  // Where the path really leads: a symbolic link among its directories must not carry the write
  // outside the allowed ones.
  const fs::path target(path);
  std::error_code ec;
  const fs::path parent = fs::canonical(target.parent_path(), ec);
  if (ec) return Failed("the directory of " + path + ": " + ec.message());
  bool allowed = false;
  for (const auto& prefix : options.file_paths) {
    const fs::path real = fs::weakly_canonical(prefix, ec);
    if (!ec && (parent == real || Under(parent.string(), real.string()))) allowed = true;
  }
  if (!allowed) {
    return Outcome(fleetdesk::v1::TASK_STATE_REFUSED,
                   path + " leads to " + (parent / target.filename()).string() +
                       " through a symbolic link, outside tasks.file_paths");
  }
  const std::string name = target.filename().string();
  Fd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir.fd < 0) return Failed(Errno("cannot open " + parent.string(), errno));

  // What is there now: kept to compare, and to keep as the previous version.
  struct stat old {};
  std::optional<std::string> old_content;
  if (::fstatat(dir.fd, name.c_str(), &old, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(old.st_mode)) {
      return Outcome(fleetdesk::v1::TASK_STATE_REFUSED,
                     path + " is a symbolic link; file.write does not follow it");
    }
    if (!S_ISREG(old.st_mode)) return Failed(path + " exists and is not a regular file");
    Fd in(::openat(dir.fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (in.fd < 0) return Failed(Errno("cannot read " + path, errno));
    auto content = ReadAll(in.fd);
    if (!content) return Failed("cannot read " + path + ": " + content.error().message);
    old_content = std::move(*content);
  } else if (errno != ENOENT) {
    return Failed(Errno("cannot look at " + path, errno));
  }

  const mode_t mode = params.mode() != 0 ? static_cast<mode_t>(params.mode())
                      : old_content      ? (old.st_mode & 07777)
                                         : 0644;
  uid_t uid = old_content ? old.st_uid : ::geteuid();
  gid_t gid = old_content ? old.st_gid : ::getegid();
  if (!params.owner().empty()) {
    auto id = UserId(params.owner());
    if (!id) return Failed(id.error().message);
    uid = *id;
  }
  if (!params.group().empty()) {
    auto id = GroupId(params.group());
    if (!id) return Failed(id.error().message);
    gid = *id;
  }
  if (old_content && *old_content == params.content() && (old.st_mode & 07777) == mode &&
      old.st_uid == uid && old.st_gid == gid) {
    return Outcome(
        fleetdesk::v1::TASK_STATE_SUCCEEDED,
        path + " unchanged: it already has this content, mode and owner (" + digest + ")");
  }

  std::string kept;
  if (old_content) {
    // The previous version, with its mode, under the task's backup directory.
    const fs::path backup = fs::path(options.backup_dir) / fs::path(path).relative_path();
    if (auto s = files::MakeDirectory(backup.parent_path().string(), 0700); !s) {
      return Failed("cannot keep the previous version: " + s.error().message);
    }
    if (auto s = files::WriteAtomically(backup.string(), *old_content, old.st_mode & 07777); !s) {
      return Failed("cannot keep the previous version: " + s.error().message);
    }
    kept = "; previous version kept at " + backup.string();
  }

  const std::string temp = "." + name + ".fleetdesk-" + task.id();
  Fd out(
      ::openat(dir.fd, temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (out.fd < 0) return Failed(Errno("cannot create a temporary file beside " + path, errno));
  auto discard = [&](const std::string& what) {
    const int error = errno;
    ::unlinkat(dir.fd, temp.c_str(), 0);
    return Failed(Errno(what, error));
  };
  if (!WriteAll(out.fd, params.content())) return discard("cannot write " + path);
  if (::fchown(out.fd, uid, gid) != 0) return discard("cannot set the owner of " + path);
  // After fchown, which clears set-user-id bits.
  if (::fchmod(out.fd, mode) != 0) return discard("cannot set the mode of " + path);
  if (::fsync(out.fd) != 0) return discard("cannot sync " + path);
  if (::renameat(dir.fd, temp.c_str(), dir.fd, name.c_str()) != 0) {
    return discard("cannot rename the new " + path + " into place");
  }
  ::fsync(dir.fd);
  char octal[8];
  std::snprintf(octal, sizeof octal, "%04o", static_cast<unsigned>(mode));
  return Outcome(fleetdesk::v1::TASK_STATE_SUCCEEDED,
                 "wrote " + std::to_string(params.content().size()) + " bytes to " + path +
                     " (mode " + octal + ", " + digest + ")" + kept);
}

// --- command.run ------------------------------------------------------------------------------

struct Captured {
  std::string kept;
  std::uint64_t size = 0;
};

TaskResult RunCommand(const fleetdesk::v1::Task& task, const ExecuteOptions& options,
                      Clock::time_point deadline) {
  const auto& argv_in = task.command().argv();
  std::array<int, 2> out_pipe{-1, -1};
  std::array<int, 2> err_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) return Failed(Errno("pipe", errno));
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return Failed(Errno("pipe", errno));
  }
  Fd out_read(out_pipe[0]);
  Fd err_read(err_pipe[0]);
  Fd out_write(out_pipe[1]);
  Fd err_write(err_pipe[1]);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.fd, 2);
  // Nothing else of the agent's (its sockets, its journal) reaches the command.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawn_file_actions_addchdir_np(&actions, "/");
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  // Its own process group: the timeout ends what it started too.
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env_strings = {
      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
      "FLEETDESK_TASK_ID=" + task.id()};
  std::vector<char*> env;
  for (auto& e : env_strings) env.push_back(e.data());
  env.push_back(nullptr);
  std::vector<std::string> argv_strings(argv_in.begin(), argv_in.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, &attributes, argv.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) return Failed(Errno("cannot run " + argv_strings[0], spawned));
  ::close(out_write.fd);
  out_write.fd = -1;
  ::close(err_write.fd);
  err_write.fd = -1;
  Fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));

  std::array<Captured, 2> captured;
  std::array<Fd*, 2> readers{&out_read, &err_read};
  bool exited = false;
  bool timed_out = false;
  auto kill_at = Clock::time_point::max();
  int status = 0;
  std::array<char, 65536> buffer{};
  while (!exited || out_read.fd >= 0 || err_read.fd >= 0) {
    const auto now = Clock::now();
    if (!exited && !timed_out && now >= deadline) {
      timed_out = true;
      ::kill(-pid, SIGTERM);
      kill_at = now + kKillGrace;
    }
    if (timed_out && now >= kill_at) {
      ::kill(-pid, SIGKILL);
      kill_at = Clock::time_point::max();
    }
    // A process it left behind holding the pipes open does not keep the task past its timeout.
    if (exited && now >= deadline) break;
    std::array<pollfd, 3> fds{};
    nfds_t n = 0;
    std::array<int, 3> which{};
    for (int i = 0; i < 2; ++i) {
      if (readers[i]->fd >= 0) {
        fds[n] = {readers[i]->fd, POLLIN, 0};
        which[n++] = i;
      }
    }
    if (!exited && pidfd.fd >= 0) {
      fds[n] = {pidfd.fd, POLLIN, 0};
      which[n++] = 2;
    }
    const auto until = timed_out ? kill_at : deadline;
    const auto wait_ms = std::chrono::duration_cast<std::chrono::milliseconds>(until - now).count();
    int timeout_ms = static_cast<int>(std::clamp<std::int64_t>(wait_ms + 1, 0, 1000));
    if (pidfd.fd < 0 && !exited) timeout_ms = std::min(timeout_ms, 20);  // no pidfd: poll
    if (::poll(fds.data(), n, timeout_ms) < 0 && errno != EINTR) break;
    for (nfds_t k = 0; k < n; ++k) {
      if (fds[k].revents == 0 || which[k] == 2) continue;
      auto& reader = *readers[which[k]];
      ssize_t got = ::read(reader.fd, buffer.data(), buffer.size());
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        ::close(reader.fd);
        reader.fd = -1;
        continue;
      }
      auto& c = captured[which[k]];
      c.size += static_cast<std::uint64_t>(got);
      if (c.kept.size() < options.output_limit) {
        c.kept.append(buffer.data(), std::min(static_cast<std::size_t>(got),
                                              options.output_limit - c.kept.size()));
      }
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
  }
  if (!exited) ::waitpid(pid, &status, 0);

  TaskResult result;
  result.set_stdout(captured[0].kept);
  result.set_stdout_size(captured[0].size);
  result.set_stderr(captured[1].kept);
  result.set_stderr_size(captured[1].size);
  const std::string shown = Joined(argv_in);
  if (WIFEXITED(status)) {
    result.set_exit_code(WEXITSTATUS(status));
  } else if (WIFSIGNALED(status)) {
    result.set_exit_code(128 + WTERMSIG(status));
  }
  if (timed_out) {
    result.set_state(fleetdesk::v1::TASK_STATE_TIMED_OUT);
    result.set_message(shown + ": still running at the task's timeout of " +
                       std::to_string(options.timeout.count()) + " s; stopped");
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    result.set_state(fleetdesk::v1::TASK_STATE_SUCCEEDED);
    result.set_message(shown + ": exit 0");
  } else if (WIFEXITED(status)) {
    result.set_state(fleetdesk::v1::TASK_STATE_FAILED);
    result.set_message(shown + ": exit " + std::to_string(WEXITSTATUS(status)));
  } else {
    result.set_state(fleetdesk::v1::TASK_STATE_FAILED);
    result.set_message(shown + ": killed by signal " + std::to_string(WTERMSIG(status)));
  }
  return result;
}

}  // namespace

std::optional<std::string> Refusal(const fleetdesk::v1::Task& task,
                                   const AgentConfig::Tasks& policy,
                                   const std::string& config_name) {
  const std::string& kind = task.kind();
  if (!policy.enabled) {
    return "tasks are turned off on this host (tasks.enabled in " + config_name + ")";
  }
  if (std::find(policy.kinds.begin(), policy.kinds.end(), kind) == policy.kinds.end()) {
    return "task kind '" + kind.substr(0, 40) + "' is not in tasks.kinds of " + config_name;
  }
  if (kind.starts_with("service.")) {
    if (!task.has_service() || !ValidUnit(task.service().unit())) {
      return kind + " needs params.unit, a unit's full name";
    }
    const std::string& unit = task.service().unit();
    for (const auto& pattern : policy.units) {
      if (fnmatch(pattern.c_str(), unit.c_str(), 0) == 0) return std::nullopt;
    }
    return "unit " + unit + " is not matched by tasks.units of " + config_name;
  }
  if (kind == "file.write") {
    const std::string& path = task.file_write().path();
    if (!task.has_file_write() || !CleanAbsolutePath(path)) {
      return "file.write needs params.path, an absolute path without '.' or '..' parts";
    }
    if (policy.file_paths.empty()) {
      return "file.write is not allowed to any path: tasks.file_paths of " + config_name +
             " is empty";
    }
    for (const auto& prefix : policy.file_paths) {
      if (Under(path, prefix)) return std::nullopt;
    }
    return path.substr(0, 200) + " is not under a directory in tasks.file_paths of " + config_name;
  }
  if (kind == "command.run") {
    const auto& argv = task.command().argv();
    if (!task.has_command() || argv.empty() || !CleanAbsolutePath(argv[0])) {
      return "command.run needs params.argv, starting with the program's absolute path";
    }
    for (const auto& allowed : policy.commands) {
      if (static_cast<std::size_t>(argv.size()) >= allowed.size() &&
          std::equal(allowed.begin(), allowed.end(), argv.begin())) {
        return std::nullopt;
      }
    }
    return "command '" + Joined(argv) + "' is not in tasks.commands of " + config_name;
  }
  if (kind == "inventory.refresh") return std::nullopt;
  return "unknown task kind '" + kind.substr(0, 40) + "'";
}

std::chrono::seconds Timeout(const fleetdesk::v1::Task& task, const AgentConfig::Tasks& policy) {
  if (task.timeout_seconds() == 0) return policy.default_timeout;
  return std::min(std::chrono::seconds(task.timeout_seconds()), policy.max_timeout);
}

TaskResult Execute(const fleetdesk::v1::Task& task, const ExecuteOptions& options) {
  const auto started = Clock::now();
  const auto deadline = started + options.timeout;
  TaskResult result;
  if (task.kind().starts_with("service.")) {
    result = ServiceJob(task, deadline);
  } else if (task.kind() == "file.write") {
    result = WriteFile(task, options);
  } else if (task.kind() == "command.run") {
    result = RunCommand(task, options, deadline);
  } else {
    result = Failed("task kind '" + task.kind() + "' is not run by the executor");
  }
  result.set_task_id(task.id());
  result.set_duration_ms(static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()));
  return result;
}

}  // namespace fleetdesk::agent::tasks
