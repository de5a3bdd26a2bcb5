"""The API's TTL cache with single-flight and its per-client token bucket, on a controlled clock."""

from __future__ import annotations

import asyncio

import pytest

from spark_exporter.query.cache import TtlCache
from spark_exporter.query.client import BadResponse, PrometheusUnavailable, QueryError


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TestTtlCache:
    async def test_concurrent_misses_share_one_call(self) -> None:
        """Fifty concurrent gets of one key run the factory once and all see its value."""
        calls = 0
        release = asyncio.Event()

        async def factory() -> int:
            nonlocal calls
            calls += 1
            await release.wait()
            return 42

        cache = TtlCache(5.0, Clock())
        waiters = [asyncio.ensure_future(cache.get("k", factory)) for _ in range(50)]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(*waiters)
        assert calls == 1
        assert [v for v, _ in results] == [42] * 50
        assert sum(1 for _, hit in results if not hit) == 1

    async def test_value_expires_after_ttl(self) -> None:
        """A value is served until the TTL passes, then the factory runs again."""
        clock, calls = Clock(), []

        async def factory() -> int:
            calls.append(clock.now)
            return len(calls)

        cache = TtlCache(5.0, clock)
        assert (await cache.get("k", factory))[0] == 1
        clock.now += 4.9
        assert (await cache.get("k", factory)) == (1, True)
        clock.now += 0.2
        assert (await cache.get("k", factory)) == (2, False)

    async def test_failures_are_shared_but_not_cached(self) -> None:
        """A failing factory raises for its caller, and the next get tries again."""
        attempts = 0

        async def factory() -> int:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                raise RuntimeError("prometheus down")
            return 7

        cache = TtlCache(5.0, Clock())
        with pytest.raises(RuntimeError):
            await cache.get("k", factory)
        assert (await cache.get("k", factory))[0] == 7

    async def test_cancelled_waiter_does_not_cancel_the_call(self) -> None:
        """A caller that goes away (client disconnect) leaves the shared call running for the others."""
        release = asyncio.Event()

        async def factory() -> str:
            await release.wait()
            return "done"

        cache = TtlCache(5.0, Clock())
        first = asyncio.ensure_future(cache.get("k", factory))
        second = asyncio.ensure_future(cache.get("k", factory))
        await asyncio.sleep(0)
        first.cancel()
        release.set()
        assert (await second)[0] == "done"

    async def test_entries_are_bounded(self) -> None:
        """The cache never holds more than max_entries values."""
        cache = TtlCache(60.0, Clock(), max_entries=3)

        async def factory() -> int:
            return 1

        for i in range(10):
            await cache.get(i, factory)
        await asyncio.sleep(0)
        assert len(cache._values) <= 3



class Upstream:
    """A factory that answers ``value`` until told to fail with ``error``."""

    def __init__(self) -> None:
        self.error: Exception | None = None
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return f"answer {self.calls}"


class TestStaleServing:
    async def test_failure_serves_the_last_good_value_marked_stale(self) -> None:
        """When Prometheus is unavailable after a good answer, fetch returns that answer with the reason."""
        clock, up = Clock(), Upstream()
        cache = TtlCache(5.0, clock)
        assert (await cache.fetch("k", up)).value == "answer 1"
        clock.now += 30
        up.error = PrometheusUnavailable("cannot reach Prometheus")
        answer = await cache.fetch("k", up)
        assert (answer.value, answer.hit, answer.stale_reason) == ("answer 1", False, "cannot reach Prometheus")

    async def test_stale_ends_sixty_seconds_after_the_last_good_answer(self) -> None:
        """Past 60 s since the last good answer the failure itself is raised."""
        clock, up = Clock(), Upstream()
        cache = TtlCache(5.0, clock)
        await cache.fetch("k", up)
        up.error = PrometheusUnavailable("down")
        clock.now += 60
        assert (await cache.fetch("k", up)).stale_reason == "down"
        clock.now += 0.1
        with pytest.raises(PrometheusUnavailable):
            await cache.fetch("k", up)

    async def test_bad_upstream_answer_is_also_served_stale(self) -> None:
        """A garbage answer (BadResponse) is treated like an outage: the last good value is served."""
        clock, up = Clock(), Upstream()
        cache = TtlCache(1.0, clock)
        await cache.fetch("k", up)
        clock.now += 2
        up.error = BadResponse("not JSON")
        assert (await cache.fetch("k", up)).stale_reason == "not JSON"

    async def test_rejected_query_is_never_served_stale(self) -> None:
        """A QueryError (our query refused) is raised, not hidden behind an old answer."""
        clock, up = Clock(), Upstream()
        cache = TtlCache(1.0, clock)
        await cache.fetch("k", up)
        clock.now += 2
        up.error = QueryError("bad_data", "bad_data")
        with pytest.raises(QueryError):
            await cache.fetch("k", up)

    async def test_no_stale_without_a_cache(self) -> None:
        """With a TTL of 0 nothing is kept, so a failure is raised at once."""
        up = Upstream()
        cache = TtlCache(0.0, Clock())
        await cache.fetch("k", up)
        up.error = PrometheusUnavailable("down")
        with pytest.raises(PrometheusUnavailable):
            await cache.fetch("k", up)

    async def test_get_never_serves_stale(self) -> None:
        """The plain get keeps its contract: a value and whether it was shared, never a stale one."""
        clock, up = Clock(), Upstream()
        cache = TtlCache(1.0, clock)
        await cache.get("k", up)
        clock.now += 2
        up.error = PrometheusUnavailable("down")
        with pytest.raises(PrometheusUnavailable):
            await cache.get("k", up)

    async def test_a_new_good_answer_restarts_the_window(self) -> None:
        """Each good answer restarts the 60 s during which it may be served stale."""
        clock, up = Clock(), Upstream()
        cache = TtlCache(5.0, clock)
        await cache.fetch("k", up)
        clock.now += 50
        assert (await cache.fetch("k", up)).value == "answer 2"
        up.error = PrometheusUnavailable("down")
        clock.now += 59
        answer = await cache.fetch("k", up)
        assert (answer.value, answer.stale_reason) == ("answer 2", "down")
