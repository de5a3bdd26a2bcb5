"""The API's own middleware: CORS for configured origins, a rate limit per client, the bearer token.

The shared middleware (response headers, JSON errors, basic auth) and the limits on connections
live in :mod:`spark_exporter.http`; these three are the API's policy on top of it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ..http.errors import Handler, json_error
from ..http.ratelimit import TokenBuckets, retry_after
from ..http.webconfig import constant_time_equals
from . import webui

# Liveness probes must never be refused: a rate-limited or token-less /-/healthy would make a
# supervisor restart a healthy API.
UNLIMITED_PATHS = frozenset({"/-/healthy"})


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
    if not preflight:
        # Not CORS-safelisted, so a page on another origin could not read them otherwise: X-Cache marks
        # an answer served stale while Prometheus fails, Retry-After comes with a 429.
        h["Access-Control-Expose-Headers"] = "X-Cache, Retry-After"
    if preflight:
        h.update(
            {
                "Access-Control-Allow-Methods": "GET, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type",
                "Access-Control-Max-Age": "600",
            }
        )
    return h


def rate_limit_middleware(limiter: TokenBuckets) -> Any:
    """429 ``rate_limited`` with ``Retry-After`` beyond the client's token bucket; /-/healthy exempt."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path not in UNLIMITED_PATHS:
            wait = limiter.acquire(request.remote or "unknown")
            if wait is not None:
                return json_error(
                    429, "rate_limited", "too many requests", {"Retry-After": retry_after(wait)}
                )
        return await handler(request)

    return middleware


def token_middleware(token: str) -> Any:
    """401 ``unauthorized`` unless ``Authorization: Bearer <token>`` (ASCII, compared in constant time).

    ``/-/healthy`` and the live page's own files (``/``, ``/assets/*``) are served without it."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        public = request.path in UNLIMITED_PATHS or webui.is_public(request.path)  # the page asks for the token
        if not public and not _bearer_ok(request.headers.get("Authorization", ""), token):
            return json_error(
                401,
                "unauthorized",
                "missing or wrong bearer token",
                {"WWW-Authenticate": 'Bearer realm="spark-exporter"'},
            )
        return await handler(request)

    return middleware


def _bearer_ok(header: str, token: str) -> bool:
    if not header.isascii():  # bytes above 0x7f arrive as surrogates: never a valid token
        return False
    scheme, _, given = header.partition(" ")
    return scheme.lower() == "bearer" and constant_time_equals(given.strip(), token)
