"""Impossible upstream values against the real API: every answer is strict JSON, every figure in its range."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.procs import http_get, tempdir
from helpers.rawhttp import api
from helpers.upstream import StandIn, matrix, vector

NOW = 1_700_000_000.0
TAG = "spark_exporter_field"
HUGE = "1e308"  # finite, accepted; two of them overflow when added


def hostile(path: str, params: dict[str, list[str]]) -> bytes:
    """The same impossible figures for every query: huge rates, -50 %, -50 and 200 degrees C, year 1e300."""
    if path.endswith("/query_range"):
        return matrix([({"node": "n1"}, [(NOW, "50"), (1e300, "40"), (NOW + 60, "-50")])])
    node = {"node": "n1"}
    samples: list[tuple[dict[str, str], float | str, float | str]] = []
    for tag in ("rx", "tx"):
        samples += [({TAG: tag, **node, "device": dev}, NOW, HUGE) for dev in ("eth0", "eth1")]
    for name, value in (("DCGM_FI_DEV_GPU_TEMP", -50), ("DCGM_FI_DEV_GPU_UTIL", -50),
                        ("DCGM_FI_DEV_MEMORY_TEMP", 200), ("DCGM_FI_DEV_POWER_USAGE", HUGE)):
        samples.append(({TAG: "gpu", "__name__": name, **node, "gpu": "0", "UUID": "GPU-0"}, NOW, value))
    samples += [({TAG: "utilization", **node}, NOW, -50), ({TAG: "temperature", **node}, NOW, 200),
                ({TAG: "power_draw", **node}, NOW, HUGE),
                ({TAG: "up", "job": "spark-exporter", "instance": "127.0.0.1:9", **node}, NOW, 1)]
    return vector(samples)


def strict(body: bytes) -> Any:
    """Parse as RFC 8259 JSON: NaN, Infinity and -Infinity are errors."""
    def refuse(token: str) -> Any:
        raise ValueError(f"non-JSON constant {token}")
    return json.loads(body, parse_constant=refuse)


def numbers(doc: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in ``doc`` with its JSON path."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from numbers(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from numbers(v, f"{path}[{i}]")
    elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
        yield path, float(doc)


@pytest.fixture
def served() -> Iterator[str]:
    stand_in = StandIn(hostile)
    with tempdir("strict") as d:
        inv = Path(d) / "inventory.yml"
        inv.write_text(yaml.safe_dump({"cluster": "c", "nodes": [{"name": "n1", "exporter": "127.0.0.1:9"}]}))
        try:
            with api(f"--prometheus.url={stand_in.url}", f"--inventory={inv}", "--api.rate-limit=0",
                     "--api.cache-ttl=0s") as p:
                yield p.url
        finally:
            stand_in.close()


PATHS = ["/api/v1/cluster/overview", "/api/v1/nodes", "/api/v1/nodes/n1/gpu", "/api/v1/network",
         "/api/v1/network?node=n1", "/api/v1/nodes/n1/gpu/utilization?envelope=true", "/api/v1/spark",
         "/api/v1/inference"]


def test_every_answer_is_strict_json_within_range(served: str) -> None:
    """Overflowing sums become null with a reason; -50 %, -50/200 degrees C and year-1e300 points are left out
    with a reason; no answer carries NaN or Infinity."""
    docs = {}
    for path in PATHS:
        status, body, _ = http_get(served + path, timeout=30)
        assert status == 200, (path, body[:300])
        docs[path] = doc = strict(body)
        for where, value in numbers(doc):
            if where.rsplit(".", 1)[-1] in ("utilization", "gpuUtilization", "value"):
                assert 0 <= value <= 100, (path, where, value)
            if "emperature" in where:
                assert -40 <= value <= 150, (path, where, value)
            if where.endswith("timestamp"):
                assert 0 <= value <= 253_402_300_799_999, (path, where, value)
    net = docs["/api/v1/network"]
    assert net["rxBytesPerSec"] is None and "finite" in net["missing"]["rxBytesPerSec"]
    assert net["nodes"][0]["txBytesPerSec"] is None and "finite" in net["nodes"][0]["missing"]["txBytesPerSec"]
    gpu = docs["/api/v1/nodes/n1/gpu"]
    assert gpu["gpus"][0]["temperature"] is None and "minimum" in gpu["missing"]["gpus[0].temperature"]
    assert gpu["gpus"][0]["utilization"] is None and "gpus[0].utilization" in gpu["missing"]
    assert gpu["gpus"][0]["memoryTemperature"] is None
    history = docs["/api/v1/nodes/n1/gpu/utilization?envelope=true"]
    assert [p["timestamp"] for p in history["series"][0]["values"]] == [NOW * 1000, (NOW + 60) * 1000]
    assert history["series"][0]["values"][1]["value"] is None
    assert "series[0].values[1].timestamp" in history["missing"]
