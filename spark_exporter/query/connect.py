"""Rollups over a Prometheus client, built from the shared ``--prometheus.*`` and ``--inventory`` settings.

Used by the API's command line, the query CLI and anything else that reads Prometheus; none of
them imports another's module for it.
"""

from __future__ import annotations

from ..prometheus.inventory import Inventory, load_inventory
from ..settings import ConfigError, Settings
from .client import InvalidParameter, PrometheusClient
from .rollups import Rollups


def make_rollups(url: str, inventory_path: str | None, timeout: float, scrape_interval: float,
                 where: str = "--prometheus.url") -> Rollups:
    """Rollups against ``url``; node names are checked against the inventory when one is given.

    Raises ConfigError (one line naming the flag or the file) for a bad URL or inventory.
    """
    inventory: Inventory | None = load_inventory(inventory_path) if inventory_path else None
    try:
        client = PrometheusClient(url, timeout=timeout)
    except InvalidParameter as e:
        raise ConfigError(f"{where}: {e}") from None
    return Rollups(client, inventory, scrape_interval=scrape_interval)


def rollups_from_settings(cfg: Settings) -> Rollups:
    """:func:`make_rollups` with ``prometheus.url``, ``inventory``, ``prometheus.timeout`` and
    ``prometheus.scrape-interval`` from resolved settings."""
    return make_rollups(cfg["prometheus.url"], cfg["inventory"], cfg["prometheus.timeout"],
                        cfg["prometheus.scrape-interval"], cfg.where("prometheus.url"))
