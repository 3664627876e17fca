#include "agent/services/services.hpp"

#include <fnmatch.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <map>
#include <set>

#include "agent/services/sd_bus.hpp"

namespace fleetdesk::agent::services {
namespace {

namespace asio = boost::asio;

using namespace sdbus;  // NOLINT: systemd's names and the sd-bus owners, throughout

void SetMicros(google::protobuf::Timestamp* ts, std::uint64_t usec) {
  ts->set_seconds(static_cast<std::int64_t>(usec / 1000000));
  ts->set_nanos(static_cast<std::int32_t>((usec % 1000000) * 1000));
}

// Reads an a{sv} property dictionary, handing each value the caller knows to `set`.
int ReadProperties(sd_bus_message* m, fleetdesk::v1::ServiceState* state) {
  int r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
    const char* key = nullptr;
    if ((r = sd_bus_message_read(m, "s", &key)) < 0) return r;
    const char* contents = nullptr;
    if ((r = sd_bus_message_peek_type(m, nullptr, &contents)) < 0) return r;
    std::string_view name(key);
    std::string_view type(contents != nullptr ? contents : "");
    if (type == "s" && (name == "Id" || name == "Description" || name == "LoadState" ||
                        name == "ActiveState" || name == "SubState" || name == "UnitFileState")) {
      const char* value = nullptr;
      if ((r = sd_bus_message_read(m, "v", "s", &value)) < 0) return r;
      if (name == "Id") state->set_unit(value);
      if (name == "Description") state->set_description(value);
      if (name == "LoadState") state->set_load_state(value);
      if (name == "ActiveState") state->set_active_state(value);
      if (name == "SubState") state->set_sub_state(value);
      if (name == "UnitFileState") state->set_unit_file_state(value);
    } else if (type == "t" && (name == "StateChangeTimestamp" || name == "ActiveEnterTimestamp" ||
                               name == "InactiveEnterTimestamp")) {
      std::uint64_t usec = 0;
      if ((r = sd_bus_message_read(m, "v", "t", &usec)) < 0) return r;
      auto* ts = name == "StateChangeTimestamp"   ? state->mutable_state_change_time()
                 : name == "ActiveEnterTimestamp" ? state->mutable_active_enter_time()
                                                  : state->mutable_inactive_enter_time();
      if (usec != 0) {
        SetMicros(ts, usec);
      } else if (name == "StateChangeTimestamp") {
        state->clear_state_change_time();
      } else if (name == "ActiveEnterTimestamp") {
        state->clear_active_enter_time();
      } else {
        state->clear_inactive_enter_time();
      }
    } else if (type == "u" && (name == "MainPID" || name == "NRestarts")) {
      std::uint32_t value = 0;
      if ((r = sd_bus_message_read(m, "v", "u", &value)) < 0) return r;
      if (name == "MainPID") state->set_main_pid(value);
      if (name == "NRestarts") state->set_n_restarts(value);
    } else {
      if ((r = sd_bus_message_skip(m, "v")) < 0) return r;
    }
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

}  // namespace

bool UnitMatches(const WatcherOptions& options, const std::string& unit) {
  auto matches = [&](const std::vector<std::string>& patterns) {
    for (const auto& pattern : patterns) {
      if (::fnmatch(pattern.c_str(), unit.c_str(), 0) == 0) return true;
    }
    return false;
  };
  return matches(options.include) && !matches(options.exclude);
}

struct ServiceWatcher::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, WatcherOptions options, std::function<void()> on_change)
      : io(io),
        options(std::move(options)),
        on_change(std::move(on_change)),
        descriptor(io),
        snapshot_timer(io),
        retry_timer(io) {}

  asio::io_context& io;
  WatcherOptions options;
  std::function<void()> on_change;
  asio::posix::stream_descriptor descriptor;
  asio::steady_timer snapshot_timer;
  asio::steady_timer retry_timer;
  BusPtr bus;
  std::vector<SlotPtr> slots;
  bool stopped = false;
  fleetdesk::v1::ServicesStatus status;

  std::map<std::string, fleetdesk::v1::ServiceState> units;  // by unit name
  std::map<std::string, std::string> path_to_unit;
  std::set<std::string> dirty_paths;  // refresh these after the current batch of messages
  std::set<std::string> dirty_units;  // by name (UnitNew, JobRemoved)
  std::set<std::string> changed;      // to report
  std::set<std::string> removed;      // to report

  void Unavailable(const std::string& why) {
    if (status.available() || status.message() != why) {
      spdlog::warn("services: systemd not reachable: {}", why);
    }
    status.set_available(false);
    status.set_message(why);
    Disconnect();
    if (stopped) return;
    retry_timer.expires_after(options.retry_interval);
    retry_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec) self->Connect();
    });
  }

  void Disconnect() {
    if (descriptor.is_open()) {
      boost::system::error_code ignored;
      descriptor.cancel(ignored);
      descriptor.release();  // the fd belongs to sd-bus
    }
    slots.clear();
    bus.reset();
    snapshot_timer.cancel();
  }

  void Connect() {
    if (stopped) return;
    sd_bus* raw = nullptr;
    int r = sd_bus_open_system(&raw);
    if (r < 0) return Unavailable(std::string("cannot open the system bus: ") + strerror(-r));
    bus.reset(raw);
    auto* self = this;
    auto add_match = [&](const char* interface, const char* member,
                         sd_bus_message_handler_t handler) {
      sd_bus_slot* slot = nullptr;
      int rr = sd_bus_match_signal(bus.get(), &slot, kDestination, nullptr, interface, member,
                                   handler, self);
      if (rr >= 0) slots.emplace_back(slot);
      return rr;
    };
    if ((r = add_match(kProperties, "PropertiesChanged", &Impl::OnPropertiesChanged)) < 0 ||
        (r = add_match(kManager, "UnitNew", &Impl::OnUnitNew)) < 0 ||
        (r = add_match(kManager, "UnitRemoved", &Impl::OnUnitRemoved)) < 0 ||
        (r = add_match(kManager, "JobRemoved", &Impl::OnJobRemoved)) < 0 ||
        (r = add_match(kManager, "Reloading", &Impl::OnReloading)) < 0) {
      return Unavailable(std::string("cannot watch systemd's signals: ") + strerror(-r));
    }
    // Without Subscribe systemd sends no unit signals at all.
    BusError error;
    r = sd_bus_call_method(bus.get(), kDestination, kManagerPath, kManager, "Subscribe",
                           &error.error, nullptr, "");
    if (r < 0) return Unavailable("Subscribe: " + error.Describe(r));
    if (auto s = Snapshot(); !s.empty()) return Unavailable(s);
    status.set_available(true);
    status.clear_message();
    spdlog::info("services: watching {} unit(s) through systemd's signals", units.size());
    descriptor.assign(sd_bus_get_fd(bus.get()));
    WaitForBus();
    ScheduleSnapshot();
    if (on_change) on_change();
  }

  void ScheduleSnapshot() {
    snapshot_timer.expires_after(options.snapshot_interval);
    snapshot_timer.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      auto self = weak.lock();
      if (!self || ec || !self->bus) return;
      if (auto s = self->Snapshot(); !s.empty()) return self->Unavailable(s);
      self->Process();  // the snapshot's calls may have queued signals
      self->ScheduleSnapshot();
    });
  }

  void WaitForBus() {
    descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                          [weak = weak_from_this()](boost::system::error_code ec) {
                            auto self = weak.lock();
                            if (!self || ec || !self->bus) return;
                            self->Process();
                            if (self->bus) self->WaitForBus();
                          });
  }

  // Dispatches every queued message, then refreshes the units they named, until neither has
  // anything left (a refresh's reply may arrive behind new signals, which sd-bus queues).
  void Process() {
    for (;;) {
      int r = 0;
      while ((r = sd_bus_process(bus.get(), nullptr)) > 0) {
      }
      if (r < 0) return Unavailable(std::string("the bus connection failed: ") + strerror(-r));
      if (dirty_paths.empty() && dirty_units.empty()) break;
      auto paths = std::move(dirty_paths);
      auto names = std::move(dirty_units);
      dirty_paths.clear();
      dirty_units.clear();
      for (const auto& name : names) {
        auto path = UnitPath(name);
        if (!path.empty()) paths.insert(path);
      }
      for (const auto& path : paths) Refresh(path);
      if (!bus) return;
    }
    if (!changed.empty() || !removed.empty()) {
      if (on_change) on_change();
    }
  }

  std::string UnitPath(const std::string& name) {
    for (const auto& [path, unit] : path_to_unit) {
      if (unit == name) return path;
    }
    BusError error;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus.get(), kDestination, kManagerPath, kManager, "GetUnit",
                               &error.error, &reply, "s", name.c_str());
    MessagePtr owned(reply);
    const char* path = nullptr;
    if (r < 0 || sd_bus_message_read(reply, "o", &path) < 0) return {};
    return path;
  }

  // Re-reads one unit's properties; records a change when its state differs.
  void Refresh(const std::string& path) {
    fleetdesk::v1::ServiceState state;
    if (!Read(path, &state) || state.unit().empty()) return;
    if (!UnitMatches(options, state.unit())) return;
    path_to_unit[path] = state.unit();
    Record(std::move(state));
  }

  void Record(fleetdesk::v1::ServiceState state) {
    auto it = units.find(state.unit());
    if (it != units.end() && it->second.SerializeAsString() == state.SerializeAsString()) return;
    removed.erase(state.unit());
    changed.insert(state.unit());
    units[state.unit()] = std::move(state);
  }

  bool Read(const std::string& path, fleetdesk::v1::ServiceState* state) {
    for (const char* interface : {kUnit, kService}) {
      // Only services have a main PID and restart count.
      if (interface == kService && !state->unit().ends_with(".service")) break;
      BusError error;
      sd_bus_message* reply = nullptr;
      int r = sd_bus_call_method(bus.get(), kDestination, path.c_str(), kProperties, "GetAll",
                                 &error.error, &reply, "s", interface);
      MessagePtr owned(reply);
      if (r < 0) {
        spdlog::debug("services: GetAll {} on {}: {}", interface, path, error.Describe(r));
        return interface != kUnit;  // a unit without a Service object is still a unit
      }
      if ((r = ReadProperties(reply, state)) < 0) {
        spdlog::debug("services: unreadable properties of {}: {}", path, strerror(-r));
        return false;
      }
    }
    return true;
  }

  // Lists every loaded unit and reads the watched ones; answers an error message or "".
  std::string Snapshot() {
    BusError error;
    sd_bus_message* reply = nullptr;
    int r = sd_bus_call_method(bus.get(), kDestination, kManagerPath, kManager, "ListUnits",
                               &error.error, &reply, "");
    MessagePtr owned(reply);
    if (r < 0) return "ListUnits: " + error.Describe(r);
    if ((r = sd_bus_message_enter_container(reply, SD_BUS_TYPE_ARRAY, "(ssssssouso)")) < 0) {
      return std::string("ListUnits: unexpected reply: ") + strerror(-r);
    }
    std::vector<std::pair<std::string, std::string>> listed;  // name, path
    const char *name, *description, *load, *active, *sub, *following, *path, *job_type, *job_path;
    std::uint32_t job_id = 0;
    while ((r = sd_bus_message_read(reply, "(ssssssouso)", &name, &description, &load, &active,
                                    &sub, &following, &path, &job_id, &job_type, &job_path)) > 0) {
      if (UnitMatches(options, name)) listed.emplace_back(name, path);
    }
    if (r < 0) return std::string("ListUnits: unreadable reply: ") + strerror(-r);
    std::set<std::string> seen;
    for (const auto& [unit, unit_path] : listed) {
      fleetdesk::v1::ServiceState state;
      if (!Read(unit_path, &state)) continue;
      if (state.unit().empty()) state.set_unit(unit);
      path_to_unit[unit_path] = unit;
      seen.insert(unit);
      Record(std::move(state));
    }
    for (auto it = units.begin(); it != units.end();) {
      if (seen.count(it->first) == 0) {
        changed.erase(it->first);
        removed.insert(it->first);
        it = units.erase(it);
      } else {
        ++it;
      }
    }
    return {};
  }

  static int OnPropertiesChanged(sd_bus_message* m, void* data, sd_bus_error*) {
    auto* self = static_cast<Impl*>(data);
    const char* interface = nullptr;
    if (sd_bus_message_read(m, "s", &interface) < 0) return 0;
    std::string_view name(interface);
    if (name != kUnit && name != kService) return 0;
    const char* path = sd_bus_message_get_path(m);
    if (path != nullptr) self->dirty_paths.insert(path);
    return 0;
  }

  static int OnUnitNew(sd_bus_message* m, void* data, sd_bus_error*) {
    auto* self = static_cast<Impl*>(data);
    const char* name = nullptr;
    const char* path = nullptr;
    if (sd_bus_message_read(m, "so", &name, &path) < 0) return 0;
    if (UnitMatches(self->options, name)) {
      self->path_to_unit[path] = name;
      self->dirty_paths.insert(path);
    }
    return 0;
  }

  static int OnUnitRemoved(sd_bus_message* m, void* data, sd_bus_error*) {
    auto* self = static_cast<Impl*>(data);
    const char* name = nullptr;
    const char* path = nullptr;
    if (sd_bus_message_read(m, "so", &name, &path) < 0) return 0;
    self->path_to_unit.erase(path);
    self->dirty_paths.erase(path);
    if (self->units.erase(name) > 0) {
      self->changed.erase(name);
      self->removed.insert(name);
    }
    return 0;
  }

  static int OnJobRemoved(sd_bus_message* m, void* data, sd_bus_error*) {
    auto* self = static_cast<Impl*>(data);
    std::uint32_t id = 0;
    const char* job = nullptr;
    const char* unit = nullptr;
    const char* result = nullptr;
    if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
    if (UnitMatches(self->options, unit)) self->dirty_units.insert(unit);
    return 0;
  }

  static int OnReloading(sd_bus_message* m, void* data, sd_bus_error*) {
    auto* self = static_cast<Impl*>(data);
    int active = 0;
    if (sd_bus_message_read(m, "b", &active) < 0 || active != 0) return 0;
    // After a daemon-reload units may have come and gone without a signal each: look again.
    for (const auto& [path, unit] : self->path_to_unit) self->dirty_paths.insert(path);
    return 0;
  }
};

ServiceWatcher::ServiceWatcher(asio::io_context& io, WatcherOptions options,
                               std::function<void()> on_change)
    : impl_(std::make_shared<Impl>(io, std::move(options), std::move(on_change))) {
  impl_->status.set_available(false);
  impl_->status.set_message("not started");
}

ServiceWatcher::~ServiceWatcher() { Stop(); }

void ServiceWatcher::Start() { impl_->Connect(); }

void ServiceWatcher::Stop() {
  impl_->stopped = true;
  impl_->retry_timer.cancel();
  impl_->Disconnect();
}

void ServiceWatcher::Reconfigure(WatcherOptions options) {
  impl_->options = std::move(options);
  if (!impl_->bus) return;
  if (auto s = impl_->Snapshot(); !s.empty()) return impl_->Unavailable(s);
  impl_->Process();
}

ServiceWatcher::Delta ServiceWatcher::TakeChanges() {
  Delta delta;
  for (const auto& name : impl_->changed) {
    auto it = impl_->units.find(name);
    if (it != impl_->units.end()) delta.changed.push_back(it->second);
  }
  delta.removed.assign(impl_->removed.begin(), impl_->removed.end());
  impl_->changed.clear();
  impl_->removed.clear();
  return delta;
}

std::vector<fleetdesk::v1::ServiceState> ServiceWatcher::All() const {
  std::vector<fleetdesk::v1::ServiceState> all;
  all.reserve(impl_->units.size());
  for (const auto& [name, state] : impl_->units) all.push_back(state);
  return all;
}

fleetdesk::v1::ServicesStatus ServiceWatcher::status() const { return impl_->status; }

}  // namespace fleetdesk::agent::services
