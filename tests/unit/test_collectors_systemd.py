"""The systemd collector's pure parts: the unit summary, include/exclude, bus paths, the version, the size cap,
and its node_exporter flags."""

from __future__ import annotations

import struct

import pytest

from spark_exporter.collectors import systemd
from spark_exporter.collectors.systemd import (
    DBusError,
    Unit,
    anchored,
    filter_units,
    parse_version,
    summarize,
    unit_path,
)
from spark_exporter.exporter.daemon import load_config
from spark_exporter.settings import ConfigError

UNITS = [
    Unit("ssh.service", "loaded", "active"),
    Unit("cron.service", "loaded", "failed"),
    Unit("gone.service", "not-found", "inactive"),
    Unit("home.mount", "loaded", "active"),
    Unit("user.slice", "loaded", "active"),
    Unit("dbus.socket", "loaded", "reloading"),
]
DEFAULT_EXCLUDE = r".+\.(automount|device|mount|scope|slice)"


class TestSummary:
    def test_every_listed_unit_counts_and_the_five_states_are_always_there(self) -> None:
        """node_systemd_units counts all units (not-found, excluded ones too); a state outside the five is added."""
        assert summarize(UNITS) == {"active": 3, "activating": 0, "deactivating": 0, "inactive": 1, "failed": 1,
                                    "reloading": 1}

    def test_no_units(self) -> None:
        """With no units the five states are 0."""
        assert summarize([]) == dict.fromkeys(("active", "activating", "deactivating", "inactive", "failed"), 0)


class TestFilter:
    def test_default_patterns_drop_mounts_slices_and_units_not_loaded(self) -> None:
        """Upstream's default exclude drops .mount and .slice; a unit that is not loaded is never included."""
        got = filter_units(UNITS, anchored(".+"), anchored(DEFAULT_EXCLUDE))
        assert [u.name for u in got] == ["ssh.service", "cron.service", "dbus.socket"]

    def test_patterns_are_anchored_at_both_ends(self) -> None:
        """An include of ``ssh`` matches no ``ssh.service`` (node_exporter wraps it in ``^(?:...)$``)."""
        assert filter_units(UNITS, anchored("ssh"), anchored("")) == []
        got = filter_units(UNITS, anchored(r"ssh\..*|cron\..*"), anchored("cron.+"))
        assert [u.name for u in got] == ["ssh.service"]

    def test_alternation_is_anchored_as_a_whole(self) -> None:
        """``a|b`` is ``^(?:a|b)$``, not ``^a|b$``: an exclude of ``x|.+slice`` drops only whole matches."""
        got = filter_units(UNITS, anchored(".+"), anchored("ssh|.+slice"))
        assert "ssh.service" in [u.name for u in got] and "user.slice" not in [u.name for u in got]


class TestUnitPath:
    @pytest.mark.parametrize(("name", "path"), [
        ("ssh.service", "ssh_2eservice"),
        ("getty@tty1.service", "getty_40tty1_2eservice"),
        ("systemd-fsck@dev-disk-by\\x2duuid.service", "systemd_2dfsck_40dev_2ddisk_2dby_5cx2duuid_2eservice"),
        ("1password.service", "_31password_2eservice"),
        ("", "_"),
    ])
    def test_escaped_as_systemd_escapes_object_paths(self, name: str, path: str) -> None:
        """Bytes outside [A-Za-z0-9] and a leading digit become _xx (systemd's bus_label_escape)."""
        assert unit_path(name) == "/org/freedesktop/systemd1/unit/" + path


class TestVersion:
    @pytest.mark.parametrize(("text", "want"), [
        ("252.19-1~deb12u1", (252.19, "252.19-1~deb12u1")),
        ("255", (255.0, "255")),
        ("v249.11", (249.11, "v249.11")),
        ("unknown", (0.0, "")),
        ("", (0.0, "")),
    ])
    def test_number_and_label(self, text: str, want: tuple[float, str]) -> None:
        """The number is the first run of 3+ digits with one optional fraction; no number gives 0 and ""."""
        assert parse_version(text) == want


class TestMessageSize:
    def test_size_from_the_fixed_header(self) -> None:
        """Header (16 + fields, padded to 8) plus body, in the message's byte order."""
        head = b"l\x02\x01\x01" + struct.pack("<III", 100, 7, 30)
        assert systemd._message_size(head) == 16 + 30 + 2 + 100
        head = b"B\x02\x01\x01" + struct.pack(">III", 5, 7, 8)
        assert systemd._message_size(head) == 16 + 8 + 5

    def test_unknown_byte_order_is_an_error(self) -> None:
        """A first byte other than l or B is a protocol error, not a guess."""
        with pytest.raises(DBusError, match="byte order"):
            systemd._message_size(b"x" + bytes(15))


class TestFlags:
    def test_off_by_default_and_node_exporter_defaults(self) -> None:
        """The collector is off unless --collector.systemd; its options have node_exporter's defaults."""
        cfg = load_config([], {})
        assert "systemd" not in cfg.enabled_collectors
        assert cfg["collector.systemd.unit-include"] == ".+"
        assert cfg["collector.systemd.unit-exclude"] == DEFAULT_EXCLUDE
        assert not any(cfg[f"collector.systemd.{o}"] for o in (
            "private", "enable-task-metrics", "enable-restarts-metrics", "enable-start-time-metrics"))

    def test_flags_are_implemented_not_ignored(self) -> None:
        """node_exporter's systemd flags set our options and produce no "ignored" warning."""
        cfg = load_config(["--collector.systemd", "--collector.systemd.private",
                           "--collector.systemd.enable-task-metrics", "--collector.systemd.enable-restarts-metrics",
                           "--collector.systemd.enable-start-time-metrics",
                           "--collector.systemd.unit-include=a.+", "--collector.systemd.unit-exclude=b.+"], {})
        assert "systemd" in cfg.enabled_collectors and cfg.warnings == []
        assert cfg["collector.systemd.enable-task-metrics"] and cfg["collector.systemd.private"]
        assert (cfg["collector.systemd.unit-include"], cfg["collector.systemd.unit-exclude"]) == ("a.+", "b.+")

    @pytest.mark.parametrize(("old", "new"), [("unit-whitelist", "unit-include"), ("unit-blacklist", "unit-exclude")])
    def test_deprecated_spellings(self, old: str, new: str) -> None:
        """--collector.systemd.unit-whitelist/-blacklist set unit-include/-exclude with one warning line."""
        cfg = load_config([f"--collector.systemd.{old}=x.+"], {})
        assert cfg[f"collector.systemd.{new}"] == "x.+"
        assert len(cfg.warnings) == 1 and "deprecated" in cfg.warnings[0]

    def test_bad_regex_is_one_line(self) -> None:
        """An invalid pattern is refused when the configuration loads, naming the flag."""
        with pytest.raises(ConfigError, match="collector.systemd.unit-include"):
            load_config(["--collector.systemd.unit-include=("], {})
