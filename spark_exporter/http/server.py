"""The one serve loop of the exporter and the API, with the limits a daemon on a shared network needs.

:func:`make_app` builds an aiohttp application with the shared middleware (configured headers on
every response, JSON errors, basic auth) and :func:`serve` runs it until SIGINT/SIGTERM or ``stop``,
then shuts down gracefully (in-flight requests get ``shutdown_timeout``). Limits, each with its
option and default in docs/security.md:

* **Header deadline** (``header_timeout``, 10 s): the complete request head must arrive within
  this time of connecting, however it is dripped; else the server closes the socket. For later
  requests on a kept-alive connection the idle timeout plays this part.
* **Idle keep-alive timeout** (``idle_timeout``, 60 s): a connection with no complete request for
  this long after its last answer is closed (aiohttp's keep-alive timer, which a drip does not reset).
* **Connection cap** (``max_connections``, default derived from RLIMIT_NOFILE): at the cap a new
  connection evicts the oldest one that is not in the middle of a request (a slow-header attacker
  loses its sockets, a scraper gets in); if all are busy the new one is closed. Either way one
  ``connection_cap_reached`` line per ``log_interval`` says so.
* **Head size**: aiohttp's parser bounds (8190-byte request line and header fields, 128 headers).
* **Quiet errors**: a malformed request gets a JSON 400 (with the configured headers) and at most
  one ``bad_request`` logfmt line per ``log_interval``, never a traceback; failed ``accept()`` calls
  (EMFILE) log one ``accept_failed`` line per interval, the default asyncio handler a traceback each.
* **SIGHUP** is logged (``sighup_ignored``) and ignored: there is nothing to reload, and its default
  action would end the process with a status systemd counts as clean. Only :func:`serve` with
  ``handle_signals`` (the exporter, the API) does this; a program that handles signals itself (the
  demo stops on SIGHUP) keeps its own handler.

Why a protocol subclass rather than aiohttp's ``TCPSite``: aiohttp offers no header deadline, no
connection cap and no hook on its own 400 answers, and these are what issue 11 asks for.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from ..settings import parse_listen_address
from .errors import ErrorMap, error_body, error_middleware
from .middleware import SERVER_HEADER, basic_auth_middleware, headers_middleware
from .webconfig import WebConfig

log = structlog.get_logger(component="http")


BACKLOG = 128  # listen() backlog; asyncio may accept this many sockets in one go before the cap acts


def default_max_connections(nofile: int | None = None) -> int:
    """A cap safely below the soft RLIMIT_NOFILE: a quarter, and at least the accept backlog plus 128
    descriptors, is kept for the process' own files (collectors, NVML, logs) and for accept bursts."""
    if nofile is None:
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        if nofile == resource.RLIM_INFINITY:
            nofile = 65536
    return max(8, nofile - max(BACKLOG + 128, nofile // 4))


@dataclass(frozen=True)
class Limits:
    """Connection limits of one server (seconds, counts)."""

    header_timeout: float = 10.0  # s from connect to a complete request head
    idle_timeout: float = 60.0  # s of keep-alive idleness before the server closes
    max_connections: int = 0  # 0: default_max_connections()
    shutdown_timeout: float = 5.0  # s granted to in-flight requests on stop
    log_interval: float = 60.0  # s between two lines of one rate-limited event
    max_line_size: int = 8190  # bytes in the request line or one header field
    max_headers: int = 128

    @property
    def connection_cap(self) -> int:
        """``max_connections``, or default_max_connections() when it is 0."""
        return self.max_connections or default_max_connections()

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Limits:
        """From resolved settings holding ``web.header-timeout``, ``web.idle-timeout`` and
        ``web.max-connections`` (s, s, count; a missing key keeps its default)."""
        return cls(header_timeout=float(values.get("web.header-timeout", cls.header_timeout)),
                   idle_timeout=float(values.get("web.idle-timeout", cls.idle_timeout)),
                   max_connections=int(values.get("web.max-connections", 0) or 0))


class RateLimitedLog:
    """One log line per ``interval`` for an event a stranger can trigger; the rest are counted."""

    def __init__(self, event: str, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.event = event
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")
        self.suppressed = 0

    def __call__(self, **kw: Any) -> None:
        now = self.clock()
        if now - self._last < self.interval:
            self.suppressed += 1
            return
        self._last = now
        log.warning(self.event, suppressed=self.suppressed, **kw)
        self.suppressed = 0


class _QuietLogger(logging.Logger):
    """Stands in for aiohttp's server logger: one rate-limited line, never a traceback."""

    def __init__(self, interval: float) -> None:
        super().__init__("spark_exporter.http.aiohttp")
        self._emit = RateLimitedLog("http_protocol_error", interval)

    def _log(self, level: int, msg: object, args: Any, exc_info: Any = None, *a: Any, **kw: Any) -> None:
        if level < logging.WARNING:
            return
        try:
            text = (str(msg) % args) if args else str(msg)
        except (TypeError, ValueError):
            text = str(msg)
        exc = exc_info if isinstance(exc_info, BaseException) else (sys.exc_info()[1] if exc_info else None)
        self._emit(message=text.splitlines()[0][:200] if text else "",
                   error=type(exc).__name__ if exc else "")


@dataclass
class _Config:
    web_config: WebConfig
    limits: Limits
    quiet: _QuietLogger
    bad_request: RateLimitedLog
    handler_args: dict[str, Any]


CONFIG_KEY = web.AppKey("http_config", _Config)


def make_app(web_config: WebConfig, limits: Limits | None = None, *, errors: ErrorMap = (),
             before_auth: Iterable[Any] = (), after_auth: Iterable[Any] = (),
             auth_exempt: frozenset[str] = frozenset()) -> web.Application:
    """An application with the shared middleware, outermost first: response headers, JSON errors
    (``errors`` maps application exceptions to status and ``errorType``), ``before_auth`` (CORS, rate
    limits), basic auth (``auth_exempt`` paths excepted), then ``after_auth``."""
    limits = limits or Limits()
    quiet = _QuietLogger(limits.log_interval)
    chain = [headers_middleware(web_config), error_middleware(errors), *before_auth,
             basic_auth_middleware(web_config, auth_exempt), *after_auth]
    # handler_args reach aiohttp's protocol under any runner, so even a caller that does not use
    # serve() gets the idle timeout (which aiohttp also arms at connect), head bounds and quiet logs.
    handler_args: dict[str, Any] = {
        "keepalive_timeout": limits.idle_timeout, "logger": quiet, "access_log": None,
        "max_line_size": limits.max_line_size, "max_field_size": limits.max_line_size,
        "max_headers": limits.max_headers}
    app = web.Application(middlewares=chain, client_max_size=64 * 1024, handler_args=handler_args)
    app[CONFIG_KEY] = _Config(web_config, limits, quiet, RateLimitedLog("bad_request", limits.log_interval),
                              handler_args)
    app.on_startup.append(_on_startup)
    return app


async def _on_startup(app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    cfg = app[CONFIG_KEY]
    accept_failed = RateLimitedLog("accept_failed", cfg.limits.log_interval)
    previous = loop.get_exception_handler()

    def handler(lp: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # asyncio reports EMFILE/ENFILE/ENOBUFS on accept() this way, with a traceback, every time.
        if context.get("message") == "socket.accept() out of system resource":
            exc = context.get("exception")
            accept_failed(error=getattr(exc, "strerror", None) or str(exc))
            return
        if previous is not None:
            previous(lp, context)
        else:
            lp.default_exception_handler(context)

    loop.set_exception_handler(handler)

    async def restore(_: web.Application) -> None:
        loop.set_exception_handler(previous)

    app.on_cleanup.append(restore)


class _Guard:
    """Open connections of one server, oldest first."""

    def __init__(self, cap: int, log_interval: float) -> None:
        self.cap = cap
        self.conns: dict[HardenedRequestHandler, None] = {}
        self.evicted = 0  # connections closed to make room, since start
        self.refused = 0  # new connections closed because all were busy, since start
        self._log = RateLimitedLog("connection_cap_reached", log_interval)

    def admit(self, new: HardenedRequestHandler) -> bool:
        if len(self.conns) >= self.cap:
            victim = next((c for c in self.conns if c.evictable), None)
            if victim is None:
                self.refused += 1
                self._log(max_connections=self.cap, evicted=self.evicted, refused=self.refused)
                return False
            self.evicted += 1
            self._log(max_connections=self.cap, evicted=self.evicted, refused=self.refused)
            self.conns.pop(victim, None)
            victim.force_close()
        self.conns[new] = None
        return True


class HardenedRequestHandler(RequestHandler):
    """aiohttp's protocol plus a header deadline from connect, the connection cap and JSON 400s."""

    def __init__(self, manager: Any, *, guard: _Guard, config: _Config, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._config = config
        self._admitted = False
        self._header_handle: asyncio.TimerHandle | None = None

    @property
    def evictable(self) -> bool:
        """True when no request is in progress on this connection (it may be closed to make room)."""
        return not self._request_in_progress

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection under the connection cap (else close it) and start the header deadline
        (``limits.header_timeout`` s; 0 means none).
        """
        if not self._guard.admit(self):
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        if self._config.limits.header_timeout > 0:  # 0 turns the deadline off
            self._header_handle = self._loop.call_later(self._config.limits.header_timeout, self._header_deadline)

    def _header_deadline(self) -> None:
        self._header_handle = None
        if self._request_count == 0:  # not one complete request head since connecting
            self.force_close()

    def connection_lost(self, exc: BaseException | None) -> None:
        """Release the admitted connection's slot and cancel its header deadline."""
        if not self._admitted:
            return
        self._admitted = False
        self._guard.conns.pop(self, None)
        if self._header_handle is not None:
            self._header_handle.cancel()
            self._header_handle = None
        super().connection_lost(exc)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's own error answers (unparsable request: 400) as JSON, logged once per interval."""
        if status == 400:
            kind, text = "bad_request", "malformed HTTP request"
            self._config.bad_request(client=request.remote or "", error=type(exc).__name__ if exc else "")
        else:
            kind, text = "internal", "internal error"
            self._config.quiet.error("request_failed status=%s", status, exc_info=exc)
        if request.writer.output_size > 0:
            raise ConnectionError("response already started")
        headers = {"Server": SERVER_HEADER, **self._config.web_config.headers}
        resp = web.json_response(error_body(kind, text), status=status, headers=headers)
        resp.force_close()
        return resp


class _Site(web.BaseSite):
    def __init__(self, runner: web.BaseRunner, host: str | None, port: int,
                 factory: Callable[[], HardenedRequestHandler], ssl_context: Any, handshake_timeout: float) -> None:
        super().__init__(runner, ssl_context=ssl_context)
        self._host, self._port = host, port
        self._factory = factory
        self._handshake_timeout = handshake_timeout

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host or '0.0.0.0'}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._factory, self._host, self._port, ssl=self._ssl_context, backlog=BACKLOG,
            reuse_address=True, ssl_handshake_timeout=self._handshake_timeout if self._ssl_context else None)


async def serve(app: web.Application, listen_address: str, stop: asyncio.Event | None = None,
                on_started: Callable[[], None] | None = None, handle_signals: bool = True) -> None:
    """Bind ``listen_address`` (``HOST:PORT``), serve ``app`` (from :func:`make_app`) until SIGINT,
    SIGTERM (when ``handle_signals``) or ``stop``, then shut down gracefully.

    Raises OSError if the address cannot be bound (port in use, permission).
    """
    cfg = app[CONFIG_KEY]
    host, port = parse_listen_address(listen_address)
    runner = web.AppRunner(app, access_log=None, handle_signals=False,
                           shutdown_timeout=cfg.limits.shutdown_timeout)
    await runner.setup()
    loop = asyncio.get_running_loop()
    guard = _Guard(cfg.limits.connection_cap, cfg.limits.log_interval)
    server = runner.server
    assert server is not None
    kwargs = cfg.handler_args  # the same protocol arguments make_app gave aiohttp

    def factory() -> HardenedRequestHandler:
        return HardenedRequestHandler(server, loop=loop, guard=guard, config=cfg, **kwargs)

    site = _Site(runner, host or None, port, factory, cfg.web_config.ssl_context, cfg.limits.header_timeout)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    if on_started is not None:
        on_started()
    stop = stop or asyncio.Event()
    signals = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if handle_signals else ()
    for sig in signals[:2]:
        loop.add_signal_handler(sig, stop.set)
    if handle_signals:  # a program that handles signals itself (the demo) decides what SIGHUP means
        loop.add_signal_handler(signal.SIGHUP, lambda: log.info("sighup_ignored", reason="nothing to reload"))
    log.info("listening", address=listen_address, tls=cfg.web_config.tls, basic_auth=bool(cfg.web_config.users),
             max_connections=guard.cap, header_timeout_seconds=cfg.limits.header_timeout,
             idle_timeout_seconds=cfg.limits.idle_timeout)
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await runner.cleanup()
