"""Middleware shared by the exporter and the API: configured response headers and basic auth."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from .auth import Outcome
from .errors import Handler, json_error
from .ratelimit import retry_after
from .webconfig import WebConfig

SERVER_HEADER = "spark-exporter"  # no Python or aiohttp version: nothing for a scanner to match


def headers_middleware(wc: WebConfig) -> Any:
    """Outermost middleware: the web config's headers and a version-free ``Server`` on every response.

    Every response passes through it: successes, JSON errors (401, 404, 405, 429, 5xx) and HTTP
    exceptions below 400. Not the answers aiohttp writes itself before routing (a 400 for a request it
    cannot parse): aiohttp offers no public hook on those (aio-libs/aiohttp#3287).
    """
    extra = {"Server": SERVER_HEADER, **wc.headers}

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            resp = await handler(request)
        except web.HTTPException as e:
            e.headers.update(extra)
            raise
        resp.headers.update(extra)
        return resp

    return middleware


def basic_auth_middleware(wc: WebConfig, exempt: frozenset[str] = frozenset()) -> Any:
    """401 without valid basic-auth credentials (when users are configured), 429 when throttled.

    ``exempt`` paths (the API's ``/-/healthy``) need no credentials.
    """
    auth = wc.auth

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if auth is not None and request.path not in exempt:
            outcome, wait = await auth.check(request.headers.get("Authorization"), request.remote or "")
            if outcome is Outcome.THROTTLED:
                return json_error(429, "rate_limited", "too many failed authentication attempts",
                                  {"Retry-After": retry_after(wait)})
            if outcome is Outcome.DENIED:
                return json_error(401, "unauthorized", "missing or wrong credentials",
                                  {"WWW-Authenticate": 'Basic realm="spark-exporter"'})
        return await handler(request)

    return middleware
