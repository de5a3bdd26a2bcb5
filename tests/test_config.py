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
        cfg_file.write_text("collect:\n  interval: 7s\nlog:\n  level: warn\nweb:\n  telemetry-path: /m\n")
        env = {"SPARK_EXPORTER_COLLECT_INTERVAL": "9s", "SPARK_EXPORTER_LOG_LEVEL": "error"}
        cfg = load_config([f"--config.file={cfg_file}", "--collect.interval=3s"], env)
        assert cfg.interval == 3.0
        assert cfg["log.level"] == "error"
        assert cfg.telemetry_path == "/m"
        assert cfg["log.format"] == "logfmt"
        assert cfg.sources["collect.interval"] == "flag"

    def test_config_file_from_environment(self, tmp_path: Path) -> None:
        """SPARK_EXPORTER_CONFIG_FILE names the config file when no flag does."""
        cfg_file = tmp_path / "c.yml"
        cfg_file.write_text("collect.interval: 11s\n")
        cfg = load_config([], {"SPARK_EXPORTER_CONFIG_FILE": str(cfg_file)})
        assert cfg.interval == 11.0

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

    def test_timeout_defaults_to_most_of_the_interval(self) -> None:
        """Without collect.timeout, each collector gets 80% of the interval."""
        cfg = load_config(["--collect.interval=10s"], {})
        assert cfg.timeout == pytest.approx(8.0)


class TestErrors:
    @pytest.mark.parametrize(("content", "needle"), [
        ("collect:\n  interval: [5s\n", "invalid YAML (line"),
        ("colect:\n  interval: 5s\n", "unknown key 'colect.interval'"),
        ("collect:\n  interval: fast\n", "key 'collect.interval': invalid duration"),
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
        with pytest.raises(ConfigError, match="SPARK_EXPORTER_COLLECT_INTERVAL"):
            load_config([], {"SPARK_EXPORTER_COLLECT_INTERVAL": "soon"})

    def test_timeout_longer_than_interval_rejected(self) -> None:
        """A per-collector timeout longer than the interval is refused."""
        with pytest.raises(ConfigError, match="collect.timeout"):
            load_config(["--collect.interval=1s", "--collect.timeout=2s"], {})


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
