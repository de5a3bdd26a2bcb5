"""Rollups over a Prometheus client, built from the shared ``--prometheus.*`` and ``--inventory`` settings.

Used by the API's command line, the query CLI and anything else that reads Prometheus; none of
them imports another's module for it.
"""

from __future__ import annotations

from ..prometheus.inventory import Inventory, load_inventory
from ..settings import ConfigError, Settings
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
