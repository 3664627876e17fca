"""python-dbusmock template playing systemd's manager for fleetdesk-agent's service watcher.

Serves what the agent uses of org.freedesktop.systemd1: Manager.ListUnits, Subscribe,
Unsubscribe and GetUnit; each unit object's org.freedesktop.systemd1.Unit (and, for services,
.Service) properties through org.freedesktop.DBus.Properties; and the signals a real systemd
sends: PropertiesChanged on a unit when its state changes, UnitNew and UnitRemoved. Tests drive it
through the mock interface: AddUnit, SetUnitState, RemoveUnit.
"""
import time

import dbus
from dbusmock import MOCK_IFACE, mockobject

BUS_NAME = "org.freedesktop.systemd1"
MAIN_OBJ = "/org/freedesktop/systemd1"
MAIN_IFACE = "org.freedesktop.systemd1.Manager"
UNIT_IFACE = "org.freedesktop.systemd1.Unit"
SERVICE_IFACE = "org.freedesktop.systemd1.Service"
SYSTEM_BUS = True


def load(mock, _parameters):
    mock.units = {}
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
