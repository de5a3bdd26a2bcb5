"""Every figure leaving the API is finite and within its stated range (ApiModel.enforce_ranges, strict_dumps)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import annotated_types
import pytest
from pydantic import BaseModel

from spark_exporter.http.errors import strict_dumps
from spark_exporter.query import models
from spark_exporter.query.client import Sample
from spark_exporter.query.mapping import fill_spark
from spark_exporter.query.models import (
    ApiModel,
    GpuMetrics,
    HistoryPoint,
    HistorySeries,
    NetworkStats,
    NodeGpuMetrics,
    NodeList,
    NodeSummary,
    SparkApplications,
    UtilizationHistory,
)
from spark_exporter.query.openapi import openapi_document
from spark_exporter.query.queries import SPARK_CLUSTER_RULES


class TestEnforceRanges:
    def test_non_finite_arithmetic_becomes_null_with_a_reason(self) -> None:
        """An infinity computed after building (1e308 + 1e308) is null in the answer, its reason under missing."""
        out = NetworkStats()
        out.rx_bytes_per_sec = 1e308 + 1e308
        doc = out.to_json()
        assert doc["rxBytesPerSec"] is None and "finite" in doc["missing"]["rxBytesPerSec"]
        strict_dumps(doc)

    def test_impossible_values_are_left_out_with_a_reason(self) -> None:
        """-50 % and -50 degrees C are left out; the reason lands in the enclosing answer's missing by JSON path."""
        out = NodeGpuMetrics(node="n", gpus=[GpuMetrics(gpu="0", uuid=None, model_name=None, utilization=-50.0,
                                                        temperature=151.0, memory_temperature=-40.0)])
        doc = out.to_json()
        assert doc["gpus"][0]["utilization"] is None and doc["gpus"][0]["temperature"] is None
        assert doc["gpus"][0]["memoryTemperature"] == -40  # the range's edge is a possible value
        assert set(doc["missing"]) == {"gpus[0].utilization", "gpus[0].temperature"}

    def test_a_point_past_the_year_9999_is_left_out(self) -> None:
        """A history point whose timestamp is past 9999 is dropped from its series, with a reason."""
        out = UtilizationHistory(series=[HistorySeries(metric={}, values=[
            HistoryPoint(timestamp=1000, value=1.0), HistoryPoint(timestamp=int(1e300), value=2.0)])])
        doc = out.to_json()
        assert doc["series"][0]["values"] == [{"timestamp": 1000, "value": 1.0}]
        assert "series[0].values[1]" in doc["missing"]
        assert doc == out.to_json()  # idempotent: a cached answer written twice reads the same

    def test_an_overflowing_count_is_null_not_an_internal_error(self) -> None:
        """Two clusters' Spark counts of 1e308 add up to infinity: the count is null with a reason (int(inf)
        raised OverflowError, and /api/v1/spark answered 500)."""
        out = SparkApplications()
        rule = SPARK_CLUSTER_RULES["active_jobs"]
        fill_spark(out, {rule: [Sample({"cluster": c}, 1.0, 1e308) for c in ("a", "b")]})
        doc = out.to_json()
        assert doc["totals"]["activeJobs"] is None and "finite" in doc["missing"]["totals.activeJobs"]
        strict_dumps(doc)

    def test_an_integer_no_json_parser_reads_exactly_is_null(self) -> None:
        """int(1e308) (309 digits) as a GPU count is null with a reason; 2**53 - 1 is still served."""
        def node(count: int) -> dict:  # type: ignore[type-arg]
            summary = NodeSummary(node="n", up=True, stale=False, gpu_count=None, utilization=None, temperature=None,
                                  power_draw=None, memory_used_mb=None, cpu_utilization=None, in_inventory=True)
            summary.gpu_count = count
            return NodeList(nodes=[summary]).to_json()["nodes"][0]  # type: ignore[no-any-return]

        huge = node(int(1e308))
        assert huge["gpuCount"] is None and "digits" in huge["missing"]["gpuCount"]
        assert node(2**53)["gpuCount"] is None
        assert node(2**53 - 1)["gpuCount"] == 2**53 - 1

    def test_the_openapi_document_states_the_ranges(self) -> None:
        """Utilisation, temperatures and timestamps carry minimum and maximum in the OpenAPI document."""
        schemas = openapi_document("x")["components"]["schemas"]
        temp = schemas["GpuMetrics"]["properties"]["temperature"]["anyOf"][0]
        assert (temp["minimum"], temp["maximum"]) == (-40, 150)
        util = schemas["GpuMetrics"]["properties"]["utilization"]["anyOf"][0]
        assert (util["minimum"], util["maximum"]) == (0, 100)
        stamp = schemas["HistoryPoint"]["properties"]["timestamp"]
        assert (stamp["minimum"], stamp["maximum"]) == (0, 253_402_300_799_999)


# Numeric fields that may be negative, each with its reason. Every other int or float field of every API
# model states a lower bound, so an impossible negative from upstream is left out with a reason.
SIGNED = {
    ("HistoryPoint", "value"): "its range depends on the answer's metric; checked where the points are built",
    ("Alert", "value"): "an alert expression's value can be any number",
}


def _models(cls: type[BaseModel] = ApiModel) -> Iterator[type[BaseModel]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _models(sub)


def _numeric_fields() -> list[tuple[str, str]]:
    out = []
    for cls in set(_models()):
        for name, info in cls.model_fields.items():
            kinds = set(getattr(info.annotation, "__args__", (info.annotation,))) - {type(None)}
            if kinds and kinds <= {int, float}:
                out.append((cls.__name__, name))
    return sorted(out)


class TestEveryFigureHasARange:
    def test_every_numeric_field_states_its_minimum(self) -> None:
        """Found from the models, not listed: each int/float field has a lower bound (or is SIGNED, with why)."""
        fields = _numeric_fields()
        assert len(fields) > 80 and ("GpuMetrics", "power_draw") in fields
        unbounded = [(c, n) for c, n in fields if (c, n) not in SIGNED and not any(
            isinstance(m, (annotated_types.Ge, annotated_types.Gt))
            for m in getattr(models, c).model_fields[n].metadata)]
        assert unbounded == []
        assert set(SIGNED) <= set(fields)  # the exceptions still exist

    def test_negative_power_memory_clocks_and_rates_are_left_out(self) -> None:
        """Power, memory, clocks and byte rates below 0 (a broken upstream) are null with a reason."""
        gpu = GpuMetrics(gpu="0", uuid=None, model_name=None, power_draw=-5.0, memory_used_mb=-1.0,
                         sm_clock_mhz=-1.0, mem_clock_mhz=1500.0)
        doc = NodeGpuMetrics(node="n", gpus=[gpu]).to_json()
        assert [doc["gpus"][0][k] for k in ("powerDraw", "memoryUsedMB", "smClockMHz", "memClockMHz")] == [
            None, None, None, 1500.0]
        assert "below the physical minimum 0" in doc["missing"]["gpus[0].powerDraw"]
        net = NetworkStats(rx_bytes_per_sec=-1.0, tx_bytes_per_sec=0.0).to_json()
        assert net["rxBytesPerSec"] is None and net["txBytesPerSec"] == 0 and "rxBytesPerSec" in net["missing"]


def test_strict_dumps_refuses_nan() -> None:
    """The servers' one JSON encoder refuses NaN and Infinity instead of writing non-JSON."""
    with pytest.raises(ValueError):
        strict_dumps({"x": float("nan")})
    assert json.loads(strict_dumps({"x": 1.5})) == {"x": 1.5}
