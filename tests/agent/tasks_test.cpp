// The agent's task runner: each kind against dbusmock and temporary directories, the config's
// allow-list, and the task log that keeps a task from running twice.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "agent/tasks/executor.hpp"
#include "agent/tasks/runner.hpp"
#include "agent/tasks/task_log.hpp"
#include "common/crypto.hpp"
#include "tests/support/systemd_mock.hpp"
#include "tests/support/temp_dir.hpp"

using namespace fleetdesk::agent;
using fleetdesk::testing::ReadFile;
using fleetdesk::testing::SystemdMock;
using fleetdesk::testing::TempDir;
using fleetdesk::testing::WriteFile;
using fleetdesk::v1::Task;
using fleetdesk::v1::TaskResult;
namespace fs = std::filesystem;

namespace {

Task ServiceTask(const std::string& id, const std::string& kind, const std::string& unit) {
  Task task;
  task.set_id(id);
  task.set_kind(kind);
  task.mutable_service()->set_unit(unit);
  return task;
}

Task FileTask(const std::string& id, const std::string& path, const std::string& content,
              unsigned mode = 0) {
  Task task;
  task.set_id(id);
  task.set_kind("file.write");
  task.mutable_file_write()->set_path(path);
  task.mutable_file_write()->set_content(content);
  task.mutable_file_write()->set_mode(mode);
  return task;
}

Task CommandTask(const std::string& id, std::vector<std::string> argv) {
  Task task;
  task.set_id(id);
  task.set_kind("command.run");
  for (auto& arg : argv) task.mutable_command()->add_argv(arg);
  return task;
}

tasks::ExecuteOptions Options(const TempDir& dir,
                              std::chrono::seconds timeout = std::chrono::seconds(10)) {
  tasks::ExecuteOptions options;
  options.timeout = timeout;
  options.backup_dir = dir / "backup";
  options.file_paths = {dir / "etc"};
  return options;
}

}  // namespace

TEST_CASE("service tasks run systemd jobs and wait for how they end", "[agent][tasks]") {
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  TempDir dir;

  auto result = tasks::Execute(ServiceTask("1", "service.restart", "nginx.service"), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(result.task_id() == "1");
  CHECK(result.message() ==
        "RestartUnit nginx.service: job done; nginx.service is active (running)");
  CHECK(systemd.JobCount("nginx.service") == 1);

  result = tasks::Execute(ServiceTask("2", "service.stop", "nginx.service"), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(result.message() == "StopUnit nginx.service: job done; nginx.service is inactive (dead)");

  result = tasks::Execute(ServiceTask("3", "service.start", "nginx.service"), Options(dir));
  CHECK(result.message() == "StartUnit nginx.service: job done; nginx.service is active (running)");
  result = tasks::Execute(ServiceTask("4", "service.reload", "nginx.service"), Options(dir));
  CHECK(result.message() ==
        "ReloadUnit nginx.service: job done; nginx.service is active (running)");

  // A job that fails leaves the unit failed, and says so.
  systemd.SetJobOutcome("nginx.service", "failed", "failed", "failed");
  result = tasks::Execute(ServiceTask("5", "service.restart", "nginx.service"), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_FAILED);
  CHECK(result.message() ==
        "RestartUnit nginx.service: job failed; nginx.service is failed (failed)");

  result = tasks::Execute(ServiceTask("6", "service.start", "nosuch.service"), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_FAILED);
  CHECK(result.message() == "StartUnit nosuch.service: Unit nosuch.service not found.");
  CHECK(systemd.JobCount("nginx.service") == 5);
}

TEST_CASE("file.write replaces a file atomically, keeps the old one, and is a no-op when equal",
          "[agent][tasks]") {
  TempDir dir;
  fs::create_directories(dir / "etc/app");
  const std::string path = dir / "etc/app/app.conf";

  auto result = tasks::Execute(FileTask("10", path, "port = 80\n", 0640), Options(dir));
  REQUIRE(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(ReadFile(path) == "port = 80\n");
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);
  const std::string digest = fleetdesk::crypto::Sha256Hex("port = 80\n");
  CHECK(result.message() == "wrote 10 bytes to " + path + " (mode 0640, sha256 " + digest + ")");

  // The same again: nothing written, nothing kept.
  result = tasks::Execute(FileTask("11", path, "port = 80\n", 0640), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(result.message() ==
        path + " unchanged: it already has this content, mode and owner (sha256 " + digest + ")");
  CHECK_FALSE(fs::exists(dir / "backup"));

  // New content: the old version is kept under the task's backup directory, mode kept too.
  result = tasks::Execute(FileTask("12", path, "port = 8080\n"), Options(dir));
  REQUIRE(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(ReadFile(path) == "port = 8080\n");
  const std::string kept = dir / ("backup" + path);
  CHECK(ReadFile(kept) == "port = 80\n");
  CHECK(result.message().ends_with("; previous version kept at " + kept));
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0640);  // no mode given: the file's own is kept
  // No temporary file is left beside it.
  int files = 0;
  for ([[maybe_unused]] const auto& item : fs::directory_iterator(dir / "etc/app")) ++files;
  CHECK(files == 1);

  // An owner that does not exist fails and changes nothing.
  auto task = FileTask("13", path, "port = 1\n");
  task.mutable_file_write()->set_owner("no-such-user-here");
  result = tasks::Execute(task, Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_FAILED);
  CHECK(result.message() == "no user 'no-such-user-here' on this host");
  CHECK(ReadFile(path) == "port = 8080\n");
}

TEST_CASE("file.write does not follow symbolic links out of the allowed directories",
          "[agent][tasks]") {
  TempDir dir;
  fs::create_directories(dir / "etc");
  fs::create_directories(dir / "outside");
  WriteFile(dir / "outside/secret", "keep me\n");
  fs::create_symlink(dir / "outside/secret", dir / "etc/link.conf");
  fs::create_directory_symlink(dir / "outside", dir / "etc/sub");

  auto result = tasks::Execute(FileTask("20", dir / "etc/link.conf", "x"), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_REFUSED);
  CHECK(result.message() ==
        (dir / "etc/link.conf") + " is a symbolic link; file.write does not follow it");
  result = tasks::Execute(FileTask("21", dir / "etc/sub/secret", "x"), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_REFUSED);
  CHECK(result.message().find("through a symbolic link, outside tasks.file_paths") !=
        std::string::npos);
  CHECK(ReadFile(dir / "outside/secret") == "keep me\n");
}

TEST_CASE("command.run runs argv without a shell, in a scrubbed environment", "[agent][tasks]") {
  TempDir dir;
  auto result =
      tasks::Execute(CommandTask("30", {"/bin/echo", "$HOME;", "ls", "`id`"}), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(result.exit_code() == 0);
  CHECK(result.stdout() == "$HOME; ls `id`\n");  // no shell expanded anything
  CHECK(result.message() == "/bin/echo $HOME; ls `id`: exit 0");

  ::setenv("FLEETDESK_SECRET_FOR_TEST", "leak", 1);
  result = tasks::Execute(CommandTask("31", {"/usr/bin/env"}), Options(dir));
  ::unsetenv("FLEETDESK_SECRET_FOR_TEST");
  CHECK(result.stdout() ==
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nLANG=C.UTF-8\n"
        "FLEETDESK_TASK_ID=31\n");

  result =
      tasks::Execute(CommandTask("32", {"/bin/sh", "-c", "echo oops >&2; exit 3"}), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_FAILED);
  CHECK(result.exit_code() == 3);
  CHECK(result.stderr() == "oops\n");
  CHECK(result.message() == "/bin/sh -c echo oops >&2; exit 3: exit 3");

  result = tasks::Execute(CommandTask("33", {"/nonexistent/tool"}), Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_FAILED);
  CHECK(result.message() == "cannot run /nonexistent/tool: No such file or directory");
}

TEST_CASE("command.run keeps the first bytes of a large output and states its full size",
          "[agent][tasks]") {
  TempDir dir;
  auto result = tasks::Execute(CommandTask("40", {"/usr/bin/head", "-c", "300000", "/dev/zero"}),
                               Options(dir));
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  CHECK(result.stdout().size() == 64 * 1024);
  CHECK(result.stdout_size() == 300000);
  CHECK(result.stderr_size() == 0);
}

TEST_CASE("command.run stops a command that outlives its timeout, with what it started",
          "[agent][tasks]") {
  TempDir dir;
  const auto started = std::chrono::steady_clock::now();
  // The shell's child keeps the pipes open: the process group goes, not just the shell.
  auto result = tasks::Execute(
      CommandTask("50", {"/bin/sh", "-c", "echo started; /bin/sleep 30; echo never"}),
      Options(dir, std::chrono::seconds(1)));
  const auto took = std::chrono::steady_clock::now() - started;
  CHECK(result.state() == fleetdesk::v1::TASK_STATE_TIMED_OUT);
  CHECK(result.stdout() == "started\n");
  CHECK(result.exit_code() == 128 + SIGTERM);
  CHECK(result.message().ends_with(": still running at the task's timeout of 1 s; stopped"));
  CHECK(took < std::chrono::seconds(5));
}

TEST_CASE("the agent's config refuses task kinds, units, paths and commands it does not list",
          "[agent][tasks]") {
  AgentConfig::Tasks policy;
  policy.units = {"nginx.service", "app-*.service"};
  policy.file_paths = {"/etc/app"};
  policy.commands = {{"/usr/sbin/nginx", "-t"}, {"/usr/bin/systemctl"}};
  const std::string name = "/etc/fleetdesk/agent.toml";
  auto refusal = [&](const Task& task) { return tasks::Refusal(task, policy, name); };

  CHECK_FALSE(refusal(ServiceTask("1", "service.restart", "app-web.service")));
  CHECK(refusal(ServiceTask("1", "service.restart", "sshd.service")) ==
        "unit sshd.service is not matched by tasks.units of /etc/fleetdesk/agent.toml");
  CHECK(refusal(ServiceTask("1", "service.restart", "a b")) ==
        "service.restart needs params.unit, a unit's full name");

  CHECK_FALSE(refusal(FileTask("1", "/etc/app/app.conf", "")));
  CHECK_FALSE(refusal(FileTask("1", "/etc/app/conf.d/x.conf", "")));
  CHECK(refusal(FileTask("1", "/etc/application.conf", "")) ==
        "/etc/application.conf is not under a directory in tasks.file_paths of "
        "/etc/fleetdesk/agent.toml");
  CHECK(refusal(FileTask("1", "/etc/app/../shadow", "")) ==
        "file.write needs params.path, an absolute path without '.' or '..' parts");

  CHECK_FALSE(refusal(CommandTask("1", {"/usr/sbin/nginx", "-t"})));
  CHECK_FALSE(refusal(CommandTask("1", {"/usr/bin/systemctl", "daemon-reload"})));
  CHECK(refusal(CommandTask("1", {"/usr/sbin/nginx", "-s", "stop"})) ==
        "command '/usr/sbin/nginx -s stop' is not in tasks.commands of /etc/fleetdesk/agent.toml");
  CHECK(refusal(CommandTask("1", {"rm", "-rf", "/"})) ==
        "command.run needs params.argv, starting with the program's absolute path");

  policy.kinds = {"inventory.refresh"};
  CHECK(refusal(ServiceTask("1", "service.restart", "nginx.service")) ==
        "task kind 'service.restart' is not in tasks.kinds of /etc/fleetdesk/agent.toml");
  Task refresh;
  refresh.set_kind("inventory.refresh");
  CHECK_FALSE(refusal(refresh));
  policy.enabled = false;
  CHECK(refusal(refresh) ==
        "tasks are turned off on this host (tasks.enabled in "
        "/etc/fleetdesk/agent.toml)");

  AgentConfig::Tasks defaults;
  CHECK(tasks::Refusal(FileTask("1", "/etc/app/x", ""), defaults, name) ==
        "file.write is not allowed to any path: tasks.file_paths of /etc/fleetdesk/agent.toml is "
        "empty");
}

TEST_CASE("the task log remembers every task id and resends results until they are acked",
          "[agent][tasks]") {
  TempDir dir;
  {
    auto log = tasks::TaskLog::Open(dir / "tasks");
    REQUIRE(log.ok());
    REQUIRE(log->Begin("7").ok());
    REQUIRE(log->Begin("12").ok());
    TaskResult done;
    done.set_task_id("12");
    done.set_state(fleetdesk::v1::TASK_STATE_SUCCEEDED);
    done.set_message("ok");
    REQUIRE(log->Finish(done).ok());
    REQUIRE(log->Begin("9").ok());
    done.set_task_id("9");
    REQUIRE(log->Finish(done).ok());
    log->Ack("9");
    CHECK(log->Unacked().size() == 1);
  }
  // Task 7 was running when the agent stopped: reported failed, not run again.
  auto log = tasks::TaskLog::Open(dir / "tasks");
  REQUIRE(log.ok());
  CHECK(log->Known("7"));
  CHECK(log->Known("9"));
  CHECK(log->Known("12"));
  CHECK_FALSE(log->Known("8"));
  auto unacked = log->Unacked();
  REQUIRE(unacked.size() == 2);
  CHECK(unacked[0].task_id() == "7");  // oldest first
  CHECK(unacked[0].state() == fleetdesk::v1::TASK_STATE_FAILED);
  CHECK(unacked[0].message() ==
        "the agent stopped before this task ended; it is not run again, so whether it took "
        "effect is unknown");
  CHECK(unacked[1].task_id() == "12");
  log->Ack("7");
  log->Ack("12");
  CHECK(log->Unacked().empty());

  // Acked records are forgotten after the keep time, with the versions their files replaced.
  fs::create_directories(log->BackupDir("9") + "/etc");
  auto old = fs::file_time_type::clock::now() - std::chrono::hours(24 * 40);
  fs::last_write_time(dir / "tasks/9.done", old);
  auto reopened = tasks::TaskLog::Open(dir / "tasks");
  REQUIRE(reopened.ok());
  CHECK_FALSE(reopened->Known("9"));
  CHECK(reopened->Known("7"));
  CHECK_FALSE(fs::exists(reopened->BackupDir("9")));
  CHECK_FALSE(tasks::TaskLog::ValidId("../etc"));
  CHECK_FALSE(tasks::TaskLog::ValidId(""));
}

TEST_CASE("a task sent twice runs once, and an expired one not at all", "[agent][tasks]") {
  SystemdMock systemd;
  systemd.AddUnit("nginx.service", "active", "running");
  TempDir dir;
  AgentConfig config;
  auto log = tasks::TaskLog::Open(dir / "tasks");
  REQUIRE(log.ok());
  boost::asio::io_context io;
  std::vector<TaskResult> results;
  tasks::TaskRunner runner(
      io, std::move(*log), config, "agent.toml",
      tasks::RunnerHooks{[&](const TaskResult& r) { results.push_back(r); }, nullptr});
  auto finals = [&] {
    int n = 0;
    for (const auto& r : results) n += r.state() != fleetdesk::v1::TASK_STATE_RUNNING ? 1 : 0;
    return n;
  };
  auto run_until = [&](int count) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (finals() < count && std::chrono::steady_clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(10));
      io.restart();
    }
  };
  const auto task = ServiceTask("41", "service.restart", "nginx.service");
  runner.Receive(task);
  run_until(1);
  REQUIRE(results.size() == 2);
  CHECK(results[0].state() == fleetdesk::v1::TASK_STATE_RUNNING);
  CHECK(results[1].state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  // The same id again, before the ack: the result goes again, the job does not run again.
  runner.Receive(task);
  CHECK(results.size() == 3);
  CHECK(results[2].state() == fleetdesk::v1::TASK_STATE_SUCCEEDED);
  runner.Ack("41");
  runner.Receive(task);
  CHECK(results.size() == 3);
  CHECK(systemd.JobCount("nginx.service") == 1);

  auto expired = ServiceTask("42", "service.restart", "nginx.service");
  expired.mutable_expires_at()->set_seconds(1000);
  runner.Receive(expired);
  REQUIRE(results.size() == 4);
  CHECK(results[3].state() == fleetdesk::v1::TASK_STATE_CANCELLED);
  CHECK(results[3].message() == "expired at 1970-01-01T00:16:40Z before it could run here");
  CHECK(systemd.JobCount("nginx.service") == 1);
  CHECK(runner.Unacked().size() == 1);
}
