"""The ``spark-exporter`` command. No subcommand runs the daemon; subcommands are config, query, api, demo."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
from collections.abc import Sequence

import structlog

from . import __version__
from .collectors import load_all
from .collectors.base import Collector, Paths
from .exporter.app import build_app, serve
from .exporter.collection import Collection
from .http.server import Limits
from .http.webconfig import load_web_config
from .logs import setup_logging
from .settings import ConfigError, ExporterConfig, ExporterSchema

PROG = "spark-exporter"

# subcommand -> module exposing ``main(argv) -> int``
SUBCOMMANDS = {
    "config": "spark_exporter.prometheus.promconfig",
    "query": "spark_exporter.query.cli",
    "api": "spark_exporter.query.api_cli",
    "demo": "spark_exporter.demo",
    "gpu": "spark_exporter.nvml.record",
}


def fail(message: str, code: int = 2) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return code


def exporter_schema() -> ExporterSchema:
    registry = load_all()
    options = [o for cls in registry.values() for o in cls.options]
    return ExporterSchema({name: cls.default_enabled for name, cls in registry.items()}, options)


def build_parser(schema: ExporterSchema) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Prometheus exporter for DGX Spark: GPU metrics under dcgm-exporter names, host metrics "
        "under node_exporter names. Subcommands: " + ", ".join(SUBCOMMANDS) + " (see '%(prog)s SUBCOMMAND -h').",
    )
    parser.add_argument("--version", action="version", version=f"{PROG}, version {__version__}",
                        help="Print the version and exit.")
    schema.add_arguments(parser)
    return parser


def load_config(argv: Sequence[str], environ: dict[str, str] | None = None) -> ExporterConfig:
    schema = exporter_schema()
    _, cfg = schema.parse_args(build_parser(schema), argv, os.environ if environ is None else environ)
    assert isinstance(cfg, ExporterConfig)
    return cfg


def make_collectors(cfg: ExporterConfig) -> list[Collector]:
    registry = load_all()
    paths = Paths.from_config(cfg)
    return [registry[name](cfg, paths) for name in cfg.enabled_collectors]


def run_exporter(argv: Sequence[str]) -> int:
    try:
        cfg = load_config(argv)
        web_config = load_web_config(cfg["web.config.file"])
    except ConfigError as e:
        return fail(str(e))
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        return 0
    setup_logging(cfg["log.level"], cfg["log.format"])
    log = structlog.get_logger(component="main")
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


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        if args and args[0] in SUBCOMMANDS:
            module = importlib.import_module(SUBCOMMANDS[args[0]])
            return int(module.main(args[1:]))
        return run_exporter(args)
    except BrokenPipeError:
        # Output piped into e.g. `head`, which has exited: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
