"""``spark-exporter config prometheus``: a ``prometheus.yml`` generated from the cluster inventory.

This module also holds the ``spark-exporter config`` command line for all its subcommands
(``prometheus``; ``alertmanager``, built by :mod:`.alertmanager`; ``remote-write``, by
:mod:`.remote_write`; ``rules``/``grafana``, whose writers are in :mod:`.kit`); each takes its settings
from its schema in :mod:`spark_exporter.settings.options` like every other command.

Every target is labelled ``cluster`` and ``node`` by relabelling, so rules, dashboards and the query
module select ``node="spark-01"`` rather than an IP:port that changes when a node is re-addressed.
The recording and alerting rules in ``rules/`` are written against exactly these labels.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..settings import DEFAULT_RULE_FILES, ConfigError, Schema, Settings, format_duration, parse_duration
from ..settings.options import (
    config_alertmanager_schema,
    config_grafana_schema,
    config_prometheus_schema,
    config_remote_write_schema,
    config_rules_schema,
)
from . import alertmanager, kit
from .inventory import Inventory, load_inventory

PROG = "spark-exporter"
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
    Job("vllm", "vllm", "/metrics"),
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


# config subcommand -> (its settings schema, one-line help, description)
_COMMANDS: dict[str, tuple[Callable[[], Schema], str, str]] = {
    "prometheus": (config_prometheus_schema, "a prometheus.yml for the inventory, on stdout or into --output FILE",
                   "Generate a prometheus.yml for the cluster inventory: on stdout, or into --output FILE "
                   "(an existing file is kept unless --force)."),
    "alertmanager": (config_alertmanager_schema, "an alertmanager.yml routing and inhibiting the packaged alerts",
                     "Generate an alertmanager.yml for the packaged alerts: grouped by cluster and node, critical "
                     "to the 'page' receiver, warning and info to 'notify', a down node or lost GPU silencing "
                     "the alerts it explains; on stdout, or into --output FILE (kept unless --force)."),
    "remote-write": (config_remote_write_schema, "agents remote-writing to VictoriaMetrics, vmalert, the API",
                     "Generate a central-storage set-up into --output DIR: vmagent.yml (or prometheus-agent.yml "
                     "for Prometheus in agent mode) scraping the inventory and remote-writing to VictoriaMetrics, "
                     "the rules for vmalert, and commands.sh with each service's command line."),
    "rules": (config_rules_schema, "write the packaged Prometheus rule files into a directory",
              "Write the recording and alerting rule files into --output DIR."),
    "grafana": (config_grafana_schema, "write the dashboards and Grafana provisioning files into a directory",
                "Write the dashboards (DIR/dashboards) and provisioning files for a Prometheus data source "
                "and a dashboard provider (DIR/provisioning) into --output DIR."),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} config",
                                     description="Generate configuration for the cluster: prometheus.yml, "
                                     "alertmanager.yml, a remote-write set-up, the rule files, the Grafana dashboards.")
    sub = parser.add_subparsers(dest="what", required=True, metavar="{" + ",".join(_COMMANDS) + "}")
    for name, (schema, help_text, description) in _COMMANDS.items():
        schema().add_arguments(sub.add_parser(name, help=help_text, description=description))
    return parser


def _config_prometheus(cfg: Settings, parser: argparse.ArgumentParser) -> int:
    inventory = load_inventory(cfg["inventory"]) if cfg["inventory"] else None  # ConfigError: exit 2
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        return 0
    if inventory is None:
        parser.error("config prometheus: --inventory is required (or SPARK_EXPORTER_INVENTORY, or inventory: "
                     "in --config.file)")
    scrape_interval = format_duration(cfg["scrape-interval"])
    evaluation_interval = format_duration(cfg["evaluation-interval"] or cfg["scrape-interval"])
    rule_files = list(cfg["rule-files"]) or [DEFAULT_RULE_FILES]  # an empty list in a file
    config = build_prometheus_config(inventory, rule_files, scrape_interval, evaluation_interval,
                                     cfg["alertmanager.url"])
    text = render_prometheus_config(config, cfg["inventory"])
    if cfg["output"] is None:
        sys.stdout.write(text)
        return 0
    path = kit.write_file(cfg["output"], text, cfg["force"])
    print(f"wrote {path}\nCheck it with: promtool check config {path}")
    return 0


def _config_alertmanager(cfg: Settings) -> int:
    timing = alertmanager.Timing(cfg["group-wait"], cfg["group-interval"], cfg["repeat-interval"],
                                 cfg["resolve-timeout"])
    config = alertmanager.build_alertmanager_config(cfg["webhook-url"], cfg["page-webhook-url"], timing)
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        return 0
    text = alertmanager.render_alertmanager_config(config)
    if cfg["output"] is None:
        sys.stdout.write(text)
        return 0
    path = kit.write_file(cfg["output"], text, cfg["force"])
    print(f"wrote {path}\nCheck it with: amtool check-config {path}")
    return 0


def _config_remote_write(cfg: Settings, parser: argparse.ArgumentParser) -> int:
    # remote_write builds on this module's build_prometheus_config: imported here until this command line
    # moves to spark_exporter/commands/, which can import both at the top.
    from . import remote_write

    inventory = load_inventory(cfg["inventory"]) if cfg["inventory"] else None  # ConfigError: exit 2
    store = remote_write.Store(cfg["victoria-metrics.write-url"],
                               cfg["victoria-metrics.read-url"] or cfg["victoria-metrics.write-url"]).checked()
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        return 0
    if inventory is None:
        parser.error("config remote-write: --inventory is required (or SPARK_EXPORTER_INVENTORY, or inventory: "
                     "in --config.file)")
    if cfg["output"] is None:
        raise kit.KitError("--output DIR is required (or SPARK_EXPORTER_OUTPUT, or output: in --config.file)")
    written = remote_write.write_remote_write(inventory, str(Path(cfg["inventory"]).absolute()), cfg["output"], store,
                                              cfg["alertmanager.url"], format_duration(cfg["scrape-interval"]),
                                              cfg["force"])
    for path in written:
        print(f"wrote {path}")
    print(f"Run each line of {Path(cfg['output']).absolute() / 'commands.sh'} as a service "
          "(the agent at each site; vmalert and the API next to VictoriaMetrics).")
    return 0


def main(argv: Sequence[str]) -> int:
    """``spark-exporter config prometheus|alertmanager|remote-write|rules|grafana``: exit 0 done, 2 on bad input or a
    refused overwrite."""
    argv = list(argv)
    parser = _parser()
    if not argv or argv[0] not in _COMMANDS:
        parser.parse_args(argv)  # --help, or a usage error naming the subcommands (exit 2)
        return 2
    what = argv[0]
    try:
        _, cfg = _COMMANDS[what][0]().parse_args(parser, argv, os.environ)
        if what == "prometheus":
            return _config_prometheus(cfg, parser)
        if what == "alertmanager":
            return _config_alertmanager(cfg)
        if what == "remote-write":
            return _config_remote_write(cfg, parser)
        return kit.run(what, cfg)
    except ConfigError as e:  # AlertmanagerConfigError and RemoteWriteError too
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except kit.KitError as e:
        print(f"{PROG} config {what}: error: {e}", file=sys.stderr)
        return 2
