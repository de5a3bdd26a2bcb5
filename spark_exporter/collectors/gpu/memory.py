"""The unified-memory policy: on GB10 the framebuffer figures come from process memory and host meminfo.

A unified-memory GPU shares the host's RAM: ``nvmlDeviceGetMemoryInfo`` answers NotSupported (or, on some
drivers, the host's MemTotal as its total). With ``--gpu.unified-memory=auto`` such a device reports
used = the sum of its processes' GPU memory, free = MemAvailable and total = MemTotal
(``/proc/meminfo``); FB_RESERVED is left out. Discrete GPUs pass NVML's figures through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._files import MAX_ATTR, read_text
from ..base import Paths

UNIFIED_TOLERANCE = 0.01  # a reported total within 1% of host MemTotal means unified memory
KIB = 1024  # /proc/meminfo reports kB (KiB)


@dataclass(frozen=True)
class Memory:
    """Framebuffer figures in bytes; ``None`` where unknown."""

    total: float | None
    free: float | None
    used: float | None
    reserved: float | None
    source: str  # "nvml" | "unified"


def read_host_memory(paths: Paths) -> tuple[int, int] | None:
    """(MemTotal, MemAvailable) in bytes from /proc/meminfo, or None if either is missing or the file
    cannot be read through the guarded reader (not a regular file, past MAX_ATTR = 64 KiB; the
    kernel's meminfo is about 1.5 KiB)."""
    found: dict[str, int] = {}
    try:
        for line in read_text(paths.proc("meminfo"), MAX_ATTR).splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                found[key] = int(rest.split()[0]) * KIB
    except (OSError, ValueError, IndexError):
        return None
    if len(found) != 2:
        return None
    return found["MemTotal"], found["MemAvailable"]


def is_unified(info: Any, host: tuple[int, int] | None) -> bool:
    """NVML gave no memory figures, or a total within 1% of the host's: the GPU uses host memory."""
    if host is None:
        return False
    return info is None or abs(float(info.total) - host[0]) <= UNIFIED_TOLERANCE * host[0]


def unified_memory(host: tuple[int, int], process_bytes: list[int | None] | None) -> Memory:
    """used = the sum of per-process GPU memory (unknown if any is unknown), free = MemAvailable (at
    most total - used), total = MemTotal."""
    total, available = float(host[0]), float(host[1])
    used: float | None = None
    if process_bytes is not None and all(b is not None for b in process_bytes):
        used = float(sum(b or 0 for b in process_bytes))
        if used > total:
            used = None  # more than the machine holds: cannot be true
    # Process memory is part of the host's used memory, so free + used <= total holds on real GB10s;
    # the bound keeps it true when the two figures are read a moment apart (or come from the simulator).
    free = available if used is None else min(available, total - used)
    return Memory(total, free, used, None, "unified")


def nvml_memory(info: Any) -> Memory:
    """NVML's figures; a figure larger than the total cannot be true and is left out."""
    total = float(info.total)
    reserved = getattr(info, "reserved", None)

    def plausible(v: Any) -> float | None:
        return None if v is None or not 0 <= float(v) <= total else float(v)

    return Memory(total if total > 0 else None, plausible(info.free), plausible(info.used),
                  plausible(reserved), "nvml")
