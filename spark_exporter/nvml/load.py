"""The simulator's load model: deterministic functions of the clock and the seed.

Load follows a slow sine per GPU (period and phase drawn from the seed) plus a small per-second jitter;
energy and NVLink counters are exact integrals of the smooth load, so they only ever grow. One seed and
one instant give the same numbers in every run.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass


def unit(*key: object) -> float:
    """A deterministic pseudo-random number in [0, 1) for ``key`` (stable across processes)."""
    return zlib.crc32(":".join(map(str, key)).encode()) / 2**32


@dataclass(frozen=True)
class LoadModel:
    """One GPU's load over time."""

    seed: int
    index: int
    period: float  # s, of the load sine
    phase: float  # rad

    @classmethod
    def for_gpu(cls, seed: int, index: int) -> LoadModel:
        """The load model of GPU ``index``: a period of 240-600 s and a phase derived from ``seed``."""
        return cls(seed, index, 240.0 + 360.0 * unit(seed, index, "period"),
                   2 * math.pi * unit(seed, index, "phase"))

    def smooth(self, t: float) -> float:
        """Smooth load in [0.1, 0.9]."""
        return 0.5 + 0.4 * math.sin(2 * math.pi * t / self.period + self.phase)

    def integral(self, t: float) -> float:
        """Integral of :meth:`smooth` from 0 to ``t`` (seconds of full load)."""
        w = 2 * math.pi / self.period
        return 0.5 * t - 0.4 / w * (math.cos(w * t + self.phase) - math.cos(self.phase))

    def load(self, t: float) -> float:
        """Load in [0, 1]: the smooth load plus a per-second jitter of up to +-0.08."""
        jitter = (unit(self.seed, self.index, "jitter", int(t)) - 0.5) * 0.16
        return min(1.0, max(0.0, self.smooth(t) + jitter))

    def elapsed(self, t0: float, t: float) -> float:
        """Load-seconds between ``t0`` and ``t``, a base for the counters."""
        return self.integral(t) - self.integral(t0)
