"""Library loading: the NVML library object the facade wraps, real, simulated or replayed.

It sits above ``facade``, ``sim`` and ``replay`` so that none of them imports another through it.
"""

from __future__ import annotations

from typing import Any

import pynvml

from .replay import ReplayedNvml
from .sim import SimulatedNvml


def load_library(simulate: str | None, seed: int, replay: str | None = None) -> Any:
    """The NVML library object: ``pynvml`` itself, a simulator for a profile, or a replayed recording."""
    if replay:
        return ReplayedNvml.from_file(replay)
    if not simulate:
        return pynvml
    return SimulatedNvml(simulate, seed=seed)
