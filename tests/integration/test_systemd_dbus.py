"""The systemd collector against Debian's node_exporter 1.5.0, both over D-Bus to the same stand-in.

systemd cannot run here, so both exporters talk to ``tests/helpers/systemd_bus.py``: systemd's D-Bus
interface (ListUnits, Properties.Get) served from ``tests/fixtures/systemd/units.json`` on a real private
``dbus-daemon``, reached through ``DBUS_SYSTEM_BUS_ADDRESS``. Every ``node_systemd_*`` family must be equal in
names, types, HELP, label sets and values, except where node_exporter's HEAD (which ours follows) differs from
1.5.0; each such case is listed in HEAD_ONLY with its reason from the source.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.metrics_core import Metric

from helpers.procs import Proc, exporter, http_get, node_exporter, parse_metrics, wait_for
from helpers.systemd_bus import fixture_data, private_bus, private_socket, systemd_standin
from spark_exporter.collectors import systemd
from spark_exporter.collectors.base import Paths
from spark_exporter.collectors.systemd import DBusError, SystemdCollector
from spark_exporter.exporter.daemon import load_config

# Upstream's default exclude, given to node_exporter verbatim: Debian's 1.5.0 patches its default to add
# "|target". Ours is not told it, so the comparison also checks our default.
UPSTREAM_EXCLUDE = r"--collector.systemd.unit-exclude=.+\.(automount|device|mount|scope|slice)"
OPT_IN = ("--collector.systemd.enable-task-metrics", "--collector.systemd.enable-restarts-metrics",
          "--collector.systemd.enable-start-time-metrics")

# Families node_exporter's HEAD serves that 1.5.0 does not, with the reason; ours serves them (checked below).
HEAD_ONLY = {
    # collector/systemd_linux.go getSystemdVirtualization, added by #3254 (CHANGELOG 1.10.0): the Manager's
    # Virtualization property, "none" when empty.
    "node_systemd_virtualization_info": "added in node_exporter 1.10.0 (#3254)",
}


def systemd_families(proc: Proc) -> dict[str, Metric]:
    """The node_systemd_* families of one scrape of ``proc``."""
    status, body, _ = http_get(proc.url + "/metrics", timeout=10)
    assert status == 200, body[:300]
    return {n: f for n, f in parse_metrics(body.decode()).items() if n.startswith("node_systemd_")}


def as_rows(fam: Metric) -> set[tuple[str, frozenset[tuple[str, str]], float]]:
    """A family's samples as (name, labels, value) rows."""
    return {(s.name, frozenset(s.labels.items()), float(s.value)) for s in fam.samples}


def differences(ne: dict[str, Metric], ours: dict[str, Metric]) -> list[str]:
    """One line per difference between node_exporter's and our families (HEAD_ONLY families aside)."""
    out = []
    for name in sorted((set(ne) | set(ours)) - set(HEAD_ONLY)):
        if name not in ours or name not in ne:
            out.append(f"{name}: only in {'node_exporter' if name in ne else 'ours'}")
            continue
        a, b = ne[name], ours[name]
        if (a.type, a.documentation) != (b.type, b.documentation):
            out.append(f"{name}: type/HELP {a.type!r} {a.documentation!r} != ours {b.type!r} {b.documentation!r}")
        if as_rows(a) != as_rows(b):
            out.append(f"{name}: node_exporter only {sorted(as_rows(a) - as_rows(b))}, "
                       f"ours only {sorted(as_rows(b) - as_rows(a))}")
    return out


@pytest.fixture(scope="module")
def bus() -> Iterator[str]:
    """A private dbus-daemon with the stand-in serving the fixture units; yields the bus address."""
    with private_bus() as address, systemd_standin(address):
        yield address


def scrape_both(address: str, ne_args: tuple[str, ...], our_args: tuple[str, ...]) -> tuple[
        dict[str, Metric], dict[str, Metric], str]:
    """node_exporter 1.5.0's and our node_systemd_* families on bus ``address``, and our log."""
    env = {"DBUS_SYSTEM_BUS_ADDRESS": address}
    with node_exporter("--collector.disable-defaults", "--collector.systemd", *ne_args, env=env) as ne:
        theirs = systemd_families(ne)
    with exporter("--collector.disable-defaults", "--collector.systemd", "--collect.min-age=0s", *our_args,
                  env=env) as proc:
        ours = systemd_families(proc)
        log = proc.log()
    return theirs, ours, log


class TestParityWithNodeExporter:
    def test_default_flags(self, bus: str) -> None:
        """With node_exporter's defaults, every node_systemd_* family is node_exporter's, byte for byte."""
        ne, ours, _ = scrape_both(bus, (UPSTREAM_EXCLUDE,), ())
        assert {"node_systemd_unit_state", "node_systemd_units", "node_systemd_version",
                "node_systemd_system_running", "node_systemd_timer_last_trigger_seconds",
                "node_systemd_socket_accepted_connections"} <= set(ne)  # counters: the parser drops _total
        assert differences(ne, ours) == []
        names = {s.labels["name"] for s in ours["node_systemd_unit_state"].samples}
        assert "home.mount" not in names and "missing.service" not in names and "user.slice" not in names

    def test_head_only_families_are_ours(self, bus: str) -> None:
        """node_systemd_virtualization_info is served as HEAD serves it: "none" for an empty Virtualization."""
        ne, ours, _ = scrape_both(bus, (UPSTREAM_EXCLUDE,), ())
        assert set(HEAD_ONLY).isdisjoint(ne)
        assert as_rows(ours["node_systemd_virtualization_info"]) == {
            ("node_systemd_virtualization_info", frozenset({("virtualization_type", "none")}), 1.0)}

    def test_opt_in_metrics_and_other_patterns(self, bus: str) -> None:
        """Restarts, start times and task counts, with mounts and slices included, equal node_exporter's."""
        flags = (*OPT_IN, r"--collector.systemd.unit-include=.+\.(service|socket|timer|mount|slice|path)",
                 r"--collector.systemd.unit-exclude=(user|nothing-here)\..+")
        ne, ours, _ = scrape_both(bus, flags, flags)
        assert {"node_systemd_service_restart", "node_systemd_unit_start_time_seconds",
                "node_systemd_unit_tasks_current", "node_systemd_unit_tasks_max"} <= set(ne)
        assert differences(ne, ours) == []
        types = {(s.labels["name"], s.labels["type"]) for s in ours["node_systemd_unit_state"].samples}
        assert ("home.mount", "ext4") in types and ("ssh.service", "notify") in types
        assert not any(n.startswith(("user.", "nothing-")) for n, _ in types)

    def test_deprecated_spellings(self, bus: str) -> None:
        """--collector.systemd.unit-whitelist/-blacklist (HEAD still accepts them; Debian's 1.5.0 build does not,
        so it gets the new spellings) filter as unit-include/-exclude, with a deprecation line."""
        include, exclude = r".+\.(service|socket)", "c.+"
        ne, ours, log = scrape_both(
            bus, (f"--collector.systemd.unit-include={include}", f"--collector.systemd.unit-exclude={exclude}"),
            (f"--collector.systemd.unit-whitelist={include}", f"--collector.systemd.unit-blacklist={exclude}"))
        assert differences(ne, ours) == []
        assert "cron.service" not in {s.labels["name"] for s in ours["node_systemd_unit_state"].samples}
        assert "deprecated" in log

    @pytest.mark.parametrize("manager", [
        {"Version": ["s", "211"], "Virtualization": ["s", "kvm"], "SystemState": ["s", "running"]},
        {"Version": ["s", "255.4-1ubuntu8"], "Virtualization": ["s", "kvm"], "SystemState": ["s", "running"]},
        {"Version": ["s", "no number"], "SystemState": ["s", "running"]},
    ], ids=["before-212", "running-kvm", "unreadable-version"])
    def test_manager_properties(self, manager: dict[str, Any]) -> None:
        """Before systemd 212 there are no timer and system-running series; "running" is 1; a version without a
        number is 0 with version="" (and then, as below 212, no timers); an absent Virtualization is "unknown"."""
        data = fixture_data()
        data["manager"] = manager
        with private_bus() as address, systemd_standin(address, data):
            ne, ours, _ = scrape_both(address, (UPSTREAM_EXCLUDE,), ())
        assert differences(ne, ours) == []
        old = manager["Version"][1] in ("211", "no number")
        assert ("node_systemd_system_running" in ours) is not old
        assert ("node_systemd_timer_last_trigger_seconds" in ours) is not old
        if not old:
            assert ours["node_systemd_system_running"].samples[0].value == 1.0
        virt = {s.labels["virtualization_type"] for s in ours["node_systemd_virtualization_info"].samples}
        assert virt == ({"kvm"} if "Virtualization" in manager else {"unknown"})


def collector_success(proc: Proc) -> float:
    """Our spark_exporter_collector_success{collector="systemd"}."""
    fams = parse_metrics(http_get(proc.url + "/metrics", timeout=10)[1].decode())
    return next(float(s.value) for s in fams["spark_exporter_collector_success"].samples
                if s.labels["collector"] == "systemd")


class TestFailures:
    def test_no_bus_fails_the_collector_with_one_line(self, tmp_path: Any) -> None:
        """No socket at the bus address: success 0, nothing node_systemd_*, one log line naming address and cause."""
        address = f"unix:path={tmp_path}/absent"
        with exporter("--collector.disable-defaults", "--collector.systemd", "--collect.min-age=0s",
                      env={"DBUS_SYSTEM_BUS_ADDRESS": address}) as proc:
            assert collector_success(proc) == 0.0
            assert systemd_families(proc) == {}
            wait_for(lambda: "couldn't get dbus connection" in proc.log(), 10, what="the failure line")
            log = proc.log()
        lines = [ln for ln in log.splitlines() if "collector=systemd" in ln]
        assert len(lines) == 1 and "collector_failed" in lines[0], log
        assert f"({address}): [Errno 2] No such file or directory" in lines[0]
        assert "Traceback" not in log

    def test_bus_without_systemd_fails_the_collector(self) -> None:
        """A bus where nobody owns org.freedesktop.systemd1: success 0 and the bus's error named, no traceback."""
        with private_bus() as address, exporter("--collector.disable-defaults", "--collector.systemd",
                                                env={"DBUS_SYSTEM_BUS_ADDRESS": address}) as proc:
            assert collector_success(proc) == 0.0
            wait_for(lambda: "ServiceUnknown" in proc.log(), 10, what="the bus's error in the log")
            assert "Traceback" not in proc.log()

    def test_private_connection(self) -> None:
        """--collector.systemd.private connects to /run/systemd/private, which only root may use: without systemd
        or as another user the collector scores 0 with one line; as root on a systemd machine it succeeds."""
        path = "/run/systemd/private"
        expected = 1.0 if os.path.exists(path) and os.geteuid() == 0 else 0.0
        with exporter("--collector.disable-defaults", "--collector.systemd", "--collector.systemd.private") as proc:
            assert collector_success(proc) == expected
            if expected == 0.0:
                wait_for(lambda: "couldn't get dbus connection" in proc.log(), 10, what="the failure line")
            assert "Traceback" not in proc.log()


class TestBounds:
    """The collector in this process against the stand-in, with its caps made small."""

    def collect(self, address: str, monkeypatch: pytest.MonkeyPatch, *flags: str) -> dict[str, Metric]:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        collector = SystemdCollector(load_config(["--collector.systemd", *flags], {}), Paths())
        return {f.name: f for f in collector.collect()}

    def test_unit_cap_leaves_the_rest_out_but_counts_them(self, bus: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """Past MAX_UNITS the remaining units get no per-unit series; node_systemd_units still counts all 20."""
        monkeypatch.setattr(systemd, "MAX_UNITS", 3)
        fams = self.collect(bus, monkeypatch)
        assert len({s.labels["name"] for s in fams["node_systemd_unit_state"].samples}) == 3
        assert sum(s.value for s in fams["node_systemd_units"].samples) == len(fixture_data()["units"])

    def test_answer_over_the_size_cap_fails_before_it_is_read(self, bus: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
        """A ListUnits answer larger than MAX_MESSAGE_BYTES is refused from its header: the scrape fails."""
        monkeypatch.setattr(systemd, "MAX_MESSAGE_BYTES", 1024)
        with pytest.raises(DBusError, match="exceeds the 1024-byte cap"):
            self.collect(bus, monkeypatch)

    def test_a_hung_systemd_costs_the_deadline(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A systemd that never answers ListUnits fails the scrape at --collect.timeout, not later."""
        data = fixture_data()
        data["silent"] = ["ListUnits"]
        with private_bus() as address, systemd_standin(address, data):
            with pytest.raises(TimeoutError, match="past the scrape deadline"):
                self.collect(address, monkeypatch, "--collect.timeout=1s")

    def test_private_socket_needs_no_bus(self, tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        """--collector.systemd.private talks to systemd directly (no Hello, no bus daemon) and serves the same
        families as over the bus."""
        with private_socket(tmp_path / "private") as calls:
            monkeypatch.setattr(systemd, "PRIVATE_ADDRESS", f"unix:path={tmp_path}/private")
            direct = self.collect("unix:path=/nonexistent", monkeypatch, "--collector.systemd.private")
        assert "org.freedesktop.DBus.Hello" not in calls and "org.freedesktop.systemd1.Manager.ListUnits" in calls
        assert direct["node_systemd_units"].samples and direct["node_systemd_unit_state"].samples
        assert {s.labels["name"] for s in direct["node_systemd_unit_state"].samples} >= {"ssh.service", "dbus.socket"}
