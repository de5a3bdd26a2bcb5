"""The one JSON error shape of the exporter and the API, and the middleware that produces it.

Every error either server's application answers is a JSON object (a request aiohttp cannot parse is
answered by aiohttp itself, as plain text, before any application code runs)::

    {"status": "error", "errorType": "<kind>", "error": "<one-line message>"}

``errorType`` is a stable machine-readable word (``http`` for routing errors such as 404 and 405,
``unauthorized``, ``rate_limited``,
``internal``, and the API's own kinds such as ``unknown_node``); ``error`` is for people. No body
ever carries a stack trace.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from aiohttp import web

log = structlog.get_logger(component="http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# (exception class, HTTP status, errorType): how an application exception leaves as JSON.
ErrorMap = Sequence[tuple[type[Exception], int, str]]


#: The one JSON encoder of both servers: strict JSON (RFC 8259), so NaN or Infinity raise ValueError (a
#: logged 500 ``internal``) instead of reaching a client whose parser would reject the answer.
strict_dumps = functools.partial(json.dumps, allow_nan=False)


def json_answer(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response encoded by ``strict_dumps``. Raises ValueError for NaN or Infinity in ``body``."""
    return web.json_response(body, status=status, headers=headers, dumps=strict_dumps)


def error_body(kind: str, message: str) -> dict[str, str]:
    """The error document: ``{"status": "error", "errorType": kind, "error": message}``."""
    return {"status": "error", "errorType": kind, "error": message}


def json_error(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON error response with ``status`` and the shared body shape."""
    return json_answer(error_body(kind, message), status=status, headers=headers)


def error_middleware(errors: ErrorMap = (), log_interval: float = 60.0) -> Any:
    """Middleware turning every failure into a JSON error; ``errors`` maps application exceptions.

    HTTP errors keep their status (405 keeps ``Allow``); a mapped exception gets its status and kind
    (5xx ones are logged as ``upstream_error``, at most once per ``log_interval`` seconds per kind, with
    the number of lines held back: during an outage every request would otherwise log one);
    anything else is a logged 500 ``internal``.
    """
    last_logged: dict[str, float] = {}  # errorType -> monotonic time of its last upstream_error line
    held_back: dict[str, int] = {}

    def log_upstream(request: web.Request, e: Exception, kind: str) -> None:
        now = time.monotonic()
        if now - last_logged.get(kind, float("-inf")) < log_interval:
            held_back[kind] = held_back.get(kind, 0) + 1
            return
        last_logged[kind] = now
        log.warning("upstream_error", path=request.path, error=str(e), kind=kind,
                    suppressed=held_back.pop(kind, 0))

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed as e:
            allow = ", ".join(sorted(e.allowed_methods))
            return json_error(405, "http", f"method {request.method} not allowed", {"Allow": allow})
        except web.HTTPException as e:
            if e.status < 400:
                raise
            return json_error(e.status, "http", e.reason or "error")
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - the point of this middleware
            for cls, status, kind in errors:
                if isinstance(e, cls):
                    if status >= 500:
                        log_upstream(request, e, kind)
                    # An exception may carry headers for its answer (a 503's Retry-After).
                    return json_error(status, kind, str(e), getattr(e, "headers", None))
            log.exception("request_failed", path=request.path)
            return json_error(500, "internal", "internal error")

    return middleware
