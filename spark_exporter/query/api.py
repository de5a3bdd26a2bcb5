"""``spark-exporter api``: the telemetry JSON API for the Command Center backend.

Endpoints (all GET): ``/api/v1/cluster/overview``, ``/api/v1/nodes``, ``/api/v1/nodes/{node}/gpu``
(these three and ``/api/v1/network`` take ``?time=`` to evaluate at one instant),
``/api/v1/nodes/{node}/gpu/{utilization,temperature,power,memory}?duration=1h``, ``/api/v1/network[?node=]``,
``/api/v1/spark``, ``/api/v1/inference``, ``/api/v1/alerts``, the OpenAPI document ``/api/v1/openapi.json``
and the API's own metrics ``/metrics`` (:mod:`.selfmetrics`). Errors are JSON: 400 bad parameter, 401 no or
wrong token, 404 unknown node or path, 429 rate limited, 502 query rejected, 503 Prometheus unreachable.
"""

from __future__ import annotations

import asyncio
import functools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from .. import __version__
from ..http.errors import ErrorMap, json_answer
from ..http.ratelimit import TokenBuckets
from ..http.server import Limits, make_app, serve
from ..http.webconfig import WebConfig
from ..prometheus.inventory import valid_node_name
from . import webui
from .cache import TtlCache
from .client import (
    AnswerBudgetSpent,
    BadResponse,
    InvalidParameter,
    PrometheusUnavailable,
    QueryError,
    UnknownNodeError,
)
from .middleware import UNLIMITED_PATHS, cors_middleware, rate_limit_middleware, token_middleware
from .openapi import openapi_document
from .rollups import HISTORY_METRICS, HISTORY_STEPS, Result, Rollups
from .selfmetrics import ApiMetrics

log = structlog.get_logger(component="api")

DEFAULT_LISTEN = "127.0.0.1:19401"
DEFAULT_PROMETHEUS = "http://localhost:9090"
MAX_FUTURE = 60.0  # s a ``time`` parameter may lie ahead of the API's clock


@dataclass
class ApiSettings:
    """What ``build_app`` needs besides the rollups (all validated by the command line)."""

    token: str | None = None
    cors_origins: frozenset[str] = frozenset()
    rate_limit: float = 10.0  # requests/s per client; 0 disables
    rate_burst: int = 20
    cache_ttl: float = 5.0  # s
    web_config: WebConfig = field(default_factory=WebConfig)
    limits: Limits = field(default_factory=Limits)


ROLLUPS_KEY = web.AppKey("rollups", Rollups)
CACHE_KEY = web.AppKey("cache", TtlCache)
METRICS_KEY = web.AppKey("metrics", ApiMetrics)

# Application exceptions -> (status, errorType); see docs/api.md for the error shape.
_ERRORS: ErrorMap = (
    (InvalidParameter, 400, "bad_parameter"),
    (UnknownNodeError, 404, "unknown_node"),
    (AnswerBudgetSpent, 503, "busy"),
    (PrometheusUnavailable, 503, "prometheus_unavailable"),
    (QueryError, 502, "query_failed"),
    (BadResponse, 502, "bad_upstream_response"),
)


async def _cached(
    request: web.Request, key: tuple[str, ...], make: Callable[[], Awaitable[Result]]
) -> Result:
    answer = await request.app[CACHE_KEY].fetch(key, make)
    request["cache_hit"] = answer.hit
    value = answer.value
    assert isinstance(value, Result)
    if answer.stale_reason is not None:  # Prometheus failed: the last good answer, marked, for <= 60 s
        request["cache_stale"] = True
        request.app[METRICS_KEY].stale.inc()
        value = value.marked_stale(answer.stale_reason)
    return value


def _respond(request: web.Request, result: Result, body: Any = None) -> web.Response:
    resp = json_answer(result.to_json() if body is None else body)
    resp.headers["X-Cache"] = "stale" if request.get("cache_stale") else "hit" if request.get("cache_hit") else "miss"
    return resp


async def _node_param(request: web.Request) -> str:
    node = request.match_info["node"]
    if not valid_node_name(node):
        raise InvalidParameter(f"invalid node name {node[:80]!r}")
    return await request.app[ROLLUPS_KEY].check_node(node)


def _time_param(request: web.Request) -> float | None:
    """The ``time`` query parameter: s since epoch (decimals allowed), at most MAX_FUTURE ahead; absent is None
    (now). InvalidParameter (400) for anything else."""
    raw = request.query.get("time")
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise InvalidParameter(f"invalid time {raw[:40]!r}: use seconds since the epoch, e.g. 1767225600.123")
    now = request.app[ROLLUPS_KEY].clock()
    if value > now + MAX_FUTURE:
        raise InvalidParameter(f"invalid time {raw[:40]!r}: more than {MAX_FUTURE:g}s in the future")
    return round(value, 3)


def _at_key(at: float | None) -> str:
    """The cache key part of an instant: "" for now (cached for the TTL), else the instant itself."""
    return "" if at is None else f"{at:.3f}"


async def overview(request: web.Request) -> web.Response:
    """GET /api/v1/cluster/overview[?time=]: the cluster overview JSON (cached), evaluated at ``time`` (s since epoch;
    default now; echoed as evaluatedAt). InvalidParameter (400) for a bad time. X-Cache says hit, miss or stale."""
    r = request.app[ROLLUPS_KEY]
    at = _time_param(request)
    return _respond(request, await _cached(request, ("overview", _at_key(at)), lambda: r.cluster_overview(at)))


async def nodes(request: web.Request) -> web.Response:
    """GET /api/v1/nodes[?time=]: per-node summaries JSON (cached), at ``time`` as for the overview."""
    r = request.app[ROLLUPS_KEY]
    at = _time_param(request)
    return _respond(request, await _cached(request, ("nodes", _at_key(at)), lambda: r.nodes(at)))


async def node_gpu(request: web.Request) -> web.Response:
    """GET /api/v1/nodes/{node}/gpu[?time=]: the node's per-GPU metrics JSON (cached), at ``time`` as for the overview.

    InvalidParameter (400) for a malformed node name or time, UnknownNodeError (404) for an unknown node.
    """
    r = request.app[ROLLUPS_KEY]
    at = _time_param(request)
    node = await _node_param(request)
    key = ("gpu", node, _at_key(at))
    return _respond(request, await _cached(request, key, lambda: r.node_gpu_metrics(node, at)))


def _flag_param(request: web.Request, name: str) -> bool:
    """A boolean query parameter (true/1 or false/0, absent is false); anything else is a 400, not a silent false."""
    value = request.query.get(name, "false").lower()
    if value not in ("true", "1", "false", "0"):
        raise InvalidParameter(f"invalid {name} {value[:20]!r}: use true or false")
    return value in ("true", "1")


async def node_history(request: web.Request, metric: str = "utilization") -> web.Response:
    """GET /api/v1/nodes/{node}/gpu/{metric}?duration=&envelope=: the history of one HISTORY_METRICS figure (cached).

    A bare list of points unless ``envelope`` (the rest in headers). InvalidParameter (400) for a bad duration
    or flag; InvalidParameter (400) for a malformed node name, UnknownNodeError (404) for an unknown one.
    """
    r = request.app[ROLLUPS_KEY]
    duration = request.query.get("duration", "1h")
    if duration not in HISTORY_STEPS:
        raise InvalidParameter(f"invalid duration {duration[:20]!r}: use one of {', '.join(HISTORY_STEPS)}")
    envelope = _flag_param(request, "envelope")  # checked before any query is spent
    node = await _node_param(request)
    result = await _cached(
        request, ("history", node, metric, duration), lambda: r.gpu_history(node, metric, duration)
    )
    doc = result.to_json()
    if envelope:
        return _respond(request, result, doc)
    # The Command Center front end reads a bare list; the rest travels in headers.
    resp = _respond(request, result, doc["series"])
    resp.headers["X-Step-Seconds"] = str(doc["step"])
    resp.headers["X-Partial"] = "true" if doc["partial"] else "false"
    resp.headers["X-Warnings"] = str(len(doc["warnings"]))
    return resp


async def network(request: web.Request) -> web.Response:
    """GET /api/v1/network[?node=][&time=]: interface and RDMA throughput JSON (cached), at ``time`` as for the
    overview.

    InvalidParameter (400) for a malformed node name or time, UnknownNodeError (404) for an unknown node.
    """
    r = request.app[ROLLUPS_KEY]
    node = request.query.get("node")
    if node is not None:
        if not valid_node_name(node):
            raise InvalidParameter(f"invalid node name {node[:80]!r}")
        node = await r.check_node(node)
    at = _time_param(request)
    key = ("network", node or "", _at_key(at))
    return _respond(request, await _cached(request, key, lambda: r.network_stats(node, at)))


async def spark(request: web.Request) -> web.Response:
    """GET /api/v1/spark: Spark applications JSON (cached). The X-Cache header says hit, miss or stale."""
    r = request.app[ROLLUPS_KEY]
    return _respond(request, await _cached(request, ("spark",), r.spark_applications))


async def inference(request: web.Request) -> web.Response:
    """GET /api/v1/inference: inference rows (vLLM, SGLang, llama.cpp) JSON (cached). The X-Cache header says hit,
    miss or stale."""
    r = request.app[ROLLUPS_KEY]
    return _respond(request, await _cached(request, ("inference",), r.inference))


async def alerts(request: web.Request) -> web.Response:
    """GET /api/v1/alerts: firing and pending alerts from Prometheus' /api/v1/alerts, most severe first (cached)."""
    r = request.app[ROLLUPS_KEY]
    return _respond(request, await _cached(request, ("alerts",), r.alerts))


async def openapi(request: web.Request) -> web.Response:
    """GET /api/v1/openapi.json: the API's OpenAPI document."""
    return json_answer(openapi_document(__version__))


async def healthy(request: web.Request) -> web.Response:
    """GET /-/healthy: ``{"status": "ok"}`` while the server runs."""
    return json_answer({"status": "ok"})


def build_app(rollups: Rollups, settings: ApiSettings) -> web.Application:
    """The API's routes on the shared HTTP layer: headers, JSON errors, CORS, rate limit, basic auth
    (web config) and bearer token, in that order; ``/-/healthy`` needs neither credentials nor tokens."""
    before_auth: list[Any] = [cors_middleware(settings.cors_origins)]
    if settings.rate_limit > 0:
        before_auth.append(rate_limit_middleware(TokenBuckets(settings.rate_limit, settings.rate_burst)))
    after_auth: list[Any] = [token_middleware(settings.token)] if settings.token else []
    app = make_app(settings.web_config, settings.limits, errors=_ERRORS, before_auth=before_auth,
                   after_auth=after_auth, auth_exempt=UNLIMITED_PATHS)
    metrics = ApiMetrics()
    # Outermost, so it counts the status every other middleware decided (401, 429, JSON errors).
    app.middlewares.insert(0, metrics.middleware())
    rollups.client.on_query = metrics.observe_query
    app[ROLLUPS_KEY] = rollups
    app[CACHE_KEY] = TtlCache(settings.cache_ttl)
    metrics.watch_cache(app[CACHE_KEY])
    app[METRICS_KEY] = metrics
    app.router.add_get("/api/v1/cluster/overview", overview)
    app.router.add_get("/api/v1/nodes", nodes)
    app.router.add_get("/api/v1/nodes/{node}/gpu", node_gpu)
    for metric in HISTORY_METRICS:
        app.router.add_get(f"/api/v1/nodes/{{node}}/gpu/{metric}", functools.partial(node_history, metric=metric))
    app.router.add_get("/api/v1/network", network)
    app.router.add_get("/api/v1/spark", spark)
    app.router.add_get("/api/v1/inference", inference)
    app.router.add_get("/api/v1/alerts", alerts)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/metrics", metrics.handle)  # behind the same auth and rate limit as the API
    webui.add_routes(app)

    async def close_client(_: web.Application) -> None:
        await rollups.client.close()

    app.on_cleanup.append(close_client)
    return app


async def serve_api(
    app: web.Application, host: str, port: int, settings: ApiSettings, stop: asyncio.Event,
    handle_signals: bool = False,
) -> None:
    """Serve ``app`` on the one HTTP layer's serve loop (limits, TLS, quiet logs) until ``stop`` (or, with
    ``handle_signals``, SIGINT/SIGTERM; SIGHUP is then logged and ignored)."""
    scheme = "https" if settings.web_config.tls else "http"
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def started() -> None:
        log.info(
            "api_listening",
            url=f"{scheme}://{host or '0.0.0.0'}:{port}/api/v1/",
            auth="+".join(name for name, on in (("token", settings.token), ("basic", settings.web_config.users))
                          if on) or "none",
            cors=",".join(sorted(settings.cors_origins)) or "none",
        )

    await serve(app, bind, stop=stop, on_started=started, handle_signals=handle_signals)
