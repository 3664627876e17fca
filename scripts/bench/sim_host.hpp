// What a simulated host reports, for the benchmarks: one full report with an inventory shaped
// like a real Debian server's (DMI, CPU, memory, disks, filesystems, network, ~150 packages,
// ~30 units, two link checks), then delta reports as a real agent sends them between full ones.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "fleetdesk/v1/agent.pb.h"

namespace fleetdesk::bench {

class SimHost {
 public:
  explicit SimHost(int index);

  static std::string Hostname(int index);
  static std::string MachineId(int index);
  static std::string Serial(int index);

  // Everything: inventory, every unit, both checks, metrics.
  fleetdesk::v1::Report Full(std::uint64_t seq);
  // Heartbeat, metrics, the units' status and the newest result of one check (checks run every
  // 60 s, reports go every 30 s: half the reports carry one). With probability `change_rate`
  // a unit or a check also changes state (failed <-> active, up <-> down).
  fleetdesk::v1::Report Delta(std::uint64_t seq, double change_rate);
  // The same into `report`, cleared first: its parts are reused, as a real agent's would not
  // need to be, so that the simulator of 10,000 agents spends the machine's CPU on the server
  // rather than on allocating and freeing reports.
  void Delta(std::uint64_t seq, double change_rate, fleetdesk::v1::Report& report);

  // State changes sent so far.
  std::uint64_t changes() const { return changes_; }

 private:
  void AddHeartbeat(fleetdesk::v1::Report& report);
  void AddMetrics(fleetdesk::v1::Report& report);
  void AddService(fleetdesk::v1::Report& report, std::size_t unit);
  void AddCheck(fleetdesk::v1::Report& report, int check);

  int index_;
  std::string hostname_;
  std::mt19937 random_;
  std::vector<std::string> units_;
  std::vector<bool> failed_;
  bool check_up_[2] = {true, true};
  int next_check_ = 0;
  std::uint64_t changes_ = 0;
};

}  // namespace fleetdesk::bench
