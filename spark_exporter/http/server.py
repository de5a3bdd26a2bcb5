"""The one serve loop of the exporter and the API, with the limits a daemon on a shared network needs.

:func:`make_app` builds an aiohttp application with the shared middleware (configured headers on
every response, JSON errors, basic auth) and :func:`serve` runs it until SIGINT/SIGTERM or ``stop``,
then shuts down gracefully (in-flight requests get ``shutdown_timeout``). Limits, each with its
option and default in docs/security.md:

* **Header deadline** (``header_timeout``, 10 s): a request head must reach the application within
  this time of connecting (for TLS, of the handshake's end; the handshake itself has the same
  deadline), however it is dripped; else the server closes the socket. For later requests on a
  kept-alive connection the idle timeout plays this part.
* **Idle keep-alive timeout** (``idle_timeout``, 60 s): a connection with no complete request for
  this long after its last answer is closed (aiohttp's ``keepalive_timeout``, which a drip does not reset).
* **Connection cap** (``max_connections``, default derived from RLIMIT_NOFILE): at the cap a new
  connection evicts the oldest one with no answer in progress (a slow-header attacker loses its
  sockets, a scraper gets in); if all are busy the new one is closed. Either way one
  ``connection_cap_reached`` line per ``log_interval`` says so.
* **Write deadline** (``write_timeout``, 10 s): an answer the client does not read (the transport's
  buffer stays above its high-water mark, or a closed connection still holds unsent bytes) for this
  long has its connection aborted, buffer dropped. A reader that never reads cannot hold a socket,
  a handler or memory past this.
* **Stuck writers go first**: at the cap, connections stuck writing are evicted before idle ones,
  and when the answers stuck in all write buffers together pass ``max_stuck_bytes`` (16 MiB) the
  oldest stuck connection is aborted; so memory per connection is one answer, and in all a budget.
* **Pipelining**: at most ``max_pipeline`` (16) requests of one connection are handed to aiohttp
  before their answers are written; further bytes wait in a buffer of at most 64 KiB (beyond it the
  socket is not read), and nothing is handed on while the connection's writes are stuck.
* **HTTP edges**: a request line in another version than HTTP/1.0 or 1.1 (505), one in another
  protocol's version (RTSP/1.0, 400) or without one (HTTP/0.9, 400) and ``Expect: 100-continue``
  above the body limit (413) are answered by the connection layer in HTTP/1.1 with the JSON error
  shape and the configured headers, before aiohttp (which would answer in the request's version, or
  send ``100 Continue``) sees them, and so is a method other than GET, HEAD, POST, PUT, DELETE, PATCH,
  OPTIONS, CONNECT and TRACE (405; aiohttp's parser would refuse an unknown one with its plain-text 400);
  ``CONNECT`` and ``OPTIONS *`` are a JSON 405.
* **Head size**: aiohttp's parser bounds (8190-byte request line and header fields, 128 headers).
* **Quiet errors**: a request aiohttp cannot parse gets aiohttp's own plain-text 400 and a closed
  connection, and at most one ``http_protocol_error`` logfmt line per ``log_interval``, never a
  traceback. aiohttp answers those before any application code runs and offers no public hook on
  them (aio-libs/aiohttp#3287), so they carry neither the JSON error shape nor the configured headers.
  Failed ``accept()`` calls (EMFILE) log one ``accept_failed`` line per interval, where the default
  asyncio handler writes a traceback each.
* **SIGHUP** is logged (``sighup_ignored``) and ignored: there is nothing to reload, and its default
  action would end the process with a status systemd counts as clean. Only :func:`serve` with
  ``handle_signals`` (the exporter, the API) does this; a program that handles signals itself (the
  demo stops on SIGHUP) keeps its own handler.

How, with public interfaces only: :func:`serve` listens with ``loop.create_server`` and a small
asyncio protocol (``_Guarded``) that admits each connection under the cap and arms the header
deadline, then hands the transport to the protocol aiohttp's ``web.Server`` makes (aiohttp documents
it as a ``create_server`` protocol factory). An outermost middleware marks a connection busy while an
answer is being written (``request.transport`` names it), which the cap and the deadline read. The
idle timeout and the head bounds are aiohttp's own ``handler_args``.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from aiohttp import web

from ..logs import RateLimitedLog
from ..settings import parse_listen_address
from .errors import ErrorMap, Handler, error_body, error_middleware, json_error, strict_dumps
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
    write_timeout: float = 10.0  # s an answer may stay undrained before its connection is aborted
    max_stuck_bytes: int = 16 << 20  # bytes of answers held in stuck connections' write buffers, all together
    max_pipeline: int = 16  # requests of one connection handed to aiohttp and not yet answered
    max_pending_input: int = 64 << 10  # bytes of one connection read but not yet handed to aiohttp

    @property
    def connection_cap(self) -> int:
        """``max_connections``, or default_max_connections() when it is 0."""
        return self.max_connections or default_max_connections()

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Limits:
        """From resolved settings holding ``web.header-timeout``, ``web.idle-timeout`` and
        ``web.max-connections`` and ``web.write-timeout`` (s, s, count, s; a missing key keeps its default)."""
        return cls(header_timeout=float(values.get("web.header-timeout", cls.header_timeout)),
                   idle_timeout=float(values.get("web.idle-timeout", cls.idle_timeout)),
                   write_timeout=float(values.get("web.write-timeout", cls.write_timeout)),
                   max_connections=int(values.get("web.max-connections", 0) or 0))


def _rate_limited(event: str, interval: float) -> RateLimitedLog:
    return RateLimitedLog(log, event, interval)


class _QuietLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """Stands in for aiohttp's server logger: one rate-limited line, never a traceback.

    aiohttp logs a request it cannot parse (and a handler's unexpected exception) with a traceback
    each; every logging method of an adapter goes through :meth:`log`, which keeps a line per interval.
    """

    def __init__(self, interval: float) -> None:
        super().__init__(logging.getLogger("spark_exporter.http.aiohttp"), {})
        self._emit = _rate_limited("http_protocol_error", interval)

    def log(self, level: int, msg: object, *args: Any, exc_info: Any = None, **kw: Any) -> None:
        """Below WARNING: dropped; else one ``http_protocol_error`` line per interval (first line of the
        message, 200 characters at most, and the exception's type name)."""
        if level < logging.WARNING:
            return
        try:
            text = (str(msg) % args) if args else str(msg)
        except (TypeError, ValueError):
            text = str(msg)
        exc = exc_info if isinstance(exc_info, BaseException) else (sys.exc_info()[1] if exc_info else None)
        self._emit(message=text.splitlines()[0][:200] if text else "",
                   error=type(exc).__name__ if exc else "")


class _Conn:
    """One admitted connection: its transport and protocol, whether a request head has reached the
    application since it connected, how many requests on it are being answered, the requests handed
    to aiohttp and answered so far, and since when its writes are stuck (monotonic s; None: not)."""

    __slots__ = ("answered", "busy", "closing_since", "heads", "protocol", "started", "stuck_since", "transport")

    def __init__(self, transport: asyncio.BaseTransport, protocol: _Guarded) -> None:
        self.transport = transport
        self.protocol = protocol
        self.started = False
        self.busy = 0
        self.heads = 0  # request heads handed to aiohttp
        self.answered = 0  # requests whose answer has been written out
        self.stuck_since: float | None = None  # the write buffer went above its high-water mark
        self.closing_since: float | None = None  # closed with unsent bytes left in the buffer

    def write_buffered(self) -> int:
        """Bytes written but not yet sent (0 for a transport that cannot say)."""
        get = getattr(self.transport, "get_write_buffer_size", None)
        return int(get()) if get is not None else 0

    def drop(self) -> None:
        """Close now: abort (unsent bytes dropped) when bytes are pending, else a plain close."""
        if self.write_buffered() > 0 or self.stuck_since is not None:
            abort = getattr(self.transport, "abort", None)
            if abort is not None:
                abort()
                return
        self.transport.close()


class _Guard:
    """Open connections of one server, oldest first, under a cap; stuck writers are dropped first."""

    def __init__(self, limits: Limits, headers: Mapping[str, str] | None = None) -> None:
        self.headers = dict(headers or {})  # the web config's headers, for answers written raw
        self.cap = limits.connection_cap
        self.limits = limits
        self.conns: dict[asyncio.BaseTransport, _Conn] = {}
        self.evicted = 0  # connections closed to make room, since start
        self.refused = 0  # new connections closed because all were busy, since start
        self.write_timeouts = 0  # connections aborted for an answer not read in time, since start
        self._log = _rate_limited("connection_cap_reached", limits.log_interval)
        self._stuck_log = _rate_limited("write_deadline_passed", limits.log_interval)
        # Set when some connection may hold unsent bytes: the sweeper runs only then, so an idle server
        # (or one whose answers drain at once, as a scraper's do) never wakes (measured: a 1 s sweep cost
        # the exporter 4.9 ms CPU per 20 s idle, more than its whole collection work at a 15 s scrape).
        self.unsent = asyncio.Event()

    def watch(self, conn: _Conn) -> None:
        """``conn`` may hold unsent bytes (stuck, or an answer left in its buffer): start sweeping."""
        if conn.stuck_since is not None or conn.write_buffered() > 0 or conn.transport.is_closing():
            self.unsent.set()

    def watching(self) -> bool:
        """Whether any connection still holds unsent bytes (so the sweeper goes on)."""
        return any(c.stuck_since is not None or c.write_buffered() > 0 for c in self.conns.values())

    def admit(self, transport: asyncio.BaseTransport, protocol: _Guarded) -> _Conn | None:
        """The new connection's record, or None when the cap is reached and every connection is busy.

        At the cap the oldest connection stuck writing is dropped to make room, else the oldest one
        with no request being answered.
        """
        if len(self.conns) >= self.cap:
            victim = next((c for c in self.conns.values() if c.stuck_since is not None), None) or next(
                (c for c in self.conns.values() if c.busy == 0), None)
            if victim is None:
                self.refused += 1
                self._log(max_connections=self.cap, evicted=self.evicted, refused=self.refused)
                return None
            self.evicted += 1
            self._log(max_connections=self.cap, evicted=self.evicted, refused=self.refused)
            self.conns.pop(victim.transport, None)
            victim.drop()
        conn = self.conns[transport] = _Conn(transport, protocol)
        return conn

    def stuck(self, conn: _Conn) -> None:
        """``conn``'s writes are stuck: if the answers stuck in all write buffers now pass the budget,
        abort the oldest stuck connections until they fit."""
        stuck = [c for c in self.conns.values() if c.stuck_since is not None]
        total = sum(c.write_buffered() for c in stuck)
        for victim in stuck:
            if total <= self.limits.max_stuck_bytes:
                break
            total -= victim.write_buffered()
            self._abort(victim, "stuck answers past the memory budget")

    def sweep(self, now: float) -> None:
        """Abort each connection whose answer has not drained within the write deadline."""
        deadline = self.limits.write_timeout
        for conn in list(self.conns.values()):
            if conn.stuck_since is not None and now - conn.stuck_since > deadline:
                self._abort(conn, "answer not read within the write deadline")
            elif conn.transport.is_closing() and conn.write_buffered() > 0:
                # Closed (idle timeout, Connection: close) with unsent bytes: asyncio would wait forever.
                if conn.closing_since is None:
                    conn.closing_since = now
                elif now - conn.closing_since > deadline:
                    self._abort(conn, "closed connection not drained within the write deadline")

    def _abort(self, conn: _Conn, why: str) -> None:
        self.write_timeouts += 1
        self._stuck_log(reason=why, aborted=self.write_timeouts, write_timeout_seconds=self.limits.write_timeout)
        self.conns.pop(conn.transport, None)
        abort = getattr(conn.transport, "abort", None)
        (abort or conn.transport.close)()

    def abort_stuck(self) -> None:
        """At shutdown: abort every connection stuck writing (its handler then ends at once)."""
        for conn in list(self.conns.values()):
            if conn.stuck_since is not None or (conn.transport.is_closing() and conn.write_buffered() > 0):
                self.conns.pop(conn.transport, None)
                conn.drop()


@dataclass
class _Config:
    web_config: WebConfig
    limits: Limits
    guard: _Guard
    handler_args: dict[str, Any]


CONFIG_KEY = web.AppKey("http_config", _Config)


MAX_BODY = 64 * 1024  # bytes of a request body (client_max_size); no route reads one
_REASONS = {400: "Bad Request", 405: "Method Not Allowed", 413: "Request Entity Too Large",
            505: "HTTP Version Not Supported"}


def _raw_answer(transport: asyncio.BaseTransport, status: int, kind: str, message: str,
                headers: Mapping[str, str]) -> None:
    """Write a complete JSON error answer (HTTP/1.1, ``Connection: close``) straight to ``transport`` and
    close it: for requests aiohttp must not answer itself (an HTTP/0.9 or HTTP/2 request line would be
    echoed in its status line; an oversized ``Expect: 100-continue`` would get ``100 Continue``)."""
    body = strict_dumps(error_body(kind, message)).encode()
    head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}", "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(body)}", "Connection: close", f"Server: {SERVER_HEADER}",
            *(f"{k}: {v}" for k, v in headers.items())]
    if status == 405:
        head.append("Allow: GET, HEAD")
    if isinstance(transport, asyncio.WriteTransport) and not transport.is_closing():
        transport.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + body)
    transport.close()


_METHOD = re.compile(rb"[A-Z]{3,16}")
_TOKEN = re.compile(rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: any method name
#: Methods aiohttp is left to parse (the routes and the request-form middleware answer them); any other
#: method is a JSON 405 here: aiohttp's parser refuses names it does not know with its plain-text 400.
_PARSED_METHODS = frozenset(b"GET HEAD POST PUT DELETE PATCH OPTIONS CONNECT TRACE".split())


def _refusal(head: bytes, complete: bool) -> tuple[int, str, str] | None:
    """(status, errorType, message) when the request head ``head`` must be refused before aiohttp parses
    it (see _Guarded._screened), else None. ``complete``: the head's blank line has arrived."""
    line, sep, rest = head.partition(b"\r\n")
    if not sep and not complete:
        return None  # the request line is not complete yet
    # Split at runs of whitespace: aiohttp's parser takes "GET  / HTTP/2.0" too (and answered it in HTTP/2.0).
    parts = line.split()
    if len(parts) == 2 and _METHOD.fullmatch(parts[0]):
        return 400, "bad_request", "a request line without an HTTP version (HTTP/0.9) is not served"
    version = parts[-1] if len(parts) == 3 else b""
    if version and version not in (b"HTTP/1.0", b"HTTP/1.1"):
        shown = version.decode("ascii", "replace")[:20]
        if version.startswith(b"HTTP/"):
            return 505, "http", f"{shown} is not supported: use HTTP/1.1"
        # aiohttp also takes RTSP/x.y (and answered "GET / RTSP/2.0" with "HTTP/2.0 200 OK").
        return 400, "bad_request", f"{shown} is not an HTTP version: use HTTP/1.1"
    if version and _TOKEN.fullmatch(parts[0]) and parts[0] not in _PARSED_METHODS:
        return 405, "http", f"method {parts[0].decode('ascii')[:20]} not allowed"
    if complete and b"100-continue" in rest.lower():
        fields: dict[bytes, bytes] = {}
        for f in rest.split(b"\r\n"):  # "expect:100-continue" and "Expect:\t100-Continue" say the same
            name, colon, value = f.partition(b":")
            if colon:
                fields.setdefault(name.strip().lower(), value.strip().lower())
        length = fields.get(b"content-length", b"")
        if fields.get(b"expect") == b"100-continue" and length.isdigit() and int(length) > MAX_BODY:
            return 413, "http", f"a request body of {int(length)} bytes is over the limit of {MAX_BODY}"
    return None


def _request_form_middleware() -> Any:
    """405 (JSON, ``Allow: GET, HEAD``) for ``CONNECT`` and the asterisk form (``OPTIONS *``): no resource
    answers them, and a 404 would say the path is wrong."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "CONNECT" or request.raw_path == "*":
            return json_error(405, "http", f"method {request.method} not allowed for {request.raw_path[:80]!r}",
                              {"Allow": "GET, HEAD"})
        return await handler(request)

    return middleware


def _busy_middleware(guard: _Guard) -> Any:
    """Marks a connection busy from the moment a request head reaches the application until its answer
    is written out (so the cap never evicts it mid-answer), and started (so the header deadline spares it).
    A connection the guard does not know (an app run by another runner) passes through untouched."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        conn = guard.conns.get(request.transport) if request.transport is not None else None
        if conn is None:
            return await handler(request)
        conn.started = True
        conn.busy += 1
        try:
            resp = await handler(request)
            # Written out here rather than after the middleware returns, so that "busy" lasts until the
            # last byte; aiohttp then finds the answer prepared and its end already sent.
            try:
                await resp.prepare(request)
                await resp.write_eof()
            except ConnectionError:  # the client left mid-answer; aiohttp's own finish notices it quietly
                pass
            return resp
        finally:
            conn.busy -= 1
            conn.answered += 1
            guard.watch(conn)  # an answer the client has not read yet: the write deadline applies
            asyncio.get_running_loop().call_soon(conn.protocol.pump)  # hand on the next pipelined request

    return middleware


def make_app(web_config: WebConfig, limits: Limits | None = None, *, errors: ErrorMap = (),
             before_auth: Iterable[Any] = (), after_auth: Iterable[Any] = (),
             auth_exempt: frozenset[str] = frozenset()) -> web.Application:
    """An application with the shared middleware, outermost first: connection bookkeeping for
    :func:`serve`, response headers, JSON errors (``errors`` maps application exceptions to status and
    ``errorType``), ``before_auth`` (CORS, rate limits), basic auth (``auth_exempt`` paths excepted),
    then ``after_auth``."""
    limits = limits or Limits()
    guard = _Guard(limits, web_config.headers)
    chain = [_busy_middleware(guard), headers_middleware(web_config), _request_form_middleware(),
             error_middleware(errors), *before_auth,
             basic_auth_middleware(web_config, auth_exempt), *after_auth]
    # handler_args reach aiohttp's protocol under any runner, so even a caller that does not use
    # serve() gets the idle timeout (which aiohttp also arms at connect), head bounds and quiet logs.
    handler_args: dict[str, Any] = {
        "keepalive_timeout": limits.idle_timeout, "logger": _QuietLog(limits.log_interval), "access_log": None,
        "max_line_size": limits.max_line_size, "max_field_size": limits.max_line_size,
        "max_headers": limits.max_headers}
    app = web.Application(middlewares=chain, client_max_size=MAX_BODY, handler_args=handler_args)
    app[CONFIG_KEY] = _Config(web_config, limits, guard, handler_args)
    app.on_startup.append(_on_startup)
    return app


async def _on_startup(app: web.Application) -> None:
    loop = asyncio.get_running_loop()
    cfg = app[CONFIG_KEY]
    accept_failed = _rate_limited("accept_failed", cfg.limits.log_interval)
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


class _Guarded(asyncio.Protocol):
    """Sits between an asyncio transport and aiohttp's protocol: admits the connection under the cap
    (else closes it before aiohttp sees it), arms the header deadline, notes when writes are stuck (for
    the write deadline and eviction), and hands aiohttp the bytes of at most ``max_pipeline`` requests
    not yet answered, none while writes are stuck; everything else is passed on.

    Only public interfaces meet here: asyncio's protocol callbacks and transport methods
    (``pause_reading``, ``resume_reading``, ``get_write_buffer_size``, ``abort``), and ``web.Server``,
    which aiohttp documents as a protocol factory for ``loop.create_server``.
    """

    def __init__(self, server: web.Server, guard: _Guard, limits: Limits) -> None:
        self._server = server
        self._guard = guard
        self._limits = limits
        self._inner: asyncio.Protocol | None = None
        self._conn: _Conn | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._pending = bytearray()  # read, not yet handed to aiohttp
        self._tail = b""  # the last bytes handed on, to find a head end split across two reads
        self._reading_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit the connection (or close it) and start the header deadline (0 s: none)."""
        self._conn = self._guard.admit(transport, self)
        if self._conn is None:
            transport.close()
            return
        self._inner = self._server()
        self._inner.connection_made(transport)
        if self._limits.header_timeout > 0:
            self._deadline = asyncio.get_running_loop().call_later(self._limits.header_timeout,
                                                                   self._header_deadline)

    def _header_deadline(self) -> None:
        self._deadline = None
        if self._conn is not None and not self._conn.started:  # not one complete request head since connecting
            self._conn.drop()

    def data_received(self, data: bytes) -> None:
        """Queued, then handed to aiohttp as far as the pipelining bound allows (see pump)."""
        if self._inner is None or self._conn is None:
            return
        self._pending += data
        self.pump()

    def pump(self) -> None:
        """Hand aiohttp the queued bytes up to the end of the ``max_pipeline``-th unanswered request head
        (nothing while writes are stuck); stop reading the socket while the queue is full."""
        conn = self._conn
        while self._pending and self._inner is not None and conn is not None and conn.stuck_since is None:
            room = self._limits.max_pipeline - (conn.heads - conn.answered)
            if room <= 0:
                break
            data = bytes(self._pending)
            buf = self._tail + data
            pos = found = 0
            while found < room:
                end = buf.find(b"\r\n\r\n", pos)
                if end < 0:
                    break
                pos, found = end + 4, found + 1
            cut = pos - len(self._tail) if found == room else len(data)
            screened = self._screened(data, cut)
            if screened != cut:
                cut = screened
                if cut <= 0:
                    break
                found = (self._tail + data[:cut]).count(b"\r\n\r\n")
            chunk = data[:cut]
            del self._pending[:cut]
            conn.heads += found
            self._tail = (self._tail + chunk)[-3:]
            self._inner.data_received(chunk)
        self._flow()

    def _screened(self, data: bytes, cut: int) -> int:
        """How much of ``data[:cut]`` may go to aiohttp: all of it, unless a request head in it must be
        refused before aiohttp sees it (answered here, in HTTP/1.1 with the JSON error shape):

        * a request line in another HTTP version than 1.0 or 1.1 (505), in another protocol's (400), or without
          one (HTTP/0.9, 400), or with a method other than the common ones (405: aiohttp's parser refuses
          a method it does not know with its plain-text 400):
          aiohttp would answer in the request's own version, or with its plain-text 400;
        * ``Expect: 100-continue`` with a body above MAX_BODY (413): aiohttp would send ``100 Continue``.

        Requests before such a head are answered first: the result is then that head's offset (0: wait
        for their answers, or the connection is closing).
        """
        conn = self._conn
        start = 0
        while start < cut:
            end = data.find(b"\r\n\r\n", start, cut)
            head = data[start:end if end >= 0 else cut]
            refusal = _refusal(head, end >= 0)
            if refusal is not None:
                if start > 0 or (conn is not None and conn.heads > conn.answered):
                    return start  # answer the earlier requests first, in order
                self._pending.clear()
                if conn is not None:
                    _raw_answer(conn.transport, *refusal, self._guard.headers)
                    self._guard.watch(conn)
                return 0
            if end < 0:
                break
            start = end + 4
        return cut

    def _flow(self) -> None:
        transport = self._conn.transport if self._conn is not None else None
        if not isinstance(transport, asyncio.ReadTransport):
            return
        full = len(self._pending) >= self._limits.max_pending_input
        if full and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not full and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def eof_received(self) -> bool | None:
        """Passed to aiohttp."""
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        """The write buffer passed its high-water mark: writes are stuck from now (write deadline,
        eviction, memory budget); passed to aiohttp."""
        if self._conn is not None:
            self._conn.stuck_since = time.monotonic()
            self._guard.stuck(self._conn)
            self._guard.watch(self._conn)
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        """The client read the buffer down: no longer stuck; passed to aiohttp, queued requests go on."""
        if self._conn is not None:
            self._conn.stuck_since = None
        if self._inner is not None:
            self._inner.resume_writing()
        self.pump()

    def connection_lost(self, exc: Exception | None) -> None:
        """Release the connection's slot, cancel its header deadline, and tell aiohttp."""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
        if self._conn is not None:
            self._guard.conns.pop(self._conn.transport, None)
            self._conn = None
        self._pending.clear()
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.connection_lost(exc)


async def _sweep(guard: _Guard, interval: float) -> None:
    """Apply the write deadline every ``interval`` seconds while some connection holds unsent bytes (see
    ``_Guard.unsent``); otherwise wait, without waking, until one may. Runs until cancelled."""
    while True:
        await guard.unsent.wait()
        await asyncio.sleep(interval)
        guard.sweep(time.monotonic())
        if not guard.watching() and not any(c.closing_since is not None for c in guard.conns.values()):
            guard.unsent.clear()


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
    guard = cfg.guard
    server = runner.server
    assert server is not None
    tls = cfg.web_config.ssl_context
    try:
        listener = await loop.create_server(
            lambda: _Guarded(server, guard, cfg.limits), host or None, port, ssl=tls,
            backlog=BACKLOG, reuse_address=True, ssl_handshake_timeout=cfg.limits.header_timeout if tls else None)
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
             idle_timeout_seconds=cfg.limits.idle_timeout, write_timeout_seconds=cfg.limits.write_timeout)
    sweeper = asyncio.create_task(_sweep(guard, min(1.0, cfg.limits.write_timeout / 4)))
    try:
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        sweeper.cancel()
        listener.close()  # no new connections; aiohttp's shutdown then ends the open ones
        guard.abort_stuck()  # an answer nobody reads is not in flight: its handler must not hold shutdown
        await runner.cleanup()
        for conn in list(guard.conns.values()):  # refused, never handed to aiohttp, or left over
            conn.drop()
        try:
            await asyncio.wait_for(listener.wait_closed(), cfg.limits.shutdown_timeout)
        except TimeoutError:
            log.warning("shutdown_incomplete", open_connections=len(guard.conns))
