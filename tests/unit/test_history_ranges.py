"""History points outside their metric's physical range are null with a reason (rollups.HISTORY_RANGES): the
history answer carries four units, so its range is checked per metric where the points are built."""

from __future__ import annotations

import pytest

from spark_exporter.prometheus.inventory import Inventory, Node
from spark_exporter.query.client import PrometheusClient, RangeResult, Series
from spark_exporter.query.rollups import Rollups


class OneRange(PrometheusClient):
    """A client whose every range query answers ``points`` for node n1, without any HTTP."""

    def __init__(self, points: list[tuple[float, float | None]]) -> None:
        super().__init__("http://127.0.0.1:9")
        self.points = points

    async def query_range(self, expr: str, start: float, end: float, step: float) -> RangeResult:
        return RangeResult(series=[Series({"node": "n1"}, list(self.points))])


async def history(metric: str, points: list[tuple[float, float | None]]) -> dict:
    inventory = Inventory(cluster="c", nodes=(Node(name="n1", exporter="127.0.0.1:9"),))
    async with OneRange(points) as client:
        out = await Rollups(client, inventory, clock=lambda: 10_000.0).gpu_history("n1", metric, "1h")
    return out.to_json()


class TestHistoryRanges:
    @pytest.mark.parametrize(("metric", "bad", "good"), [
        ("utilization", 101.0, 100.0),
        ("temperature", 151.0, -40.0),
        ("power", -1.0, 250.0),
        ("memory", -0.5, 120_000.0),
    ])
    async def test_an_impossible_point_is_null_with_its_reason(self, metric: str, bad: float, good: float) -> None:
        """The impossible point reads null, the possible one (a range edge included) is kept as it is."""
        doc = await history(metric, [(9000.0, good), (9015.0, bad)])
        assert [p["value"] for p in doc["series"][0]["values"]] == [good, None]
        assert list(doc["missing"]) == ["series[0].values[1].value"]
        assert "physical range" in doc["missing"]["series[0].values[1].value"]

    async def test_temperatures_above_100_are_kept(self) -> None:
        """A temperature above 100 degrees C is possible (unlike a utilisation of 101 %)."""
        doc = await history("temperature", [(9000.0, 101.0)])
        assert doc["series"][0]["values"][0]["value"] == 101.0 and doc["missing"] == {}
