"""The one per-client token bucket both servers use, and the ``Retry-After`` value it answers with.

The exporter's basic auth spends a token per failed login (``BasicAuth.throttle``); the query API spends
one per request (``--web.rate-limit``). Both keep at most ``max_clients`` buckets, forgetting the least
recently seen client first (a forgotten client starts again with a full bucket), so a flood of source
addresses costs bounded memory.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable


class TokenBuckets:
    """A token bucket per client: ``rate`` tokens/s refill, at most ``burst`` held; ``rate=0`` disables it.

    ``clock`` gives seconds (monotonic). Raises ValueError for ``rate < 0`` or ``burst < 1``.
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic,
                 max_clients: int = 10000) -> None:
        if rate < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = rate  # tokens per s
        self.burst = float(burst)
        self.clock = clock
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, last time)

    def _tokens(self, client: str, now: float) -> float:
        tokens, last = self._buckets.get(client, (self.burst, now))
        return min(self.burst, tokens + (now - last) * self.rate)

    def _store(self, client: str, tokens: float, now: float) -> None:
        self._buckets.pop(client, None)
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)

    def wait(self, client: str) -> float | None:
        """None if ``client`` holds a token now, else the seconds until it will; spends nothing."""
        if self.rate == 0:
            return None
        tokens = self._tokens(client, self.clock())
        return None if tokens >= 1 else (1 - tokens) / self.rate

    def spend(self, client: str) -> None:
        """Take one token from ``client``'s bucket (none left stays at zero)."""
        if self.rate == 0:
            return
        now = self.clock()
        self._store(client, max(0.0, self._tokens(client, now) - 1), now)

    def acquire(self, client: str) -> float | None:
        """Take one token for ``client``: None if it had one, else the seconds to wait (for Retry-After)."""
        wait = self.wait(client)
        if wait is None:
            self.spend(client)
        return wait


def retry_after(seconds: float) -> str:
    """A Retry-After header value: whole seconds, rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))
