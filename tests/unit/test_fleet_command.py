"""The fleet simulator's command line (python -m spark_exporter.commands.fleet): settings checked before it serves."""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_exporter.commands.fleet import FLEET_PROG, main
from spark_exporter.exporter import fleet


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class TestFleetCommand:
    def test_ports_file_is_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --ports-file nothing is served: one line naming the setting, exit 2."""
        code, out, err = run(capsys, "--nodes=2")
        assert (code, out) == (2, "")
        assert err.splitlines() == [f"{FLEET_PROG}: error: --ports-file is required (or SPARK_EXPORTER_PORTS_FILE, "
                                    "or ports-file: in --config.file)"]

    def test_ports_file_in_a_missing_directory_is_refused(self, capsys: pytest.CaptureFixture[str],
                                                          tmp_path: Path) -> None:
        """A ports file whose directory does not exist is refused before any node starts, exit 2."""
        target = tmp_path / "nowhere" / "ports.json"
        code, _, err = run(capsys, "--nodes=2", f"--ports-file={target}")
        assert code == 2
        assert err.splitlines() == [f"{FLEET_PROG}: error: --ports-file {target}: no directory {target.parent}"]

    @pytest.mark.parametrize(("flag", "message"), [
        ("--nodes=0", "--nodes: must be at least 1, got 0"),
        (f"--nodes={fleet.MAX_NODES + 1}", f"--nodes: must be at most {fleet.MAX_NODES}, got {fleet.MAX_NODES + 1}"),
    ])
    def test_node_count_outside_the_range_is_exit_2(self, capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                    flag: str, message: str) -> None:
        """--nodes outside 1..MAX_NODES is one line and exit 2."""
        code, _, err = run(capsys, flag, f"--ports-file={tmp_path / 'p.json'}")
        assert code == 2
        assert err.splitlines() == [f"{FLEET_PROG}: error: {message}"]

    def test_unknown_profile_is_refused(self, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
        """A GPU profile the simulator does not know is refused by the settings, not by a node halfway."""
        code, _, err = run(capsys, "--profile=a100", f"--ports-file={tmp_path / 'p.json'}")
        assert code == 2
        assert err.startswith(f"{FLEET_PROG}: error: --profile: ") and len(err.splitlines()) == 1

    def test_check_config_prints_the_settings_and_serves_nothing(self, capsys: pytest.CaptureFixture[str],
                                                                 tmp_path: Path) -> None:
        """--check-config prints each setting with its source and writes no ports file."""
        ports = tmp_path / "p.json"
        code, out, _ = run(capsys, "--nodes=20", "--profile=h100x8", f"--ports-file={ports}", "--check-config")
        assert code == 0
        assert "nodes=20  # flag" in out.splitlines() and "profile=h100x8  # flag" in out.splitlines()
        assert not ports.exists()
