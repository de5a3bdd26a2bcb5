"""`spark-exporter config prometheus` as a process: the generated file and inventory errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.inventory import FIXTURES, REPO_RULES, TWO_NODES
from helpers.procs import PYTHON, REPO, require_binary
from spark_exporter import cli
from spark_exporter.prometheus.promconfig import DEFAULT_RULE_FILES


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "spark_exporter", "config", "prometheus", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


class TestConfigCommand:
    def test_output_passes_promtool_check_config(self, tmp_path: Path) -> None:
        """The printed prometheus.yml, with the repository's rule files, passes promtool check config."""
        result = run_cli("--inventory", str(TWO_NODES), "--rule-files", REPO_RULES)
        assert result.returncode == 0, result.stderr
        out = tmp_path / "prometheus.yml"
        out.write_text(result.stdout)
        check = subprocess.run([require_binary("promtool"), "check", "config", str(out)], capture_output=True,
                               text=True, timeout=60)
        assert check.returncode == 0, check.stdout + check.stderr
        # promtool checks every rule file the config names: all of rules/ was found and read.
        rule_files = sorted((REPO / "rules").glob("*.yml"))
        assert f"SUCCESS: {len(rule_files)} rule files found" in check.stdout
        for rule_file in rule_files:
            assert f"Checking {rule_file}\n  SUCCESS:" in check.stdout
        assert yaml.safe_load(result.stdout)["rule_files"] == [REPO_RULES]

    def test_default_rule_files_are_the_documented_path(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --rule-files the config loads /etc/prometheus/spark-exporter/rules/*.yml, as documented."""
        assert cli.main(["config", "prometheus", "--inventory", str(TWO_NODES)]) == 0
        out = capsys.readouterr().out
        assert yaml.safe_load(out)["rule_files"] == [DEFAULT_RULE_FILES]
        assert DEFAULT_RULE_FILES == "/etc/prometheus/spark-exporter/rules/*.yml"
        assert DEFAULT_RULE_FILES in (REPO / "docs" / "prometheus.md").read_text()

    def test_retention_flag_is_documented_in_the_output(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The header of the output names the 30-day retention flag, which cannot live in prometheus.yml."""
        assert cli.main(["config", "prometheus", "--inventory", str(TWO_NODES)]) == 0
        assert "--storage.tsdb.retention.time=30d" in capsys.readouterr().out.splitlines()[1]

    def test_scrape_interval_option(self, capsys: pytest.CaptureFixture[str]) -> None:
        """--scrape-interval sets both intervals unless --evaluation-interval is given."""
        assert cli.main(["config", "prometheus", "--inventory", str(TWO_NODES), "--scrape-interval=30s"]) == 0
        glob = yaml.safe_load(capsys.readouterr().out)["global"]
        assert (glob["scrape_interval"], glob["evaluation_interval"]) == ("30s", "30s")

    def test_bad_scrape_interval(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A malformed --scrape-interval exits 2 with one error line naming the flag."""
        argv = ["config", "prometheus", "--inventory", str(TWO_NODES), "--scrape-interval=soon"]
        assert cli.main(argv) == 2
        captured = capsys.readouterr()
        assert captured.out == ""
        assert captured.err.splitlines() == [
            "spark-exporter config prometheus: error: --scrape-interval: invalid duration 'soon' "
            "(Prometheus syntax, e.g. 15s, 1m, 1m30s)"]


class TestInventoryErrors:
    @pytest.mark.parametrize(("fixture", "message"), [
        ("bad-missing-name.yml", "nodes[1]: missing 'name'"),
        ("bad-duplicate-node.yml", "node 'spark-01': duplicate node name"),
        ("bad-address.yml",
         "node 'spark-01': key 'dcgm_exporter': malformed IPv4 address in '192.168.100.300:9400'"),
        ("bad-port.yml", "node 'spark-01': key 'exporter': malformed address '192.168.100.10'"),
        ("bad-unknown-node-key.yml", "nodes[0]: unknown key 'node_exportr'"),
        ("bad-unknown-key.yml", "unknown key 'scrape_interval' (expected cluster, nodes)"),
        ("bad-yaml.yml", "invalid YAML (line 5"),
        ("does-not-exist.yml", "cannot read"),
    ])
    def test_bad_inventory_is_one_clear_error_line_and_exit_2(self, fixture: str, message: str) -> None:
        """A bad inventory prints one 'spark-exporter config prometheus: error:' line naming file and entry; exit 2."""
        path = FIXTURES / fixture
        result = run_cli("--inventory", str(path))
        assert result.returncode == 2
        assert result.stdout == ""
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith(f"spark-exporter config prometheus: error: inventory {path}")
        assert message in lines[0]

    def test_missing_inventory_flag_is_a_usage_error(self) -> None:
        """Leaving out --inventory is a usage error with exit status 2."""
        result = run_cli()
        assert result.returncode == 2
        assert "--inventory" in result.stderr
