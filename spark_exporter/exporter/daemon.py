"""The per-node daemon as functions: its settings, its collectors, and serving ``/metrics``.

The command line (``spark-exporter`` without a subcommand) is :mod:`spark_exporter.commands.exporter`.
Settings come from :class:`spark_exporter.settings.ExporterSchema` (flags > ``SPARK_EXPORTER_*`` >
``--config.file`` > defaults); the collectors are every module found in :mod:`spark_exporter.collectors`.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Mapping, Sequence

import structlog

from .. import __version__
from ..collectors import load_all
from ..collectors.base import Collector, Paths
from ..http.server import Limits
from ..http.webconfig import WebConfig
from ..settings import ExporterConfig, ExporterSchema
from ..settings.node_exporter import flag_kind
from ..settings.parser import PROG, Parser
from .app import build_app, serve
from .collection import Collection


def exporter_schema() -> ExporterSchema:
    """The daemon's settings: the core options plus every discovered collector's switch and options."""
    registry = load_all()
    options = [o for cls in registry.values() for o in cls.options]
    return ExporterSchema({name: cls.default_enabled for name, cls in registry.items()}, options)


def load_config(argv: Sequence[str] = (), environ: Mapping[str, str] | None = None) -> ExporterConfig:
    """Resolve the daemon's settings from flags (``argv``), ``environ`` (default: the process
    environment) and ``--config.file``. Raises ConfigError (one line naming the source; a flag that
    does not parse is its subclass UsageError)."""
    schema = exporter_schema()
    parser = Parser(prog=PROG, ignorable=flag_kind)
    schema.add_arguments(parser)
    _, cfg = schema.parse_args(parser, argv, os.environ if environ is None else environ)
    assert isinstance(cfg, ExporterConfig)
    return cfg


def make_collectors(cfg: ExporterConfig) -> list[Collector]:
    """One instance of each enabled collector, reading through ``--path.*``. Raises ConfigError."""
    registry = load_all()
    paths = Paths.from_config(cfg)
    return [registry[name](cfg, paths) for name in cfg.enabled_collectors]


def tune_gc() -> None:
    """Set the garbage collector for a daemon whose work is short scrapes: what start-up built (modules,
    collectors, the app) is moved out of the collector's view (``gc.freeze``), and the youngest generation
    is collected after 10,000 allocations instead of 700. A scrape allocates tens of thousands of
    short-lived objects that reference counting frees; with the defaults each scrape ran dozens of
    collections that found nothing (``bench/bench_host.py``, docs/benchmarks.md has the figures)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def serve_daemon(cfg: ExporterConfig, web_config: WebConfig) -> None:
    """Build the collectors and serve ``/metrics`` until SIGINT/SIGTERM; collectors are stopped after.

    Raises ConfigError (a collector refuses its settings) or OSError (the address cannot be bound).
    """
    log = structlog.get_logger(component="main")
    collectors = make_collectors(cfg)
    loop = Collection(collectors, timeout=cfg["collect.timeout"], min_age=cfg["collect.min-age"],
                      exporter_metrics=not cfg["web.disable-exporter-metrics"])
    log.info("starting", version=__version__, collectors=",".join(cfg.enabled_collectors),
             min_age_seconds=cfg["collect.min-age"], timeout_seconds=cfg["collect.timeout"],
             config_file=cfg.config_file)
    app = build_app(loop, cfg.telemetry_path, web_config, Limits.from_values(cfg.values),
                    max_requests=cfg["web.max-requests"])
    tune_gc()
    try:
        asyncio.run(serve(app, cfg.listen_address, web_config))
    except KeyboardInterrupt:
        pass
    finally:
        loop.stop()
    log.info("stopped")
