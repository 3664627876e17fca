#include "agent/collectors/metrics.hpp"

#include <sys/statvfs.h>

#include "agent/collectors/inventory.hpp"

namespace fleetdesk::agent::collectors {
namespace {

std::uint64_t Rate(std::uint64_t now, std::uint64_t before, double seconds) {
  // A counter that went backwards was reset (interface re-created): no rate this time.
  if (seconds <= 0 || now < before) return 0;
  return static_cast<std::uint64_t>(static_cast<double>(now - before) / seconds);
}

}  // namespace

fleetdesk::v1::Metrics MetricsCollector::Collect(std::chrono::steady_clock::time_point now) {
  fleetdesk::v1::Metrics metrics;
  double seconds = last_.time_since_epoch().count() == 0
                       ? 0.0
                       : std::chrono::duration<double>(now - last_).count();
  last_ = now;

  if (auto stat = root_.Read("/proc/stat")) {
    std::string_view text(*stat);
    auto first = Fields(text.substr(0, text.find('\n')));
    // cpu user nice system idle iowait irq softirq steal ...; idle and iowait are not busy.
    if (first.size() >= 5 && first[0] == "cpu") {
      std::uint64_t total = 0;
      std::uint64_t idle = 0;
      for (std::size_t i = 1; i < first.size() && i <= 8; ++i) {
        auto value = ParseUnsigned(first[i]).value_or(0);
        total += value;
        if (i == 4 || i == 5) idle += value;
      }
      std::uint64_t busy = total - idle;
      if (cpu_total_ != 0 && total > cpu_total_ && busy >= cpu_busy_) {
        metrics.set_cpu_percent(100.0 * static_cast<double>(busy - cpu_busy_) /
                                static_cast<double>(total - cpu_total_));
      }
      cpu_busy_ = busy;
      cpu_total_ = total;
    }
  }
  if (auto load = root_.Read("/proc/loadavg")) {
    auto fields = Fields(*load);
    if (fields.size() >= 3) {
      metrics.set_load1(std::strtod(std::string(fields[0]).c_str(), nullptr));
      metrics.set_load5(std::strtod(std::string(fields[1]).c_str(), nullptr));
      metrics.set_load15(std::strtod(std::string(fields[2]).c_str(), nullptr));
    }
  }
  if (auto meminfo = root_.Read("/proc/meminfo")) {
    std::uint64_t total = 0;
    std::uint64_t available = 0;
    std::uint64_t swap_total = 0;
    std::uint64_t swap_free = 0;
    for (auto line : Split(*meminfo, '\n')) {
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;
      auto key = line.substr(0, colon);
      auto fields = Fields(line.substr(colon + 1));
      if (fields.empty()) continue;
      auto kib = ParseUnsigned(fields[0]).value_or(0) * 1024;
      if (key == "MemTotal") total = kib;
      if (key == "MemAvailable") available = kib;
      if (key == "SwapTotal") swap_total = kib;
      if (key == "SwapFree") swap_free = kib;
    }
    metrics.set_memory_total_bytes(total);
    metrics.set_memory_available_bytes(available);
    metrics.set_memory_used_bytes(total > available ? total - available : 0);
    metrics.set_swap_total_bytes(swap_total);
    metrics.set_swap_used_bytes(swap_total > swap_free ? swap_total - swap_free : 0);
  }
  auto filesystems = ReadFilesystems(root_);
  for (const auto& fs : filesystems.filesystems()) {
    auto* usage = metrics.add_filesystems();
    usage->set_mount_point(fs.mount_point());
    usage->set_size_bytes(fs.size_bytes());
    usage->set_used_bytes(fs.used_bytes());
  }
  if (auto dev = root_.Read("/proc/net/dev")) {
    std::uint64_t rx_rate = 0;
    std::uint64_t tx_rate = 0;
    for (auto line : Split(*dev, '\n')) {
      auto colon = line.find(':');
      if (colon == std::string_view::npos) continue;  // the two header lines
      std::string name(Trim(line.substr(0, colon)));
      auto f = Fields(line.substr(colon + 1));
      // rx: bytes packets errs drop fifo frame compressed multicast; tx: bytes packets errs ...
      if (f.size() < 16 || name == "lo") continue;
      auto* nic = metrics.add_interfaces();
      nic->set_name(name);
      nic->set_rx_bytes(ParseUnsigned(f[0]).value_or(0));
      nic->set_rx_packets(ParseUnsigned(f[1]).value_or(0));
      nic->set_rx_errors(ParseUnsigned(f[2]).value_or(0));
      nic->set_tx_bytes(ParseUnsigned(f[8]).value_or(0));
      nic->set_tx_packets(ParseUnsigned(f[9]).value_or(0));
      nic->set_tx_errors(ParseUnsigned(f[10]).value_or(0));
      auto previous = net_.find(name);
      if (previous != net_.end()) {
        nic->set_rx_bytes_per_second(Rate(nic->rx_bytes(), previous->second.rx, seconds));
        nic->set_tx_bytes_per_second(Rate(nic->tx_bytes(), previous->second.tx, seconds));
        rx_rate += nic->rx_bytes_per_second();
        tx_rate += nic->tx_bytes_per_second();
      }
      net_[name] = {nic->rx_bytes(), nic->tx_bytes()};
    }
    metrics.set_net_rx_bytes_per_second(rx_rate);
    metrics.set_net_tx_bytes_per_second(tx_rate);
  }
  return metrics;
}

}  // namespace fleetdesk::agent::collectors
