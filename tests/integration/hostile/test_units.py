"""The systemd units restart after any unexpected exit and give the connection cap room below the fd limit."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_exporter.http.server import BACKLOG, default_max_connections

UNITS = sorted((Path(__file__).resolve().parents[3] / "systemd").glob("*.service"))


def service_section(path: Path) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    section = ""
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
        elif section == "[Service]" and "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values.setdefault(key, []).append(value)
    return values


@pytest.mark.parametrize("unit", UNITS, ids=lambda p: p.name)
class TestUnits:
    def test_restarts_on_any_unexpected_exit(self, unit: Path) -> None:
        """Restart=always (a SIGHUP death counts as clean for on-failure), but not after a config error (2)."""
        svc = service_section(unit)
        assert svc["Restart"] == ["always"] and "2" in svc["RestartPreventExitStatus"][0].split()

    def test_descriptor_limit_leaves_room_for_the_connection_cap(self, unit: Path) -> None:
        """LimitNOFILE is set, and the default connection cap under it leaves the accept backlog spare."""
        limit = int(service_section(unit)["LimitNOFILE"][0])
        assert limit >= 4096
        assert default_max_connections(limit) + BACKLOG + 128 <= limit
