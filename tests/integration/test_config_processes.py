"""Configuration seen from a real process: start-up errors, --check-config, --help and removed flags."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from helpers.hostile_files import (
    MALFORMED,
    check_config,
)
from helpers.procs import PYTHON, free_port, start_process, tempdir
from spark_exporter.exporter.daemon import load_config
from spark_exporter.settings import (
    ConfigError,
)

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spark_exporter", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


class TestRemovedInterval:
    def test_flag_names_its_replacement(self) -> None:
        """--collect.interval fails with one line that names --collect.min-age."""
        r = run_cli("--collect.interval=5s")
        assert r.returncode == 2
        assert r.stderr.splitlines() == [
            "spark-exporter: error: --collect.interval was removed: use --collect.min-age instead"]

    def test_environment_and_file_name_the_replacement(self, tmp_path: Path) -> None:
        """The old key is refused from the environment and from a file, naming the replacement."""
        with pytest.raises(ConfigError, match="SPARK_EXPORTER_COLLECT_INTERVAL was removed: use --collect.min-age"):
            load_config([], {"SPARK_EXPORTER_COLLECT_INTERVAL": "5s"})
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collect:\n  interval: 5s\n")
        with pytest.raises(ConfigError, match="key 'collect.interval' was removed: use 'collect.min-age'"):
            load_config([f"--config.file={cfg_file}"], {})


class TestDaemonCheckConfig:
    def test_values_with_sources_and_durations_as_written(self, tmp_path: Path) -> None:
        """--check-config prints every resolved value (no 0 placeholders) with where it came from."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("log:\n  level: warn\n")
        r = run_cli(f"--config.file={cfg_file}", "--collect.min-age=1m30s", "--check-config",
                    env={"SPARK_EXPORTER_LOG_FORMAT": "json"})
        assert r.returncode == 0, r.stderr
        got = check_config(r.stdout)
        assert got["config.file"] == (str(cfg_file), "flag")
        assert got["collect.min-age"] == ("1m30s", "flag")
        assert got["collect.timeout"] == ("5s", "default")
        assert got["log.format"] == ("json", "environment")
        assert got["log.level"] == ("warn", f"config file {cfg_file}")
        assert got["web.config.file"] == ("none", "default")


class TestHelp:
    @pytest.mark.parametrize("argv", [[], ["api"], ["query"], ["query", "history"], ["config", "prometheus"],
                                      ["demo"]])
    def test_every_option_has_help_and_one_default(self, argv: list[str]) -> None:
        """Every option has help text, states its default once, and says 'none' rather than nothing."""
        r = run_cli(*argv, "--help")
        assert r.returncode == 0, r.stderr
        options = r.stdout.split("options:", 1)[1]
        # One entry per option: a line starting with two spaces and a dash, then its indented help.
        entries = re.split(r"\n  (?=-)", options)[1:]
        assert entries
        for entry in entries:
            flag, _, help_text = entry.partition("  ")
            text = " ".join(help_text.split())
            assert text, f"{flag} has no help text"
            assert len(re.findall(r"[(;] ?default\b", text)) <= 1, entry
            assert not re.search(r"[(;] ?default\s*[);]", text), entry

    @pytest.mark.parametrize("script", ["dev.sh", "systemd/install.sh"])
    def test_shell_scripts_print_usage(self, script: str) -> None:
        """./dev.sh help and install.sh --help print a usage text, not their shell options."""
        r = subprocess.run([str(REPO / script), "--help"], capture_output=True, text=True, timeout=30)
        text = r.stdout + r.stderr
        assert r.returncode == 0
        assert text.lower().startswith("usage:")
        assert "set -euo" not in text


class TestHostileFiles:
    @pytest.mark.parametrize("kind", ["fifo", "dev-zero", "alias-bomb", "not-utf8"])
    def test_real_process_exits_2_without_traceback(self, tmp_path: Path, kind: str) -> None:
        """The installed command refuses a hostile config file at once: exit 2, one line, no traceback."""
        make, message = MALFORMED[kind]
        path = tmp_path / "c.yml"
        make(path)
        r = run_cli(f"--config.file={path}", timeout=30)
        assert r.returncode == 2
        lines = r.stderr.splitlines()
        assert len(lines) == 1 and str(path) in lines[0] and message in lines[0], r.stderr


class TestProcessStartup:
    def test_unreadable_file_exits_nonzero_with_one_line(self, tmp_path: Path) -> None:
        """A missing config file stops start-up with exit 2 and a one-line message naming it."""
        missing = tmp_path / "missing.yml"
        r = run_cli(f"--config.file={missing}")
        assert r.returncode == 2
        lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and str(missing) in lines[0] and "cannot read" in lines[0]
        assert "Traceback" not in r.stderr

    def test_unknown_key_exits_before_listening(self, tmp_path: Path) -> None:
        """An unknown key fails start-up before anything listens."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("web:\n  listen_address: ':1'\n")
        r = run_cli(f"--config.file={cfg_file}")
        assert r.returncode == 2
        assert "unknown key 'web.listen_address'" in r.stderr and "listening" not in r.stderr

    def test_port_in_use_exits_nonzero(self) -> None:
        """A port already in use is a clear error and a non-zero exit, not a traceback."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            r = run_cli(f"--web.listen-address=127.0.0.1:{port}")
        assert r.returncode == 1
        wanted = f"spark-exporter: error: cannot listen on 127.0.0.1:{port}: address already in use"
        assert r.stderr.splitlines()[-1] == wanted
        assert "Traceback" not in r.stderr and "('127.0.0.1'" not in r.stderr  # not asyncio's tuple

    def test_bad_web_config_exits_nonzero(self, tmp_path: Path) -> None:
        """An invalid web config file is rejected at start-up, naming the file and key."""
        wc = tmp_path / "web.yml"
        wc.write_text("basic_auth_users:\n  alice: plaintext\n")
        r = run_cli(f"--web.config.file={wc}")
        assert r.returncode == 2
        assert str(wc) in r.stderr and "basic_auth_users.alice" in r.stderr

    def test_broken_api_config_through_the_real_process(self, tmp_path: Path) -> None:
        """spark-exporter api with a .nan duration in its file exits 2 with one line and no traceback."""
        cfg_file = tmp_path / "api.yml"
        cfg_file.write_text("api:\n  cache-ttl: .nan\n")
        r = run_cli("api", f"--config.file={cfg_file}")
        assert r.returncode == 2
        assert r.stderr.splitlines() == [f"spark-exporter api: error: config file {cfg_file}: key 'api.cache-ttl': "
                                         "invalid duration nan (Prometheus syntax, e.g. 15s, 1m, 1m30s; a bare "
                                         "number needs a unit)"]

    def test_api_start_log_has_no_empty_values(self) -> None:
        """The API's start line says cors=none and auth=none rather than leaving them empty."""
        port = free_port()
        with tempdir("api-log") as d:
            argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                    "--prometheus.url=http://127.0.0.1:1"]
            proc = start_process("api", argv, port, d, f"http://127.0.0.1:{port}/-/healthy")
            try:
                line = next(ln for ln in proc.log().splitlines() if "event=api_listening" in ln)
            finally:
                proc.stop()
        fields = dict(re.findall(r'(\w+)=("[^"]*"|\S*)', line))
        assert fields["cors"] == "none" and fields["auth"] == "none"
        assert all(value not in ("", '""') for value in fields.values()), line

    def test_version(self) -> None:
        """--version prints the version and exits 0."""
        r = run_cli("--version")
        assert r.returncode == 0 and r.stdout.startswith("spark-exporter, version ")
