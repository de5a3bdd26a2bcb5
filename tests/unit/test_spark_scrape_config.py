"""The generated Prometheus scrape jobs for Spark: endpoints and relabelling, without a process."""

from __future__ import annotations

from typing import Any

import yaml

from spark_exporter.prometheus.inventory import parse_inventory
from spark_exporter.prometheus.promconfig import build_prometheus_config


def jobs(inventory: dict[str, Any]) -> dict[str, dict[str, Any]]:
    config = build_prometheus_config(parse_inventory(inventory, "test"), [])
    return {job["job_name"]: job for job in config["scrape_configs"]}


INVENTORY = {"cluster": "c1", "nodes": [{"name": "spark-01", "exporter": "10.0.0.1:19400", "spark": "10.0.0.1:4040"},
                                        {"name": "spark-02", "exporter": "10.0.0.2:19400"}]}


class TestSparkScrapeJobs:
    def test_driver_and_executors_endpoints_on_the_ui_port(self) -> None:
        """A node with a spark endpoint gets the driver's PrometheusServlet and the executors endpoint."""
        found = jobs(INVENTORY)
        assert found["spark"]["metrics_path"] == "/metrics/prometheus"
        assert found["spark-executors"]["metrics_path"] == "/metrics/executors/prometheus"
        for name in ("spark", "spark-executors"):
            targets = [t for sc in found[name]["static_configs"] for t in sc["targets"]]
            assert targets == ["10.0.0.1:4040"]

    def test_no_spark_jobs_without_spark_endpoints(self) -> None:
        """An inventory without spark endpoints yields neither Spark job."""
        inventory = {"cluster": "c1", "nodes": [{"name": "spark-01", "exporter": "10.0.0.1:19400"}]}
        assert not {"spark", "spark-executors"} & set(jobs(inventory))

    def test_only_spark_jobs_relabel_metric_names(self) -> None:
        """metric_relabel_configs appear on the two Spark jobs and nowhere else."""
        found = jobs(INVENTORY)
        assert {name for name, job in found.items() if "metric_relabel_configs" in job} == {"spark", "spark-executors"}

    def test_relabelling_survives_yaml(self) -> None:
        """The rendered YAML keeps the regexes and ${1} replacements byte for byte."""
        found = jobs(INVENTORY)
        reloaded = yaml.safe_load(yaml.safe_dump(found["spark"]))
        assert reloaded["metric_relabel_configs"] == found["spark"]["metric_relabel_configs"]
        replacements = [r.get("replacement", "") for r in found["spark"]["metric_relabel_configs"]]
        assert "spark_driver_${1}_total" in replacements  # $1_total would name a group "1_total"
