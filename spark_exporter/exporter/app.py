"""The exporter's HTTP side: a scrape of ``/metrics`` awaits a collection (see :mod:`.collection`)."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence
from collections.abc import Collection as Names
from dataclasses import dataclass

import structlog
from aiohttp import web

from .. import __version__
from ..collectors import load_all
from ..http.encoding import accepts_gzip
from ..http.errors import json_error as http_json_error
from ..http.server import Limits, make_app
from ..http.server import serve as http_serve
from ..http.webconfig import WebConfig
from ..settings.node_exporter import COLLECTORS as NODE_EXPORTER_COLLECTORS
from .collection import Collection, Selection
from .exposition import CONTENT_TYPE

log = structlog.get_logger(component="server")

LOOP_KEY = web.AppKey("collection", Collection)


@dataclass
class ScrapeLimits:
    """Per-app scrape state: ``--web.max-requests`` (0: no limit) and every collector name a
    ``collect[]``/``exclude[]`` may give (ours and node_exporter's)."""

    max_requests: int = 0
    known: frozenset[str] = frozenset()


SCRAPE_KEY = web.AppKey("scrape_limits", ScrapeLimits)


def json_error(status: int, message: str) -> web.Response:
    """The shared JSON error shape (docs/api.md); ``errorType`` is ``unavailable`` for 503, else ``http``."""
    return http_json_error(status, "unavailable" if status == 503 else "http", message)


def _accepts_gzip(request: web.Request) -> bool:
    return accepts_gzip(request.headers.get("Accept-Encoding", ""))


class SelectionError(ValueError):
    """``collect[]``/``exclude[]`` that name no collector, or both given: a 400 with this message."""


def parse_selection(loop: Collection, collect: Sequence[str], exclude: Sequence[str],
                    known: Names[str]) -> Selection:
    """The collectors a scrape asks for, as node_exporter's ``collect[]`` and ``exclude[]`` parameters do.

    ``collect[]`` keeps only the named collectors; each must be enabled (else ``disabled collector: X``)
    and exist (else ``missing collector: X``), as in node_exporter. ``exclude[]`` leaves the named ones
    out; a name that is neither one of ours nor one of node_exporter's (``known``) is
    ``missing collector: X`` (node_exporter ignores it; here a typo does not pass silently), and excluding
    every collector serves none of them (node_exporter then serves all). Both together are refused, as
    node_exporter does. Raises SelectionError; returns the :meth:`Collection.selection` key.
    """
    if collect and exclude:
        raise SelectionError("Combined collect and exclude queries are not allowed.")
    enabled = {c.name for c in loop.collectors}
    for name in collect:
        if name not in enabled:
            raise SelectionError(f"{'disabled' if name in known else 'missing'} collector: {name}")
    for name in exclude:
        if name not in known:
            raise SelectionError(f"missing collector: {name}")
    if collect:
        return loop.selection(collect)
    return loop.selection(enabled - set(exclude))


async def metrics(request: web.Request) -> web.StreamResponse:
    """Serve a collection: the recent one (``--collect.min-age``), the one in flight, or a new one.

    ``collect[]``/``exclude[]`` choose the collectors (:func:`parse_selection`; a bad choice is a 400 with
    the JSON error body). A scrape that would start more than ``--web.max-requests`` collections at once
    (different ``collect[]`` choices): 503. The collection runs on a
    worker thread and is awaited here, so the event loop keeps serving. A scrape takes at most about one
    ``--collect.timeout`` per hung collector, never longer.
    """
    loop = request.app[LOOP_KEY]
    limits = request.app[SCRAPE_KEY]
    try:
        selection = parse_selection(loop, request.query.getall("collect[]", []),
                                    request.query.getall("exclude[]", []), limits.known)
    except SelectionError as e:
        return json_error(400, str(e))
    # node_exporter's limit bounds parallel scrape work: there every request collects. Here requests for
    # the same choice of collectors share one collection, so the limit counts collections in flight, and
    # a scrape that would start one more than the limit is refused; one that joins a collection (or gets a
    # recent one) never is, so a flood of identical scrapes cannot shut out the Prometheus that sends them.
    if (limits.max_requests and not loop.joins(selection)
            and loop.collections_in_flight >= limits.max_requests):
        return json_error(503, f"Limit of concurrent requests reached ({limits.max_requests}), try again later.")
    snap = await loop.scrape(selection)
    headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=snap.gzipped(), headers=headers)
    return web.Response(body=snap.body, headers=headers)


async def healthy(request: web.Request) -> web.Response:
    """GET /-/healthy: 200 ``Healthy.`` while the process serves."""
    return web.Response(text="Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    """200 as soon as the server answers: the collectors are constructed before it listens, and a
    scrape collects on demand, so there is nothing else to wait for."""
    return web.Response(text="Ready.\n")


def landing_page(loop: Collection, telemetry_path: str) -> str:
    """The landing page HTML: a link to ``telemetry_path`` and each collector's last state, duration (ms)
    and info(); names and values HTML-escaped.
    """
    snap = loop.snapshot
    states = {r.name: r for r in snap.results} if snap else {}
    rows = []
    for c in loop.collectors:
        r = states.get(c.name)
        state = "not collected yet" if r is None else ("ok" if r.success else f"failing: {r.error}")
        extra = ", ".join(f"{k}={v}" for k, v in c.info().items())
        duration = f"{r.duration * 1000:.1f} ms" if r else ""
        rows.append(f"<tr><td>{html.escape(c.name)}</td><td>{html.escape(state)}</td>"
                    f"<td>{duration}</td><td>{html.escape(extra)}</td></tr>")
    path = html.escape(telemetry_path)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>spark-exporter</title></head>
<body>
<h1>spark-exporter {html.escape(__version__)}</h1>
<p><a href="{path}">Metrics</a> · <a href="/-/healthy">Health</a> · <a href="/-/ready">Readiness</a></p>
<table border="1" cellpadding="4"><tr><th>collector</th><th>state</th><th>last duration</th><th>details</th></tr>
{''.join(rows)}
</table>
</body></html>
"""


def build_app(loop: Collection, telemetry_path: str, web_config: WebConfig,
              limits: Limits | None = None, max_requests: int = 0) -> web.Application:
    """The exporter's routes on the shared HTTP layer (headers, JSON errors, basic auth, limits).

    ``max_requests`` is ``--web.max-requests``: collections in flight at once (scrapes with the same choice
    of collectors share one), beyond which a scrape that needs another is a 503 (0: no limit).
    """
    app = make_app(web_config, limits)
    app[LOOP_KEY] = loop
    app[SCRAPE_KEY] = ScrapeLimits(max_requests, frozenset(load_all()) | frozenset(NODE_EXPORTER_COLLECTORS))

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=landing_page(loop, telemetry_path), content_type="text/html")

    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/", index)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    return app


async def serve(app: web.Application, listen_address: str, web_config: WebConfig | None = None,
                stop: asyncio.Event | None = None, on_started: Callable[[], None] | None = None) -> None:
    """Serve until SIGINT/SIGTERM (or ``stop``) with :func:`spark_exporter.http.server.serve`.

    ``web_config`` is unused (the app carries it) and kept for callers. Raises OSError if the
    address cannot be bound.
    """
    await http_serve(app, listen_address, stop=stop, on_started=on_started)
