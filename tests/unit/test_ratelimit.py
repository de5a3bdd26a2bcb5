"""The one per-client token bucket (spark_exporter/http/ratelimit.py) both servers use."""

from __future__ import annotations

import pytest

from spark_exporter.http.ratelimit import TokenBuckets, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestTokenBuckets:
    def test_burst_then_refusal_with_wait(self) -> None:
        """A client gets `burst` tokens at once, then a wait of 1/rate seconds for the next."""
        clock = Clock()
        tb = TokenBuckets(rate=2.0, burst=3, clock=clock)
        assert [tb.acquire("a") for _ in range(3)] == [None, None, None]
        assert tb.acquire("a") == pytest.approx(0.5)
        clock.now += 0.5
        assert tb.acquire("a") is None

    def test_clients_are_limited_separately(self) -> None:
        """One client's exhausted bucket does not limit another client."""
        tb = TokenBuckets(rate=1.0, burst=1, clock=Clock())
        assert tb.acquire("a") is None and tb.acquire("a") is not None
        assert tb.acquire("b") is None

    def test_zero_rate_disables(self) -> None:
        """rate=0 lets everything through."""
        tb = TokenBuckets(rate=0, burst=1, clock=Clock())
        assert all(tb.acquire("a") is None for _ in range(100))

    def test_wait_spends_nothing_and_spend_does(self) -> None:
        """wait() only looks; spend() takes a token, as basic auth does per failed login."""
        clock = Clock()
        tb = TokenBuckets(rate=1.0, burst=2, clock=clock)
        assert tb.wait("a") is None and tb.wait("a") is None
        tb.spend("a")
        tb.spend("a")
        tb.spend("a")  # stays at zero, not below
        assert tb.wait("a") == pytest.approx(1.0)
        clock.now += 1.0
        assert tb.wait("a") is None

    def test_tracked_clients_are_bounded(self) -> None:
        """At most max_clients buckets are kept; the least recently seen go first."""
        tb = TokenBuckets(rate=1.0, burst=1, clock=Clock(), max_clients=2)
        for c in ("a", "b", "c"):
            tb.acquire(c)
        assert list(tb._buckets) == ["b", "c"]

    def test_bad_parameters_are_refused(self) -> None:
        """A negative rate or a burst below one is a ValueError."""
        with pytest.raises(ValueError):
            TokenBuckets(rate=-1, burst=1)
        with pytest.raises(ValueError):
            TokenBuckets(rate=1, burst=0)

    def test_retry_after_is_whole_seconds_at_least_one(self) -> None:
        """Retry-After rounds up and is never 0."""
        assert [retry_after(x) for x in (0.01, 1.0, 1.2)] == ["1", "1", "2"]
