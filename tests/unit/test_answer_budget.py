"""The memory budget for Prometheus answers: shared by all requests, oldest first, never deadlocked."""

from __future__ import annotations

import asyncio

import pytest

from spark_exporter.query.client import AnswerBudget, AnswerBudgetSpent


class TestAnswerBudget:
    async def test_small_answers_share_the_budget(self) -> None:
        """Takers that fit take at once; giving back frees the bytes for others."""
        budget = AnswerBudget(100, wait=0.5)
        a, b = budget.holder(), budget.holder()
        await a.take(60)
        await b.take(40)
        assert budget.used == 100
        a.release()
        await b.take(50)
        assert (budget.used, budget.peak) == (90, 100)

    async def test_a_taker_waits_then_is_refused(self) -> None:
        """With the budget spent by an older holder, a younger taker waits ``wait`` s, then AnswerBudgetSpent."""
        budget = AnswerBudget(100, wait=0.2)
        old, young = budget.holder(), budget.holder()
        await old.take(100)
        with pytest.raises(AnswerBudgetSpent) as e:
            await young.take(1)
        assert e.value.headers == {"Retry-After": "1"}
        assert budget.used == 100

    async def test_the_oldest_holder_stops_younger_partial_answers(self) -> None:
        """Partial answers that together spend the budget do not wait for each other: the oldest goes on,
        the younger ones fail at their next take and their bytes come back."""
        budget = AnswerBudget(100, wait=5)
        holders = [budget.holder() for _ in range(4)]
        for h in holders:
            await h.take(25)

        async def grow(h: object, n: int) -> str:
            try:
                await h.take(n)  # type: ignore[attr-defined]
                return "ok"
            except AnswerBudgetSpent:
                h.release()  # type: ignore[attr-defined]
                return "spent"

        results = await asyncio.wait_for(asyncio.gather(*(grow(h, 50) for h in reversed(holders))), 2)
        assert results == ["spent", "spent", "spent", "ok"]  # reversed: the oldest is last
        assert budget.used == 75

    async def test_a_released_holder_cannot_take_again(self) -> None:
        """After a scope ends, a sibling task still reading cannot take bytes that would never come back."""
        budget = AnswerBudget(100)
        h = budget.holder()
        await h.take(10)
        h.release()
        with pytest.raises(AnswerBudgetSpent):
            await h.take(10)
        assert budget.used == 0
