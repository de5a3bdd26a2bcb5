"""``spark-exporter config prometheus|rules|grafana``: generate configuration for the cluster.

``prometheus`` writes a prometheus.yml for the inventory (stdout or ``--output FILE``); ``rules``
and ``grafana`` write the packaged rule files, dashboards and provisioning files into ``--output
DIR``. Exit status 0 when done, 2 on bad input or a refused overwrite. The generators are
:mod:`spark_exporter.prometheus.promconfig` and :mod:`spark_exporter.prometheus.kit`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..prometheus import kit
from ..prometheus.inventory import Inventory, load_inventory
from ..prometheus.promconfig import build_prometheus_config, render_prometheus_config
from ..settings import DEFAULT_RULE_FILES, ConfigError, Schema, Settings, format_duration
from ..settings.options import config_grafana_schema, config_prometheus_schema, config_rules_schema
from ..settings.parser import Parser
from .runner import PROG, Command, fail, run

NAME = "config"

# config subcommand -> (its settings schema, one-line help, description)
WHAT: dict[str, tuple[Callable[[], Schema], str, str]] = {
    "prometheus": (config_prometheus_schema, "a prometheus.yml for the inventory, on stdout or into --output FILE",
                   "Generate a prometheus.yml for the cluster inventory: on stdout, or into --output FILE "
                   "(an existing file is kept unless --force)."),
    "rules": (config_rules_schema, "write the packaged Prometheus rule files into a directory",
              "Write the recording and alerting rule files into --output DIR."),
    "grafana": (config_grafana_schema, "write the dashboards and Grafana provisioning files into a directory",
                "Write the dashboards (DIR/dashboards) and provisioning files for a Prometheus data source "
                "and a dashboard provider (DIR/provisioning) into --output DIR."),
}


def build_parser() -> Parser:
    """The ``config`` parser: one subcommand per generator, each with its own settings."""
    parser = Parser(prog=f"{PROG} {NAME}", description="Generate configuration for the cluster: prometheus.yml, "
                    "the rule files, the Grafana dashboards.")
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


def _schema(ns: argparse.Namespace) -> Schema:
    return WHAT[ns.what][0]()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> _Config:
    inventory = None
    if ns.what == "prometheus" and cfg["inventory"]:
        inventory = load_inventory(cfg["inventory"])
    if ns.what == "grafana":
        try:
            kit.check_prometheus_url(cfg["prometheus.url"])
        except kit.KitError as e:
            raise ConfigError(str(e)) from None
    return _Config(ns.what, cfg, inventory)


def _prometheus(c: _Config) -> int:
    cfg = c.cfg
    if c.inventory is None:
        raise ConfigError("--inventory is required (or SPARK_EXPORTER_INVENTORY, or inventory: in --config.file)")
    scrape_interval = format_duration(cfg["scrape-interval"])
    evaluation_interval = format_duration(cfg["evaluation-interval"] or cfg["scrape-interval"])
    rule_files = list(cfg["rule-files"]) or [DEFAULT_RULE_FILES]  # an empty list in a file
    config = build_prometheus_config(c.inventory, rule_files, scrape_interval, evaluation_interval)
    text = render_prometheus_config(config, cfg["inventory"])
    if cfg["output"] is None:
        sys.stdout.write(text)
        return 0
    path = kit.write_file(cfg["output"], text, cfg["force"])
    print(f"wrote {path}\nCheck it with: promtool check config {path}")
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


def _execute(c: _Config) -> int:
    try:
        return _prometheus(c) if c.what == "prometheus" else _kit(c)
    except kit.KitError as e:  # a refused overwrite, a file that cannot be written
        return fail(f"{PROG} {NAME} {c.what}", str(e), 2)


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute)


def main(argv: Sequence[str]) -> int:
    """``spark-exporter config prometheus|rules|grafana``: exit 0 done, 2 on bad input or a refused overwrite."""
    return run(COMMAND, argv)
