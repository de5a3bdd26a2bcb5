"""The collector interface: a name, a default, optional settings, and ``collect()``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import structlog
from prometheus_client.metrics_core import Metric

from ..settings import ExporterConfig, Option


class ForeignFamily(Metric):
    """A family whose names and samples come from outside the exporter (a text file someone wrote).

    The collection gives every other family precedence over it, whatever the collector order: a
    foreign series whose name is served by a built-in collector or by the exporter itself, or that
    lies in a reserved namespace (``node_textfile_``, ``spark_exporter_``), is dropped and counted
    (``spark_exporter_textfile_series_dropped``).
    """

    @classmethod
    def of(cls, fam: Metric) -> ForeignFamily:
        """The same family (name, HELP, type, unit, the same sample list) marked foreign."""
        out = cls(fam.name, fam.documentation, fam.type, fam.unit)
        out.samples = fam.samples
        return out


@dataclass(frozen=True)
class Paths:
    """Roots for every /proc, /sys and mount-point read, so collectors can run on fixture trees."""

    procfs: str = "/proc"
    sysfs: str = "/sys"
    rootfs: str = "/"

    def proc(self, *parts: str) -> str:
        """The path ``<procfs>/<parts...>`` joined with ``/`` (no check that it exists)."""
        return "/".join([self.procfs.rstrip("/"), *parts])

    def sys(self, *parts: str) -> str:
        """The path ``<sysfs>/<parts...>`` joined with ``/`` (no check that it exists)."""
        return "/".join([self.sysfs.rstrip("/"), *parts])

    @classmethod
    def from_config(cls, cfg: ExporterConfig) -> Paths:
        """Roots from the ``path.procfs``, ``path.sysfs`` and ``path.rootfs`` settings."""
        return cls(cfg["path.procfs"], cfg["path.sysfs"], cfg["path.rootfs"])


class Collector:
    """Base class. A subclass sets ``name`` and implements ``collect()``.

    ``collect()`` runs in a worker thread under a deadline; it may block (NVML, psutil) and may
    raise: the collection loop scores the failure and leaves this collector's series out of the
    snapshot. It returns freshly built metric families every time, never stateful gauges.
    """

    name: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    #: ``"host"`` (node_exporter's kind: its health is also served as ``node_scrape_collector_*``) or
    #: ``"gpu"`` (only ``spark_exporter_collector_*``).
    kind: ClassVar[Literal["host", "gpu"]] = "host"
    #: Extra settings this collector reads from the config (``gpu.simulate`` ...).
    options: ClassVar[tuple[Option, ...]] = ()
    #: Whether ``collect()`` may return ForeignFamily families (then the collection also serves
    #: ``spark_exporter_textfile_series_dropped``).
    foreign: ClassVar[bool] = False

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        self.config = config
        self.paths = paths
        self.log = structlog.get_logger(collector=self.name)

    def collect(self) -> Iterable[Metric]:
        """Freshly built metric families for one scrape; may block, and may raise (the loop scores it).

        The base class raises NotImplementedError.
        """
        raise NotImplementedError

    def names(self) -> Iterable[str]:
        """Family and sample names this collector may serve even before it has served them (a catalogue's
        fields that have no sample yet): text files may never write them. The base class names none."""
        return ()

    def info(self) -> dict[str, Any]:
        """Extra facts shown on the landing page (e.g. the simulated profile)."""
        return {}

    def close(self) -> None:
        """Release resources (threads, library handles). Called once at shutdown."""
