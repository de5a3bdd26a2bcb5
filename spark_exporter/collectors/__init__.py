"""Collector registry. One module per collector; a collector registers itself with ``@register``.

To add a collector, write ``collectors/NAME.py`` with a ``Collector`` subclass decorated with
``@register``. Nothing else changes: :func:`load_all` discovers every module in this package.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Collector, Paths

REGISTRY: dict[str, type[Collector]] = {}

# Modules of this package that hold no collector.
_NOT_COLLECTORS = frozenset({"base", "families"})


def register(cls: type[Collector]) -> type[Collector]:
    """Class decorator: add ``cls`` to REGISTRY under ``cls.name`` and return it.

    Raises ValueError if that name is already registered.
    """
    if cls.name in REGISTRY:
        raise ValueError(f"collector {cls.name!r} registered twice")
    REGISTRY[cls.name] = cls
    return cls


def load_all() -> dict[str, type[Collector]]:
    """Import every collector module of this package (idempotent); return the registry sorted by name.

    Modules are found with ``pkgutil.iter_modules`` over the package; an import error propagates, so a
    broken collector module fails start-up instead of silently disappearing.
    """
    for mod in pkgutil.iter_modules(__path__):
        if not mod.name.startswith("_") and mod.name not in _NOT_COLLECTORS:
            importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(REGISTRY.items()))


__all__ = ["REGISTRY", "Collector", "Paths", "load_all", "register"]
