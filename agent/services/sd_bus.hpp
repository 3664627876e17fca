// What the service watcher and the task runner share of sd-bus: systemd's names, owners for
// sd-bus objects, and an sd_bus_error freed on scope exit. Header-only, no Asio.
#pragma once

#include <systemd/sd-bus.h>

#include <cstring>
#include <memory>
#include <string>

namespace fleetdesk::agent::sdbus {

constexpr const char* kDestination = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
constexpr const char* kUnit = "org.freedesktop.systemd1.Unit";
constexpr const char* kService = "org.freedesktop.systemd1.Service";
constexpr const char* kProperties = "org.freedesktop.DBus.Properties";

// sd-bus objects freed by their own unref functions.
struct BusUnref {
  void operator()(sd_bus* bus) const { sd_bus_flush_close_unref(bus); }
};
struct MessageUnref {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};
struct SlotUnref {
  void operator()(sd_bus_slot* s) const { sd_bus_slot_unref(s); }
};
using BusPtr = std::unique_ptr<sd_bus, BusUnref>;
using MessagePtr = std::unique_ptr<sd_bus_message, MessageUnref>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SlotUnref>;

// sd_bus_error freed on scope exit.
struct BusError {
  sd_bus_error error = SD_BUS_ERROR_NULL;
  BusError() = default;
  BusError(const BusError&) = delete;
  BusError& operator=(const BusError&) = delete;
  ~BusError() { sd_bus_error_free(&error); }
  // "org.freedesktop.systemd1.NoSuchUnit: Unit x not found.", or the errno's text.
  std::string Describe(int r) const {
    if (sd_bus_error_is_set(&error)) {
      return std::string(error.name) + ": " + (error.message != nullptr ? error.message : "");
    }
    return std::string(strerror(-r));
  }
  // The message alone ("Unit x not found."), for people.
  std::string Message(int r) const {
    if (sd_bus_error_is_set(&error)) {
      return error.message != nullptr ? error.message : error.name;
    }
    return std::string(strerror(-r));
  }
};

}  // namespace fleetdesk::agent::sdbus
