"""A TTL cache with single-flight, and a per-client token-bucket rate limiter, for the JSON API."""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Any


class TtlCache:
    """Values live ``ttl`` seconds; concurrent misses on one key share a single call of the factory.

    So N clients polling one rollup cause at most one Prometheus query per rollup per TTL. Failures
    are shared by the callers waiting at that moment but not cached.
    """

    def __init__(
        self, ttl: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 1024
    ) -> None:
        self.ttl = ttl  # s
        self.clock = clock
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0  # factory calls
        self._values: dict[Hashable, tuple[float, Any]] = {}
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, factory: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
        """Return ``(value, hit)``; ``hit`` is False for the caller whose miss ran the factory."""
        now = self.clock()
        entry = self._values.get(key)
        if entry is not None and entry[0] > now:
            self.hits += 1
            return entry[1], True
        fut = self._inflight.get(key)
        if fut is not None:
            self.hits += 1
            # shield: one waiter going away (client disconnect) must not cancel the others' result
            return await asyncio.shield(fut), True
        self.misses += 1
        task = asyncio.ensure_future(factory())
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._settle(key, t))
        return await asyncio.shield(task), False

    def _settle(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        if self.ttl > 0:
            if len(self._values) >= self.max_entries:
                self._prune()
            self._values[key] = (self.clock() + self.ttl, task.result())

    def _prune(self) -> None:
        now = self.clock()
        for k in [k for k, (exp, _) in self._values.items() if exp <= now]:
            del self._values[k]
        while len(self._values) >= self.max_entries:
            self._values.pop(next(iter(self._values)))


class RateLimiter:
    """Token bucket per client: ``rate`` requests/s sustained, ``burst`` at once; ``rate=0`` disables it."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic, max_clients: int = 10000
    ) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate  # tokens per s
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, last time)

    def acquire(self, client: str) -> float | None:
        """Take one token for ``client``; None if allowed, else the seconds to wait (for Retry-After)."""
        if self.rate == 0:
            return None
        now = self.clock()
        tokens, last = self._buckets.pop(client, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1:
            self._buckets[client] = (tokens - 1, now)
            self._evict()
            return None
        self._buckets[client] = (tokens, now)
        return (1 - tokens) / self.rate

    def _evict(self) -> None:
        # Least recently seen first; a forgotten client starts again with a full bucket.
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
