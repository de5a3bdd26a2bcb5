"""Unit states from systemd over D-Bus (node_exporter's systemd collector; off by default, as there).

Turned on with ``--collector.systemd``. Each scrape opens one connection to the system bus
(``DBUS_SYSTEM_BUS_ADDRESS``, else ``unix:path=/var/run/dbus/system_bus_socket``, as godbus), or with
``--collector.systemd.private`` directly to systemd at ``/run/systemd/private`` (root only; no bus, no
``Hello``), and asks ``org.freedesktop.systemd1`` what node_exporter's collector asks, with the same
families, types, labels and HELP:

- Manager properties ``Version`` -> ``node_systemd_version{version}`` (the number, e.g. 252.19; 0 and
  ``version=""`` when unreadable), ``Virtualization`` -> ``node_systemd_virtualization_info{virtualization_type}``
  (``none`` when empty, ``unknown`` when unreadable), ``SystemState`` -> ``node_systemd_system_running``
  (1 when ``running``; systemd >= 212 only).
- ``ListUnits`` -> ``node_systemd_units{state}`` (every listed unit, per ActiveState; the five states always
  present) and, for units that are loaded, match ``--collector.systemd.unit-include`` and do not match
  ``--collector.systemd.unit-exclude`` (both anchored at both ends, as node_exporter anchors them),
  ``node_systemd_unit_state{name,state,type}`` (1 for the unit's ActiveState among active, activating,
  deactivating, inactive, failed; ``type`` is the Service's or Mount's ``Type``, else empty).
- Per unit, ``org.freedesktop.DBus.Properties.Get`` on the unit's object path: sockets' ``NAccepted``,
  ``NConnections``, ``NRefused`` -> ``node_systemd_socket_{accepted_connections_total,current_connections,
  refused_connections_total}``; timers' ``LastTriggerUSec`` -> ``node_systemd_timer_last_trigger_seconds``
  (systemd >= 212); opt-in: services' ``NRestarts`` -> ``node_systemd_service_restart_total``
  (``--collector.systemd.enable-restarts-metrics``), ``ActiveEnterTimestamp`` ->
  ``node_systemd_unit_start_time_seconds`` (0 for a unit that is not active;
  ``--collector.systemd.enable-start-time-metrics``), services' ``TasksCurrent``/``TasksMax`` ->
  ``node_systemd_unit_tasks_{current,max}`` (left out when unlimited, 2^64-1;
  ``--collector.systemd.enable-task-metrics``). A property that cannot be read leaves its sample out.

Bounds: every exchange runs under the scrape's deadline (``--collect.timeout``) and raises TimeoutError past
it; an answer larger than MAX_MESSAGE_BYTES fails the scrape before it is read; per-unit questions go out in
windows of WINDOW (under dbus-daemon's 128 pending replies per connection) and cover at most MAX_UNITS
units (the rest are left out with a warning; ``node_systemd_units`` still counts every unit).

No bus, no systemd on it, or ListUnits/SystemState failing fails the scrape with one line (the collector
scores 0), as node_exporter's Update returns an error. jeepney (pure-Python D-Bus) builds and parses the
messages; it is imported when the collector is built, so an exporter without it enabled never loads it.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from ..settings import ConfigError, ExporterConfig, bool_option, regex_option
from . import register
from .base import Collector, Paths

if TYPE_CHECKING:
    from jeepney import Message

UNIT_STATES = ("active", "activating", "deactivating", "inactive", "failed")
#: systemd's first version with the SystemState manager property and the timers' LastTriggerUSec.
MIN_VERSION_SYSTEM_STATE = 212
PRIVATE_ADDRESS = "unix:path=/run/systemd/private"
#: Without DBUS_SYSTEM_BUS_ADDRESS: godbus's (and jeepney's) default (/var/run is /run on current systems).
SYSTEM_BUS_ADDRESS = "unix:path=/var/run/dbus/system_bus_socket"
#: The largest answer read (bytes): a ListUnits of ~50 000 units. D-Bus allows 128 MiB, the system bus 32 MiB.
MAX_MESSAGE_BYTES = 16 * 1024 * 1024
#: The most units asked about one by one per scrape (each costs one to five property reads).
MAX_UNITS = 5000
#: Questions in flight at once on the connection (dbus-daemon answers LimitsExceeded past 128).
WINDOW = 64
_UINT64_MAX = 2**64 - 1
_VERSION_RE = re.compile(r"[0-9]{3,}(\.[0-9]+)?")
_SYSTEMD = "org.freedesktop.systemd1"
_MANAGER_PATH = "/org/freedesktop/systemd1"


@dataclass(frozen=True)
class Unit:
    """One row of ListUnits: the unit's name, LoadState and ActiveState."""

    name: str
    load_state: str
    active_state: str


def summarize(units: Iterable[Unit]) -> dict[str, int]:
    """Units per ActiveState: the five node_exporter states always present (0 when none), plus any other
    state systemd reports (``reloading``, ``maintenance``...), as node_exporter's summarizeUnits counts."""
    out = dict.fromkeys(UNIT_STATES, 0)
    for u in units:
        out[u.active_state] = out.get(u.active_state, 0) + 1
    return out


def anchored(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled to match a whole unit name, as node_exporter's ``^(?:PATTERN)$``."""
    return re.compile(f"^(?:{pattern})$")


def filter_units(units: Iterable[Unit], include: re.Pattern[str], exclude: re.Pattern[str]) -> list[Unit]:
    """The units that are loaded, match ``include`` and do not match ``exclude`` (node_exporter's filterUnits)."""
    return [u for u in units
            if u.load_state == "loaded" and include.search(u.name) and not exclude.search(u.name)]


def unit_path(name: str) -> str:
    """The unit's object path, ``/org/freedesktop/systemd1/unit/`` + the name escaped as systemd escapes bus
    paths (every byte outside ``[A-Za-z0-9]``, and a leading digit, as ``_xx``): ``ssh.service`` ->
    ``.../unit/ssh_2eservice``."""
    out = []
    for i, b in enumerate(name.encode()):
        c = chr(b)
        if (c.isascii() and c.isalpha()) or (i > 0 and c.isdigit()):
            out.append(c)
        else:
            out.append(f"_{b:02x}")
    return f"{_MANAGER_PATH}/unit/" + ("".join(out) or "_")


def parse_version(text: str) -> tuple[float, str]:
    """``(number, label)`` from the Manager's Version (``"252.19-1~deb12u1"`` -> ``(252.19, "252.19-1~deb12u1")``);
    ``(0.0, "")`` when it holds no version number, as node_exporter's getSystemdVersion."""
    m = _VERSION_RE.search(text)
    if m is None:
        return 0.0, ""
    return float(m.group(0)), text


class DBusError(Exception):
    """An error answer from the bus or systemd (its D-Bus error name and message), or a protocol failure."""


class _Connection:
    """One blocking D-Bus connection whose every exchange has a deadline and a size cap.

    jeepney builds, serialises and parses the messages and authenticates (EXTERNAL); the socket loop is ours
    because jeepney's blocking connection reads answers of any size and always says Hello (systemd's private
    socket is a peer connection that does not answer it).
    """

    def __init__(self, address: str, hello: bool, deadline: float) -> None:
        import jeepney
        from jeepney.auth import BEGIN, Authenticator
        from jeepney.bus import get_connectable_addresses

        self._jeepney = jeepney
        self._deadline = deadline
        path = next(get_connectable_addresses(address))
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._buf = bytearray()
        self._serial = 0
        try:
            self._settimeout()
            self._sock.connect(path)
            self._sock.sendall(b"\0")
            auth = Authenticator(inc_null_byte=False)
            for data in auth:
                self._sock.sendall(data)
                self._settimeout()
                chunk = self._sock.recv(1024)
                if not chunk:
                    raise DBusError("connection closed during authentication")
                auth.feed(chunk)
            self._sock.sendall(BEGIN)
            if hello:
                (named,) = self.call_many([jeepney.DBus().Hello()])
                if isinstance(named, DBusError):
                    raise named
        except BaseException:
            self._sock.close()
            raise

    def _settimeout(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("D-Bus exchange past the scrape deadline")
        self._sock.settimeout(left)

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def _read_message(self) -> Message:
        while True:
            if len(self._buf) >= 16:
                size = _message_size(bytes(self._buf[:16]))
                if size > MAX_MESSAGE_BYTES:
                    raise DBusError(f"D-Bus message of {size} bytes exceeds the {MAX_MESSAGE_BYTES}-byte cap")
                if len(self._buf) >= size:
                    raw = bytes(self._buf[:size])
                    del self._buf[:size]
                    msgs = self._jeepney.Parser().feed(raw)
                    if len(msgs) != 1:
                        raise DBusError("malformed D-Bus message")
                    return msgs[0]
            self._settimeout()
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise TimeoutError("D-Bus answer past the scrape deadline") from None
            if not chunk:
                raise DBusError("D-Bus connection closed")
            self._buf += chunk

    def call_many(self, msgs: Sequence[Message]) -> list[Any]:
        """Send ``msgs`` (at most WINDOW unanswered at a time) and return, in order, each answer's body
        tuple, or a DBusError for an error answer. Raises TimeoutError past the deadline, DBusError when
        the connection fails or an answer is too large, OSError from the socket."""
        jeepney = self._jeepney
        results: list[Any] = [None] * len(msgs)
        pending: dict[int, int] = {}  # serial -> index
        sent = 0
        while sent < len(msgs) or pending:
            while sent < len(msgs) and len(pending) < WINDOW:
                self._serial += 1
                self._settimeout()
                self._sock.sendall(msgs[sent].serialise(serial=self._serial))
                pending[self._serial] = sent
                sent += 1
            reply = self._read_message()
            index = pending.pop(reply.header.fields.get(jeepney.HeaderFields.reply_serial, -1), None)
            if index is None:
                continue  # a signal (NameAcquired after Hello) or an answer to nothing of ours
            if reply.header.message_type == jeepney.MessageType.error:
                name = reply.header.fields.get(jeepney.HeaderFields.error_name, "error")
                detail = reply.body[0] if reply.body and isinstance(reply.body[0], str) else ""
                results[index] = DBusError(f"{name}: {detail}" if detail else name)
            else:
                results[index] = reply.body
        return results


def _message_size(head: bytes) -> int:
    """The whole message's size (bytes) from its first 16 bytes (the D-Bus fixed header)."""
    order = {b"l": "<", b"B": ">"}.get(head[:1])
    if order is None:
        raise DBusError("malformed D-Bus message (byte order)")
    body_len, fields_len = struct.unpack(order + "I", head[4:8])[0], struct.unpack(order + "I", head[12:16])[0]
    header_len = 16 + fields_len
    return header_len + (-header_len % 8) + body_len


@register
class SystemdCollector(Collector):
    """Serves node_systemd_* from systemd over D-Bus (see the module docstring). Off by default."""

    name = "systemd"
    default_enabled = False
    options = (
        regex_option(
            "collector.systemd.unit-include", ".+",
            "Regexp of systemd units to include. Units must both match include and not match exclude to be "
            "included.",
        ),
        regex_option(
            "collector.systemd.unit-exclude", r".+\.(automount|device|mount|scope|slice)",
            "Regexp of systemd units to exclude. Units must both match include and not match exclude to be "
            "included.",
        ),
        bool_option(
            "collector.systemd.private", False,
            "Establish a private, direct connection to systemd without dbus (/run/systemd/private; needs root).",
        ),
        bool_option("collector.systemd.enable-task-metrics", False,
                    "Enables service unit tasks metrics unit_tasks_current and unit_tasks_max"),
        bool_option("collector.systemd.enable-restarts-metrics", False,
                    "Enables service unit metric service_restart_total"),
        bool_option("collector.systemd.enable-start-time-metrics", False,
                    "Enables service unit metric unit_start_time_seconds"),
    )

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        super().__init__(config, paths)
        import jeepney  # here, not at module import: only an exporter with this collector on pays for it

        self._jeepney = jeepney
        try:
            self._include = anchored(config["collector.systemd.unit-include"])
            self._exclude = anchored(config["collector.systemd.unit-exclude"])
        except re.error as e:  # only reachable when a config object was built by hand
            raise ConfigError(f"collector.systemd.unit-include/-exclude: invalid regular expression: {e}") from None
        self._private = bool(config["collector.systemd.private"])
        self._tasks = bool(config["collector.systemd.enable-task-metrics"])
        self._restarts = bool(config["collector.systemd.enable-restarts-metrics"])
        self._start_time = bool(config["collector.systemd.enable-start-time-metrics"])
        timeout = config.get("collect.timeout")
        self._timeout = float(timeout) if timeout else 5.0  # seconds
        self._warned_cap = False

    def _address(self) -> str:
        if self._private:
            return PRIVATE_ADDRESS
        return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS", "") or SYSTEM_BUS_ADDRESS

    def _get(self, path: str, interface: str, prop: str) -> Message:
        j = self._jeepney
        return j.Properties(j.DBusAddress(path, bus_name=_SYSTEMD, interface=interface)).get(prop)

    def _manager(self, conn: _Connection) -> tuple[Any, Any]:
        iface = f"{_SYSTEMD}.Manager"
        version, virt = conn.call_many([self._get(_MANAGER_PATH, iface, "Version"),
                                        self._get(_MANAGER_PATH, iface, "Virtualization")])
        return version, virt

    def collect(self) -> Iterable[Metric]:
        """This scrape's families, built afresh (see the module docstring). Raises OSError (no bus),
        TimeoutError, DBusError (ListUnits or SystemState failed, an answer too large)."""
        deadline = time.monotonic() + self._timeout
        address = self._address()
        try:
            conn = _Connection(address, hello=not self._private, deadline=deadline)
        except (OSError, DBusError, ValueError, RuntimeError) as e:  # Value/RuntimeError: an address jeepney refuses
            raise DBusError(f"couldn't get dbus connection ({address}): {e}") from None
        try:
            return self._collect(conn)
        finally:
            conn.close()

    def _collect(self, conn: _Connection) -> list[Metric]:
        j = self._jeepney
        fams: list[Metric] = []
        version_reply, virt_reply = self._manager(conn)
        version, version_label = (0.0, "")
        if not isinstance(version_reply, DBusError) and isinstance(_variant(version_reply), str):
            version, version_label = parse_version(_variant(version_reply))
        fam = GaugeMetricFamily("node_systemd_version", "Detected systemd version", labels=["version"])
        fam.add_metric([version_label], version)
        fams.append(fam)
        virt = "unknown"
        if not isinstance(virt_reply, DBusError) and isinstance(_variant(virt_reply), str):
            virt = _variant(virt_reply) or "none"
        fam = GaugeMetricFamily("node_systemd_virtualization_info", "Detected virtualization technology",
                                labels=["virtualization_type"])
        fam.add_metric([virt], 1.0)
        fams.append(fam)

        manager = j.DBusAddress(_MANAGER_PATH, bus_name=_SYSTEMD, interface=f"{_SYSTEMD}.Manager")
        (listed,) = conn.call_many([j.new_method_call(manager, "ListUnits")])
        if isinstance(listed, DBusError):
            raise DBusError(f"couldn't get units: {listed}")
        all_units = [Unit(str(row[0]), str(row[2]), str(row[3])) for row in listed[0]]
        fam = GaugeMetricFamily("node_systemd_units", "Summary of systemd unit states", labels=["state"])
        for state, count in summarize(all_units).items():
            fam.add_metric([state], float(count))
        fams.append(fam)

        units = filter_units(all_units, self._include, self._exclude)
        if len(units) > MAX_UNITS:
            if not self._warned_cap:
                self.log.warning("systemd_units_capped", units=len(units), cap=MAX_UNITS)
                self._warned_cap = True
            units = units[:MAX_UNITS]
        fams.extend(self._unit_families(conn, units, version >= MIN_VERSION_SYSTEM_STATE))

        if version >= MIN_VERSION_SYSTEM_STATE:
            (state,) = conn.call_many([self._get(_MANAGER_PATH, f"{_SYSTEMD}.Manager", "SystemState")])
            if isinstance(state, DBusError):
                raise DBusError(f"couldn't get system state: {state}")
            fam = GaugeMetricFamily("node_systemd_system_running",
                                    "Whether the system is operational (see 'systemctl is-system-running')")
            fam.add_metric([], 1.0 if _variant(state) == "running" else 0.0)
            fams.append(fam)
        return fams

    def _unit_families(self, conn: _Connection, units: list[Unit], timers: bool) -> list[Metric]:
        """The per-unit families: every property read goes out in one pipelined batch."""
        svc, sock, tmr, unit_if = (f"{_SYSTEMD}.Service", f"{_SYSTEMD}.Socket", f"{_SYSTEMD}.Timer",
                                   f"{_SYSTEMD}.Unit")
        asks: list[tuple[str, str, str]] = []  # (unit name, interface, property)
        for u in units:
            if u.name.endswith(".service"):
                asks.append((u.name, svc, "Type"))
                if self._restarts:
                    asks.append((u.name, svc, "NRestarts"))
                if self._tasks:
                    asks += [(u.name, svc, "TasksCurrent"), (u.name, svc, "TasksMax")]
            elif u.name.endswith(".mount"):
                asks.append((u.name, f"{_SYSTEMD}.Mount", "Type"))
            elif u.name.endswith(".socket"):
                asks += [(u.name, sock, "NAccepted"), (u.name, sock, "NConnections"), (u.name, sock, "NRefused")]
            elif u.name.endswith(".timer") and timers:
                asks.append((u.name, tmr, "LastTriggerUSec"))
            if self._start_time and u.active_state == "active":
                asks.append((u.name, unit_if, "ActiveEnterTimestamp"))
        replies = conn.call_many([self._get(unit_path(n), i, p) for n, i, p in asks])
        got: dict[tuple[str, str], Any] = {}
        for (name, _iface, prop), reply in zip(asks, replies, strict=True):
            if isinstance(reply, DBusError):
                self.log.debug("systemd_property_failed", unit=name, property=prop, error=str(reply))
                continue
            got[(name, prop)] = _variant(reply)

        def num(name: str, prop: str) -> float | None:
            v = got.get((name, prop))
            return float(v) if isinstance(v, int) and not isinstance(v, bool) else None

        state = GaugeMetricFamily("node_systemd_unit_state", "Systemd unit", labels=["name", "state", "type"])
        restarts = CounterMetricFamily("node_systemd_service_restart_total", "Service unit count of Restart triggers",
                                       labels=["name"])
        accepted = CounterMetricFamily("node_systemd_socket_accepted_connections_total",
                                       "Total number of accepted socket connections", labels=["name"])
        current = GaugeMetricFamily("node_systemd_socket_current_connections",
                                    "Current number of socket connections", labels=["name"])
        refused = GaugeMetricFamily("node_systemd_socket_refused_connections_total",
                                    "Total number of refused socket connections", labels=["name"])
        trigger = GaugeMetricFamily("node_systemd_timer_last_trigger_seconds", "Seconds since epoch of last trigger.",
                                    labels=["name"])
        start = GaugeMetricFamily("node_systemd_unit_start_time_seconds",
                                  "Start time of the unit since unix epoch in seconds.", labels=["name"])
        tasks_cur = GaugeMetricFamily("node_systemd_unit_tasks_current", "Current number of tasks per Systemd unit",
                                      labels=["name"])
        tasks_max = GaugeMetricFamily("node_systemd_unit_tasks_max", "Maximum number of tasks per Systemd unit",
                                      labels=["name"])
        for u in units:
            typ = got.get((u.name, "Type"))
            for s in UNIT_STATES:
                state.add_metric([u.name, s, typ if isinstance(typ, str) else ""], 1.0 if s == u.active_state else 0.0)
            if self._restarts and (v := num(u.name, "NRestarts")) is not None:
                restarts.add_metric([u.name], v)
            if u.name.endswith(".socket") and (v := num(u.name, "NAccepted")) is not None:
                accepted.add_metric([u.name], v)
                # node_exporter stops at the first property it cannot read, then NRefused is optional.
                if (c := num(u.name, "NConnections")) is not None:
                    current.add_metric([u.name], c)
                    if (r := num(u.name, "NRefused")) is not None:
                        refused.add_metric([u.name], r)
            if timers and u.name.endswith(".timer") and (v := num(u.name, "LastTriggerUSec")) is not None:
                trigger.add_metric([u.name], v / 1e6)  # µs -> s
            if self._start_time:
                if u.active_state != "active":
                    start.add_metric([u.name], 0.0)
                elif (v := num(u.name, "ActiveEnterTimestamp")) is not None:
                    start.add_metric([u.name], v / 1e6)  # µs -> s
            if self._tasks and u.name.endswith(".service"):
                for fam, prop in ((tasks_cur, "TasksCurrent"), (tasks_max, "TasksMax")):
                    if (v := num(u.name, prop)) is not None and got[(u.name, prop)] != _UINT64_MAX:
                        fam.add_metric([u.name], v)
        return [f for f in (state, restarts, accepted, current, refused, trigger, start, tasks_cur, tasks_max)
                if f.samples]


def _variant(body: Any) -> Any:
    """The value of a ``Properties.Get`` answer's body ``((signature, value),)``; None if it has another shape."""
    if isinstance(body, tuple) and len(body) == 1 and isinstance(body[0], tuple) and len(body[0]) == 2:
        return body[0][1]
    return None

