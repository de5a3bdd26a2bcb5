"""``spark-exporter config prometheus|alertmanager|remote-write|rules|grafana``: generate configuration.

``prometheus`` writes a prometheus.yml for the inventory (stdout or ``--output FILE``; with
``--alertmanager.url`` an ``alerting:`` section); ``alertmanager`` an alertmanager.yml routing and
inhibiting the packaged alerts (stdout or ``--output FILE``); ``remote-write`` a central-storage set-up
(vmagent.yml, prometheus-agent.yml, rules for vmalert, commands.sh) into ``--output DIR``; ``rules``
and ``grafana`` write the packaged rule files, dashboards and provisioning files into ``--output
DIR``. Exit status 0 when done, 2 on bad input or a refused overwrite. The generators are
:mod:`spark_exporter.prometheus.promconfig`, :mod:`~spark_exporter.prometheus.alertmanager`,
:mod:`~spark_exporter.prometheus.remote_write` and :mod:`spark_exporter.prometheus.kit`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..prometheus import alertmanager, kit, remote_write
from ..prometheus.inventory import Inventory, load_inventory
from ..prometheus.promconfig import build_prometheus_config, render_prometheus_config
from ..settings import DEFAULT_RULE_FILES, ConfigError, Schema, Settings, format_duration
from ..settings.options import (
    config_alertmanager_schema,
    config_grafana_schema,
    config_prometheus_schema,
    config_remote_write_schema,
    config_rules_schema,
)
from ..settings.parser import Parser
from .runner import PROG, Command, fail, run

NAME = "config"

# config subcommand -> (its settings schema, one-line help, description)
WHAT: dict[str, tuple[Callable[[], Schema], str, str]] = {
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


def build_parser() -> Parser:
    """The ``config`` parser: one subcommand per generator, each with its own settings."""
    parser = Parser(prog=f"{PROG} {NAME}", description="Generate configuration for the cluster: prometheus.yml, "
                    "alertmanager.yml, a remote-write set-up, the rule files, the Grafana dashboards.")
    sub = parser.add_subparsers(dest="what", required=True, metavar="{" + ",".join(WHAT) + "}")
    for name, (schema, help_text, description) in WHAT.items():
        sp = sub.add_parser(name, help=help_text, description=description)
        sp.set_defaults(prog=sp.prog)
        schema().add_arguments(sp)
    return parser


@dataclass
class _Config:
    what: str
    cfg: Settings
    inventory: Inventory | None
    alertmanager: dict[str, Any] | None = None  # config alertmanager: the document, built and checked
    store: remote_write.Store | None = None  # config remote-write: the central VictoriaMetrics, checked


def _schema(ns: argparse.Namespace) -> Schema:
    return WHAT[ns.what][0]()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> _Config:
    inventory = None
    if ns.what in ("prometheus", "remote-write") and cfg["inventory"]:
        inventory = load_inventory(cfg["inventory"])
    if ns.what == "grafana":
        try:
            kit.check_prometheus_url(cfg["prometheus.url"])
        except kit.KitError as e:
            raise ConfigError(str(e)) from None
    c = _Config(ns.what, cfg, inventory)
    if ns.what == "prometheus" and cfg["alertmanager.url"]:
        alertmanager.alerting_section(list(cfg["alertmanager.url"]))  # AlertmanagerConfigError: a bad URL
    elif ns.what == "alertmanager":
        timing = alertmanager.Timing(cfg["group-wait"], cfg["group-interval"], cfg["repeat-interval"],
                                     cfg["resolve-timeout"])
        c.alertmanager = alertmanager.build_alertmanager_config(cfg["webhook-url"], cfg["page-webhook-url"], timing)
    elif ns.what == "remote-write":
        write_url = cfg["victoria-metrics.write-url"]
        c.store = remote_write.Store(write_url, cfg["victoria-metrics.read-url"] or write_url).checked()
    return c


def _prometheus(c: _Config) -> int:
    cfg = c.cfg
    if c.inventory is None:
        raise ConfigError("--inventory is required (or SPARK_EXPORTER_INVENTORY, or inventory: in --config.file)")
    scrape_interval = format_duration(cfg["scrape-interval"])
    evaluation_interval = format_duration(cfg["evaluation-interval"] or cfg["scrape-interval"])
    rule_files = list(cfg["rule-files"]) or [DEFAULT_RULE_FILES]  # an empty list in a file
    config = build_prometheus_config(c.inventory, rule_files, scrape_interval, evaluation_interval,
                                     cfg["alertmanager.url"])
    return _emit(cfg, render_prometheus_config(config, cfg["inventory"]), "promtool check config")


def _alertmanager(c: _Config) -> int:
    assert c.alertmanager is not None
    return _emit(c.cfg, alertmanager.render_alertmanager_config(c.alertmanager), "amtool check-config")


def _emit(cfg: Settings, text: str, check: str) -> int:
    """``text`` on stdout, or into ``--output FILE`` (kept unless ``--force``) with how to check it."""
    if cfg["output"] is None:
        sys.stdout.write(text)
        return 0
    path = kit.write_file(cfg["output"], text, cfg["force"])
    print(f"wrote {path}\nCheck it with: {check} {path}")
    return 0


def _remote_write(c: _Config) -> int:
    cfg = c.cfg
    assert c.store is not None
    if c.inventory is None:
        raise ConfigError("--inventory is required (or SPARK_EXPORTER_INVENTORY, or inventory: in --config.file)")
    if cfg["output"] is None:
        raise ConfigError("--output DIR is required (or SPARK_EXPORTER_OUTPUT, or output: in --config.file)")
    written = remote_write.write_remote_write(c.inventory, str(Path(cfg["inventory"]).absolute()), cfg["output"],
                                              c.store, cfg["alertmanager.url"],
                                              format_duration(cfg["scrape-interval"]), cfg["force"])
    for path in written:
        print(f"wrote {path}")
    print(f"Run each line of {Path(cfg['output']).absolute() / 'commands.sh'} as a service "
          "(the agent at each site; vmalert and the API next to VictoriaMetrics).")
    return 0


def _kit(c: _Config) -> int:
    cfg = c.cfg
    if cfg["output"] is None:
        raise ConfigError("--output DIR is required (or SPARK_EXPORTER_OUTPUT, or output: in --config.file)")
    if c.what == "rules":
        written = kit.write_rules(cfg["output"], cfg["force"])
    else:
        written = kit.write_grafana(cfg["output"], cfg["prometheus.url"], cfg["force"])
    for path in written:
        print(f"wrote {path}")
    out = Path(cfg["output"]).absolute()
    if c.what == "rules":
        print(f"Check them with: promtool check rules {out}/*.yml\n"
              f"Load them from prometheus.yml (rule_files: ['{out}/*.yml']) or generate one that does:\n"
              f"  {PROG} config prometheus --inventory inventory.yml --rule-files '{out}/*.yml'")
    else:
        print(f"Point Grafana at them: copy {out}/provisioning/datasources/*.yaml and "
              f"{out}/provisioning/dashboards/*.yaml into Grafana's provisioning directories "
              f"(/etc/grafana/provisioning/ on Debian) and restart Grafana; "
              f"the provider reads the dashboards from {out}/dashboards.")
    return 0


_RUN: dict[str, Callable[[_Config], int]] = {
    "prometheus": _prometheus, "alertmanager": _alertmanager, "remote-write": _remote_write,
    "rules": _kit, "grafana": _kit,
}


def _execute(c: _Config) -> int:
    try:
        return _RUN[c.what](c)
    except kit.KitError as e:  # a refused overwrite, a file that cannot be written
        return fail(f"{PROG} {NAME} {c.what}", str(e), 2)


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute)


def main(argv: Sequence[str]) -> int:
    """``spark-exporter config prometheus|alertmanager|remote-write|rules|grafana``: exit 0 done, 2 on bad input
    or a refused overwrite."""
    return run(COMMAND, argv)
