"""Configuration: precedence, validation, and start-up failures of the real process."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from spark_exporter.cli import load_config
from spark_exporter.settings import ConfigError, parse_duration


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os
    return subprocess.run([sys.executable, "-m", "spark_exporter", *args], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **(env or {})})


class TestDurations:
    @pytest.mark.parametrize(("text", "seconds"), [("5s", 5.0), ("500ms", 0.5), ("1m30s", 90.0), ("2h", 7200.0),
                                                   ("0", 0.0)])
    def test_parses_prometheus_durations(self, text: str, seconds: float) -> None:
        """Prometheus-style durations parse to seconds."""
        assert parse_duration(text) == seconds

    @pytest.mark.parametrize("text", ["5", "5x", "s", "", "-1s", "1.5.2s", "5s junk"])
    def test_rejects_malformed_durations(self, text: str) -> None:
        """Anything that is not a duration is rejected."""
        with pytest.raises(ValueError):
            parse_duration(text)


class TestPrecedence:
    def test_flag_beats_env_beats_file_beats_default(self, tmp_path: Path) -> None:
        """A flag overrides the environment, which overrides the file, which overrides the default."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collect:\n  min-age: 7s\nlog:\n  level: warn\nweb:\n  telemetry-path: /m\n")
        env = {"SPARK_EXPORTER_COLLECT_MIN_AGE": "9s", "SPARK_EXPORTER_LOG_LEVEL": "error"}
        cfg = load_config([f"--config.file={cfg_file}", "--collect.min-age=3s"], env)
        assert cfg["collect.min-age"] == 3.0
        assert cfg["log.level"] == "error"
        assert cfg.telemetry_path == "/m"
        assert cfg["log.format"] == "logfmt"
        assert cfg.sources["collect.min-age"] == "flag"

    def test_config_file_from_environment(self, tmp_path: Path) -> None:
        """SPARK_EXPORTER_CONFIG_FILE names the config file when no flag does."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collect.min-age: 11s\n")
        cfg = load_config([], {"SPARK_EXPORTER_CONFIG_FILE": str(cfg_file)})
        assert cfg["collect.min-age"] == 11.0

    def test_collector_switches(self, tmp_path: Path) -> None:
        """--no-collector.NAME disables a collector; the file and environment can switch them too."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collector:\n  loadavg: false\n")
        cfg = load_config([f"--config.file={cfg_file}"], {})
        assert "loadavg" not in cfg.enabled_collectors
        cfg = load_config([f"--config.file={cfg_file}", "--collector.loadavg"], {})
        assert "loadavg" in cfg.enabled_collectors
        cfg = load_config([], {"SPARK_EXPORTER_COLLECTOR_LOADAVG": "false"})
        assert "loadavg" not in cfg.enabled_collectors

    def test_collection_defaults(self) -> None:
        """Without flags, a collection is reused for 1s and each collector gets a 5s deadline."""
        cfg = load_config([], {})
        assert (cfg["collect.min-age"], cfg["collect.timeout"]) == (1.0, 5.0)


class TestErrors:
    @pytest.mark.parametrize(("content", "needle"), [
        ("collect:\n  min-age: [5s\n", "invalid YAML (line"),
        ("colect:\n  min-age: 5s\n", "unknown key 'colect.min-age'"),
        ("collect:\n  min-age: fast\n", "key 'collect.min-age': invalid duration"),
        ("collect:\n  interval: 5s\n", "key 'collect.interval' removed; use 'collect.min-age'"),
        ("log:\n  level: loud\n", "key 'log.level': must be one of"),
        ("collector:\n  loadavg: maybe\n", "key 'collector.loadavg': expected true or false"),
        ("web:\n  listen-address: nowhere\n", "key 'web.listen-address': invalid listen address"),
        ("- a\n- b\n", "top level must be a mapping"),
    ])
    def test_bad_file_names_file_and_key(self, tmp_path: Path, content: str, needle: str) -> None:
        """A bad config file raises one error naming the file and the key."""
        cfg_file = tmp_path / "bad.yml"
        cfg_file.write_text(content)
        with pytest.raises(ConfigError) as exc:
            load_config([f"--config.file={cfg_file}"], {})
        assert str(cfg_file) in str(exc.value)
        assert needle in str(exc.value)

    def test_bad_environment_names_variable(self) -> None:
        """A bad environment value names the variable."""
        with pytest.raises(ConfigError, match="SPARK_EXPORTER_COLLECT_MIN_AGE"):
            load_config([], {"SPARK_EXPORTER_COLLECT_MIN_AGE": "soon"})

    def test_zero_timeout_rejected(self) -> None:
        """A per-collector deadline of zero is refused."""
        with pytest.raises(ConfigError, match="collect.timeout"):
            load_config(["--collect.timeout=0s"], {})

    @pytest.mark.parametrize(("argv", "env", "where"), [
        (["--collect.interval=5s"], {}, "flag --collect.interval"),
        ([], {"SPARK_EXPORTER_COLLECT_INTERVAL": "5s"}, "environment variable SPARK_EXPORTER_COLLECT_INTERVAL"),
    ])
    def test_removed_interval_names_its_replacement(self, argv: list[str], env: dict[str, str], where: str) -> None:
        """--collect.interval (flag or environment) is refused with one line naming --collect.min-age."""
        with pytest.raises(ConfigError) as exc:
            load_config(argv, env)
        assert str(exc.value) == f"{where}: removed; use --collect.min-age (collection now runs when scraped)"


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
        assert f"cannot listen on 127.0.0.1:{port}" in r.stderr
        assert "Traceback" not in r.stderr

    def test_bad_web_config_exits_nonzero(self, tmp_path: Path) -> None:
        """An invalid web config file is rejected at start-up, naming the file and key."""
        wc = tmp_path / "web.yml"
        wc.write_text("basic_auth_users:\n  alice: plaintext\n")
        r = run_cli(f"--web.config.file={wc}")
        assert r.returncode == 2
        assert str(wc) in r.stderr and "basic_auth_users.alice" in r.stderr

    def test_version(self) -> None:
        """--version prints the version and exits 0."""
        r = run_cli("--version")
        assert r.returncode == 0 and r.stdout.startswith("spark-exporter, version ")
