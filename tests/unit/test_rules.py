"""The rules/ files: promtool's checks and unit tests, and that every rule is covered and documented."""

from __future__ import annotations

import re
from typing import Any

from helpers.procs import REPO
from helpers.rules import all_rules, load, rule_test_files

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


def alerts() -> list[dict[str, Any]]:
    return [r for r in all_rules() if "alert" in r]


def records() -> list[dict[str, Any]]:
    return [r for r in all_rules() if "record" in r]


def github_anchor(heading: str) -> str:
    """The fragment GitHub gives a Markdown heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


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
