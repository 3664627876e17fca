// systemd service states over sd-bus: a full snapshot (ListUnits plus each unit's properties),
// then event-driven updates from systemd's signals (Subscribe, PropertiesChanged, UnitNew,
// UnitRemoved, JobRemoved), with a periodic snapshot as a safety net. A host where systemd
// cannot be reached is a status, not a failure: the watcher says so and tries again later.
//
// Runs on the agent's io_context thread; the bus socket is watched by Asio, so a state change is
// read the moment systemd sends it. No Asio types in this header.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fleetdesk/v1/agent.pb.h"

namespace boost::asio {
class io_context;
}

namespace fleetdesk::agent::services {

struct WatcherOptions {
  // Shell patterns on unit names (fnmatch); a unit is watched when it matches an include pattern
  // and no exclude pattern.
  std::vector<std::string> include = {"*.service"};
  std::vector<std::string> exclude;
  std::chrono::seconds snapshot_interval{300};
  // After losing the bus (or never reaching it), try again this often.
  std::chrono::seconds retry_interval{30};
};

bool UnitMatches(const WatcherOptions& options, const std::string& unit);

class ServiceWatcher {
 public:
  // `on_change` runs on the io_context thread after a batch of bus messages changed something.
  ServiceWatcher(boost::asio::io_context& io, WatcherOptions options,
                 std::function<void()> on_change);
  ~ServiceWatcher();
  ServiceWatcher(const ServiceWatcher&) = delete;
  ServiceWatcher& operator=(const ServiceWatcher&) = delete;

  // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS, else the standard socket) and takes
  // the first snapshot synchronously, so the first report has the services.
  void Start();
  void Stop();
  // New options (after a reload): the next snapshot applies them.
  void Reconfigure(WatcherOptions options);

  struct Delta {
    std::vector<fleetdesk::v1::ServiceState> changed;
    std::vector<std::string> removed;
  };
  // What changed since the last call.
  Delta TakeChanges();
  // Every watched unit now, sorted by name.
  std::vector<fleetdesk::v1::ServiceState> All() const;
  fleetdesk::v1::ServicesStatus status() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace fleetdesk::agent::services
