// A real fleetdesk-server in a temp directory on loopback, for integration tests.
#pragma once

#include <memory>
#include <string>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

namespace fleetdesk::testing {

class TestServer {
 public:
  // `agents_config` lines go into the generated server.toml's [agents] table; `database` is the
  // server's database setting (empty: SQLite in its data dir).
  explicit TestServer(const std::string& agents_config = "", const std::string& database = "");
  ~TestServer();

  // A second server on `peer`'s PostgreSQL database, with `peer`'s CA and server key (as an
  // operator copies them to each server of a fleet); the peer's API token works on both.
  static std::unique_ptr<TestServer> Joining(const TestServer& peer, const std::string& database);

  // Appends lines to the [agents] table of the config (read at the next Start).
  void AddAgentsConfig(const std::string& lines);
  // The gateway URL this server will listen on, known before it starts.
  std::string PlannedGatewayUrl() const {
    return "wss://localhost:" + std::to_string(planned_agent_port_) + "/agent/v1/channel";
  }

  // Starts the server (after `init` the first time) and waits until it is ready.
  void Start();
  // SIGTERM; answers the exit code.
  int Stop();
  void Kill();

  // Runs `fleetdesk-server` with this server's config and `args`; answers stdout, trimmed.
  std::string Cli(const std::vector<std::string>& args) const;
  CommandResult CliResult(const std::vector<std::string>& args) const;

  std::string ApiUrl() const { return "https://localhost:" + std::to_string(api_port_); }
  std::string GatewayUrl() const {
    return "wss://localhost:" + std::to_string(agent_port_) + "/agent/v1/channel";
  }
  const std::string& fingerprint() const { return fingerprint_; }
  const std::string& ca_pem() const { return ca_pem_; }
  const std::string& api_token() const { return api_token_; }
  const TempDir& dir() const { return dir_; }
  Process& process() { return *process_; }

  // GET with the admin's API token; answers status and body.
  std::pair<int, std::string> Get(const std::string& path, const std::string& token = "") const;
  // Any method, with a JSON body, with the admin's API token.
  std::pair<int, std::string> Call(const std::string& method, const std::string& path,
                                   const std::string& body = "") const;

 private:
  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
  int api_port_ = 0;
  int agent_port_ = 0;
  int planned_agent_port_ = 0;
  int starts_ = 0;
  struct JoinTag {};
  TestServer(JoinTag, const TestServer& peer, const std::string& database);
  void WriteConfig(const std::string& agents_config, const std::string& database);
  std::string fingerprint_;
  std::string ca_pem_;
  std::string api_token_;
};

// A real fleetdesk-agent enrolled with `server`, run in its own state dir.
class TestAgent {
 public:
  // `extra_config` is appended to the generated agent.toml (checks, services settings).
  explicit TestAgent(TestServer& server, const std::string& machine_root = "",
                     const std::string& extra_config = "");
  ~TestAgent();
  void Start();
  int Stop();
  const std::string& agent_id() const { return agent_id_; }
  Process& process() { return *process_; }
  const TempDir& dir() const { return dir_; }

 private:
  TempDir dir_;
  std::unique_ptr<Process> process_;
  std::string agent_id_;
  int starts_ = 0;
};

// A fake machine root with hostname, machine-id and os-release, for agents that must differ
// from the real host (several agents on one machine).
std::string MakeMachineRoot(const TempDir& dir, const std::string& hostname,
                            const std::string& machine_id);

}  // namespace fleetdesk::testing
