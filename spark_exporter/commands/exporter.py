"""``spark-exporter`` without a subcommand: the per-node daemon serving ``/metrics``.

Exit status 0 after SIGINT/SIGTERM, 1 when the address cannot be bound, 2 on bad settings. The
daemon itself is :mod:`spark_exporter.exporter.daemon`.
"""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Sequence

import structlog

from .. import __version__
from ..exporter.daemon import exporter_schema, serve_daemon
from ..http.webconfig import WebConfig, load_web_config
from ..logs import setup_logging
from ..settings import ExporterConfig, Schema, Settings
from ..settings.node_exporter import flag_kind
from ..settings.parser import Parser
from .runner import PROG, SUBCOMMANDS, Command, fail, os_reason, run

#: The flags ``spark-exporter --help`` shows; ``--help-all`` shows every one.
COMMON = ("web.listen-address", "web.config.file", "collect.min-age", "collect.timeout",
          "log.level", "gpu.simulate")


def build_parser() -> Parser:
    """The daemon's parser: every setting of :func:`exporter_schema`, grouped by the first part of its key."""
    schema = exporter_schema()
    width = max(len(n) for n in SUBCOMMANDS)
    subcommands = "\n".join(f"  {name:<{width}}  {summary}" for name, (_, summary) in SUBCOMMANDS.items())
    collectors = textwrap.fill(", ".join(schema.collector_defaults), width=100, initial_indent="  ",
                               subsequent_indent="  ")
    parser = Parser(
        prog=PROG,
        usage=f"{PROG} [FLAGS]\n       {PROG} SUBCOMMAND [FLAGS]   ('{PROG} SUBCOMMAND --help')",
        description="Prometheus exporter for DGX Spark: GPU metrics under dcgm-exporter names, host metrics "
        f"under node_exporter names, served on /metrics.\n\nsubcommands:\n{subcommands}",
        epilog=f"collectors (--collector.NAME / --no-collector.NAME, options in --help-all):\n{collectors}",
        common=COMMON,
        ignorable=flag_kind,  # a node_exporter flag this build lacks: dropped with a warning, not refused
    )
    parser.add_argument("--version", action="version", version=f"{PROG}, version {__version__}",
                        help="Print the version and exit.")
    schema.add_arguments(parser, grouped=True)
    return parser


def _schema(ns: argparse.Namespace) -> Schema:
    return exporter_schema()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> tuple[ExporterConfig, WebConfig]:
    assert isinstance(cfg, ExporterConfig)
    return cfg, load_web_config(cfg["web.config.file"])


def _execute(state: tuple[ExporterConfig, WebConfig]) -> int:
    cfg, web_config = state
    setup_logging(cfg["log.level"], cfg["log.format"])
    for line in cfg.warnings:
        structlog.get_logger(component="main").warning("setting_warning", detail=line)
    for warning in web_config.warnings:
        structlog.get_logger(component="main").warning("web_config_warning", warning=warning)
    try:
        serve_daemon(cfg, web_config)
    except OSError as e:
        return fail(PROG, f"cannot listen on {cfg.listen_address}: {os_reason(e)}")
    return 0


COMMAND = Command("", build_parser, _schema, _prepare, _execute,
                  warnings=lambda state: list(state[1].warnings))


def main(argv: Sequence[str]) -> int:
    """``spark-exporter [FLAGS]``: run the daemon until a signal; exit status 0, 1 or 2."""
    return run(COMMAND, argv)
