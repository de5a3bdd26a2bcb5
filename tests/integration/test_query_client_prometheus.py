"""The query client against a real Prometheus."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helpers.procs import Proc
from spark_exporter.query.client import (
    InvalidParameter,
    PrometheusClient,
    QueryError,
)


@pytest.fixture(scope="module")
def prom(empty_prometheus: Proc) -> Iterator[Proc]:
    yield empty_prometheus  # shared per session (conftest.py): these tests only query it


class TestAgainstPrometheus:
    async def test_instant_vector(self, prom: Proc) -> None:
        """An instant query returns its samples with labels, timestamp and float value."""
        async with PrometheusClient(prom.url) as c:
            res = await c.query('label_replace(vector(42.5), "a", "b", "", "")', time=1_700_000_000)
        assert res.result_type == "vector"
        assert [(s.labels, s.timestamp, s.value) for s in res.samples] == [({"a": "b"}, 1_700_000_000.0, 42.5)]
        assert res.warnings == [] and res.partial is False

    async def test_scalar_and_string(self, prom: Proc) -> None:
        """Scalar and string results are decoded into their own fields."""
        async with PrometheusClient(prom.url) as c:
            assert (await c.query("scalar(vector(3))")).scalar == 3.0
            assert (await c.query('"hello"')).string == "hello"

    async def test_nan_is_none_not_zero(self, prom: Proc) -> None:
        """A NaN sample (no meaningful reading) is decoded as None."""
        async with PrometheusClient(prom.url) as c:
            res = await c.query("vector(0) / 0")
        assert [s.value for s in res.samples] == [None]

    async def test_range_query(self, prom: Proc) -> None:
        """A range query returns one point per step from start to end inclusive."""
        async with PrometheusClient(prom.url) as c:
            res = await c.query_range("vector(1)", 1_700_000_000, 1_700_000_060, 15)
        assert len(res.series) == 1
        assert res.series[0].points == [(1_700_000_000.0 + 15 * i, 1.0) for i in range(5)]

    async def test_bad_promql_is_a_query_error(self, prom: Proc) -> None:
        """A syntax error is a QueryError of type bad_data, sent once (no retry)."""
        async with PrometheusClient(prom.url, retries=3) as c:
            with pytest.raises(QueryError) as exc:
                await c.query("sum(")
            assert exc.value.error_type == "bad_data"
            assert c.queries_issued == 1

    async def test_bad_range_is_refused_before_sending(self, prom: Proc) -> None:
        """A range with a non-positive step is an InvalidParameter and never reaches Prometheus."""
        async with PrometheusClient(prom.url) as c:
            with pytest.raises(InvalidParameter):
                await c.query_range("vector(1)", 10, 20, 0)
            assert c.queries_issued == 0
