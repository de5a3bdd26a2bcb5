"""``spark-exporter config prometheus``: prometheus.yml from an inventory, and inventory errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.inventory import FIXTURES, REPO_RULES, TWO_NODES
from spark_exporter import cli
from spark_exporter.prometheus.inventory import load_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config, check_prom_duration


def jobs_by_name(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config["scrape_configs"]}


def targets(job: dict[str, Any]) -> dict[str, dict[str, str]]:
    """address -> the static labels of that target."""
    return {t: sc["labels"] for sc in job["static_configs"] for t in sc["targets"]}


class TestBuildPrometheusConfig:
    def test_one_job_per_kind_of_target_with_its_targets(self) -> None:
        """Each endpoint kind in the inventory becomes one job listing exactly the nodes that have it."""
        config = build_prometheus_config(load_inventory(str(TWO_NODES)), [REPO_RULES])
        jobs = jobs_by_name(config)
        assert list(jobs) == ["spark-exporter", "dcgm-exporter", "node-exporter", "vllm", "spark", "spark-executors"]
        assert set(targets(jobs["spark-exporter"])) == {"192.168.100.10:19400", "spark-02.lan:19400"}
        assert set(targets(jobs["dcgm-exporter"])) == {"192.168.100.10:9400"}
        assert set(targets(jobs["vllm"])) == {"192.168.100.10:8000"}
        assert jobs["spark"]["metrics_path"] == "/metrics/prometheus"
        assert jobs["spark-exporter"]["metrics_path"] == "/metrics"

    def test_jobs_without_targets_are_left_out(self) -> None:
        """An inventory with only spark-exporters yields only the spark-exporter job."""
        config = build_prometheus_config(load_inventory(str(FIXTURES / "minimal.yml")), [REPO_RULES])
        assert list(jobs_by_name(config)) == ["spark-exporter"]
        assert set(targets(jobs_by_name(config)["spark-exporter"])) == {"[fd00::11]:19400"}

    def test_cluster_and_node_labels_come_from_relabelling(self) -> None:
        """Targets carry temporary __tmp labels that relabel_configs copy into cluster and node."""
        config = build_prometheus_config(load_inventory(str(TWO_NODES)), [REPO_RULES])
        for job in config["scrape_configs"]:
            relabel = {r["target_label"]: r["source_labels"] for r in job["relabel_configs"]}
            assert relabel == {"cluster": ["__tmp_spark_cluster"], "node": ["__tmp_spark_node"]}
            for labels in targets(job).values():
                assert set(labels) == {"__tmp_spark_cluster", "__tmp_spark_node"}
                assert labels["__tmp_spark_cluster"] == "dgx-spark"
        spark_02 = targets(jobs_by_name(config)["spark-exporter"])["spark-02.lan:19400"]
        assert spark_02["__tmp_spark_node"] == "spark-02"

    def test_intervals_and_rule_files(self) -> None:
        """The global section has 15s intervals by default, the cluster external label, and the rule files."""
        inventory = load_inventory(str(TWO_NODES))
        config = build_prometheus_config(inventory, ["/a/*.yml", "/b/*.yml"])
        assert config["global"] == {"scrape_interval": "15s", "evaluation_interval": "15s",
                                    "external_labels": {"cluster": "dgx-spark"}}
        assert config["rule_files"] == ["/a/*.yml", "/b/*.yml"]
        fast = build_prometheus_config(inventory, [], scrape_interval="1s", evaluation_interval="2s")
        assert (fast["global"]["scrape_interval"], fast["global"]["evaluation_interval"]) == ("1s", "2s")

    @pytest.mark.parametrize("bad", ["", "15", "0s", "1.5s", "fast", "1s1m", "-5s"])
    def test_invalid_durations_are_rejected(self, bad: str) -> None:
        """A duration Prometheus would reject (or zero) raises ValueError naming it."""
        with pytest.raises(ValueError, match="duration"):
            check_prom_duration(bad)

    @pytest.mark.parametrize("good", ["15s", "1m30s", "500ms", "2h", "1d"])
    def test_valid_durations_pass(self, good: str) -> None:
        """Prometheus durations with descending units pass unchanged."""
        assert check_prom_duration(good) == good


class TestOutputFile:
    def test_output_writes_the_file_and_stdout_only_says_so(self, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
        """--output FILE writes the same prometheus.yml that stdout gets without it."""
        assert cli.main(["config", "prometheus", "--inventory", str(TWO_NODES)]) == 0
        printed = capsys.readouterr().out
        target = tmp_path / "spark-prometheus.yml"
        assert cli.main(["config", "prometheus", "--inventory", str(TWO_NODES), "--output", str(target)]) == 0
        assert yaml.safe_load(target.read_text()) == yaml.safe_load(printed)
        assert capsys.readouterr().out.splitlines()[0] == f"wrote {target}"

    def test_existing_file_is_kept_without_force(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        """An existing --output file is left as it was, with one error line and exit 2, unless --force."""
        target = tmp_path / "prometheus.yml"
        target.write_text("# the distribution's\n")
        argv = ["config", "prometheus", "--inventory", str(TWO_NODES), "--output", str(target)]
        assert cli.main(argv) == 2
        err = capsys.readouterr().err.splitlines()
        assert err == [f"spark-exporter config prometheus: error: refusing to overwrite {target} "
                       "(use --force to replace)"]
        assert target.read_text() == "# the distribution's\n"
        assert cli.main([*argv, "--force"]) == 0
        assert yaml.safe_load(target.read_text())["global"]["external_labels"] == {"cluster": "dgx-spark"}

    def test_output_and_force_come_from_file_and_environment(self, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
        """output and force follow the one precedence: the flag over SPARK_EXPORTER_* over the config file."""
        config = tmp_path / "config.yml"
        config.write_text(f"inventory: {TWO_NODES}\noutput: {tmp_path / 'from-file.yml'}\nforce: false\n")
        monkeypatch.setenv("SPARK_EXPORTER_FORCE", "true")
        assert cli.main(["config", "prometheus", "--config.file", str(config), "--check-config"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert f"output={tmp_path / 'from-file.yml'}  # config file {config}" in lines
        assert "force=true  # environment" in lines
        assert cli.main(["config", "prometheus", "--config.file", str(config), "--output",
                         str(tmp_path / "from-flag.yml")]) == 0
        assert [p.name for p in tmp_path.glob("from-*.yml")] == ["from-flag.yml"]

    def test_stdout_is_the_default(self, capsys: pytest.CaptureFixture[str]) -> None:
        """Without --output, --check-config reports output=none from the default: stdout."""
        assert cli.main(["config", "prometheus", "--inventory", str(TWO_NODES), "--check-config"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert "output=none  # default" in lines and "force=false  # default" in lines


