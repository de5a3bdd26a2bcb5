"""``spark-exporter api``: the command line of the telemetry JSON API.

Settings come from :func:`spark_exporter.settings.api_schema` (flags > ``SPARK_EXPORTER_*`` >
``--config.file`` > defaults), the token from ``--api.token-file``, TLS and basic auth from
``--web.config.file``. Exit status: 0 after SIGINT/SIGTERM, 1 when the address cannot be bound,
2 on bad settings or a bad file (one line naming it). The app itself is :mod:`.api`.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import sys
from collections.abc import Sequence

import structlog

from ..http.server import Limits
from ..http.webconfig import load_web_config
from ..logs import setup_logging
from ..settings import ConfigError, Settings, api_schema, parse_listen_address, read_token_file
from .api import ApiSettings, build_app, serve_api
from .connect import rollups_from_settings

log = structlog.get_logger(component="api")

PROG = "spark-exporter api"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Serve the cluster telemetry JSON API from Prometheus.")
    api_schema().add_arguments(p)
    return p


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses; False for other names and addresses."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    """The bearer token in ``path``: one word of at least 16 printable characters; else ConfigError."""
    return read_token_file(path, "token file")


def settings_from_config(cfg: Settings) -> tuple[ApiSettings, str, int]:
    """Validate the settings and read the files they name; the API settings and (host, port) to bind."""
    listen = cfg["web.listen-address"]
    host, port = parse_listen_address(listen)  # validated when resolved
    token = read_token(cfg["api.token-file"]) if cfg["api.token-file"] else None
    web_config = load_web_config(cfg["web.config.file"])
    if token is not None and web_config.users:
        # Both travel in the one Authorization header, so no request could carry both.
        raise ConfigError("--api.token-file and basic_auth_users in --web.config.file cannot be combined: "
                          "both use the Authorization header, so every request would be refused; keep one")
    if token is None and not web_config.users and not cfg["api.insecure"] and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {listen!r} without --api.token-file or basic_auth_users in "
            "--web.config.file: the API would be open to the network (bind to 127.0.0.1, give a token "
            "file or users, or pass --api.insecure)"
        )
    settings = ApiSettings(
        token=token,
        cors_origins=frozenset(cfg["api.cors-origin"]),
        rate_limit=cfg["api.rate-limit"],
        rate_burst=cfg["api.rate-burst"],
        cache_ttl=cfg["api.cache-ttl"],
        web_config=web_config,
        limits=Limits.from_values(cfg.values),
    )
    return settings, host, port


def main(argv: Sequence[str]) -> int:
    """``spark-exporter api``: serve the JSON API until a signal.

    Exit status 0, 1 (cannot listen) or 2 (bad settings).
    """
    try:
        _, cfg = api_schema().parse_args(_parser(), argv, os.environ)
        settings, host, port = settings_from_config(cfg)
        rollups = rollups_from_settings(cfg)
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    if cfg.check_only:
        print("\n".join(cfg.describe()))
        for warning in settings.web_config.warnings:
            print(f"{PROG}: warning: {warning}", file=sys.stderr)
        return 0
    setup_logging(cfg["log.level"], cfg["log.format"])
    for warning in settings.web_config.warnings:
        log.warning("web_config_warning", warning=warning)
    app = build_app(rollups, settings)

    async def run() -> None:
        await serve_api(app, host, port, settings, asyncio.Event(), handle_signals=True)

    try:
        asyncio.run(run())
    except OSError as e:
        print(f"{PROG}: error: cannot listen on {cfg['web.listen-address']}: {e.strerror or e}", file=sys.stderr)
        return 1
    log.info("stopped")
    return 0
