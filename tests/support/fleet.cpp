#include "tests/support/fleet.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <regex>
#include <stdexcept>

#include "common/files.hpp"
#include "common/net/https_client.hpp"

namespace fleetdesk::testing {
namespace {

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

void TestServer::WriteConfig(const std::string& agents_config, const std::string& database) {
  config_path_ = dir_ / "server.toml";
  planned_agent_port_ = FreePort();
  // [agents] comes last, so AddAgentsConfig can append to it.
  WriteFile(config_path_, "data_dir = \"" + (dir_ / "data") + "\"\n" +
                              (database.empty() ? "" : "database = \"" + database + "\"\n") +
                              "log_level = \"debug\"\n"
                              "threads = 2\n"
                              "[api]\nlisten = \"127.0.0.1:" +
                              std::to_string(FreePort()) +
                              "\"\nrequest_timeout = \"5s\"\n[agents]\nlisten = \"127.0.0.1:" +
                              std::to_string(planned_agent_port_) +
                              "\"\nheartbeat_interval = \"1s\"\n" + agents_config + "\n");
}

TestServer::TestServer(const std::string& agents_config, const std::string& database) {
  WriteConfig(agents_config, database);
  auto init = CliResult({"init"});
  if (init.exit_code != 0) throw std::runtime_error("init failed: " + init.err);
  fingerprint_ = Cli({"ca-fingerprint"});
  ca_pem_ = ReadFile(dir_ / "data/ca.crt");
  api_token_ = Cli({"api-token", "create", "--user", "admin"});
}

TestServer::TestServer(JoinTag, const TestServer& peer, const std::string& database) {
  WriteConfig("", database);
  for (const char* file : {"ca.crt", "ca.key", "server.crt", "server.key"}) {
    WriteFile(dir_ / (std::string("data/") + file),
              ReadFile(peer.dir_ / (std::string("data/") + file)));
  }
  fingerprint_ = peer.fingerprint_;
  ca_pem_ = peer.ca_pem_;
  api_token_ = peer.api_token_;
}

std::unique_ptr<TestServer> TestServer::Joining(const TestServer& peer,
                                                const std::string& database) {
  return std::unique_ptr<TestServer>(new TestServer(JoinTag{}, peer, database));
}

void TestServer::AddAgentsConfig(const std::string& lines) {
  WriteFile(config_path_, ReadFile(config_path_) + lines + "\n");
}

TestServer::~TestServer() {
  if (process_) process_->Kill();
}

CommandResult TestServer::CliResult(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {FLEETDESK_SERVER_BINARY, "--config", config_path_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv);
}

std::string TestServer::Cli(const std::vector<std::string>& args) const {
  auto result = CliResult(args);
  if (result.exit_code != 0) throw std::runtime_error("fleetdesk-server failed: " + result.err);
  return Trim(result.out);
}

void TestServer::Start() {
  auto log = dir_ / ("server-" + std::to_string(++starts_) + ".log");
  process_ = std::make_unique<Process>(
      std::vector<std::string>{FLEETDESK_SERVER_BINARY, "--config", config_path_, "serve"}, log);
  if (!process_->WaitForLog("ready", std::chrono::seconds(20))) {
    throw std::runtime_error("server did not start:\n" + process_->Log());
  }
  std::smatch m;
  auto text = process_->Log();
  static const std::regex kServing(R"(api https://[^:]+:(\d+) agents wss://[^:]+:(\d+))");
  if (!std::regex_search(text, m, kServing)) throw std::runtime_error("no serving line:\n" + text);
  api_port_ = std::stoi(m[1]);
  agent_port_ = std::stoi(m[2]);
}

int TestServer::Stop() { return process_->Terminate(); }
void TestServer::Kill() { process_->Kill(); }

std::pair<int, std::string> TestServer::Call(const std::string& method, const std::string& path,
                                             const std::string& body) const {
  net::HttpsRequest request;
  request.method = method;
  request.url = ApiUrl() + path;
  request.body = body;
  request.tls.ca_pem = ca_pem_;
  request.headers["Authorization"] = "Bearer " + api_token_;
  auto response = net::Fetch(request);
  if (!response) throw std::runtime_error(response.error().message);
  return {response->status, response->body};
}

std::pair<int, std::string> TestServer::Get(const std::string& path,
                                            const std::string& token) const {
  net::HttpsRequest request;
  request.url = ApiUrl() + path;
  request.tls.ca_pem = ca_pem_;
  request.headers["Authorization"] = "Bearer " + (token.empty() ? api_token_ : token);
  auto response = net::Fetch(request);
  if (!response) throw std::runtime_error(response.error().message);
  return {response->status, response->body};
}

std::string MakeMachineRoot(const TempDir& dir, const std::string& hostname,
                            const std::string& machine_id) {
  std::string root = dir / "root";
  WriteFile(root + "/etc/machine-id", machine_id + "\n");
  WriteFile(root + "/proc/sys/kernel/hostname", hostname + "\n");
  WriteFile(root + "/etc/os-release", "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\n");
  WriteFile(root + "/proc/uptime", "1234.5 100.0\n");
  WriteFile(root + "/proc/loadavg", "0.50 0.25 0.10 1/100 42\n");
  return root;
}

TestAgent::TestAgent(TestServer& server, const std::string& machine_root,
                     const std::string& extra_config) {
  std::string config = "splay = \"0s\"\nlog_level = \"debug\"\nreport_interval = \"1s\"\n";
  config += "state_dir = \"" + (dir_ / "state") + "\"\n";
  if (!machine_root.empty()) config += "root = \"" + machine_root + "\"\n";
  config += "[reconnect]\nmin = \"1s\"\nmax = \"2s\"\n";
  config += extra_config;
  WriteFile(dir_ / "agent.toml", config);
  auto token = server.Cli({"enroll-token", "create", "--ttl", "1h", "--max-hosts", "1"});
  auto result = Run({FLEETDESK_AGENT_BINARY, "--config", dir_ / "agent.toml", "enroll", "--server",
                     server.ApiUrl(), "--token", token, "--ca-fingerprint", server.fingerprint()});
  if (result.exit_code != 0) throw std::runtime_error("enroll failed: " + result.err);
  static const std::regex kAgent(R"(enrolled as agent ([0-9a-f-]+))");
  std::smatch m;
  if (!std::regex_search(result.out, m, kAgent)) throw std::runtime_error(result.out);
  agent_id_ = m[1];
}

TestAgent::~TestAgent() {
  if (process_) process_->Kill();
}

void TestAgent::Start() {
  auto log = dir_ / ("agent-" + std::to_string(++starts_) + ".log");
  process_ = std::make_unique<Process>(
      std::vector<std::string>{FLEETDESK_AGENT_BINARY, "--config", dir_ / "agent.toml", "run"},
      log);
}

int TestAgent::Stop() { return process_->Terminate(); }

}  // namespace fleetdesk::testing
