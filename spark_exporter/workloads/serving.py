"""The HTTP side of the inference stand-ins: a registry through prometheus_client's own exposition, or text.

vLLM and SGLang mount prometheus_client's app (``make_asgi_app``) on ``/metrics``; their answer is
whatever that app negotiates from the scraper's ``Accept`` header: the classic text format, or
OpenMetrics, and from prometheus_client 0.23.1 on (with OpenMetrics asked for without an ``escaping``
parameter, as Prometheus 2.x asks) metric names escaped to underscores. :func:`serve_registry` serves a
registry through :func:`prometheus_client.make_wsgi_app`, which negotiates the same way, so the stand-ins
answer exactly as the engines do for the prometheus_client version installed. llama.cpp's server writes
its own text: :func:`serve_text` serves a body that a function renders on each request.

Both serve ``/health`` (200, empty) as the engines do, and 404 elsewhere, from daemon threads.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - no line per scrape
        pass


def _router(metrics: WsgiApp) -> WsgiApp:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/health":
            start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "0")])
            return [b""]
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    return app


def _start(app: WsgiApp, host: str, port: int, name: str) -> WSGIServer:
    server = make_server(host, port, app, server_class=_ThreadingWSGIServer, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


def serve_registry(registry: CollectorRegistry, host: str, port: int, name: str = "stand-in-http") -> WSGIServer:
    """Serve ``registry`` on ``host:port`` through prometheus_client's negotiating WSGI app.

    Returns the server (``shutdown()`` stops it); raises OSError when it cannot listen.
    """
    return _start(_router(make_wsgi_app(registry)), host, port, name)


def serve_text(render: Callable[[], bytes], content_type: str, host: str, port: int,
               headers: Callable[[], Sequence[tuple[str, str]]] = lambda: (),
               name: str = "stand-in-http") -> WSGIServer:
    """Serve ``render()`` as ``/metrics`` with ``content_type`` and ``headers()`` whatever the ``Accept`` header.

    Returns the server (``shutdown()`` stops it); raises OSError when it cannot listen.
    """
    def metrics(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = render()
        start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body))),
                                  *headers()])
        return [body]
    return _start(_router(metrics), host, port, name)


def listen_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT``; an empty host is 0.0.0.0) for argparse; ArgumentTypeError otherwise."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid listen address {text!r} (expected host:port)")
    return host.strip("[]") or "0.0.0.0", int(port)


def run_until_signal(prog: str, start: Callable[[], WSGIServer]) -> int:
    """Call ``start()`` and wait for SIGINT or SIGTERM; exit status 0, or 2 when ``start`` raises
    ValueError or OSError (one line on stderr naming ``prog``).
    """
    try:
        server = start()
    except (ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    return 0
