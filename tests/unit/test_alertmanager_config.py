"""The generated alertmanager.yml and prometheus.yml's alerting section (no processes; amtool runs in
tests/integration/test_alertmanager.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from spark_exporter.commands.config import main as config_main
from spark_exporter.prometheus import alertmanager as am
from spark_exporter.prometheus.inventory import parse_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config

REPO = Path(__file__).resolve().parents[2]


def alerts() -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for path in sorted((REPO / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"] if "alert" in rule}


def by_lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


class TestRouting:
    def test_grouped_by_cluster_and_node_which_every_alert_carries(self) -> None:
        """Notifications group by cluster and node, and every alert fires with both labels in rules/tests."""
        config = am.build_alertmanager_config()
        assert config["route"]["group_by"] == ["cluster", "node"]
        fired: dict[str, list[dict[str, str]]] = {}
        for path in sorted((REPO / "rules" / "tests").glob("*.yml")):
            for case in yaml.safe_load(path.read_text())["tests"]:
                for test in case.get("alert_rule_test") or []:
                    for alert in test.get("exp_alerts") or []:
                        fired.setdefault(test["alertname"], []).append(alert["exp_labels"])
        assert set(fired) == set(alerts())
        for name, label_sets in fired.items():
            assert all({"cluster", "node"} <= set(labels) for labels in label_sets), name

    def test_critical_pages_and_warning_and_info_notify(self) -> None:
        """severity="critical" goes to page, warning and info to notify, anything else to notify."""
        route = am.build_alertmanager_config()["route"]
        assert route["receiver"] == "notify"
        assert [(r["receiver"], r["matchers"]) for r in route["routes"]] == [
            ("page", ['severity="critical"']), ("notify", ['severity=~"warning|info"'])]
        assert {r["labels"]["severity"] for r in alerts().values()} <= {"critical", "warning", "info"}

    def test_receivers_are_webhooks_that_send_resolved(self) -> None:
        """Both receivers post to their webhook with send_resolved; the page URL defaults to the notify URL."""
        config = am.build_alertmanager_config("http://hooks.test/n", "https://hooks.test/p")
        hooks = {r["name"]: r["webhook_configs"] for r in config["receivers"]}
        assert hooks == {"page": [{"url": "https://hooks.test/p", "send_resolved": True}],
                         "notify": [{"url": "http://hooks.test/n", "send_resolved": True}]}
        same = {r["name"]: r["webhook_configs"][0]["url"] for r in am.build_alertmanager_config()["receivers"]}
        assert same == {"page": am.DEFAULT_WEBHOOK_URL, "notify": am.DEFAULT_WEBHOOK_URL}

    def test_timing_is_rendered_as_durations(self) -> None:
        """The four timings appear as Alertmanager durations."""
        config = am.build_alertmanager_config(timing=am.Timing(1, 2.5, 3600, 90))
        assert config["global"] == {"resolve_timeout": "1m30s"}
        assert (config["route"]["group_wait"], config["route"]["group_interval"],
                config["route"]["repeat_interval"]) == ("1s", "2s500ms", "1h")


class TestInhibition:
    def test_names_in_the_rules_exist_with_the_labels_they_compare(self) -> None:
        """Every alert an inhibit rule names is in rules/, and carries each label the rule compares."""
        rules = alerts()
        assert am.inhibited_alert_names() <= set(rules)
        gpu_alerts = {am.GPU_LOST_ALERT, *am.GPU_LOST_SILENCES, "SparkGPUTemperatureCritical"}
        for name in gpu_alerts:
            assert "gpu" in rules[name]["expr"], name

    def test_node_down_silences_every_other_alert_of_that_node(self) -> None:
        """SparkExporterDown inhibits every other alert name, compared on cluster and node."""
        first = am.inhibit_rules()[0]
        assert first == {"source_matchers": ['alertname="SparkExporterDown"'],
                         "target_matchers": ['alertname!="SparkExporterDown"'], "equal": ["cluster", "node"]}
        assert alerts()["SparkExporterDown"]["labels"]["severity"] == "critical"

    def test_lost_gpu_silences_its_temperature_and_throttle_alerts(self) -> None:
        """SparkGPULost inhibits that GPU's temperature, throttle and slowdown alerts."""
        rule = am.inhibit_rules()[1]
        assert rule["equal"] == ["cluster", "node", "gpu"]
        (target,) = rule["target_matchers"]
        assert set(target.removeprefix('alertname=~"').removesuffix('"').split("|")) == set(am.GPU_LOST_SILENCES)
        assert {"SparkGPUTemperatureHigh", "SparkGPUThermalThrottling"} <= set(am.GPU_LOST_SILENCES)


class TestAlertingSection:
    INVENTORY = parse_inventory({"cluster": "c", "nodes": [{"name": "n1", "exporter": "127.0.0.1:19400"}]}, "t")

    def test_one_entry_per_alertmanager(self) -> None:
        """Each URL becomes one alertmanagers entry with its scheme, target and path prefix."""
        config = build_prometheus_config(self.INVENTORY, [], alertmanager_urls=[
            "http://am-1.example:9093", "https://[::1]:9443/am/"])
        assert config["alerting"] == {"alertmanagers": [
            {"scheme": "http", "static_configs": [{"targets": ["am-1.example:9093"]}]},
            {"scheme": "https", "static_configs": [{"targets": ["[::1]:9443"]}], "path_prefix": "/am/"}]}

    def test_no_urls_no_section(self) -> None:
        """Without an Alertmanager the generated file has no alerting section."""
        assert "alerting" not in build_prometheus_config(self.INVENTORY, [])

    @pytest.mark.parametrize("url", ["am:9093", "ftp://am:9093", "http://am", "http://user:pw@am:9093",
                                     "http://am:9093/?x=1", "http://am:99999", "http://a m:9093"])
    def test_bad_urls_are_refused(self, url: str) -> None:
        """A URL without http(s), port or host, or with credentials or a query, is an error naming it."""
        with pytest.raises(am.AlertmanagerConfigError, match="invalid Alertmanager URL"):
            am.alerting_section([url])

    @pytest.mark.parametrize("url", ["http://am:9093/api/v2/alerts", "http://am:9093/api/v1/alerts",
                                     "https://am:9093/am/api/v2/alerts", "http://am:9093/api"])
    def test_an_endpoint_instead_of_a_prefix_is_refused(self, url: str) -> None:
        """Prometheus appends /api/v2/alerts to the path prefix; a URL naming that endpoint would post to
        .../api/v2/alerts/api/v2/alerts and lose every alert, so it is refused with the reason."""
        with pytest.raises(am.AlertmanagerConfigError, match="a prefix for Alertmanager's own /api/v2/alerts"):
            am.alerting_section([url])

    def test_a_proxy_prefix_that_starts_with_api_is_kept(self) -> None:
        """Only a path naming the API itself is refused; a reverse proxy's prefix such as /api/alertmanager stays."""
        assert am.alerting_section(["http://proxy:8080/api/alertmanager"])["alertmanagers"][0][
            "path_prefix"] == "/api/alertmanager"


class TestCommandLine:
    def test_writes_the_file_and_refuses_to_overwrite(self, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
        """config alertmanager --output writes the config once; a second run without --force exits 2."""
        out = tmp_path / "alertmanager.yml"
        args = ["alertmanager", "--webhook-url", "http://hooks.test/x", "--group-wait", "10s", "--output", str(out)]
        assert config_main(args) == 0
        written = yaml.safe_load(out.read_text())
        assert written == am.build_alertmanager_config("http://hooks.test/x", timing=am.Timing(group_wait=10))
        assert "amtool check-config" in capsys.readouterr().out
        assert config_main(args) == 2
        assert "refusing to overwrite" in capsys.readouterr().err

    @pytest.mark.parametrize("args, message", [
        (["--webhook-url", "hooks.test"], "invalid webhook URL"),
        (["--group-wait", "0s"], "must be greater than zero"),
    ])
    def test_bad_input_is_one_line_and_exit_2(self, args: list[str], message: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
        """A bad URL or duration is one error line and exit 2, nothing on stdout."""
        assert config_main(["alertmanager", *args]) == 2
        captured = capsys.readouterr()
        assert message in captured.err and len(captured.err.strip().splitlines()) == 1
        assert captured.out == ""

    def test_prometheus_gets_the_alerting_section(self, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
        """config prometheus --alertmanager.url adds alerting: to the printed prometheus.yml."""
        inventory = tmp_path / "inventory.yml"
        inventory.write_text("cluster: c\nnodes:\n  - {name: n1, exporter: '127.0.0.1:19400'}\n")
        assert config_main(["prometheus", "--inventory", str(inventory),
                            "--alertmanager.url", "http://127.0.0.1:9093"]) == 0
        printed = yaml.safe_load(capsys.readouterr().out)
        assert printed["alerting"] == am.alerting_section(["http://127.0.0.1:9093"])
        assert config_main(["prometheus", "--inventory", str(inventory), "--alertmanager.url", "am"]) == 2
        assert "invalid Alertmanager URL 'am'" in capsys.readouterr().err
