"""Rollups over a Prometheus client, built from the shared ``--prometheus.*`` and ``--inventory`` settings,
and the API server's settings (:func:`api_settings`).

Used by the API's command line, the query CLI and anything else that reads Prometheus; none of
them imports another's module for it.
"""

from __future__ import annotations

import ipaddress

from ..http.server import Limits
from ..http.webconfig import load_web_config
from ..prometheus.inventory import Inventory, load_inventory
from ..settings import ConfigError, Settings, parse_listen_address, read_token_file
from .api import ApiSettings
from .client import (
    DEFAULT_ANSWER_BUDGET_BYTES,
    DEFAULT_BUDGET_WAIT,
    DEFAULT_MAX_RESPONSE_BYTES,
    AnswerBudget,
    InvalidParameter,
    PrometheusClient,
)
from .httpconfig import load_http_config
from .rollups import Rollups


def make_rollups(url: str, inventory_path: str | None, timeout: float, scrape_interval: float,
                 where: str = "--prometheus.url", http_config_file: str | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
                 answer_budget_bytes: int = DEFAULT_ANSWER_BUDGET_BYTES) -> Rollups:
    """Rollups against ``url``; node names are checked against the inventory when one is given.

    ``timeout`` (s) is the deadline of one rollup, all its queries together. ``http_config_file`` is
    Prometheus' HTTP client configuration (auth, TLS). Raises ConfigError (one line naming the flag
    or the file) for a bad URL, inventory or HTTP configuration, or an answer budget
    (``answer_budget_bytes``, all concurrent answers together) smaller than one answer may be.
    """
    if answer_budget_bytes < max_response_bytes:
        raise ConfigError(f"--prometheus.answer-budget-bytes ({answer_budget_bytes}) must be at least "
                          f"--prometheus.max-response-bytes ({max_response_bytes}): a largest answer must fit")
    inventory: Inventory | None = load_inventory(inventory_path) if inventory_path else None
    http_config = load_http_config(http_config_file) if http_config_file else None
    try:
        client = PrometheusClient(url, timeout=timeout, http_config=http_config,
                                  max_response_bytes=max_response_bytes,
                                  budget=AnswerBudget(answer_budget_bytes, min(DEFAULT_BUDGET_WAIT, timeout)))
    except InvalidParameter as e:
        raise ConfigError(f"{where}: {e}") from None
    return Rollups(client, inventory, scrape_interval=scrape_interval, deadline=timeout)


def rollups_from_settings(cfg: Settings) -> Rollups:
    """:func:`make_rollups` with ``prometheus.url``, ``inventory``, ``prometheus.timeout`` and
    ``prometheus.scrape-interval`` from resolved settings."""
    return make_rollups(cfg["prometheus.url"], cfg["inventory"], cfg["prometheus.timeout"],
                        cfg["prometheus.scrape-interval"], cfg.where("prometheus.url"),
                        cfg["prometheus.http-config-file"], cfg["prometheus.max-response-bytes"],
                        cfg["prometheus.answer-budget-bytes"])


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


def api_settings(cfg: Settings) -> tuple[ApiSettings, str, int]:
    """Validate the ``api`` settings and read the files they name: the API settings and (host, port).

    Raises ConfigError (one line naming the flag or file): a token and basic-auth users together, or
    a non-loopback address with neither and without ``--api.insecure``.
    """
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
