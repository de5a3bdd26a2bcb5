"""``spark-exporter api``: serve the telemetry JSON API (and the Command Center page) from Prometheus.

Settings come from :func:`spark_exporter.settings.api_schema`, the token from ``--api.token-file``,
TLS and basic auth from ``--web.config.file``. Exit status: 0 after SIGINT/SIGTERM, 1 when the
address cannot be bound, 2 on bad settings or a bad file (one line naming it). The app itself is
:mod:`spark_exporter.query.api`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from ..logs import setup_logging
from ..query.api import ApiSettings, build_app, serve_api
from ..query.connect import api_settings, rollups_from_settings
from ..query.rollups import Rollups
from ..settings import Schema, Settings, api_schema
from ..settings.parser import Parser
from .runner import PROG, Command, fail, os_reason, run

NAME = "api"
log = structlog.get_logger(component="api")


def build_parser() -> Parser:
    """The ``api`` parser: every setting of :func:`api_schema`, grouped."""
    p = Parser(prog=f"{PROG} {NAME}", description="Serve the cluster telemetry JSON API from Prometheus.")
    api_schema().add_arguments(p, grouped=True)
    return p


@dataclass
class _Api:
    cfg: Settings
    settings: ApiSettings
    host: str
    port: int
    rollups: Rollups


def _schema(ns: argparse.Namespace) -> Schema:
    return api_schema()


def _prepare(ns: argparse.Namespace, cfg: Settings) -> _Api:
    settings, host, port = api_settings(cfg)
    return _Api(cfg, settings, host, port, rollups_from_settings(cfg))


def _execute(api: _Api) -> int:
    setup_logging(api.cfg["log.level"], api.cfg["log.format"])
    for warning in api.settings.web_config.warnings:
        log.warning("web_config_warning", warning=warning)
    app = build_app(api.rollups, api.settings)

    async def serve() -> None:
        await serve_api(app, api.host, api.port, api.settings, asyncio.Event(), handle_signals=True)

    try:
        asyncio.run(serve())
    except OSError as e:
        return fail(COMMAND.prog, f"cannot listen on {api.cfg['web.listen-address']}: {os_reason(e)}")
    log.info("stopped")
    return 0


COMMAND = Command(NAME, build_parser, _schema, _prepare, _execute,
                  warnings=lambda api: list(api.settings.web_config.warnings))


def main(argv: Sequence[str]) -> int:
    """``spark-exporter api``: serve the JSON API until a signal; exit status 0, 1 or 2."""
    return run(COMMAND, argv)
