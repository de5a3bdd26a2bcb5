"""The API's /metrics against a real Prometheus: upstream queries as Prometheus counts them, cache hits,
and stale answers once Prometheus is gone."""

from __future__ import annotations

import json
import time

import pytest

from helpers.procs import PYTHON, free_port, http_get, parse_metrics, prometheus, start_process, tempdir, wait_for

pytestmark = pytest.mark.integration

TOKEN = "t0ken-0123456789abcdef-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name`` with exactly ``labels`` in exposition ``text``; 0 when absent."""
    for fam in parse_metrics(text).values():
        for s in fam.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


def served_queries(prom_url: str) -> float:
    """HTTP requests Prometheus' query endpoints have answered, from its own /metrics."""
    text = http_get(prom_url + "/metrics")[1].decode()
    return sum(sample(text, "prometheus_http_requests_total", code=code, handler=h)
               for h in ("/api/v1/query", "/api/v1/query_range") for code in ("200", "400", "422", "503"))


def test_upstream_queries_cache_hits_and_stale_answers() -> None:
    """Upstream queries equal what Prometheus served; a second poll is a hit; with Prometheus stopped the
    cached overview is served stale and counted, with the failed upstream queries."""
    port = free_port()
    with tempdir("api-metrics") as d:
        (d / "token").write_text(TOKEN + "\n")
        config = {"global": {"scrape_interval": "1s"},
                  "scrape_configs": [{"job_name": "prometheus", "static_configs": [{"targets": []}]}]}
        with prometheus(config) as prom:
            argv = [PYTHON, "-m", "spark_exporter", "api", f"--web.listen-address=127.0.0.1:{port}",
                    f"--prometheus.url={prom.url}", f"--api.token-file={d / 'token'}", "--api.rate-limit=0",
                    "--api.cache-ttl=1s", "--prometheus.scrape-interval=1s"]
            api = start_process("api", argv, port, d, f"http://127.0.0.1:{port}/-/healthy")
            try:
                before = served_queries(prom.url)
                first = http_get(api.url + "/api/v1/cluster/overview", headers=AUTH)
                second = http_get(api.url + "/api/v1/cluster/overview", headers=AUTH)
                assert (first[0], first[2]["X-Cache"], second[0], second[2]["X-Cache"]) == (200, "miss", 200, "hit")
                text = http_get(api.url + "/metrics", headers=AUTH)[1].decode()
                sent = sample(text, "spark_exporter_api_upstream_queries_total", path="/api/v1/query", outcome="ok")
                assert sent >= 1
                assert sent == served_queries(prom.url) - before
                assert sample(text, "spark_exporter_api_cache_misses_total") == 1
                assert sample(text, "spark_exporter_api_cache_hits_total") == 1
                assert sample(text, "spark_exporter_api_requests_total", endpoint="/api/v1/cluster/overview",
                              status="200") == 2

                prom.stop()
                time.sleep(1.2)  # past the cache TTL
                stale = wait_for(lambda: (r := http_get(api.url + "/api/v1/cluster/overview", headers=AUTH))
                                 and r[2].get("X-Cache") == "stale" and r, 20, 0.5, "a stale overview")
                assert stale[0] == 200 and json.loads(stale[1])
                text = http_get(api.url + "/metrics", headers=AUTH)[1].decode()
                assert sample(text, "spark_exporter_api_stale_answers_total") >= 1
                assert sample(text, "spark_exporter_api_upstream_queries_total", path="/api/v1/query",
                              outcome="error") >= 1
            finally:
                api.stop()
