// A private D-Bus daemon with python-dbusmock playing systemd (tests/agent/systemd_mock.py), so
// the agent's real sd-bus code runs against real D-Bus messages. Sets DBUS_SYSTEM_BUS_ADDRESS
// for this process (and the agents it starts) while it lives.
#pragma once

#include <memory>
#include <string>

#include "tests/support/process.hpp"
#include "tests/support/temp_dir.hpp"

struct sd_bus;

namespace fleetdesk::testing {

class SystemdMock {
 public:
  SystemdMock();
  ~SystemdMock();
  SystemdMock(const SystemdMock&) = delete;
  SystemdMock& operator=(const SystemdMock&) = delete;

  void AddUnit(const std::string& name, const std::string& active, const std::string& sub,
               unsigned main_pid = 100);
  void SetUnitState(const std::string& name, const std::string& active, const std::string& sub,
                    unsigned n_restarts = 0);
  void RemoveUnit(const std::string& name);
  // The unit's next jobs (StartUnit ...) end with `result`, leaving it `active`/`sub`; an empty
  // result makes them succeed again.
  void SetJobOutcome(const std::string& name, const std::string& result, const std::string& active,
                     const std::string& sub);
  // How many jobs were started for the unit.
  unsigned JobCount(const std::string& name);
  // Ends the bus daemon: the agent loses systemd.
  void StopBus();
  const std::string& address() const { return address_; }

 private:
  void Call(const char* method, const char* signature, ...);
  TempDir dir_;
  std::string address_;
  std::unique_ptr<Process> daemon_;
  std::unique_ptr<Process> mock_;
  sd_bus* bus_ = nullptr;
};

}  // namespace fleetdesk::testing
