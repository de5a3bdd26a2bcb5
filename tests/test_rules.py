"""The rules/ files: promtool's checks and unit tests, and that every rule is covered and documented."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from procs import REPO, require_binary

RULES_DIR = REPO / "rules"
RULE_TESTS_DIR = RULES_DIR / "tests"
DOC = REPO / "docs" / "alerts.md"

# Fixed by the cross-team contract: the query module and dashboards read these.
CONTRACT_RECORDING_RULES = {
    "cluster:gpu_utilization:avg", "cluster:memory_used_bytes:sum", "cluster:gpu_memory_total_bytes:sum",
    "cluster:power_watts:sum", "cluster:gpu_temperature_celsius:max", "cluster:nodes_up:count",
    "cluster:nodes:count", "node:gpu_utilization:avg", "node:gpu_memory_used_bytes:sum",
    "node:gpu_memory_total_bytes:sum", "node:gpu_power_watts:sum", "node:cpu_utilization:ratio",
    "node_device:network_receive_bytes:rate1m", "node_device:network_transmit_bytes:rate1m",
    "cluster:vllm_generation_tokens:rate1m", "node:vllm_generation_tokens:rate1m",
    "node:vllm_requests_running:sum", "node:vllm_requests_waiting:sum",
}
SEVERITIES = {"critical", "warning", "info"}
# level:metric:operations, https://prometheus.io/docs/practices/rules/
_RECORD_NAME_RE = re.compile(r"^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$")


def rule_files() -> list[Path]:
    files = sorted(RULES_DIR.glob("*.yml"))
    assert files, f"no rule files in {RULES_DIR}"
    return files


def rule_test_files() -> list[Path]:
    files = sorted(RULE_TESTS_DIR.glob("*.yml"))
    assert files, f"no rule tests in {RULE_TESTS_DIR}"
    return files


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def all_rules() -> list[dict[str, Any]]:
    return [rule for f in rule_files() for group in load(f)["groups"] for rule in group["rules"]]


def alerts() -> list[dict[str, Any]]:
    return [r for r in all_rules() if "alert" in r]


def records() -> list[dict[str, Any]]:
    return [r for r in all_rules() if "record" in r]


def promtool(*args: str | Path, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("promtool"), *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


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


class TestCoverage:
    def _tested(self) -> tuple[set[str], set[str]]:
        exprs: set[str] = set()
        fired: set[str] = set()
        for test_file in rule_test_files():
            for case in load(test_file)["tests"]:
                exprs |= {t["expr"].strip() for t in case.get("promql_expr_test") or []}
                fired |= {t["alertname"] for t in case.get("alert_rule_test") or [] if t.get("exp_alerts")}
        return exprs, fired

    def test_every_recording_rule_has_a_unit_test(self) -> None:
        """Every recording rule is evaluated by name in some promql_expr_test."""
        exprs, _ = self._tested()
        untested = {r["record"] for r in records()} - exprs
        assert not untested, f"recording rules without a unit test: {sorted(untested)}"

    def test_every_alert_has_a_firing_unit_test(self) -> None:
        """Every alert is expected to fire, with its labels and annotations, in some alert_rule_test."""
        _, fired = self._tested()
        untested = {r["alert"] for r in alerts()} - fired
        assert not untested, f"alerts without a firing unit test: {sorted(untested)}"

    def test_contract_recording_rules_exist(self) -> None:
        """Every recording rule the query module and dashboards rely on is defined, each exactly once."""
        names = [r["record"] for r in records()]
        assert CONTRACT_RECORDING_RULES <= set(names)
        assert len(names) == len(set(names))


class TestConventions:
    def test_recording_rule_names_follow_level_metric_operations(self) -> None:
        """Recording rule names have the form level:metric:operations."""
        bad = [r["record"] for r in records() if not _RECORD_NAME_RE.match(r["record"])]
        assert not bad

    def test_no_hard_coded_interface_or_cluster(self) -> None:
        """No rule names an interface such as eth0 or a particular cluster; labels come from the config."""
        for rule in all_rules():
            assert "eth0" not in rule["expr"]
            assert 'cluster="' not in rule["expr"] and "cluster=~" not in rule["expr"]

    def test_aggregations_keep_the_cluster_label(self) -> None:
        """Every by-clause keeps cluster, so several clusters can share one Prometheus."""
        for rule in all_rules():
            for clause in re.findall(r"\bby \(([^)]*)\)", rule["expr"]):
                name = rule.get("record") or rule["alert"]
                assert "cluster" in [c.strip() for c in clause.split(",")], name

    def test_alerts_have_severity_summary_description_runbook(self) -> None:
        """Every alert has a known severity and summary, description and runbook_url annotations."""
        for rule in alerts():
            assert rule["labels"]["severity"] in SEVERITIES, rule["alert"]
            assert set(rule["annotations"]) == {"summary", "description", "runbook_url"}, rule["alert"]
            assert "$labels.node" in rule["annotations"]["summary"], rule["alert"]

    def test_runbook_links_point_at_sections_of_the_docs(self) -> None:
        """Each runbook_url ends in an anchor that a heading of docs/alerts.md produces."""
        headings = [line.lstrip("#") for line in DOC.read_text().splitlines() if line.startswith("#")]
        anchors = {github_anchor(h) for h in headings}
        for rule in alerts():
            url = rule["annotations"]["runbook_url"]
            assert url.endswith(f"docs/alerts.md#{rule['alert'].lower()}"), url
            assert rule["alert"].lower() in anchors, f"docs/alerts.md has no section for {rule['alert']}"

    def test_alert_names_are_unique(self) -> None:
        """No two alerting rules share a name."""
        names = [r["alert"] for r in alerts()]
        assert len(names) == len(set(names))
