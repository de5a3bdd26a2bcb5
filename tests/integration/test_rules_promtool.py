"""The packaged rules checked and unit-tested by promtool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.procs import REPO, require_binary
from helpers.rules import RULE_TESTS_DIR, RULES_DIR, all_rules, load, rule_files, rule_test_files


def promtool(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("promtool"), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


class TestPromtoolCheckRules:
    def test_rule_files_are_valid_without_lint_findings(self) -> None:
        """promtool check rules with every lint enabled and fatal passes on all rule files."""
        result = promtool("check", "rules", "--lint=all", "--lint-fatal", *rule_files())
        assert result.returncode == 0, result.stdout + result.stderr
        found = sum(int(n) for n in re.findall(r"SUCCESS: (\d+) rules found", result.stdout))
        assert found == len(all_rules())

    def test_lint_findings_fail_the_check(self, tmp_path: Path) -> None:
        """A duplicated recording rule makes the same promtool call fail, so the check above can fail."""
        doc = load(RULES_DIR / "spark-recording.yml")
        group = doc["groups"][0]
        group["rules"].append(dict(group["rules"][0]))
        bad = tmp_path / "dup.yml"
        bad.write_text(yaml.safe_dump(doc))
        result = promtool("check", "rules", "--lint=all", "--lint-fatal", bad)
        assert result.returncode != 0
        assert "duplicate rule" in result.stdout + result.stderr


class TestPromtoolUnitTests:
    @pytest.mark.parametrize("test_file", rule_test_files(), ids=lambda p: p.name)
    def test_unit_tests_pass(self, test_file: Path) -> None:
        """Every rules/tests file passes promtool test rules."""
        result = promtool("test", "rules", test_file)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "SUCCESS" in result.stdout

    def test_a_wrong_threshold_fails_the_unit_tests(self, tmp_path: Path) -> None:
        """With the temperature warning moved from 85 °C to 90 °C the GPU alert tests fail."""
        (tmp_path / "tests").mkdir()
        alerts_text = (RULES_DIR / "spark-alerts.yml").read_text()
        mutated = alerts_text.replace("(DCGM_FI_DEV_GPU_TEMP) > 85", "(DCGM_FI_DEV_GPU_TEMP) > 90")
        assert mutated != alerts_text
        (tmp_path / "spark-alerts.yml").write_text(mutated)
        shutil.copy(RULE_TESTS_DIR / "alerts-gpu.yml", tmp_path / "tests" / "alerts-gpu.yml")
        result = promtool("test", "rules", tmp_path / "tests" / "alerts-gpu.yml")
        assert result.returncode != 0
        assert "SparkGPUTemperatureHigh" in result.stdout + result.stderr

    def test_every_test_file_loads_existing_rule_files(self) -> None:
        """Each unit-test file names rule files that exist, and every rule file is loaded by some test."""
        loaded: set[Path] = set()
        for test_file in rule_test_files():
            for name in load(test_file)["rule_files"]:
                path = (test_file.parent / name).resolve()
                assert path.is_file(), f"{test_file.name}: missing rule file {name}"
                loaded.add(path)
        assert loaded == {p.resolve() for p in rule_files()}
