"""The API's own /metrics, in process: families, labels, auth, and what each request adds.

Prometheus is a closed loopback port here (no process starts); tests/integration/test_api_selfmetrics_prometheus.py
has the cache hits and stale answers against a real Prometheus.
"""

from __future__ import annotations

import socket

from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from spark_exporter.query.api import METRICS_KEY, ApiSettings, build_app
from spark_exporter.query.client import PrometheusClient
from spark_exporter.query.rollups import Rollups

TOKEN = "t0ken-0123456789abcdef-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the with block ends


def app(rate_limit: float = 0.0, burst: int = 20):  # type: ignore[no-untyped-def]
    client = PrometheusClient(f"http://127.0.0.1:{closed_port()}", timeout=2.0, retries=0)
    return build_app(Rollups(client), ApiSettings(token=TOKEN, rate_limit=rate_limit, rate_burst=burst))


async def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """(sample name, sorted labels) -> value, from GET /metrics with the token."""
    resp = await client.get("/metrics", headers=AUTH)
    assert resp.status == 200
    text = await resp.text()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class TestFamilies:
    async def test_every_family_is_served_with_its_type(self) -> None:
        """/metrics has the eight spark_exporter_api_ families; the latencies are histograms."""
        async with TestClient(TestServer(app())) as client:
            await client.get("/-/healthy")
            resp = await client.get("/metrics", headers=AUTH)
            assert resp.status == 200 and resp.headers["Content-Type"].startswith("text/plain")
            # The 0.0.4 text format carries each counter's and histogram's _created as a gauge of its own.
            types = {f.name: f.type for f in text_string_to_metric_families(await resp.text())
                     if not f.name.endswith("_created")}
        assert types == {
            "spark_exporter_api_requests": "counter",
            "spark_exporter_api_request_duration_seconds": "histogram",
            "spark_exporter_api_upstream_queries": "counter",
            "spark_exporter_api_upstream_query_duration_seconds": "histogram",
            "spark_exporter_api_cache_hits": "counter",
            "spark_exporter_api_cache_misses": "counter",
            "spark_exporter_api_stale_answers": "counter",
            "spark_exporter_api_rate_limited_requests": "counter",
        }

    async def test_openmetrics_when_asked(self) -> None:
        """A scraper that accepts OpenMetrics gets it, as from any prometheus_client exposition."""
        async with TestClient(TestServer(app())) as client:
            resp = await client.get("/metrics", headers={**AUTH, "Accept": "application/openmetrics-text"})
            assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
            assert (await resp.text()).endswith("# EOF\n")

    async def test_two_apps_keep_their_own_counts(self) -> None:
        """Each app has its own registry, not the process-wide one."""
        async with TestClient(TestServer(app())) as one, TestClient(TestServer(app())) as two:
            for _ in range(3):
                await one.get("/-/healthy")
            assert value(await scrape(two), "spark_exporter_api_requests_total",
                         endpoint="/-/healthy", status="200") == 0
            assert value(await scrape(one), "spark_exporter_api_requests_total",
                         endpoint="/-/healthy", status="200") == 3


class TestProtected:
    async def test_metrics_need_the_token(self) -> None:
        """/metrics without the bearer token is the API's 401 JSON error, and is counted."""
        async with TestClient(TestServer(app())) as client:
            resp = await client.get("/metrics")
            assert resp.status == 401 and (await resp.json())["errorType"] == "unauthorized"
            samples = await scrape(client)
        assert value(samples, "spark_exporter_api_requests_total", endpoint="/metrics", status="401") == 1

    async def test_metrics_are_rate_limited_like_the_rest(self) -> None:
        """Beyond the bucket, /metrics is refused with 429 too, and the refusals are counted."""
        async with TestClient(TestServer(app(rate_limit=0.01, burst=2))) as client:
            statuses = [(await client.get("/metrics", headers=AUTH)).status for _ in range(4)]
            assert statuses == [200, 200, 429, 429]
            registry = client.app[METRICS_KEY].registry  # type: ignore[index]  # no scrape left in the bucket
        assert registry.get_sample_value("spark_exporter_api_rate_limited_requests_total") == 2


class TestCounting:
    async def test_requests_by_route_template_and_status(self) -> None:
        """Requests count under their route template; an unknown path under 'unmatched', never its text."""
        async with TestClient(TestServer(app())) as client:
            assert (await client.get("/api/v1/nodes/spark-01/gpu", headers=AUTH)).status == 503
            assert (await client.get("/api/v1/nodes/bad%20name/gpu", headers=AUTH)).status == 400
            assert (await client.get("/no/such/path-1", headers=AUTH)).status == 404
            assert (await client.get("/no/such/path-2", headers=AUTH)).status == 404
            samples = await scrape(client)
        gpu = "/api/v1/nodes/{node}/gpu"
        assert value(samples, "spark_exporter_api_requests_total", endpoint=gpu, status="503") == 1
        assert value(samples, "spark_exporter_api_requests_total", endpoint=gpu, status="400") == 1
        assert value(samples, "spark_exporter_api_requests_total", endpoint="unmatched", status="404") == 2
        assert value(samples, "spark_exporter_api_request_duration_seconds_count", endpoint=gpu, status="503") == 1
        assert not any("path-1" in str(labels) for _, labels in samples)

    async def test_upstream_failures_and_cache_misses(self) -> None:
        """An overview against an unreachable Prometheus counts failed upstream queries and a cache miss."""
        async with TestClient(TestServer(app())) as client:
            assert (await client.get("/api/v1/cluster/overview", headers=AUTH)).status == 503
            samples = await scrape(client)
        failed = value(samples, "spark_exporter_api_upstream_queries_total", path="/api/v1/query", outcome="error")
        assert failed >= 1
        assert value(samples, "spark_exporter_api_upstream_query_duration_seconds_count",
                     path="/api/v1/query") == failed
        assert value(samples, "spark_exporter_api_cache_misses_total") == 1
        assert value(samples, "spark_exporter_api_cache_hits_total") == 0
