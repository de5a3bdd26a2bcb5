"""The same rule files, unchanged, in VictoriaMetrics' vmalert (Debian's victoria-metrics package, 1.79)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.cluster import VictoriaCluster, all_rule_files, victoria_simulated_cluster
from helpers.procs import REPO, http_get, require_binary, wait_for


def vmalert_dry_run(*rule_args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_binary("vmalert"), "-dryRun", *(f"-rule={r}" for r in rule_args)],
                          capture_output=True, text=True, timeout=60)


def problems(output: str) -> list[str]:
    """vmalert's log lines at warn level or above (its format: time, level, caller, message)."""
    return [line for line in output.splitlines() if line.split("\t")[1:2] in (["warn"], ["error"], ["fatal"])]


def rule_count() -> int:
    return sum(len(g["rules"]) for f in all_rule_files() for g in yaml.safe_load(f.read_text())["groups"])


def vmalert_api(proc: Any, path: str) -> dict[str, Any]:
    status, body, _ = http_get(f"{proc.url}{path}", timeout=10)
    assert status == 200, body[:300]
    return dict(json.loads(body)["data"])


class TestDryRun:
    def test_all_rule_files_load_unchanged(self) -> None:
        """vmalert -dryRun over rules/*.yml parses every group, expression and template cleanly."""
        result = vmalert_dry_run(str(REPO / "rules" / "*.yml"))
        assert result.returncode == 0, result.stderr[-2000:]
        assert problems(result.stdout + result.stderr) == []

    @pytest.mark.parametrize("rule_file", all_rule_files(), ids=lambda p: p.name)
    def test_each_rule_file_loads_on_its_own(self, rule_file: Path) -> None:
        """Each rule file passes vmalert's dry run by itself."""
        result = vmalert_dry_run(str(rule_file))
        assert result.returncode == 0, result.stderr[-2000:]
        assert problems(result.stdout + result.stderr) == []

    def test_a_prometheus_only_template_function_is_caught(self, tmp_path: Path) -> None:
        """An annotation using toTime, which promtool accepts and vmalert 1.79 lacks, fails the dry run."""
        text = (REPO / "rules" / "spark-alerts.yml").read_text()
        original = 'summary: "spark-exporter on {{ $labels.node }} is down"'
        mutated = text.replace(original, original[:-1] + ' since {{ $value | toTime }}"')
        assert mutated != text
        bad = tmp_path / "spark-alerts.yml"
        bad.write_text(mutated)
        promtool = subprocess.run([require_binary("promtool"), "check", "rules", str(bad)],
                                  capture_output=True, text=True, timeout=60)
        assert promtool.returncode == 0, promtool.stdout + promtool.stderr
        result = vmalert_dry_run(str(bad))
        assert result.returncode != 0
        assert "toTime" in result.stdout + result.stderr


@pytest.fixture(scope="class")
def vm_cluster() -> Iterator[VictoriaCluster]:
    with victoria_simulated_cluster(n_nodes=2, profile="gb10", interval="1s") as c:
        yield c


class TestOnVictoriaMetrics:
    """VictoriaMetrics scrapes two simulated exporters with the generated config; vmalert runs rules/.

    The second test stops an exporter, so it runs last.
    """

    def test_every_rule_evaluates_without_error(self, vm_cluster: VictoriaCluster) -> None:
        """vmalert loads all the rules and evaluates each one without an error."""
        def evaluated() -> list[dict[str, Any]]:
            groups = vmalert_api(vm_cluster.vmalert, "/api/v1/rules")["groups"]
            rules = [r for g in groups for r in g["rules"]]
            done = all(not r["lastEvaluation"].startswith("0001-") for r in rules)
            return rules if done else []

        rules = wait_for(evaluated, 30, what="every rule evaluated by vmalert")
        assert len(rules) == rule_count()
        assert {r["name"]: r["lastError"] for r in rules if r["lastError"] or r["health"] != "ok"} == {}

    def test_stopping_an_exporter_raises_the_target_down_alert(self, vm_cluster: VictoriaCluster) -> None:
        """After spark-02's exporter stops, vmalert holds SparkExporterDown for spark-02 (pending/firing)."""
        vm_cluster.exporters["spark-02"].stop()

        def down_alerts() -> list[dict[str, Any]]:
            alerts = vmalert_api(vm_cluster.vmalert, "/api/v1/alerts")["alerts"] or []
            return [a for a in alerts if a["labels"].get("alertname") == "SparkExporterDown"]

        active = wait_for(down_alerts, 60, what="SparkExporterDown in vmalert")
        assert [a["labels"]["node"] for a in active] == ["spark-02"]
        assert active[0]["state"] in ("pending", "firing")
        assert active[0]["labels"]["severity"] == "critical"
        assert active[0]["labels"]["cluster"] == "test"
