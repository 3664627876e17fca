// Child processes for tests that run the real binaries: started with output to a log file,
// stopped with SIGTERM (and SIGKILL if they hang) when the test ends.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace fleetdesk::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs to completion; exit_code is the status, or 128+signal.
CommandResult Run(const std::vector<std::string>& argv);
// Runs to completion with its output appended to `log_path`, for commands that leave a daemon
// behind (pg_ctl start): the daemon would hold Run's pipes open, and Run would wait for ever.
int RunLogged(const std::vector<std::string>& argv, const std::string& log_path);

// A loopback port free now: for a daemon a test starts and must reach (and a server restarted on
// the same address).
int FreePort();

class Process {
 public:
  Process(const std::vector<std::string>& argv, std::string log_path);
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Polls the log until it contains `needle`; false on timeout or when the process died.
  bool WaitForLog(const std::string& needle, std::chrono::milliseconds timeout) const;
  std::string Log() const;
  // SIGTERM, then waits; answers the exit code (128+signal when killed). SIGKILL after timeout.
  int Terminate(std::chrono::milliseconds timeout = std::chrono::seconds(20));
  void Kill();
  bool Running();
  pid_t pid() const { return pid_; }

 private:
  int WaitExit(std::chrono::milliseconds timeout);
  pid_t pid_ = -1;
  std::string log_path_;
  int exit_code_ = -1;
};

}  // namespace fleetdesk::testing
