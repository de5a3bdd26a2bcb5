"""A TTL cache with single-flight and stale serving, and a per-client token-bucket rate limiter, for the JSON API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any

from .client import BadResponse, PrometheusUnavailable

DEFAULT_STALE_FOR = 60.0  # s after the last good answer during which it may be served when Prometheus fails


@dataclass(frozen=True)
class Answer:
    """What :meth:`TtlCache.fetch` returns: the value, whether it was shared, and why it is stale."""

    value: Any
    hit: bool  # False only for the caller whose miss ran the factory
    stale_reason: str | None = None  # set when the factory failed and an earlier value is served


class TtlCache:
    """Values live ``ttl`` seconds; concurrent misses on one key share a single call of the factory.

    So N clients polling one rollup cause at most one Prometheus query per rollup per TTL. Failures
    are shared by the callers waiting at that moment but not cached. When the factory fails with
    one of ``stale_on`` (Prometheus unreachable, too slow, or answering garbage) and a value of that
    key was good at most ``stale_for`` seconds ago, :meth:`fetch` serves it with the failure as
    ``stale_reason``; after that the failure is raised. With ``ttl`` 0 nothing is kept, not even
    for stale serving.
    """

    def __init__(
        self,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 1024,
        stale_for: float = DEFAULT_STALE_FOR,
        stale_on: tuple[type[BaseException], ...] = (PrometheusUnavailable, BadResponse),
    ) -> None:
        self.ttl = ttl  # s
        self.clock = clock
        self.max_entries = max_entries
        self.stale_for = stale_for  # s
        self.stale_on = stale_on
        self.hits = 0
        self.misses = 0  # factory calls
        self._values: dict[Hashable, tuple[float, Any]] = {}  # key -> (time it was good, value)
        self._inflight: dict[Hashable, asyncio.Future[Any]] = {}

    async def get(self, key: Hashable, factory: Callable[[], Awaitable[Any]]) -> tuple[Any, bool]:
        """Return ``(value, hit)``; ``hit`` is False for the caller whose miss ran the factory. Never stale."""
        answer = await self._fetch(key, factory, stale=False)
        return answer.value, answer.hit

    async def fetch(self, key: Hashable, factory: Callable[[], Awaitable[Any]]) -> Answer:
        """Like :meth:`get`, and on a ``stale_on`` failure the last good value within ``stale_for``."""
        return await self._fetch(key, factory, stale=True)

    async def _fetch(self, key: Hashable, factory: Callable[[], Awaitable[Any]], stale: bool) -> Answer:
        now = self.clock()
        entry = self._values.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            self.hits += 1
            return Answer(entry[1], True)
        fut = self._inflight.get(key)
        hit = fut is not None
        if fut is not None:
            self.hits += 1
        else:
            self.misses += 1
            fut = asyncio.ensure_future(factory())
            self._inflight[key] = fut
            fut.add_done_callback(lambda t: self._settle(key, t))
        try:
            # shield: one waiter going away (client disconnect) must not cancel the others' result
            return Answer(await asyncio.shield(fut), hit)
        except self.stale_on as e:
            entry = self._values.get(key)
            if not stale or entry is None or self.clock() - entry[0] > self.stale_for:
                raise
            return Answer(entry[1], hit, stale_reason=str(e) or type(e).__name__)

    def _settle(self, key: Hashable, task: asyncio.Future[Any]) -> None:
        self._inflight.pop(key, None)
        if task.cancelled() or task.exception() is not None:
            return
        if self.ttl > 0:
            if key not in self._values and len(self._values) >= self.max_entries:
                self._prune()
            self._values[key] = (self.clock(), task.result())

    def _prune(self) -> None:
        now = self.clock()
        keep = max(self.ttl, self.stale_for)
        for k in [k for k, (good, _) in self._values.items() if now - good >= keep]:
            del self._values[k]
        while len(self._values) >= self.max_entries:
            self._values.pop(next(iter(self._values)))
