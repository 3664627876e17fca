#include "tests/support/systemd_mock.hpp"

#include <systemd/sd-bus.h>

#include <cstdarg>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

namespace fleetdesk::testing {

SystemdMock::SystemdMock() {
  address_ = "unix:path=" + (dir_ / "bus");
  WriteFile(
      dir_ / "bus.conf",
      "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
      " \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
      "<busconfig>\n  <type>session</type>\n  <listen>" +
          address_ +
          "</listen>\n  <auth>EXTERNAL</auth>\n"
          "  <policy context=\"default\">\n    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
          "    <allow eavesdrop=\"true\"/>\n    <allow own=\"*\"/>\n  </policy>\n"
          "</busconfig>\n");
  daemon_ =
      std::make_unique<Process>(std::vector<std::string>{"/usr/bin/dbus-daemon", "--nofork",
                                                         "--config-file=" + (dir_ / "bus.conf")},
                                dir_ / "dbus-daemon.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!std::filesystem::exists(dir_ / "bus")) {
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("dbus-daemon did not start: " + daemon_->Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", address_.c_str(), 1);
  mock_ = std::make_unique<Process>(
      std::vector<std::string>{"/usr/bin/python3", "-m", "dbusmock", "--template",
                               std::string(FLEETDESK_TEST_FIXTURES) + "/agent/systemd_mock.py"},
      dir_ / "dbusmock.log");
  // The socket's file exists from bind() on, a moment before dbus-daemon listens on it: a
  // refused connection is tried again, on a new bus object (a failed one cannot restart).
  for (;;) {
    if (sd_bus_new(&bus_) >= 0 && sd_bus_set_address(bus_, address_.c_str()) >= 0 &&
        sd_bus_set_bus_client(bus_, 1) >= 0 && sd_bus_start(bus_) >= 0) {
      break;
    }
    bus_ = sd_bus_flush_close_unref(bus_);
    if (std::chrono::steady_clock::now() > deadline) {
      throw std::runtime_error("cannot connect to the test bus: " + daemon_->Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // Ready once systemd's name has an owner.
  while (true) {
    sd_bus_message* reply = nullptr;
    int has = 0;
    if (sd_bus_call_method(bus_, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                           "org.freedesktop.DBus", "NameHasOwner", nullptr, &reply, "s",
                           "org.freedesktop.systemd1") >= 0 &&
        sd_bus_message_read(reply, "b", &has) >= 0 && has != 0) {
      sd_bus_message_unref(reply);
      break;
    }
    sd_bus_message_unref(reply);
    if (std::chrono::steady_clock::now() > deadline + std::chrono::seconds(20)) {
      bus_ = sd_bus_flush_close_unref(bus_);  // a constructor that throws has no destructor run
      throw std::runtime_error("dbusmock did not start: " + mock_->Log());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

SystemdMock::~SystemdMock() {
  if (bus_ != nullptr) sd_bus_flush_close_unref(bus_);
  mock_.reset();
  daemon_.reset();
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

void SystemdMock::Call(const char* method, const char* signature, ...) {
  sd_bus_message* call = nullptr;
  sd_bus_message_new_method_call(bus_, &call, "org.freedesktop.systemd1",
                                 "/org/freedesktop/systemd1", "org.freedesktop.DBus.Mock", method);
  va_list args;
  va_start(args, signature);
  int r = sd_bus_message_appendv(call, signature, args);
  va_end(args);
  sd_bus_error error = SD_BUS_ERROR_NULL;
  if (r >= 0) r = sd_bus_call(bus_, call, 0, &error, nullptr);
  sd_bus_message_unref(call);
  std::string message = error.message != nullptr ? error.message : "";
  sd_bus_error_free(&error);
  if (r < 0) throw std::runtime_error(std::string("dbusmock ") + method + ": " + message);
}

void SystemdMock::AddUnit(const std::string& name, const std::string& active,
                          const std::string& sub, unsigned main_pid) {
  Call("AddUnit", "ssssu", name.c_str(), ("The " + name + " unit").c_str(), active.c_str(),
       sub.c_str(), main_pid);
}

void SystemdMock::SetUnitState(const std::string& name, const std::string& active,
                               const std::string& sub, unsigned n_restarts) {
  Call("SetUnitState", "sssu", name.c_str(), active.c_str(), sub.c_str(), n_restarts);
}

void SystemdMock::RemoveUnit(const std::string& name) { Call("RemoveUnit", "s", name.c_str()); }

void SystemdMock::SetJobOutcome(const std::string& name, const std::string& result,
                                const std::string& active, const std::string& sub) {
  Call("SetJobOutcome", "ssss", name.c_str(), result.c_str(), active.c_str(), sub.c_str());
}

unsigned SystemdMock::JobCount(const std::string& name) {
  sd_bus_message* reply = nullptr;
  sd_bus_error error = SD_BUS_ERROR_NULL;
  int r = sd_bus_call_method(bus_, "org.freedesktop.systemd1", "/org/freedesktop/systemd1",
                             "org.freedesktop.DBus.Mock", "JobCount", &error, &reply, "s",
                             name.c_str());
  std::string message = error.message != nullptr ? error.message : "";
  sd_bus_error_free(&error);
  if (r < 0) throw std::runtime_error("dbusmock JobCount: " + message);
  std::uint32_t count = 0;
  sd_bus_message_read(reply, "u", &count);
  sd_bus_message_unref(reply);
  return count;
}

void SystemdMock::StopBus() {
  mock_.reset();
  daemon_.reset();
}

}  // namespace fleetdesk::testing
