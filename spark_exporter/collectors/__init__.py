"""Collector registry. One module per collector; a collector registers itself with ``@register``.

To add a collector: write ``collectors/NAME.py`` with a ``Collector`` subclass decorated with
``@register`` and add its module name to ``_MODULES`` below.
"""

from __future__ import annotations

import importlib

from .base import Collector, Paths

REGISTRY: dict[str, type[Collector]] = {}

_MODULES = (
    "cpu",
    "meminfo",
    "netdev",
    "netclass",
    "diskstats",
    "filesystem",
    "hwmon",
    "loadavg",
    "uname",
    "stat",
    "time",
    "pressure",
    "vmstat",
    "filefd",
    "sockstat",
    "netstat",
    "entropy",
    "conntrack",
    "arp",
    "softnet",
    "schedstat",
    "infiniband",
    "cpufreq",
    "thermal_zone",
    "edac",
    "nvme",
    "os_release",
    "timex",
    "dmi",
    "powersupplyclass",
    "textfile",
    "udp_queues",
    "gpu",
)


def register(cls: type[Collector]) -> type[Collector]:
    if cls.name in REGISTRY:
        raise ValueError(f"collector {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Collector]]:
    """Import every collector module (idempotent) and return the registry, in a stable order."""
    for mod in _MODULES:
        importlib.import_module(f"{__name__}.{mod}")
    return dict(sorted(REGISTRY.items()))


__all__ = ["REGISTRY", "Collector", "Paths", "load_all", "register"]
