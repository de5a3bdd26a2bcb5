"""The per-node daemon's entry point: resolve its settings, build the collectors, serve ``/metrics``.

``spark-exporter`` without a subcommand lands here (through :mod:`spark_exporter.cli`). Settings come
from :class:`spark_exporter.settings.ExporterSchema` (flags > ``SPARK_EXPORTER_*`` > ``--config.file``
> defaults); the collectors are every module found in :mod:`spark_exporter.collectors`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence

import structlog

from .. import __version__
from ..collectors import load_all
from ..collectors.base import Collector, Paths
from ..http.server import Limits
from ..http.webconfig import load_web_config
from ..logs import setup_logging
from ..settings import ConfigError, ExporterConfig, ExporterSchema
from .app import build_app, serve
from .collection import Collection

PROG = "spark-exporter"


def fail(message: str, code: int = 2) -> int:
    """Print ``<prog>: error: <message>`` to stderr and return ``code`` (2 by default) as the exit status."""
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def exporter_schema() -> ExporterSchema:
    """The daemon's settings: the core options plus every discovered collector's switch and options."""
    registry = load_all()
    options = [o for cls in registry.values() for o in cls.options]
    return ExporterSchema({name: cls.default_enabled for name, cls in registry.items()}, options)


def build_parser(schema: ExporterSchema, subcommands: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The daemon's flags (every option of ``schema``); ``subcommands`` are named in the description."""
    more = f" Subcommands: {', '.join(subcommands)} (see '%(prog)s SUBCOMMAND -h')." if subcommands else ""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Prometheus exporter for DGX Spark: GPU metrics under dcgm-exporter names, host metrics "
        "under node_exporter names." + more,
    )
    parser.add_argument("--version", action="version", version=f"{PROG}, version {__version__}",
                        help="Print the version and exit.")
    schema.add_arguments(parser)
    return parser


def load_config(argv: Sequence[str], environ: dict[str, str] | None = None,
                subcommands: Sequence[str] = ()) -> ExporterConfig:
    """Resolve the daemon's settings from flags, ``environ`` (default: the process environment) and
    ``--config.file``. Raises ConfigError (one line naming the source); argparse exits 2 on bad flags."""
    schema = exporter_schema()
    _, cfg = schema.parse_args(build_parser(schema, subcommands), argv, os.environ if environ is None else environ)
    assert isinstance(cfg, ExporterConfig)
    return cfg


def make_collectors(cfg: ExporterConfig) -> list[Collector]:
    """One instance of each enabled collector, reading through ``--path.*``. Raises ConfigError."""
    registry = load_all()
    paths = Paths.from_config(cfg)
    return [registry[name](cfg, paths) for name in cfg.enabled_collectors]


def run_exporter(argv: Sequence[str], subcommands: Sequence[str] = ()) -> int:
    """Run the daemon until SIGINT/SIGTERM. Exit status 0, 1 (address not bindable) or 2 (bad settings)."""
    try:
        cfg = load_config(argv, subcommands=subcommands)
        web_config = load_web_config(cfg["web.config.file"])
    except ConfigError as e:
        return fail(str(e))
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        for warning in web_config.warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        return 0
    setup_logging(cfg["log.level"], cfg["log.format"])
    log = structlog.get_logger(component="main")
    for warning in web_config.warnings:
        log.warning("web_config_warning", warning=warning)
    try:
        collectors = make_collectors(cfg)
    except ConfigError as e:
        return fail(str(e))
    loop = Collection(collectors, timeout=cfg["collect.timeout"], min_age=cfg["collect.min-age"])
    log.info("starting", version=__version__, collectors=",".join(cfg.enabled_collectors),
             min_age_seconds=cfg["collect.min-age"], timeout_seconds=cfg["collect.timeout"],
             config_file=cfg.config_file)
    app = build_app(loop, cfg.telemetry_path, web_config, Limits.from_values(cfg.values))
    try:
        asyncio.run(serve(app, cfg.listen_address, web_config))
    except OSError as e:
        loop.stop()
        return fail(f"cannot listen on {cfg.listen_address}: {e.strerror or e}", 1)
    except KeyboardInterrupt:
        pass
    loop.stop()
    log.info("stopped")
    return 0


