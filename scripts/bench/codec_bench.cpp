// fleetdesk-codec-bench: what one agent message costs to decode and one ack to encode, per
// encoding. Prints a table; the numbers decide the channel's wire format (docs/BENCHMARKS.md).
#include <chrono>
#include <cstdio>
#include <string>

#include "common/codec.hpp"
#include "fleetdesk/v1/agent.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

template <typename F>
double MicrosPerCall(int n, F f) {
  for (int i = 0; i < n / 10; ++i) f();  // warm up
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) f();
  return std::chrono::duration<double, std::micro>(Clock::now() - start).count() / n;
}

fleetdesk::v1::AgentMessage Heartbeat() {
  fleetdesk::v1::AgentMessage m;
  m.set_protocol_version(1);
  auto* r = m.mutable_report();
  r->set_seq(123456);
  r->mutable_collected_at()->set_seconds(1800000000);
  auto* hb = r->mutable_heartbeat();
  hb->set_hostname("web-0042.example.com");
  hb->mutable_os()->set_name("Debian GNU/Linux");
  hb->mutable_os()->set_version("12");
  hb->mutable_os()->set_pretty_name("Debian GNU/Linux 12 (bookworm)");
  hb->mutable_os()->set_kernel("6.1.0-27-amd64");
  hb->mutable_os()->set_architecture("x86_64");
  hb->set_uptime_seconds(123456);
  hb->set_load1(0.15);
  hb->set_load5(0.10);
  hb->set_load15(0.05);
  return m;
}

fleetdesk::v1::AgentMessage FullReport() {
  auto m = Heartbeat();
  auto* r = m.mutable_report();
  r->set_full(true);
  for (int i = 0; i < 60; ++i) {
    auto* s = r->add_services();
    s->set_unit("service-" + std::to_string(i) + ".service");
    s->set_description("A service of the example fleet number " + std::to_string(i));
    s->set_load_state("loaded");
    s->set_active_state("active");
    s->set_sub_state("running");
    s->set_unit_file_state("enabled");
    s->set_main_pid(1000 + i);
  }
  return m;
}

}  // namespace

int main() {
  std::printf(
      "| message | bytes (JSON) | bytes (binary) | JSON decode µs | binary decode µs | JSON encode "
      "µs | binary encode µs |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (auto [name, message] : {std::pair{"heartbeat report", Heartbeat()},
                               std::pair{"full report, 60 services", FullReport()}}) {
    const std::string json = fleetdesk::codec::ToJson(message);
    const std::string binary = message.SerializeAsString();
    int n = json.size() > 2000 ? 2000 : 20000;
    double json_decode = MicrosPerCall(n, [&] {
      fleetdesk::v1::AgentMessage out;
      (void)fleetdesk::codec::FromJson(json, &out);
    });
    double binary_decode = MicrosPerCall(n, [&] {
      fleetdesk::v1::AgentMessage out;
      out.ParseFromString(binary);
    });
    double json_encode = MicrosPerCall(n, [&] { (void)fleetdesk::codec::ToJson(message); });
    double binary_encode = MicrosPerCall(n, [&] { (void)message.SerializeAsString(); });
    std::printf("| %s | %zu | %zu | %.2f | %.2f | %.2f | %.2f |\n", name, json.size(),
                binary.size(), json_decode, binary_decode, json_encode, binary_encode);
  }
  fleetdesk::v1::ServerMessage ack;
  ack.set_protocol_version(1);
  ack.mutable_ack()->set_seq(123456);
  double ack_json = MicrosPerCall(20000, [&] { (void)fleetdesk::codec::ToJson(ack); });
  double ack_binary = MicrosPerCall(20000, [&] { (void)ack.SerializeAsString(); });
  std::printf("| ack | %zu | %zu | - | - | %.2f | %.2f |\n", fleetdesk::codec::ToJson(ack).size(),
              ack.SerializeAsString().size(), ack_json, ack_binary);
  return 0;
}
