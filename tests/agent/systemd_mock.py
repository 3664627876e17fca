"""python-dbusmock template playing systemd's manager for fleetdesk-agent's service watcher.

Serves what the agent uses of org.freedesktop.systemd1: Manager.ListUnits, Subscribe,
Unsubscribe and GetUnit; StartUnit, StopUnit, RestartUnit and ReloadUnit as jobs that answer
with the job's path at once and end a little later, the unit's state changing on the way and
JobRemoved saying how the job ended; each unit object's org.freedesktop.systemd1.Unit (and, for
services, .Service) properties through org.freedesktop.DBus.Properties; and the signals a real
systemd sends: PropertiesChanged on a unit when its state changes, UnitNew and UnitRemoved. Tests
drive it through the mock interface: AddUnit, SetUnitState, RemoveUnit, SetJobOutcome (how the
unit's next jobs end) and JobCount.
"""
import ctypes
import time

import dbus
from dbusmock import MOCK_IFACE, mockobject

BUS_NAME = "org.freedesktop.systemd1"
MAIN_OBJ = "/org/freedesktop/systemd1"
MAIN_IFACE = "org.freedesktop.systemd1.Manager"
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SERVICE_IFACE = "org.freedesktop.systemd1.Service"
SYSTEM_BUS = True


# Job steps run from GLib's main loop (which dbusmock's own loop iterates) a few milliseconds
# apart, as systemd's would. The callbacks must outlive their timeouts.
GLIB = ctypes.CDLL("libglib-2.0.so.0")
SOURCE_FUNC = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
PENDING = []


def later(milliseconds, action):
    def fire(_data):
        PENDING.remove(callback)
        action()
        return 0  # once
    callback = SOURCE_FUNC(fire)
    PENDING.append(callback)
    GLIB.g_timeout_add(ctypes.c_uint(milliseconds), callback, None)


def load(mock, _parameters):
    mock.units = {}
    mock.outcomes = {}  # unit -> (job result, final active state, final sub state)
    mock.job_counts = {}
    mock.next_job = 1
    mock.AddProperties(MAIN_IFACE, {"Version": "252"})


def unit_path(name):
    escaped = "".join(c if c.isalnum() else "_%02x" % ord(c) for c in name)
    return "/org/freedesktop/systemd1/unit/" + escaped


def now_usec():
    return dbus.UInt64(int(time.time() * 1000000))


@dbus.service.method(MAIN_IFACE, in_signature="", out_signature="a(ssssssouso)")
def ListUnits(self):
    out = []
    for name, path in sorted(self.units.items()):
        props = mockobject.objects[path].GetAll(UNIT_IFACE)
        out.append((name, props["Description"], props["LoadState"], props["ActiveState"],
                    props["SubState"], "", dbus.ObjectPath(path), dbus.UInt32(0), "",
                    dbus.ObjectPath("/")))
    return out


@dbus.service.method(MAIN_IFACE, in_signature="", out_signature="")
def Subscribe(self):
    pass


@dbus.service.method(MAIN_IFACE, in_signature="", out_signature="")
def Unsubscribe(self):
    pass


@dbus.service.method(MAIN_IFACE, in_signature="s", out_signature="o")
def GetUnit(self, name):
    if str(name) not in self.units:
        raise dbus.exceptions.DBusException("Unit %s not loaded." % name,
                                            name="org.freedesktop.systemd1.NoSuchUnit")
    return dbus.ObjectPath(self.units[str(name)])


@dbus.service.method(MOCK_IFACE, in_signature="ssssu", out_signature="")
def AddUnit(self, name, description, active_state, sub_state, main_pid):
    path = unit_path(str(name))
    self.units[str(name)] = path
    stamp = now_usec()
    self.AddObject(path, UNIT_IFACE, {
        "Id": dbus.String(name),
        "Description": dbus.String(description),
        "LoadState": dbus.String("loaded"),
        "ActiveState": dbus.String(active_state),
        "SubState": dbus.String(sub_state),
        "UnitFileState": dbus.String("enabled"),
        "StateChangeTimestamp": stamp,
        "ActiveEnterTimestamp": stamp if active_state == "active" else dbus.UInt64(0),
        "InactiveEnterTimestamp": dbus.UInt64(0),
    }, [])
    if str(name).endswith(".service"):
        mockobject.objects[path].AddProperties(SERVICE_IFACE, {
            "MainPID": dbus.UInt32(main_pid),
            "NRestarts": dbus.UInt32(0),
        })
    self.EmitSignal(MAIN_IFACE, "UnitNew", "so", [name, dbus.ObjectPath(path)])


@dbus.service.method(MOCK_IFACE, in_signature="sssu", out_signature="")
def SetUnitState(self, name, active_state, sub_state, n_restarts):
    path = self.units[str(name)]
    unit = mockobject.objects[path]
    changes = {
        "ActiveState": dbus.String(active_state),
        "SubState": dbus.String(sub_state),
        "StateChangeTimestamp": now_usec(),
    }
    if active_state == "active":
        changes["ActiveEnterTimestamp"] = now_usec()
    else:
        changes["InactiveEnterTimestamp"] = now_usec()
    if str(name).endswith(".service"):
        unit.UpdateProperties(SERVICE_IFACE, {
            "MainPID": dbus.UInt32(0 if active_state != "active" else 4242),
            "NRestarts": dbus.UInt32(n_restarts),
        })
    # Emits org.freedesktop.DBus.Properties.PropertiesChanged, as systemd does.
    unit.UpdateProperties(UNIT_IFACE, changes)


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="")
def RemoveUnit(self, name):
    path = self.units.pop(str(name))
    self.RemoveObject(path)
    self.EmitSignal(MAIN_IFACE, "UnitRemoved", "so", [name, dbus.ObjectPath(path)])


def set_state(mock, name, active_state, sub_state):
    if str(name) in mock.units:
        SetUnitState(mock, name, active_state, sub_state, 0)


def start_job(mock, name, steps, result):
    """Answers the job's path now; runs `steps` (active, sub) 10 ms apart, then JobRemoved."""
    name = str(name)
    if name not in mock.units:
        raise dbus.exceptions.DBusException("Unit %s not found." % name,
                                            name="org.freedesktop.systemd1.NoSuchUnit")
    job_id = mock.next_job
    mock.next_job += 1
    mock.job_counts[name] = mock.job_counts.get(name, 0) + 1
    path = dbus.ObjectPath("/org/freedesktop/systemd1/job/%d" % job_id)
    outcome = mock.outcomes.get(name)
    if outcome is not None:
        result = outcome[0]
        steps = steps[:-1] + [(outcome[1], outcome[2])]
    delay = 10
    for active, sub in steps:
        later(delay, lambda a=active, s=sub: set_state(mock, name, a, s))
        delay += 10
    later(delay, lambda: mock.EmitSignal(MAIN_IFACE, "JobRemoved", "uoss",
                                         [dbus.UInt32(job_id), path, name, result]))
    return path


@dbus.service.method(MAIN_IFACE, in_signature="ss", out_signature="o")
def StartUnit(self, name, _mode):
    return start_job(self, name, [("activating", "start"), ("active", "running")], "done")


@dbus.service.method(MAIN_IFACE, in_signature="ss", out_signature="o")
def StopUnit(self, name, _mode):
    return start_job(self, name, [("deactivating", "stop"), ("inactive", "dead")], "done")


@dbus.service.method(MAIN_IFACE, in_signature="ss", out_signature="o")
def RestartUnit(self, name, _mode):
    return start_job(self, name, [("deactivating", "stop"), ("inactive", "dead"),
                                  ("activating", "start"), ("active", "running")], "done")


@dbus.service.method(MAIN_IFACE, in_signature="ss", out_signature="o")
def ReloadUnit(self, name, _mode):
    return start_job(self, name, [("reloading", "reload"), ("active", "running")], "done")


@dbus.service.method(MOCK_IFACE, in_signature="ssss", out_signature="")
def SetJobOutcome(self, name, result, active_state, sub_state):
    """The unit's next jobs end with `result` ("done", "failed", ...), leaving it in the state
    given; an empty result goes back to jobs that succeed."""
    if str(result):
        self.outcomes[str(name)] = (str(result), str(active_state), str(sub_state))
    else:
        self.outcomes.pop(str(name), None)


@dbus.service.method(MOCK_IFACE, in_signature="s", out_signature="u")
def JobCount(self, name):
    return dbus.UInt32(self.job_counts.get(str(name), 0))
