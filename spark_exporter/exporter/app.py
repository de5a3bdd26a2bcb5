"""The exporter's HTTP side: a scrape of ``/metrics`` awaits a collection (see :mod:`.collection`)."""

from __future__ import annotations

import asyncio
import html
import signal
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from .. import __version__
from ..http.webconfig import WebConfig, auth_middleware
from ..settings import parse_listen_address
from .collection import Collection
from .exposition import CONTENT_TYPE

log = structlog.get_logger(component="server")

LOOP_KEY = web.AppKey("collection", Collection)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_error(status: int, message: str, **extra: object) -> web.Response:
    return web.json_response({"status": "error", "error": message, **extra}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a JSON body with the right status, never as a stack trace."""
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as e:
        resp = json_error(405, f"method {request.method} not allowed")
        resp.headers["Allow"] = ", ".join(sorted(e.allowed_methods))
        return resp
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return json_error(e.status, e.reason or "error")
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001
        log.exception("request_failed", path=request.path)
        return json_error(500, "internal error")


def _accepts_gzip(request: web.Request) -> bool:
    for part in request.headers.get("Accept-Encoding", "").split(","):
        enc, _, params = part.strip().partition(";")
        if enc.strip().lower() == "gzip" and params.replace(" ", "") not in {"q=0", "q=0.0"}:
            return True
    return False


async def metrics(request: web.Request) -> web.StreamResponse:
    """Serve a collection: the recent one (``--collect.min-age``), the one in flight, or a new one.

    The collection runs on a worker thread and is awaited here, so the event loop keeps serving. A
    scrape takes at most about one ``--collect.timeout`` per hung collector, never longer.
    """
    snap = await request.app[LOOP_KEY].scrape()
    headers = {"Content-Type": CONTENT_TYPE, "Vary": "Accept-Encoding"}
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return web.Response(body=snap.gzipped(), headers=headers)
    return web.Response(body=snap.body, headers=headers)


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="Healthy.\n")


async def ready(request: web.Request) -> web.Response:
    """200 as soon as the server answers: the collectors are constructed before it listens, and a
    scrape collects on demand, so there is nothing else to wait for."""
    return web.Response(text="Ready.\n")


def landing_page(loop: Collection, telemetry_path: str) -> str:
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


def build_app(loop: Collection, telemetry_path: str, web_config: WebConfig) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware(web_config)])
    app[LOOP_KEY] = loop

    async def index(request: web.Request) -> web.Response:
        return web.Response(text=landing_page(loop, telemetry_path), content_type="text/html")

    app.router.add_get(telemetry_path, metrics)
    app.router.add_get("/", index)
    app.router.add_get("/-/healthy", healthy)
    app.router.add_get("/-/ready", ready)
    return app


async def serve(app: web.Application, listen_address: str, web_config: WebConfig,
                stop: asyncio.Event | None = None, on_started: Callable[[], None] | None = None) -> None:
    """Bind, serve until SIGINT/SIGTERM (or ``stop``), then shut down cleanly.

    Raises OSError if the address cannot be bound (port in use, permission).
    """
    host, port = parse_listen_address(listen_address)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host or None, port, ssl_context=web_config.ssl_context, reuse_address=True)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    if on_started is not None:
        on_started()
    stop = stop or asyncio.Event()
    ev_loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        ev_loop.add_signal_handler(sig, stop.set)
    log.info("listening", address=listen_address, tls=web_config.tls, basic_auth=bool(web_config.users))
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            ev_loop.remove_signal_handler(sig)
        await runner.cleanup()
