"""``spark-exporter api``: the telemetry JSON API for the Command Center backend.

Endpoints (all GET): ``/api/v1/cluster/overview``, ``/api/v1/nodes``, ``/api/v1/nodes/{node}/gpu``,
``/api/v1/nodes/{node}/gpu/utilization?duration=1h``, ``/api/v1/network[?node=]`` and the OpenAPI
document ``/api/v1/openapi.json``. Errors are JSON: 400 bad parameter, 401 no or wrong token,
404 unknown node or path, 429 rate limited, 502 query rejected, 503 Prometheus unreachable.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web

from .. import __version__
from ..http.webconfig import WebConfig, auth_middleware, constant_time_equals, load_web_config
from ..logs import setup_logging
from ..prometheus.inventory import Inventory, load_inventory, valid_node_name
from ..settings import ConfigError, parse_duration, parse_listen_address
from .cache import RateLimiter, TtlCache, retry_after_header
from .client import (
    BadResponse,
    InvalidParameter,
    PrometheusClient,
    PrometheusUnavailable,
    QueryError,
    UnknownNodeError,
)
from .openapi import openapi_document
from . import webui
from .rollups import HISTORY_STEPS, Result, Rollups

log = structlog.get_logger(component="api")

PROG = "spark-exporter api"
DEFAULT_LISTEN = "127.0.0.1:19401"
DEFAULT_PROMETHEUS = "http://localhost:9090"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class ApiSettings:
    token: str | None = None
    cors_origins: frozenset[str] = frozenset()
    rate_limit: float = 10.0  # requests/s per client; 0 disables
    rate_burst: int = 20
    cache_ttl: float = 5.0  # s
    web_config: WebConfig = field(default_factory=WebConfig)


ROLLUPS_KEY = web.AppKey("rollups", Rollups)
CACHE_KEY = web.AppKey("cache", TtlCache)


def json_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(
        {"status": "error", "errorType": kind, "error": message}, status=status, headers=headers
    )


_ERRORS: tuple[tuple[type[Exception], int, str], ...] = (
    (InvalidParameter, 400, "bad_parameter"),
    (UnknownNodeError, 404, "unknown_node"),
    (PrometheusUnavailable, 503, "prometheus_unavailable"),
    (QueryError, 502, "query_failed"),
    (BadResponse, 502, "bad_upstream_response"),
)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure leaves as a JSON error body with its status; never a stack trace."""
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        headers = {"Allow": e.headers["Allow"]} if "Allow" in e.headers else None
        return json_error(e.status, "http", e.reason or "error", headers)
    except asyncio.CancelledError:
        raise
    except Exception as e:  # noqa: BLE001
        for cls, status, kind in _ERRORS:
            if isinstance(e, cls):
                if status >= 500:
                    log.warning("upstream_error", path=request.path, error=str(e), kind=kind)
                return json_error(status, kind, str(e))
        log.exception("request_failed", path=request.path)
        return json_error(500, "internal", "internal error")


def cors_middleware(origins: frozenset[str]) -> Any:
    """CORS for the configured origins only; a preflight from any other origin gets 403."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        origin = request.headers.get("Origin")
        allowed = origin is not None and origin in origins
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            if not allowed:
                return json_error(403, "cors", "origin not allowed")
            return web.Response(status=204, headers=_cors_headers(origin or "", preflight=True))
        resp = await handler(request)
        if allowed:
            resp.headers.update(_cors_headers(origin or "", preflight=False))
        return resp

    return middleware


def _cors_headers(origin: str, preflight: bool) -> dict[str, str]:
    h = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
    if preflight:
        h.update(
            {
                "Access-Control-Allow-Methods": "GET, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600",
            }
        )
    return h


def rate_limit_middleware(limiter: RateLimiter) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        wait = limiter.acquire(request.remote or "unknown")
        if wait is not None:
            return json_error(
                429, "rate_limited", "too many requests", {"Retry-After": retry_after_header(wait)}
            )
        return await handler(request)

    return middleware


def token_middleware(token: str) -> Any:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path != "/-/healthy" and not webui.is_public(request.path):
            scheme, _, given = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not constant_time_equals(given.strip(), token):
                return json_error(
                    401,
                    "unauthorized",
                    "missing or wrong bearer token",
                    {"WWW-Authenticate": 'Bearer realm="spark-exporter"'},
                )
        return await handler(request)

    return middleware


async def _cached(
    request: web.Request, key: tuple[str, ...], make: Callable[[], Awaitable[Result]]
) -> Result:
    value, hit = await request.app[CACHE_KEY].get(key, make)
    request["cache_hit"] = hit
    assert isinstance(value, Result)
    return value


def _respond(request: web.Request, result: Result, body: Any = None) -> web.Response:
    resp = web.json_response(result.to_json() if body is None else body)
    resp.headers["X-Cache"] = "hit" if request.get("cache_hit") else "miss"
    return resp


async def _node_param(request: web.Request) -> str:
    node = request.match_info["node"]
    if not valid_node_name(node):
        raise InvalidParameter(f"invalid node name {node[:80]!r}")
    return await request.app[ROLLUPS_KEY].check_node(node)


async def overview(request: web.Request) -> web.Response:
    r = request.app[ROLLUPS_KEY]
    return _respond(request, await _cached(request, ("overview",), r.cluster_overview))


async def nodes(request: web.Request) -> web.Response:
    r = request.app[ROLLUPS_KEY]
    return _respond(request, await _cached(request, ("nodes",), r.nodes))


async def node_gpu(request: web.Request) -> web.Response:
    r = request.app[ROLLUPS_KEY]
    node = await _node_param(request)
    return _respond(request, await _cached(request, ("gpu", node), lambda: r.node_gpu_metrics(node)))


async def node_history(request: web.Request) -> web.Response:
    r = request.app[ROLLUPS_KEY]
    duration = request.query.get("duration", "1h")
    if duration not in HISTORY_STEPS:
        raise InvalidParameter(f"invalid duration {duration[:20]!r}: use one of {', '.join(HISTORY_STEPS)}")
    node = await _node_param(request)
    result = await _cached(
        request, ("history", node, duration), lambda: r.gpu_utilization_history(node, duration)
    )
    doc = result.to_json()
    if request.query.get("envelope") in ("1", "true"):
        return _respond(request, result, doc)
    # The Command Center front end reads a bare list; the rest travels in headers.
    resp = _respond(request, result, doc["series"])
    resp.headers["X-Step-Seconds"] = str(doc["step"])
    resp.headers["X-Partial"] = "true" if doc["partial"] else "false"
    resp.headers["X-Warnings"] = str(len(doc["warnings"]))
    return resp


async def network(request: web.Request) -> web.Response:
    r = request.app[ROLLUPS_KEY]
    node = request.query.get("node")
    if node is not None:
        if not valid_node_name(node):
            raise InvalidParameter(f"invalid node name {node[:80]!r}")
        node = await r.check_node(node)
    key = ("network", node or "")
    return _respond(request, await _cached(request, key, lambda: r.network_stats(node)))


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(openapi_document(__version__))


async def healthy(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def build_app(rollups: Rollups, settings: ApiSettings) -> web.Application:
    middlewares: list[Any] = [error_middleware, cors_middleware(settings.cors_origins)]
    if settings.rate_limit > 0:
        middlewares.append(rate_limit_middleware(RateLimiter(settings.rate_limit, settings.rate_burst)))
    if settings.token:
        middlewares.append(token_middleware(settings.token))
    if settings.web_config.users or settings.web_config.headers:
        middlewares.append(auth_middleware(settings.web_config, exempt=frozenset({"/-/healthy"})))
    app = web.Application(middlewares=middlewares)
    app[ROLLUPS_KEY] = rollups
    app[CACHE_KEY] = TtlCache(settings.cache_ttl)
    app.router.add_get("/api/v1/cluster/overview", overview)
    app.router.add_get("/api/v1/nodes", nodes)
    app.router.add_get("/api/v1/nodes/{node}/gpu", node_gpu)
    app.router.add_get("/api/v1/nodes/{node}/gpu/utilization", node_history)
    app.router.add_get("/api/v1/network", network)
    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/-/healthy", healthy)
    webui.add_routes(app)

    async def close_client(_: web.Application) -> None:
        await rollups.client.close()

    app.on_cleanup.append(close_client)
    return app


# -- command line ---------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(
        prog=PROG, description="Serve the cluster telemetry JSON API from Prometheus."
    )
    p.add_argument(
        "--prometheus.url",
        dest="prometheus_url",
        default=env("SPARK_EXPORTER_PROMETHEUS_URL", DEFAULT_PROMETHEUS),
        help="Prometheus (or VictoriaMetrics, Thanos, Mimir) query URL "
        "(env SPARK_EXPORTER_PROMETHEUS_URL; default %(default)s).",
    )
    p.add_argument(
        "--inventory",
        default=env("SPARK_EXPORTER_INVENTORY"),
        help="Inventory file; node names are checked against it (else against Prometheus).",
    )
    p.add_argument(
        "--web.listen-address",
        dest="listen",
        default=DEFAULT_LISTEN,
        help="HOST:PORT to listen on (default %(default)s).",
    )
    p.add_argument(
        "--web.config.file",
        dest="web_config",
        default=None,
        help="exporter-toolkit web config file (TLS, basic auth), as for the exporter.",
    )
    p.add_argument(
        "--api.token-file",
        dest="token_file",
        default=None,
        help="File holding the bearer token every request must send.",
    )
    p.add_argument(
        "--api.insecure",
        dest="insecure",
        action="store_true",
        help="Allow a non-loopback listen address without a token.",
    )
    p.add_argument(
        "--api.cors-origin",
        dest="cors",
        action="append",
        default=[],
        help="Origin allowed by CORS (repeatable), e.g. https://command-center.example.",
    )
    p.add_argument(
        "--api.rate-limit",
        dest="rate",
        type=float,
        default=10.0,
        help="Requests per second per client, 0 for no limit (default %(default)s).",
    )
    p.add_argument(
        "--api.rate-burst",
        dest="burst",
        type=int,
        default=20,
        help="Requests a client may send at once (default %(default)s).",
    )
    p.add_argument(
        "--api.cache-ttl", dest="ttl", default="5s", help="Rollup cache lifetime (default %(default)s)."
    )
    p.add_argument(
        "--prometheus.timeout", dest="timeout", default="5s", help="Per-query timeout (default 5s)."
    )
    p.add_argument(
        "--prometheus.scrape-interval",
        dest="scrape_interval",
        default="15s",
        help="Scrape interval of the Prometheus; a target silent for twice this is stale (default 15s).",
    )
    p.add_argument(
        "--log.level", dest="log_level", default="info", choices=("debug", "info", "warn", "error")
    )
    return p


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            token = fh.read().strip()
    except OSError as e:
        raise ConfigError(f"token file {path}: cannot read: {e.strerror or e}") from None
    if len(token) < 16 or any(c.isspace() for c in token):
        raise ConfigError(f"token file {path}: the token must be one word of at least 16 characters")
    return token


def _duration(value: str, flag: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as e:
        raise ConfigError(f"flag {flag}: {e}") from None


def settings_from_args(ns: argparse.Namespace) -> tuple[ApiSettings, str, int]:
    """Validate the flags; returns settings and the (host, port) to bind. Raises ConfigError."""
    try:
        host, port = parse_listen_address(ns.listen)
    except ValueError as e:
        raise ConfigError(f"flag --web.listen-address: {e}") from None
    token = read_token(ns.token_file) if ns.token_file else None
    if token is None and not ns.insecure and not is_loopback(host):
        raise ConfigError(
            f"refusing to listen on {ns.listen!r} without --api.token-file: the API would be open "
            "to the network (bind to 127.0.0.1, give a token file, or pass --api.insecure)"
        )
    for origin in ns.cors:
        if not origin.startswith(("http://", "https://")) or origin.endswith("/"):
            raise ConfigError(f"flag --api.cors-origin: {origin!r} is not an origin like https://host[:port]")
    if ns.rate < 0 or ns.burst < 1:
        raise ConfigError("flags --api.rate-limit must be >= 0 and --api.rate-burst >= 1")
    settings = ApiSettings(
        token=token,
        cors_origins=frozenset(ns.cors),
        rate_limit=ns.rate,
        rate_burst=ns.burst,
        cache_ttl=_duration(ns.ttl, "--api.cache-ttl"),
        web_config=load_web_config(ns.web_config),
    )
    return settings, host, port


def make_rollups(url: str, inventory_path: str | None, timeout: float, scrape_interval: float) -> Rollups:
    inventory: Inventory | None = load_inventory(inventory_path) if inventory_path else None
    try:
        client = PrometheusClient(url, timeout=timeout)
    except InvalidParameter as e:
        raise ConfigError(f"flag --prometheus.url: {e}") from None
    return Rollups(client, inventory, scrape_interval=scrape_interval)


async def serve_api(
    app: web.Application, host: str, port: int, settings: ApiSettings, stop: asyncio.Event
) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host or None, port, ssl_context=settings.web_config.ssl_context)
        await site.start()
        scheme = "https" if settings.web_config.tls else "http"
        log.info(
            "api_listening",
            url=f"{scheme}://{host or '0.0.0.0'}:{port}/api/v1/",
            auth="token" if settings.token else "none",
            cors=",".join(sorted(settings.cors_origins)),
        )
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: Sequence[str]) -> int:
    ns = _parser().parse_args(list(argv))
    setup_logging(ns.log_level, "logfmt")
    try:
        settings, host, port = settings_from_args(ns)
        rollups = make_rollups(
            ns.prometheus_url,
            ns.inventory,
            _duration(ns.timeout, "--prometheus.timeout"),
            _duration(ns.scrape_interval, "--prometheus.scrape-interval"),
        )
    except ConfigError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    app = build_app(rollups, settings)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await serve_api(app, host, port, settings, stop)

    try:
        asyncio.run(run())
    except OSError as e:
        print(f"{PROG}: error: cannot listen on {ns.listen}: {e.strerror or e}", file=sys.stderr)
        return 1
    log.info("stopped")
    return 0
