"""The API's own metrics, served at ``/metrics`` on the API server (behind the API's auth and rate limit).

Families (all ``spark_exporter_api_``), in one prometheus_client registry per application (never the
global one, so two apps in one process, as in tests, keep their own counts):

- ``requests_total{endpoint, status}``: requests answered, by route template (``/api/v1/nodes/{node}/gpu``;
  ``unmatched`` for a path no route has) and HTTP status;
- ``request_duration_seconds{endpoint, status}``: a histogram of the time to answer them;
- ``upstream_queries_total{path, outcome}`` and ``upstream_query_duration_seconds{path}``: HTTP requests
  to Prometheus (``/api/v1/query``, ``/api/v1/query_range``; retries count), ``outcome`` ``ok`` or ``error``;
- ``cache_hits_total``, ``cache_misses_total``: answers from the rollup cache, and factory runs;
- ``stale_answers_total``: answers served stale (marked ``X-Cache: stale``) while Prometheus failed;
- ``rate_limited_requests_total``: requests refused with 429.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from ..http.errors import Handler
from .cache import TtlCache

PREFIX = "spark_exporter_api"
UNMATCHED = "unmatched"  # the endpoint label of a path no route has: keeps the label set bounded
# s; the API answers from its cache in under a millisecond and from Prometheus in tens of milliseconds.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UPSTREAM_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ApiMetrics:
    """The API's counters and histograms in their own registry; see the module doc for the families."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(f"{PREFIX}_requests", "API requests answered, by route template and HTTP status.",
                                ("endpoint", "status"), registry=r)
        self.request_duration = Histogram(
            f"{PREFIX}_request_duration_seconds", "Time to answer an API request, by route template and status.",
            ("endpoint", "status"), buckets=REQUEST_BUCKETS, registry=r)
        self.upstream = Counter(f"{PREFIX}_upstream_queries",
                                "HTTP requests sent to Prometheus (retries included), by API path and outcome.",
                                ("path", "outcome"), registry=r)
        self.upstream_duration = Histogram(
            f"{PREFIX}_upstream_query_duration_seconds", "Time of one HTTP request to Prometheus, by API path.",
            ("path",), buckets=UPSTREAM_BUCKETS, registry=r)
        self.stale = Counter(f"{PREFIX}_stale_answers", "Rollup answers served stale while Prometheus failed.",
                             registry=r)
        self.rate_limited = Counter(f"{PREFIX}_rate_limited_requests", "Requests refused with 429 by the rate "
                                    "limit.", registry=r)

    def observe_query(self, path: str, seconds: float, ok: bool) -> None:
        """Count one HTTP request to Prometheus at ``path`` that took ``seconds``."""
        self.upstream.labels(path, "ok" if ok else "error").inc()
        self.upstream_duration.labels(path).observe(seconds)

    def watch_cache(self, cache: TtlCache) -> None:
        """Serve ``cache``'s own hit and miss counts (read at each scrape) as the two cache families."""
        self.registry.register(_CacheCollector(cache))

    def middleware(self) -> Any:
        """aiohttp middleware counting every answer by route template and status; put it outermost, so
        it sees the status that the error and auth middleware decided."""

        @web.middleware
        async def observe(request: web.Request, handler: Handler) -> web.StreamResponse:
            start = self.clock()
            status = 500  # an exception that escapes every other middleware
            try:
                resp = await handler(request)
                status = resp.status
                return resp
            except web.HTTPException as e:
                status = e.status
                raise
            finally:
                endpoint = _endpoint(request)
                self.requests.labels(endpoint, str(status)).inc()
                self.request_duration.labels(endpoint, str(status)).observe(self.clock() - start)
                if status == 429:
                    self.rate_limited.inc()

        return observe

    async def handle(self, request: web.Request) -> web.Response:
        """GET /metrics: the families above in the text format the client accepts (OpenMetrics or 0.0.4)."""
        encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
        resp = web.Response(body=encoder(self.registry))
        resp.headers["Content-Type"] = content_type
        return resp


class _CacheCollector(Collector):
    """The cache's counters as families, rebuilt at each scrape from the cache's own counts."""

    def __init__(self, cache: TtlCache) -> None:
        self.cache = cache

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(f"{PREFIX}_cache_hits", "Rollup answers served from the cache or a shared "
                                  "in-flight query.", value=self.cache.hits)
        yield CounterMetricFamily(f"{PREFIX}_cache_misses", "Rollup answers that ran their queries (failed ones "
                                  "included).", value=self.cache.misses)


def _endpoint(request: web.Request) -> str:
    match = request.match_info
    if getattr(match, "http_exception", None) is not None:  # no route: 404, or 405 for the method
        return UNMATCHED
    resource = match.route.resource
    return resource.canonical if resource is not None else UNMATCHED
