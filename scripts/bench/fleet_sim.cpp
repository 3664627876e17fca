// fleetdesk-fleet-sim: a fleet of simulated agents for the ingest benchmark. Each simulated agent
// enrolls through the real API, then holds a real mutual-TLS WebSocket to the gateway from its own
// 127.x.y.z source address and reports as a real agent does: a full report after connecting,
// then delta reports (heartbeat, metrics, a check result) of which --change-rate carry a unit or
// check state change. Prints one table.
//
// Phases: enroll N agents; connect them all (hello/welcome, full report acked) and let them idle,
// to measure the server's memory per idle agent; then every agent reports once per --interval
// for --duration, while ack latencies are recorded, the server's CPU time is sampled and its
// rows-written counter is read from /metrics.
#include <openssl/pem.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "common/codec.hpp"
#include "common/crypto.hpp"
#include "common/files.hpp"
#include "common/net/https_client.hpp"
#include "common/net/tls.hpp"
#include "common/net/tls_stream.hpp"
#include "fleetdesk/v1/api.pb.h"
#include "fleetdesk/v1/tasks.pb.h"
#include "scripts/bench/sim_host.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::awaitable;
using asio::use_awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(use_awaitable);

struct Options {
  std::string api = "https://localhost:8443";
  std::string gateway_host = "127.0.0.1";
  std::string gateway_port = "8441";
  std::string ca_file;
  std::string token;
  int agents = 1000;
  double interval = 1.0;   // seconds between one agent's reports
  double duration = 30.0;  // seconds of reporting measured
  double idle = 5.0;       // seconds all agents sit connected before reporting
  int server_pid = 0;
  int threads = 1;
  int enroll_threads = 2;
  int connect_parallel = 500;  // connections in handshake at once (listen backlog is 4096)
  std::string encoding = "protobuf";
  double change_rate = 0.01;     // share of delta reports carrying a state change
  bool full_report = true;       // each agent sends a full report after connecting
  std::string store = "sqlite";  // names the server's store in the table
  // Task mode: with an API token, agents send no reports but answer each task at once, and the
  // dispatch of one task to the whole fleet and of `task_runs` tasks to one host is timed.
  std::string tasks_token;
  int task_runs = 100;
};

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PKeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

struct Agent {
  std::string id;
  std::shared_ptr<X509> certificate;
  asio::ip::address source;
};

struct Stats {
  std::mutex mutex;
  std::vector<double> latencies_ms;  // one per acked report, measured window only
  // Acks slower than 100 ms: (seconds into the window the report was sent, ms), to tell a stall
  // of the server (slow acks bunched in time) from queueing spread over the window.
  std::vector<std::pair<double, double>> slow;
  Clock::time_point window_start;
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> changes{0};  // state changes sent in the measured window
  std::atomic<std::uint64_t> task_results{0};
  std::atomic<int> connected{0};
  std::atomic<int> connecting{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> reporting{false};
  std::atomic<bool> done{false};
};

// The one private key every simulated agent's certificate was issued for, and the one TLS
// context (trusting the server's CA) every connection is made from.
std::unique_ptr<EVP_PKEY, PKeyFree> g_key;
std::shared_ptr<asio::ssl::context> g_context;

struct ProcSample {
  double cpu_seconds = 0;
  double rss_bytes = 0;
};

ProcSample SampleProcess(int pid) {
  ProcSample s;
  if (pid <= 0) return s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  auto close = content.rfind(')');
  if (close == std::string::npos) return s;
  std::istringstream fields(content.substr(close + 2));
  std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
  if (f.size() < 22) return s;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  s.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
  s.rss_bytes = std::stod(f[21]) * static_cast<double>(sysconf(_SC_PAGESIZE));
  return s;
}

// CPU seconds of each of the process's threads, summed by thread name (the server names its
// threads: fd-writer, fd-checkpoint, ...; the network threads keep the process's name).
std::map<std::string, double> SampleThreads(int pid) {
  std::map<std::string, double> by_name;
  if (pid <= 0) return by_name;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    auto open = content.find('(');
    auto close = content.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream fields(content.substr(close + 2));
    std::vector<std::string> f{std::istream_iterator<std::string>(fields), {}};
    if (f.size() < 13) continue;
    by_name[content.substr(open + 1, close - open - 1)] +=
        (std::stod(f[11]) + std::stod(f[12])) / ticks;
  }
  return by_name;
}

// 127.1.0.1, 127.1.0.2, ...: 200 agents per source address.
asio::ip::address SourceFor(int i) {
  int address = i / 200;
  return asio::ip::make_address_v4("127." + std::to_string(1 + address / 250) + "." +
                                   std::to_string(address % 250) + ".1");
}

std::vector<Agent> Enroll(const Options& o, const std::string& ca_pem) {
  // One key serves every simulated agent: the server signs a certificate per agent id.
  auto key = fleetdesk::crypto::GenerateKey();
  auto csr = fleetdesk::crypto::MakeCsr(*key, "sim");
  std::vector<Agent> agents(static_cast<std::size_t>(o.agents));
  std::atomic<int> next{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < o.enroll_threads; ++t) {
    workers.emplace_back([&] {
      for (int i = next++; i < o.agents; i = next++) {
        fleetdesk::v1::EnrollRequest req;
        req.set_token(o.token);
        req.set_csr(*csr);
        req.set_hostname(fleetdesk::bench::SimHost::Hostname(i));
        req.set_machine_id(fleetdesk::bench::SimHost::MachineId(i));
        req.set_serial(fleetdesk::bench::SimHost::Serial(i));
        fleetdesk::net::HttpsRequest post;
        post.method = "POST";
        post.url = o.api + "/api/v1/enroll";
        post.body = fleetdesk::codec::ToJson(req);
        post.tls.ca_pem = ca_pem;
        auto response = fleetdesk::net::Fetch(post);
        // An address enrolling thousands of hosts at once is throttled as any other; do as
        // the agent does and come back a second later.
        for (int tries = 0; response && response->status == 429 && tries < 30; ++tries) {
          std::this_thread::sleep_for(std::chrono::seconds(1));
          response = fleetdesk::net::Fetch(post);
        }
        if (!response || response->status != 200) {
          if (failures++ < 3) {
            std::cerr << "enroll " << i << ": "
                      << (response ? response->body : response.error().message) << "\n";
          }
          continue;
        }
        auto body = fleetdesk::codec::Parse<fleetdesk::v1::EnrollResponse>(response->body);
        BIO* bio = BIO_new_mem_buf(body->certificate().data(),
                                   static_cast<int>(body->certificate().size()));
        std::shared_ptr<X509> cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr), X509Free{});
        BIO_free(bio);
        agents[static_cast<std::size_t>(i)] = {body->agent_id(), cert, SourceFor(i)};
      }
    });
  }
  for (auto& w : workers) w.join();
  if (failures > 0) {
    std::cerr << failures << " enrollments failed\n";
    std::exit(1);
  }
  BIO* bio = BIO_new_mem_buf(key->data(), static_cast<int>(key->size()));
  g_key.reset(PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  g_context = *fleetdesk::net::MakeClientContext({ca_pem, "", ""});
  return agents;
}

// The sequence an ack frame acknowledges; 0 for other frames (config, tasks). `scratch` is
// reused from frame to frame.
std::uint64_t AckedSeq(bool text, const beast::flat_buffer& frame,
                       fleetdesk::v1::ServerMessage& scratch) {
  const auto data = frame.cdata();
  if (text) {
    const std::string_view json(static_cast<const char*>(data.data()), data.size());
    if (!fleetdesk::codec::FromJson(json, &scratch) || !scratch.has_ack()) return 0;
    return scratch.ack().seq();
  }
  if (!scratch.ParseFromArray(data.data(), static_cast<int>(data.size())) || !scratch.has_ack()) {
    return 0;
  }
  return scratch.ack().seq();
}

awaitable<void> RunAgent(const Options& o, Agent agent, Stats& stats, int index,
                         asio::steady_timer& start_reporting) {
  auto ex = co_await asio::this_coro::executor;
  while (stats.connecting.load() >= o.connect_parallel) {
    asio::steady_timer wait(ex, std::chrono::milliseconds(5));
    co_await wait.async_wait(kTuple);
  }
  ++stats.connecting;
  // One context (the CA) for the whole fleet; each connection presents its own certificate.
  websocket::stream<fleetdesk::net::TlsStream> ws(ex, *g_context);
  SSL* ssl = ws.next_layer().native_handle();
  SSL_use_certificate(ssl, agent.certificate.get());
  SSL_use_PrivateKey(ssl, g_key.get());
  ws.next_layer().SetServerName("localhost");
  auto& socket = beast::get_lowest_layer(ws);
  boost::system::error_code ec;
  socket.open(asio::ip::tcp::v4(), ec);
  if (!ec) socket.bind({agent.source, 0}, ec);
  asio::ip::tcp::endpoint server(asio::ip::make_address(o.gateway_host),
                                 static_cast<unsigned short>(std::stoi(o.gateway_port)));
  if (!ec) std::tie(ec) = co_await socket.async_connect(server, kTuple);
  if (!ec) {
    std::tie(ec) = co_await ws.next_layer().async_handshake(asio::ssl::stream_base::client, kTuple);
  }
  if (!ec) std::tie(ec) = co_await ws.async_handshake("localhost", "/agent/v1/channel", kTuple);
  fleetdesk::bench::SimHost host(index);
  fleetdesk::v1::AgentMessage hello;
  hello.set_protocol_version(1);
  hello.mutable_hello()->set_machine_id(fleetdesk::bench::SimHost::MachineId(index));
  hello.mutable_hello()->set_hostname(fleetdesk::bench::SimHost::Hostname(index));
  hello.mutable_hello()->set_agent_version("sim");
  if (o.encoding == "protobuf") hello.mutable_hello()->add_encodings("protobuf");
  std::string hello_text = fleetdesk::codec::ToJson(hello);
  if (!ec) std::tie(ec, std::ignore) = co_await ws.async_write(asio::buffer(hello_text), kTuple);
  beast::flat_buffer buffer;
  if (!ec) std::tie(ec, std::ignore) = co_await ws.async_read(buffer, kTuple);
  buffer.consume(buffer.size());

  // A message as the negotiated encoding frames it.
  fleetdesk::v1::AgentMessage message;
  message.set_protocol_version(1);
  auto frame = [&] {
    if (o.encoding == "protobuf") {
      ws.binary(true);
      return message.SerializeAsString();
    }
    ws.text(true);
    return fleetdesk::codec::ToJson(message);
  };
  std::uint64_t seq = 0;
  if (!ec && o.full_report) {
    // As a real agent does after connecting; acked before the fleet counts as connected.
    *message.mutable_report() = host.Full(++seq);
    auto full = frame();
    message.clear_report();  // frees it: the deltas reuse a report of their own size
    std::tie(ec, std::ignore) = co_await ws.async_write(asio::buffer(full), kTuple);
    while (!ec) {
      std::tie(ec, std::ignore) = co_await ws.async_read(buffer, kTuple);
      if (ec) break;
      fleetdesk::v1::ServerMessage incoming;
      auto acked = AckedSeq(ws.got_text(), buffer, incoming);
      buffer.consume(buffer.size());
      if (acked >= seq) break;
    }
  }
  --stats.connecting;
  if (ec) {
    if (stats.errors++ < 3) std::cerr << "agent " << index << " connect: " << ec.message() << "\n";
    co_return;
  }
  ++stats.connected;

  if (!o.tasks_token.empty()) {
    // Task mode: each task is answered at once, done, and nothing else is sent.
    beast::flat_buffer in;
    for (;;) {
      auto [rec, n] = co_await ws.async_read(in, kTuple);
      if (rec) break;
      const auto bytes = beast::buffers_to_string(in.data());
      in.consume(in.size());
      fleetdesk::v1::ServerMessage incoming;
      const bool parsed = ws.got_text() ? fleetdesk::codec::FromJson(bytes, &incoming).ok()
                                        : incoming.ParseFromString(bytes);
      if (!parsed || !incoming.has_task()) continue;
      message.clear_report();
      auto* result = message.mutable_task_result();
      result->set_task_id(incoming.task().id());
      result->set_state(fleetdesk::v1::TASK_STATE_SUCCEEDED);
      result->set_duration_ms(1);
      auto out = frame();
      auto [wec, wn] = co_await ws.async_write(asio::buffer(out), kTuple);
      if (wec) break;
      ++stats.task_results;
    }
    --stats.connected;
    co_return;
  }

  // Wait for the reporting phase; then report with a random phase so load is even.
  co_await start_reporting.async_wait(kTuple);
  std::mt19937 random(static_cast<unsigned>(index));
  auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval));
  auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 interval * std::uniform_real_distribution<double>(0, 1)(random));
  std::deque<std::pair<std::uint64_t, Clock::time_point>> in_flight;
  bool reading = false;
  bool failed = false;
  asio::steady_timer timer(ex);

  // Acks arrive on their own; one reader coroutine per agent drains them.
  auto reader = [&]() -> awaitable<void> {
    reading = true;
    beast::flat_buffer in;
    fleetdesk::v1::ServerMessage incoming;
    for (;;) {
      auto [rec, n] = co_await ws.async_read(in, kTuple);
      if (rec) break;
      auto acked = AckedSeq(ws.got_text(), in, incoming);
      in.consume(in.size());
      if (acked == 0) continue;
      auto now = Clock::now();
      const bool measuring = stats.measuring.load();
      std::unique_lock lock(stats.mutex, std::defer_lock);
      if (measuring) lock.lock();
      while (!in_flight.empty() && in_flight.front().first <= acked) {
        const auto sent_at = in_flight.front().second;
        const double ms = std::chrono::duration<double, std::milli>(now - sent_at).count();
        if (measuring) {
          stats.latencies_ms.push_back(ms);
          if (ms > 100) {
            stats.slow.emplace_back(
                std::chrono::duration<double>(sent_at - stats.window_start).count(), ms);
          }
        }
        in_flight.pop_front();
        ++stats.acked;
      }
    }
    reading = false;
    failed = true;
  };
  asio::co_spawn(ex, reader(), asio::detached);

  while (!stats.done.load() && !failed) {
    timer.expires_at(next);
    co_await timer.async_wait(kTuple);
    next += interval;
    if (stats.done.load()) break;
    const auto changes_before = host.changes();
    host.Delta(++seq, o.change_rate, *message.mutable_report());
    auto report = frame();
    if (stats.measuring.load()) stats.changes += host.changes() - changes_before;
    in_flight.emplace_back(seq, Clock::now());
    auto [wec, n] = co_await ws.async_write(asio::buffer(report), kTuple);
    if (wec) {
      ++stats.errors;
      break;
    }
    ++stats.sent;
  }
  co_await ws.async_close(websocket::close_code::normal, kTuple);
  while (reading) {
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(kTuple);
  }
  --stats.connected;
}

// A counter of the server's /metrics, or -1 when it cannot be read.
double ServerCounter(const Options& o, const std::string& ca_pem, const std::string& name) {
  fleetdesk::net::HttpsRequest get;
  get.url = o.api + "/metrics";
  get.tls.ca_pem = ca_pem;
  auto response = fleetdesk::net::Fetch(get);
  if (!response || response->status != 200) return -1;
  std::istringstream lines(response->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

// An API call with the task mode's token; answers status and body (status 0 when unreachable).
std::pair<int, std::string> Api(const Options& o, const std::string& ca_pem,
                                const std::string& method, const std::string& path,
                                const std::string& body = "") {
  fleetdesk::net::HttpsRequest request;
  request.method = method;
  request.url = o.api + path;
  request.body = body;
  request.tls.ca_pem = ca_pem;
  request.headers["Authorization"] = "Bearer " + o.tasks_token;
  auto response = fleetdesk::net::Fetch(request);
  if (!response) return {0, response.error().message};
  return {response->status, response->body};
}

// Every host's id, through the API's pages.
std::vector<std::int64_t> HostIds(const Options& o, const std::string& ca_pem) {
  std::vector<std::int64_t> ids;
  std::string cursor;
  for (;;) {
    auto [status, body] = Api(
        o, ca_pem, "GET", "/api/v1/hosts?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    auto page = fleetdesk::codec::Parse<fleetdesk::v1::HostList>(body);
    if (status != 200 || !page) break;
    for (const auto& h : page->items()) ids.push_back(h.id());
    if (page->next_cursor().empty()) break;
    cursor = page->next_cursor();
  }
  return ids;
}

// How many of the task's hosts have a result stored; -1 when it cannot be read.
int Stored(const Options& o, const std::string& ca_pem, std::int64_t task) {
  auto [status, body] = Api(o, ca_pem, "GET", "/api/v1/tasks/" + std::to_string(task) + "?limit=1");
  auto view = fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(body);
  if (status != 200 || !view) return -1;
  const auto& c = view->counts();
  return c.succeeded() + c.failed() + c.timed_out() + c.cancelled() + c.refused();
}

std::int64_t Submit(const Options& o, const std::string& ca_pem, const std::string& body) {
  auto [status, answer] = Api(o, ca_pem, "POST", "/api/v1/tasks", body);
  auto view = fleetdesk::codec::Parse<fleetdesk::v1::TaskView>(answer);
  if (status != 201 || !view) {
    std::cerr << "task refused (" << status << "): " << answer << "\n";
    return 0;
  }
  return view->id();
}

double Percentile(std::vector<double>& v, double p);

// Times one inventory.refresh to every host (until 50 %, 99 % and all results are stored) and
// `task_runs` to one host each (submit to stored), and prints the table.
int MeasureTasks(const Options& o, const std::string& ca_pem, int connected) {
  auto ids = HostIds(o, ca_pem);
  if (ids.empty()) {
    std::cerr << "no hosts listed\n";
    return 1;
  }
  std::string body = R"({"kind":"inventory.refresh","hostIds":[)";
  for (std::size_t i = 0; i < ids.size(); ++i) body += (i > 0 ? "," : "") + std::to_string(ids[i]);
  body += "]}";
  const int n = static_cast<int>(ids.size());
  auto t0 = Clock::now();
  auto task = Submit(o, ca_pem, body);
  if (task == 0) return 1;
  const double submit_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  double half = -1, most = -1, all = -1;
  while (std::chrono::duration<double>(Clock::now() - t0).count() < 120) {
    const int stored = Stored(o, ca_pem, task);
    const double at = std::chrono::duration<double>(Clock::now() - t0).count();
    if (half < 0 && stored * 2 >= n) half = at;
    if (most < 0 && stored * 100 >= n * 99) most = at;
    if (stored >= n) {
      all = at;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::vector<double> single;
  for (int run = 0; run < o.task_runs; ++run) {
    auto start = Clock::now();
    auto one = Submit(o, ca_pem,
                      R"({"kind":"inventory.refresh","hostIds":[)" +
                          std::to_string(ids[static_cast<std::size_t>(run) % ids.size()]) + "]}");
    if (one == 0) return 1;
    while (Stored(o, ca_pem, one) < 1) {
      if (Clock::now() - start > std::chrono::seconds(10)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    single.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  std::printf(
      "| store | agents | connected | submit ms | 50 %% stored s | 99 %% stored s | all stored s "
      "| tasks/s | one host p50 ms | one host p99 ms |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf("| %s | %d | %d | %.0f | %.2f | %.2f | %.2f | %.0f | %.1f | %.1f |\n",
              o.store.c_str(), n, connected, submit_ms, half, most, all, all > 0 ? n / all : 0.0,
              Percentile(single, 0.50), Percentile(single, 0.99));
  return all > 0 ? 0 : 1;
}

double Percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"fleetdesk-fleet-sim: simulated agents for the ingest benchmark"};
  app.add_option("--api", o.api, "the server's API URL");
  app.add_option("--gateway-host", o.gateway_host);
  app.add_option("--gateway-port", o.gateway_port);
  app.add_option("--ca", o.ca_file, "the server's CA certificate")->required();
  app.add_option("--token", o.token, "an enrollment token allowing --agents hosts")->required();
  app.add_option("--agents", o.agents)->capture_default_str();
  app.add_option("--interval", o.interval, "seconds between one agent's reports")
      ->capture_default_str();
  app.add_option("--duration", o.duration, "seconds of reporting to measure")
      ->capture_default_str();
  app.add_option("--idle", o.idle, "seconds connected and idle before reporting")
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid, "the server's pid, for CPU and RSS");
  app.add_option("--threads", o.threads)->capture_default_str();
  app.add_option("--encoding", o.encoding, "protobuf or json")->capture_default_str();
  app.add_option("--change-rate", o.change_rate, "share of delta reports with a state change")
      ->capture_default_str();
  app.add_flag("!--no-full-report", o.full_report, "skip the full report after connecting");
  app.add_option("--store", o.store, "the server's store, for the table")->capture_default_str();
  app.add_option("--tasks-token", o.tasks_token,
                 "an API token: time task dispatch instead of reports");
  app.add_option("--task-runs", o.task_runs, "single-host tasks timed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  rlimit limit{};
  getrlimit(RLIMIT_NOFILE, &limit);
  limit.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &limit);

  auto ca_pem = fleetdesk::files::Read(o.ca_file);
  if (!ca_pem) {
    std::cerr << ca_pem.error().message << "\n";
    return 1;
  }
  auto baseline = SampleProcess(o.server_pid);
  auto enroll_start = Clock::now();
  auto agents = Enroll(o, *ca_pem);
  double enroll_s = std::chrono::duration<double>(Clock::now() - enroll_start).count();
  std::cerr << "enrolled " << agents.size() << " agents in " << enroll_s << " s\n";
  std::this_thread::sleep_for(std::chrono::seconds(1));
  auto enrolled = SampleProcess(o.server_pid);

  Stats stats;
  // With one thread (the default) every agent runs on it in turn, and a strand per agent
  // would only add a lock and a queue to each step.
  asio::io_context io(o.threads);
  asio::steady_timer start_reporting(io, Clock::time_point::max());
  auto connect_start = Clock::now();
  for (int i = 0; i < o.agents; ++i) {
    asio::any_io_executor executor = io.get_executor();
    if (o.threads > 1) executor = asio::make_strand(io);
    asio::co_spawn(executor,
                   RunAgent(o, agents[static_cast<std::size_t>(i)], stats, i, start_reporting),
                   asio::detached);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < o.threads; ++t) threads.emplace_back([&io] { io.run(); });

  while (stats.connected.load() + static_cast<int>(stats.errors.load()) < o.agents) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (Clock::now() - connect_start > std::chrono::minutes(5)) break;
  }
  double connect_s = std::chrono::duration<double>(Clock::now() - connect_start).count();
  std::cerr << "connected " << stats.connected << " in " << connect_s << " s; idling " << o.idle
            << " s\n";
  std::this_thread::sleep_for(std::chrono::duration<double>(o.idle));
  auto idle = SampleProcess(o.server_pid);
  const int connected_at_idle = stats.connected.load();
  if (!o.tasks_token.empty()) {
    // The single-host runs are timed from submit to stored, polled every 2 ms: their figures
    // include up to that much of polling.
    const int status = MeasureTasks(o, *ca_pem, connected_at_idle);
    std::fprintf(stderr, "%llu task results sent\n",
                 static_cast<unsigned long long>(stats.task_results.load()));
    io.stop();
    for (auto& t : threads) t.join();
    return status;
  }

  asio::post(io, [&] { start_reporting.cancel(); });
  // Warm up one interval, then measure.
  std::this_thread::sleep_for(std::chrono::duration<double>(o.interval + 1));
  stats.window_start = Clock::now();
  stats.measuring = true;
  const std::string rows_counter = "fleetdesk_store_rows_written_total";
  const double rows_before = ServerCounter(o, *ca_pem, rows_counter);
  // The writer's group commits in the window: how long each took, how many reports each held.
  const std::string commit_seconds = "fleetdesk_store_commit_seconds_sum";
  const std::string commits = "fleetdesk_store_commit_seconds_count";
  const double commit_seconds_before = ServerCounter(o, *ca_pem, commit_seconds);
  const double commits_before = ServerCounter(o, *ca_pem, commits);
  auto before = SampleProcess(o.server_pid);
  auto threads_before = SampleThreads(o.server_pid);
  auto self_before = SampleProcess(static_cast<int>(getpid()));
  auto acked_before = stats.acked.load();
  auto t0 = Clock::now();
  double peak_rss = 0;
  while (Clock::now() - t0 < std::chrono::duration<double>(o.duration)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    peak_rss = std::max(peak_rss, SampleProcess(o.server_pid).rss_bytes);
  }
  auto after = SampleProcess(o.server_pid);
  auto threads_after = SampleThreads(o.server_pid);
  auto self_after = SampleProcess(static_cast<int>(getpid()));
  double window = std::chrono::duration<double>(Clock::now() - t0).count();
  auto acked = stats.acked.load() - acked_before;
  stats.measuring = false;
  const double rows_after = ServerCounter(o, *ca_pem, rows_counter);
  const double commit_count = ServerCounter(o, *ca_pem, commits) - commits_before;
  const double commit_ms =
      commit_count > 0 ? (ServerCounter(o, *ca_pem, commit_seconds) - commit_seconds_before) *
                             1000 / commit_count
                       : 0;
  const double rows_per_s =
      rows_before < 0 || rows_after < 0 ? 0 : (rows_after - rows_before) / window;
  stats.done = true;
  asio::post(io, [] {});
  for (auto& t : threads) t.join();

  std::vector<double> lat;
  std::map<int, std::pair<int, double>> slow_by_tenth;  // tenth of a second: count, worst ms
  {
    std::lock_guard lock(stats.mutex);
    lat = stats.latencies_ms;
    for (const auto& [at, ms] : stats.slow) {
      auto& [count, worst] = slow_by_tenth[static_cast<int>(at * 10)];
      ++count;
      worst = std::max(worst, ms);
    }
  }
  double cpu = (after.cpu_seconds - before.cpu_seconds) / window * 100.0;
  double sim_cpu = (self_after.cpu_seconds - self_before.cpu_seconds) / window * 100.0;
  auto mib = [](double b) { return b / (1024.0 * 1024.0); };
  // Per agent: what enrolling and connecting it added; per connection: what connecting alone
  // added (the channel: socket, TLS, WebSocket, session).
  double per_agent_kib = (idle.rss_bytes - baseline.rss_bytes) / 1024.0 / std::max(1, o.agents);
  double per_connection_kib =
      (idle.rss_bytes - enrolled.rss_bytes) / 1024.0 / std::max(1, connected_at_idle);
  std::printf(
      "| store | agents | encoding | connected | reports/s | state changes/s | rows written/s | "
      "ack p50 ms | ack p99 ms | ack max ms | server CPU %% | simulator CPU %% | server RSS idle "
      "MiB | server RSS "
      "load MiB | RSS per agent KiB | RSS per connection KiB | errors |\n");
  std::printf(
      "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
      "---: | ---: | ---: | ---: |\n");
  std::printf(
      "| %s | %d | %s | %d | %.0f | %.0f | %.0f | %.2f | %.2f | %.2f | %.0f | %.0f | %.1f | %.1f | "
      "%.1f | %.1f | %llu |\n",
      o.store.c_str(), o.agents, o.encoding.c_str(), connected_at_idle,
      static_cast<double>(acked) / window, static_cast<double>(stats.changes.load()) / window,
      rows_per_s, Percentile(lat, 0.50), Percentile(lat, 0.99),
      lat.empty() ? 0.0 : *std::max_element(lat.begin(), lat.end()), cpu, sim_cpu,
      mib(idle.rss_bytes), mib(peak_rss), per_agent_kib, per_connection_kib,
      static_cast<unsigned long long>(stats.errors.load()));
  std::fprintf(
      stderr, "enroll %.1f s, connect %.1f s, measured %.1f s, server RSS before agents %.1f MiB\n",
      enroll_s, connect_s, window, mib(baseline.rss_bytes));
  if (!slow_by_tenth.empty()) {
    std::fprintf(stderr, "acks over 100 ms by when the report was sent (s: count, worst ms):");
    for (const auto& [tenth, slow] : slow_by_tenth) {
      std::fprintf(stderr, " %.1f: %d, %.0f;", tenth / 10.0, slow.first, slow.second);
    }
    std::fprintf(stderr, "\n");
  }
  // CPU per acked report, by thread: what a change to one part of the path costs or saves, read
  // best at a rate the machine keeps up with (INTERVAL=2), where no thread waits for a core.
  if (acked > 0) {
    const double per_report = 1e6 / static_cast<double>(acked);
    std::fprintf(stderr, "CPU per report, microseconds: server %.1f (",
                 (after.cpu_seconds - before.cpu_seconds) * per_report);
    const char* separator = "";
    for (const auto& [name, seconds] : threads_after) {
      auto was = threads_before.find(name);
      const double used = seconds - (was == threads_before.end() ? 0.0 : was->second);
      if (used <= 0) continue;
      std::fprintf(stderr, "%s%s %.1f", separator, name.c_str(), used * per_report);
      separator = ", ";
    }
    std::fprintf(stderr, "), simulator %.1f\n",
                 (self_after.cpu_seconds - self_before.cpu_seconds) * per_report);
  }
  std::fprintf(stderr, "%.0f group commits, %.1f ms and %.0f reports each on average\n",
               commit_count, commit_ms,
               commit_count > 0 ? static_cast<double>(acked) / commit_count : 0.0);
  return 0;
}
