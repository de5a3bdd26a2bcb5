"""The collector interface: a name, a default, optional settings, and ``collect()``."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar

import structlog
from prometheus_client.metrics_core import Metric

from ..settings import ExporterConfig, Option

MAX_FILE_BYTES = 4 << 20  # a /proc or /sys file larger than this is refused (EFBIG), never read whole


def read_file(path: str, limit: int = MAX_FILE_BYTES) -> str:
    """The whole of a /proc or /sys file as text (undecodable bytes replaced); at most ``limit`` bytes.

    Raises OSError like ``open()`` (FileNotFoundError, PermissionError...), and OSError(EFBIG) past
    ``limit``. Written with os.open/os.read rather than ``open()``: one collection reads a few dozen
    files, and the buffered text layer costs more syscalls (fstat, ioctl, lseek) and time than the read.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        size = 0
        while chunk := os.read(fd, 1 << 16):  # procfs hands out a page or so per read: read to EOF
            size += len(chunk)
            if size > limit:
                raise OSError(errno.EFBIG, f"larger than {limit} bytes", path)
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Paths:
    """Roots for every /proc, /sys and mount-point read, so collectors can run on fixture trees."""

    procfs: str = "/proc"
    sysfs: str = "/sys"
    rootfs: str = "/"

    def proc(self, *parts: str) -> str:
        return "/".join([self.procfs.rstrip("/"), *parts])

    def sys(self, *parts: str) -> str:
        return "/".join([self.sysfs.rstrip("/"), *parts])

    @classmethod
    def from_config(cls, cfg: ExporterConfig) -> Paths:
        return cls(cfg["path.procfs"], cfg["path.sysfs"], cfg["path.rootfs"])


class Collector:
    """Base class. A subclass sets ``name`` and implements ``collect()``.

    ``collect()`` runs in a worker thread under a deadline; it may block (NVML, psutil) and may
    raise: the collection loop scores the failure and leaves this collector's series out of the
    snapshot. It returns freshly built metric families every time, never stateful gauges.
    """

    name: ClassVar[str]
    default_enabled: ClassVar[bool] = True
    #: Extra settings this collector reads from the config (``gpu.simulate`` ...).
    options: ClassVar[tuple[Option, ...]] = ()

    def __init__(self, config: ExporterConfig, paths: Paths) -> None:
        self.config = config
        self.paths = paths
        self.log = structlog.get_logger(collector=self.name)

    def collect(self) -> Iterable[Metric]:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        """Extra facts shown on the landing page (e.g. the simulated profile)."""
        return {}

    def close(self) -> None:
        """Release resources (threads, library handles). Called once at shutdown."""
