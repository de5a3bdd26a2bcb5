"""``spark-exporter config prometheus``: a ``prometheus.yml`` generated from the cluster inventory.

The command line (``spark-exporter config prometheus|alertmanager|remote-write|rules|grafana``) is
:mod:`spark_exporter.commands.config`; the ``alerting:`` section comes from :mod:`.alertmanager`, the
remote-write set-up is :mod:`.remote_write`, the rules and dashboards writers are in :mod:`.kit`.

Every target is labelled ``cluster`` and ``node`` by relabelling, so rules, dashboards and the query
module select ``node="spark-01"`` rather than an IP:port that changes when a node is re-addressed.
The recording and alerting rules in ``rules/`` are written against exactly these labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ..settings import DEFAULT_RULE_FILES, parse_duration
from . import alertmanager
from .inventory import Inventory

__all__ = ["DEFAULT_INTERVAL", "DEFAULT_RULE_FILES", "JOBS", "RETENTION_FLAG", "SPARK_DRIVER_METRIC_RELABEL",
           "SPARK_EXECUTORS_METRIC_RELABEL", "Job", "build_prometheus_config", "check_prom_duration",
           "render_prometheus_config"]
# DEFAULT_RULE_FILES (from settings): where docs/prometheus.md tells operators to install rules/.
DEFAULT_INTERVAL = "15s"
# Recommended retention (docs/prometheus.md): a Prometheus *flag*, it cannot go in prometheus.yml.
RETENTION_FLAG = "--storage.tsdb.retention.time=30d"

# Temporary labels carried from static_configs into relabel_configs; Prometheus never uses the
# __tmp prefix itself and drops every __-prefixed label once relabelling is done.
_TMP_CLUSTER = "__tmp_spark_cluster"
_TMP_NODE = "__tmp_spark_node"


# Apache Spark's PrometheusServlet (driver, UI port) writes every metric as one untyped line whose name
# holds the application id (or spark.metrics.namespace) and the executor id "driver":
#   metrics_local_1795952975251_driver_DAGScheduler_job_activeJobs_Value{type="gauges"} 0
# Every gauge comes twice (_Number and _Value), counters end in _Count, timers and histograms carry
# _Count, _Mean, _Max, percentiles, rates. These rules give each series a name that is the same for every
# application, spark_driver_<Spark's source and metric words>, and move the id into application_id:
#   spark_driver_DAGScheduler_job_activeJobs{application_id="local-1795952975251"} 0
# PrometheusServlet replaced every character other than [A-Za-z0-9] of the id by "_"; the rules restore
# the dashes of the three id formats that contain them (local-<ms>, standalone app-<date>-<seq>,
# Kubernetes spark-<32 hex>), so the label equals the application_id of /metrics/executors/prometheus
# and of Spark's REST API. YARN ids (application_<ms>_<seq>) have no dashes. docs/spark.md has the table.
_SPARK_DRIVER = r"metrics_(.+?)_driver_(.+)"
SPARK_DRIVER_METRIC_RELABEL: tuple[dict[str, Any], ...] = (
    # The _Number copy of every gauge duplicates its _Value.
    {"source_labels": ["__name__", "type"], "regex": r"metrics_.+?_driver_.+_Number;gauges", "action": "drop"},
    {"source_labels": ["__name__"], "regex": _SPARK_DRIVER, "target_label": "application_id",
     "replacement": "$1"},
    {"source_labels": ["application_id"], "regex": r"local_(\d+)", "target_label": "application_id",
     "replacement": "local-$1"},
    {"source_labels": ["application_id"], "regex": r"app_(\d{14})_(\d+)", "target_label": "application_id",
     "replacement": "app-$1-$2"},
    {"source_labels": ["application_id"], "regex": r"spark_([0-9a-f]{32})", "target_label": "application_id",
     "replacement": "spark-$1"},
    # Gauges: <words>_Value -> spark_driver_<words>.
    {"source_labels": ["__name__", "type"], "regex": r"metrics_.+?_driver_(.+)_Value;gauges",
     "target_label": "__name__", "replacement": "spark_driver_$1"},
    # Counters: <words>_Count -> spark_driver_<words>_total, the Prometheus suffix for counters.
    {"source_labels": ["__name__", "type"], "regex": r"metrics_.+?_driver_(.+)_Count;counters",
     "target_label": "__name__", "replacement": "spark_driver_${1}_total"},
    # Timers, histograms and meters keep their statistic word (_Count, _Mean, _99thPercentile, ...).
    {"source_labels": ["__name__"], "regex": _SPARK_DRIVER, "target_label": "__name__",
     "replacement": "spark_driver_$2"},
    # The kind of metric is in the name now.
    {"regex": "type", "action": "labeldrop"},
)
# /metrics/executors/prometheus (spark.ui.prometheus.enabled) already labels every series with
# application_id, application_name and executor_id; only the prefix changes:
#   metrics_executor_activeTasks{...} -> spark_executor_activeTasks{...}
SPARK_EXECUTORS_METRIC_RELABEL: tuple[dict[str, Any], ...] = (
    {"source_labels": ["__name__"], "regex": r"metrics_executor_(.+)", "target_label": "__name__",
     "replacement": "spark_executor_$1"},
)




def restore_colon_names(prefix: str) -> tuple[dict[str, Any], ...]:
    """metric_relabel_configs giving back ``<prefix>:`` names that arrived escaped as ``<prefix>_``.

    vLLM and SGLang serve through prometheus_client's negotiating exposition. From prometheus_client
    0.23.1 on, a scraper asking for OpenMetrics without an ``escaping`` parameter (Prometheus 2.x) gets
    every name escaped to underscores (``vllm:num_requests_running`` arrives as
    ``vllm_num_requests_running``); Prometheus 3.x asks with ``escaping=allow-utf-8`` and gets the colons;
    older prometheus_client releases always send the colons. This rule stores one form, the engine's own,
    whatever the versions: Prometheus anchors the regex, so ``vllm:x`` (no underscore after the prefix) is
    left alone, and only the job it is attached to is touched.
    """
    return ({"source_labels": ["__name__"], "regex": f"{prefix}_(.+)", "target_label": "__name__",
             "replacement": f"{prefix}:$1"},)


@dataclass(frozen=True)
class Job:
    """One scrape job of the generated prometheus.yml: inventory key, job_name, metrics path and
    metric_relabel_configs.
    """

    kind: str  # the inventory key
    name: str  # job_name, fixed by the cross-team contract
    metrics_path: str
    metric_relabel: tuple[dict[str, Any], ...] = ()  # metric_relabel_configs, applied to every sample


JOBS = (
    Job("exporter", "spark-exporter", "/metrics"),
    Job("dcgm_exporter", "dcgm-exporter", "/metrics"),
    Job("node_exporter", "node-exporter", "/metrics"),
    # Inference servers; llama.cpp writes its own text (llamacpp: names) whatever the scraper asks.
    Job("vllm", "vllm", "/metrics", restore_colon_names("vllm")),
    Job("sglang", "sglang", "/metrics", restore_colon_names("sglang")),
    Job("llamacpp", "llamacpp", "/metrics"),
    # Apache Spark's driver, on its UI port (4040): PrometheusServlet, and the executors' summary.
    Job("spark", "spark", "/metrics/prometheus", SPARK_DRIVER_METRIC_RELABEL),
    Job("spark", "spark-executors", "/metrics/executors/prometheus", SPARK_EXECUTORS_METRIC_RELABEL),
)


def check_prom_duration(text: str) -> str:
    """Return ``text`` if it is a positive Prometheus duration (``15s``, ``1m30s``); else raise ValueError."""
    if parse_duration(text) <= 0:  # the one duration parser
        raise ValueError(f"duration {text!r} must be greater than zero")
    return text


def _relabel_configs() -> list[dict[str, Any]]:
    return [
        {"source_labels": [_TMP_CLUSTER], "target_label": "cluster"},
        {"source_labels": [_TMP_NODE], "target_label": "node"},
    ]


def _scrape_config(job: Job, inventory: Inventory) -> dict[str, Any] | None:
    static = []
    for node in inventory.nodes:
        address = node.endpoint(job.kind)
        if address is not None:
            labels = {_TMP_CLUSTER: inventory.cluster, _TMP_NODE: node.name}
            static.append({"targets": [address], "labels": labels})
    if not static:
        return None
    config: dict[str, Any] = {"job_name": job.name, "metrics_path": job.metrics_path, "static_configs": static,
                              "relabel_configs": _relabel_configs()}
    if job.metric_relabel:
        config["metric_relabel_configs"] = [dict(rule) for rule in job.metric_relabel]
    return config


def build_prometheus_config(inventory: Inventory, rule_files: list[str],
                            scrape_interval: str = DEFAULT_INTERVAL,
                            evaluation_interval: str = DEFAULT_INTERVAL,
                            alertmanager_urls: Sequence[str] = ()) -> dict[str, Any]:
    """The ``prometheus.yml`` document for ``inventory``, as a dict ready for ``yaml.safe_dump``.

    With ``alertmanager_urls`` (``http(s)://HOST:PORT[/PREFIX]``) it has an ``alerting:`` section sending
    to each; AlertmanagerConfigError for a bad URL, ValueError for a duration that is not positive.
    """
    check_prom_duration(scrape_interval)
    check_prom_duration(evaluation_interval)
    jobs = [cfg for job in JOBS if (cfg := _scrape_config(job, inventory)) is not None]
    config: dict[str, Any] = {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            # Added only to data leaving this server (remote_write, federation, alerts), where a
            # clustered store (Thanos, Mimir, VictoriaMetrics) needs to tell clusters apart.
            "external_labels": {"cluster": inventory.cluster},
        },
    }
    if alertmanager_urls:
        config["alerting"] = alertmanager.alerting_section(list(alertmanager_urls))
    config["rule_files"] = list(rule_files)
    config["scrape_configs"] = jobs
    return config


def render_prometheus_config(config: dict[str, Any], source: str) -> str:
    """``config`` as prometheus.yml text, under a header naming ``source`` and the retention flag."""
    header = (f"# Generated by 'spark-exporter config prometheus' from {source}; regenerate, do not edit.\n"
              f"# Run Prometheus with {RETENTION_FLAG} to keep 30 days of history.\n")
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)
