"""A stand-in for systemd's D-Bus interface, served on a real private ``dbus-daemon``.

systemd cannot run in the test machine, so the stand-in is the part of it both exporters talk to: a
process that owns ``org.freedesktop.systemd1`` on a private bus and answers, from a JSON file (see
``tests/fixtures/systemd/units.json``), what node_exporter's systemd collector asks:

- ``org.freedesktop.systemd1.Manager.ListUnits`` on ``/org/freedesktop/systemd1`` (``a(ssssssouso)``),
- ``org.freedesktop.DBus.Properties.Get``/``GetAll`` on the Manager's path and on each unit's path
  (``/org/freedesktop/systemd1/unit/<escaped name>``, escaped as systemd escapes bus paths), with each
  value's D-Bus signature from the file (``["u", 3]``), as systemd types them,
- a method named in the file's optional ``"silent"`` list: no answer at all (a hung systemd),
- anything else: the D-Bus error systemd gives (``UnknownObject``, ``UnknownInterface``, ``UnknownProperty``,
  ``UnknownMethod``).

``python tests/helpers/systemd_bus.py ADDRESS FILE`` serves until killed; :func:`private_bus` and
:func:`systemd_standin` run the daemon and the stand-in for a test, on a temp dir, and clean up;
:func:`private_socket` answers the same way as systemd's private socket does (a direct peer connection).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jeepney import Message

REPO = Path(__file__).resolve().parents[2]
UNITS_FILE = REPO / "tests" / "fixtures" / "systemd" / "units.json"
SYSTEMD = "org.freedesktop.systemd1"
MANAGER_PATH = "/org/freedesktop/systemd1"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


def unit_path(name: str) -> str:
    """systemd's object path of unit ``name`` (bytes outside ``[A-Za-z0-9]``, and a leading digit, as ``_xx``)."""
    out = []
    for i, b in enumerate(name.encode()):
        c = chr(b)
        out.append(c if (c.isascii() and c.isalpha()) or (i > 0 and c.isdigit()) else f"_{b:02x}")
    return f"{MANAGER_PATH}/unit/" + "".join(out)


def load_objects(data: dict[str, Any]) -> tuple[list[tuple[Any, ...]], dict[str, dict[str, dict[str, Any]]]]:
    """ListUnits' rows, and object path -> interface -> property -> (signature, value), from the file's data."""
    rows: list[tuple[Any, ...]] = []
    objects: dict[str, dict[str, dict[str, Any]]] = {
        MANAGER_PATH: {f"{SYSTEMD}.Manager": {k: tuple(v) for k, v in data["manager"].items()}},
    }
    for u in data["units"]:
        path = unit_path(u["name"])
        rows.append((u["name"], u.get("description", ""), u["load"], u["active"], u["sub"], "", path, 0, "", "/"))
        ifaces = objects.setdefault(path, {})
        unit_props = {"Id": ("s", u["name"]), "LoadState": ("s", u["load"]), "ActiveState": ("s", u["active"]),
                      "SubState": ("s", u["sub"])}
        for iface, props in u.get("properties", {}).items():
            ifaces[f"{SYSTEMD}.{iface}"] = {k: tuple(v) for k, v in props.items()}
        ifaces.setdefault(f"{SYSTEMD}.Unit", {}).update(unit_props)
    return rows, objects


def answer(data: dict[str, Any]) -> Callable[[Message], Message | None]:
    """A function from a method call to systemd's answer for ``data`` (None: no answer, for a ``silent`` method)."""
    from jeepney import MessageType, new_error, new_method_return

    rows, objects = load_objects(data)
    silent = set(data.get("silent", ()))
    err = "org.freedesktop.DBus.Error."

    def reply(msg: Message) -> Message | None:
        if msg.header.message_type != MessageType.method_call:
            return None
        f = msg.header.fields
        path, iface, member = str(f.get(1, "")), str(f.get(2, "")), str(f.get(3, ""))
        obj = objects.get(path)
        if member in silent:
            return None
        if obj is None:
            return new_error(msg, err + "UnknownObject", "s", (f"Unknown object '{path}'.",))
        if iface == f"{SYSTEMD}.Manager" and member == "ListUnits" and path == MANAGER_PATH:
            return new_method_return(msg, "a(ssssssouso)", (rows,))
        if iface == "org.freedesktop.DBus.Properties" and member == "Get":
            want_iface, prop = msg.body
            if want_iface not in obj:
                return new_error(msg, err + "UnknownInterface", "s", (f"Unknown interface {want_iface}.",))
            if prop not in obj[want_iface]:
                return new_error(msg, err + "UnknownProperty", "s", (f"Unknown property {prop}.",))
            return new_method_return(msg, "v", (obj[want_iface][prop],))
        if iface == "org.freedesktop.DBus.Properties" and member == "GetAll":
            (want_iface,) = msg.body
            return new_method_return(msg, "a{sv}", (dict(obj.get(want_iface, {})),))
        return new_error(msg, err + "UnknownMethod", "s", (f"Unknown method {member}.",))

    return reply


def serve(address: str, units_file: Path) -> None:
    """Own org.freedesktop.systemd1 on ``address`` and answer from ``units_file`` until killed."""
    from jeepney import message_bus
    from jeepney.io.blocking import open_dbus_connection

    reply = answer(json.loads(units_file.read_text()))
    conn = open_dbus_connection(bus=address)
    owned = conn.send_and_get_reply(message_bus.RequestName(SYSTEMD), timeout=5)
    if owned.body != (1,):
        raise SystemExit(f"could not own {SYSTEMD}: {owned.body}")
    print("ready", flush=True)
    while True:
        out = reply(conn.receive())
        if out is not None:
            conn.send(out)


@contextlib.contextmanager
def private_socket(path: Path, data: dict[str, Any] | None = None) -> Iterator[list[str]]:
    """systemd's private socket: a peer-to-peer D-Bus server at ``path`` (no bus daemon, no Hello) answering
    from ``data`` (default: the fixture file), in a thread, one connection at a time, until the block ends.
    Yields the list of methods called, in order (``Interface.Member``), for the test to inspect."""
    from jeepney import Parser

    reply = answer(data if data is not None else fixture_data())
    calls: list[str] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(4)
    server.settimeout(0.2)
    stop = threading.Event()

    def handle(conn: socket.socket) -> None:
        conn.settimeout(10)
        buf, ok_sent = b"", False
        while b"BEGIN\r\n" not in buf:  # SASL EXTERNAL, server side: a NUL, AUTH EXTERNAL <uid>, BEGIN
            chunk = conn.recv(1024)
            if not chunk:
                return
            buf += chunk
            if not ok_sent and b"AUTH EXTERNAL" in buf and buf.endswith(b"\r\n"):
                conn.sendall(b"OK " + b"0" * 32 + b"\r\n")
                ok_sent = True
        parser = Parser()
        pending = buf.split(b"BEGIN\r\n", 1)[1]  # the first messages may come in the same read as BEGIN
        while not stop.is_set():
            for msg in parser.feed(pending):
                f = msg.header.fields
                calls.append(f"{f.get(2, '')}.{f.get(3, '')}")
                out = reply(msg)
                if out is not None:
                    conn.sendall(out.serialise(serial=len(calls)))
            pending = conn.recv(65536)
            if not pending:
                return

    def loop() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn, contextlib.suppress(OSError):
                handle(conn)

    thread = threading.Thread(target=loop, name="systemd-private-socket", daemon=True)
    thread.start()
    try:
        yield calls
    finally:
        stop.set()
        thread.join(5)
        server.close()


@contextlib.contextmanager
def private_bus() -> Iterator[str]:
    """A real ``dbus-daemon`` with an allow-all policy on a socket in a temp dir; yields its address."""
    from helpers.procs import free_port, require_binary, start_process, tempdir, wait_for

    binary = require_binary("dbus-daemon")
    with tempdir("dbus") as d:
        socket_path = d / "bus"
        conf = d / "bus.conf"
        conf.write_text(_CONFIG.format(socket=socket_path))
        proc = start_process("dbus-daemon", [binary, f"--config-file={conf}", "--nofork", "--nopidfile"],
                             free_port(), d, None)
        try:
            wait_for(lambda: socket_path.exists() or _died(proc), 20, 0.05, "dbus-daemon's socket")
            yield f"unix:path={socket_path}"
        finally:
            proc.stop()


def _died(proc: Any) -> bool:
    """False while ``proc`` runs; raises RuntimeError with the end of its log once it has exited."""
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited:\n{proc.log()[-2000:]}")
    return False


@contextlib.contextmanager
def systemd_standin(address: str, data: dict[str, Any] | None = None) -> Iterator[None]:
    """Serve systemd's interface on ``address`` from ``data`` (default: the fixture file) until the block ends."""
    from helpers.procs import PYTHON, free_port, start_process, tempdir, wait_for

    with tempdir("systemd-standin") as d:
        units = d / "units.json"
        if data is None:
            shutil.copy(UNITS_FILE, units)
        else:
            units.write_text(json.dumps(data))
        proc = start_process("systemd-standin", [PYTHON, str(Path(__file__)), address, str(units)], free_port(), d,
                             None)
        try:
            wait_for(lambda: "ready" in proc.log() or _died(proc), 20, 0.05, "the systemd stand-in")
            yield
        finally:
            proc.stop()


def fixture_data() -> dict[str, Any]:
    """The fixture file's data (a fresh copy each call, for tests that change it)."""
    data: dict[str, Any] = json.loads(UNITS_FILE.read_text())
    return data


if __name__ == "__main__":
    serve(sys.argv[1], Path(sys.argv[2]))
