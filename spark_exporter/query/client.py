"""An async client for the Prometheus HTTP query API (``/api/v1/query``, ``/api/v1/query_range`` and
``/api/v1/alerts``).

Only those endpoints are used, so it works unchanged against Prometheus, VictoriaMetrics (vmalert's
alerts through its proxy) and the Thanos and Mimir query front ends. Transient failures (connection
refused, 502/503/504) are retried a bounded number of times; a timeout and a rejected query are not.
Warnings and partial responses (Thanos ``warnings``, VictoriaMetrics ``isPartial``) are carried on every
result.

Every answer is bounded: at most ``max_response_bytes`` (default 16 MiB) as sent and again once
inflated (gzip/deflate are inflated here, chunk by chunk, so a compression bomb stops at the cap),
and every element is type-checked (labels are strings, timestamps finite numbers); anything else is
:class:`BadResponse`. A 401/403 is :class:`AuthenticationFailed`. Credentials and TLS come from a
Prometheus HTTP client configuration file (:mod:`.httpconfig`).

On top of the per-answer cap, all answers being read or parsed at once share one memory budget
(:class:`AnswerBudget`, ``--prometheus.answer-budget-bytes``, default 16 MiB of answer text; parsing
costs up to about 5 times the text in Python objects). An answer's bytes are taken from the budget as they
arrive and given back when the rollup that asked for it is done (:meth:`AnswerBudget.scope`) or, outside
a scope, when the query returns. An answer that finds the budget spent waits for it at most
``AnswerBudget.wait`` seconds, then fails with :class:`AnswerBudgetSpent` (the API's 503 with
``Retry-After``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import json
import math
import os
import re
import socket
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import aiohttp
import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from yarl import URL

from .httpconfig import HttpClientConfig

log = structlog.get_logger(component="query.client")

_TRANSIENT_STATUS = {502, 503, 504}
DEFAULT_MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # compressed and inflated, each
DEFAULT_ANSWER_BUDGET_BYTES = 16 * 1024 * 1024  # answers of all concurrent requests together
DEFAULT_BUDGET_WAIT = 2.0  # s an answer waits for the budget before AnswerBudgetSpent
MAX_NOTES = 20  # warnings and infos kept per answer, each cut to 500 characters
_CHUNK = 64 * 1024  # bytes read from the socket at a time


class PrometheusError(Exception):
    """Base class of every error the query module raises."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or answered with a server-side failure, after retries."""


class PrometheusTimeout(PrometheusUnavailable):
    """Prometheus did not answer in time; never retried (a second try would only double the wait)."""


class QueryError(PrometheusError):
    """Prometheus rejected or failed to execute a query (``bad_data``, ``execution``, ...)."""

    def __init__(self, message: str, error_type: str | None = None, query: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.query = query


class AnswerBudgetSpent(PrometheusUnavailable):
    """The memory budget for answers of all concurrent requests is spent; try again in ``retry_after`` s."""

    retry_after = 1  # s

    @property
    def headers(self) -> dict[str, str]:
        """Headers for the 503 answer: ``Retry-After``."""
        return {"Retry-After": str(self.retry_after)}


class AnswerBudget:
    """Bytes of Prometheus answers held in memory at once, across every request of the process.

    ``limit`` bytes in all. Answers take their bytes as they arrive, so many small answers share the
    budget freely. When it is short, the oldest holder (the first to start reading) has priority: every
    younger holder is stopped at its next chunk with AnswerBudgetSpent, giving its bytes back, so the
    budget can never be split into partial answers that all wait for each other. Any other taker waits
    up to ``wait`` seconds, then gets AnswerBudgetSpent. Bytes taken inside :meth:`scope` are given back
    when the scope ends; see the module docstring. Single event loop only (no locking).
    """

    def __init__(self, limit: int = DEFAULT_ANSWER_BUDGET_BYTES, wait: float = DEFAULT_BUDGET_WAIT) -> None:
        self.limit = limit
        self.wait = wait
        self.used = 0
        self.peak = 0  # most bytes held at once, for tests and benchmarks
        # Resolved at every change (bytes given back, holders stopped); waiters hold it before they sleep,
        # so a change between their check and their sleep is never missed.
        self._change: asyncio.Future[None] | None = None
        self._tickets = itertools.count()
        self._holders: dict[int, _Held] = {}  # ticket -> a holder with bytes, or waiting for some

    def holder(self) -> _Held:
        """A new account for one query or one scope; older accounts have priority."""
        return _Held(self, next(self._tickets))

    def _spent(self) -> AnswerBudgetSpent:
        return AnswerBudgetSpent(f"the memory budget for Prometheus answers ({self.limit} bytes for all requests "
                                 "together) is spent; try again shortly")

    async def _take(self, held: _Held, n: int) -> None:
        if held.closed or held.stopped or n > self.limit:
            raise self._spent()
        self._holders[held.ticket] = held
        deadline = asyncio.get_running_loop().time() + self.wait
        try:
            while self.used + n > self.limit:
                if held.ticket == min(self._holders):
                    for other in self._holders.values():
                        other.stopped = other is not held and other.bytes > 0
                    self._notify()  # wake the stopped ones that are waiting, so they give back
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0 or held.stopped:
                    raise self._spent()
                if self._change is None:
                    self._change = asyncio.get_running_loop().create_future()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._change), left)
                if held.closed or held.stopped:
                    raise self._spent()
        except BaseException:
            if not held.bytes:
                self._holders.pop(held.ticket, None)
            raise
        held.bytes += n
        self.used += n
        self.peak = max(self.peak, self.used)

    def _give(self, held: _Held) -> None:
        self.used -= held.bytes
        held.bytes = 0
        self._holders.pop(held.ticket, None)
        self._notify()

    def _notify(self) -> None:
        if self._change is not None and not self._change.done():
            self._change.set_result(None)
        self._change = None

    @contextlib.asynccontextmanager
    async def scope(self) -> AsyncIterator[None]:
        """Hold every answer read inside (this task and the tasks it starts) until the scope ends."""
        held = self.holder()
        token = _SCOPE.set(held)
        try:
            yield
        finally:
            _SCOPE.reset(token)
            held.release()


class _Held:
    """The bytes one query (or one scope) took from a budget; ``ticket`` orders holders by age."""

    def __init__(self, budget: AnswerBudget, ticket: int) -> None:
        self.budget = budget
        self.ticket = ticket
        self.bytes = 0
        self.stopped = False  # an older holder needs the budget: fail at the next take
        self.closed = False  # given back: a sibling task still reading must not take again

    async def take(self, n: int) -> None:
        """Take ``n`` bytes (see AnswerBudget). Raises AnswerBudgetSpent."""
        if n > 0:
            await self.budget._take(self, n)

    def release(self) -> None:
        """Give every byte back; any later take fails."""
        self.closed = True
        self.budget._give(self)


_SCOPE: contextvars.ContextVar[_Held | None] = contextvars.ContextVar("answer_budget_scope", default=None)


class BadResponse(PrometheusError):
    """The server's answer is not a Prometheus API response (not JSON, the wrong shape, too large)."""


class AuthenticationFailed(BadResponse):
    """Prometheus (or the proxy before it) refused our credentials: HTTP 401 or 403."""


class InvalidParameter(PrometheusError, ValueError):
    """A caller-supplied parameter is malformed (a node name, a duration, ...)."""


class UnknownNodeError(PrometheusError, LookupError):
    """A well-formed node name that is neither in the inventory nor known to Prometheus."""

    def __init__(self, node: str, known: tuple[str, ...]) -> None:
        shown = ", ".join(known[:20]) or "none"
        super().__init__(f"unknown node {node!r} (known nodes: {shown})")
        self.node = node
        self.known = known


def parse_value(raw: Any) -> float | None:
    """A sample value string to float; NaN and infinities (no meaningful reading) become None."""
    if isinstance(raw, bool):
        raise BadResponse("sample value true/false is not a number")
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise BadResponse(f"sample value {str(raw)[:40]!r} is not a number") from None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Sample:
    """One instant-vector sample: labels, timestamp (s since epoch) and value (None for NaN or an infinity)."""

    labels: dict[str, str]
    timestamp: float  # s since epoch
    value: float | None


@dataclass(frozen=True)
class Series:
    """One range series: labels and (s since epoch, value) points."""

    labels: dict[str, str]
    points: list[tuple[float, float | None]]  # (s since epoch, value)


@dataclass
class Meta:
    """What came with a result besides the data."""

    warnings: list[str] = field(default_factory=list)
    partial: bool = False


@dataclass
class InstantResult(Meta):
    """An instant query's answer: result type with samples, series (matrix), scalar or string, plus
    warnings and partial.
    """

    result_type: str = "vector"
    samples: list[Sample] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)  # when the query was a range selector (matrix)
    scalar: float | None = None
    string: str | None = None


@dataclass
class RangeResult(Meta):
    """A range query's series, plus warnings and partial."""

    series: list[Series] = field(default_factory=list)


class PrometheusClient:
    """One aiohttp session to one query endpoint. Use ``async with`` or call :meth:`close`.

    ``timeout`` bounds one HTTP attempt (s); ``max_response_bytes`` the answer, compressed and
    inflated; ``http_config`` (from :func:`~spark_exporter.query.httpconfig.load_http_config`)
    adds credentials, a private CA, a client certificate.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.1,
        headers: Mapping[str, str] | None = None,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        http_config: HttpClientConfig | None = None,
        budget: AnswerBudget | None = None,
    ) -> None:
        shown = re.sub(r"//[^/@]*@", "//", base_url)  # never a user:password@ in a message
        if not base_url.startswith(("http://", "https://")):
            raise InvalidParameter(f"Prometheus URL must start with http:// or https://, got {shown!r}")
        try:  # what aiohttp would refuse only at the first request, as an InvalidUrlClientError
            if not URL(base_url).host:
                raise ValueError("no host")
        except ValueError as e:
            raise InvalidParameter(f"Prometheus URL {shown!r} is not a valid URL: {e}") from None
        if max_response_bytes < 1:
            raise InvalidParameter("max_response_bytes must be positive")
        self.base_url = base_url.rstrip("/")
        # What messages and logs show: without any user:password@ in the URL.
        self.shown_url = str(URL(self.base_url).with_user(None)) if "@" in self.base_url else self.base_url
        self.timeout = timeout  # s, per attempt
        self.retries = retries
        self.backoff = backoff  # s, doubled per retry
        self.max_response_bytes = max_response_bytes
        # At least one whole answer must fit, or a large answer could never be read.
        self.budget = budget or AnswerBudget(max(DEFAULT_ANSWER_BUDGET_BYTES, max_response_bytes))
        self.http_config = http_config or HttpClientConfig()
        # Rollup answers are a few kB: compressing them costs Prometheus and us more CPU than the bytes
        # saved, so none is asked for. A proxy may compress anyway; _read_body inflates that under the cap.
        self.headers = {"Accept-Encoding": "identity", **dict(headers or {}), **self.http_config.headers()}
        self.queries_issued = 0  # HTTP requests sent, for tests and benchmarks
        # Called after every HTTP request with (API path, seconds, succeeded): the API's /metrics.
        self.on_query: Callable[[str, float, bool], None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the HTTP session, if open (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            ssl_ctx = self.http_config.ssl_context
            self._session = aiohttp.ClientSession(
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                auto_decompress=False,  # inflated in _read_body, under the size cap
                connector=aiohttp.TCPConnector(ssl=ssl_ctx if ssl_ctx is not None else True),
            )
        return self._session

    async def query(self, expr: str, time: float | None = None) -> InstantResult:
        """GET /api/v1/query for ``expr`` (at ``time``, s since epoch, if given).

        Raises PrometheusUnavailable, QueryError or BadResponse (all PrometheusError).
        """
        params = {"query": expr}
        if time is not None:
            params["time"] = f"{time:.3f}"
        async with self._held() as held:
            data, meta = await self._call("/api/v1/query", params, held)
            return _instant(data, meta, expr)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> RangeResult:
        """GET /api/v1/query_range for ``expr`` over [start, end] (s since epoch), ``step`` s.

        Raises InvalidParameter for a bad range, BadResponse for a non-matrix answer, and as query().
        """
        if step <= 0 or end < start:
            raise InvalidParameter(f"bad range: start={start} end={end} step={step}")
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        async with self._held() as held:
            data, meta = await self._call("/api/v1/query_range", params, held)
            if data.get("resultType") != "matrix":
                raise BadResponse(f"range query returned {str(data.get('resultType'))[:40]!r}, expected matrix")
            return RangeResult(warnings=meta.warnings, partial=meta.partial, series=_matrix(_result_list(data)))

    async def alerts(self) -> AlertsResult:
        """GET /api/v1/alerts: the alerts the engine's rules hold (firing and pending), checked.

        Raises PrometheusUnavailable, QueryError or BadResponse (a malformed alert list) as query().
        """
        async with self._held() as held:
            data, meta = await self._call("/api/v1/alerts", {}, held)
            raw = data.get("alerts")
            if not isinstance(raw, list):
                raise BadResponse("alerts response data has no 'alerts' list")
            return AlertsResult(warnings=meta.warnings, partial=meta.partial,
                                alerts=list(_checked_items(_ALERTS, raw, "alerts")))

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[_Held]:
        """The budget account of one query: the enclosing scope's, else its own, given back at the end."""
        scoped = _SCOPE.get()
        if scoped is not None and scoped.budget is self.budget:
            yield scoped
            return
        held = self.budget.holder()
        try:
            yield held
        finally:
            held.release()

    async def _call(self, path: str, params: dict[str, str], held: _Held) -> tuple[dict[str, Any], Meta]:
        attempt = 0
        while True:
            try:
                return await self._once(path, params, held)
            except PrometheusTimeout:
                raise
            except PrometheusUnavailable as e:
                if attempt >= self.retries:
                    raise
                delay = self.backoff * (2**attempt)
                log.warning("prometheus_retry", path=path, attempt=attempt + 1, error=str(e), delay_s=delay)
                attempt += 1
                await asyncio.sleep(delay)

    async def _once(self, path: str, params: dict[str, str], held: _Held) -> tuple[dict[str, Any], Meta]:
        self.queries_issued += 1
        if self.on_query is None:
            return await self._request(path, params, held)
        start = time.perf_counter()
        ok = False
        try:
            answer = await self._request(path, params, held)
            ok = True
            return answer
        finally:
            self.on_query(path, time.perf_counter() - start, ok)

    async def _request(self, path: str, params: dict[str, str], held: _Held) -> tuple[dict[str, Any], Meta]:
        url = self.base_url + path
        cfg = self.http_config
        try:
            async with self._get_session().get(
                url, params=params, allow_redirects=cfg.follow_redirects, server_hostname=cfg.server_name
            ) as resp:
                status = resp.status
                if status in (401, 403):
                    raise AuthenticationFailed(
                        f"Prometheus at {self.shown_url} refused the request with HTTP {status}: authentication "
                        "failed (check --prometheus.http-config-file)"
                    )
                body = await self._read_body(resp, held)
        except TimeoutError:
            raise PrometheusTimeout(f"Prometheus at {self.shown_url} did not answer within {self.timeout:g}s") from None
        except aiohttp.ClientError as e:
            raise PrometheusUnavailable(
                f"cannot reach Prometheus at {self.shown_url}: "
                f"{_no_userinfo(connection_reason(e), self.base_url, self.shown_url)}"
            ) from None
        return _decode(status, body, self.shown_url, params.get("query", ""))

    async def _read_body(self, resp: aiohttp.ClientResponse, held: _Held) -> bytes:
        """The body, counted as it arrives and inflated chunk by chunk; BadResponse past the cap. The
        inflated bytes are taken from the budget (``held``) chunk by chunk: AnswerBudgetSpent when spent."""
        cap = self.max_response_bytes
        if resp.content_length is not None and resp.content_length > cap:
            raise BadResponse(f"Prometheus answer of {resp.content_length} bytes is over the {cap}-byte limit")
        encoding = resp.headers.get("Content-Encoding", "identity").strip().lower()
        inflate = _Inflater(encoding, cap)
        received = 0
        async for chunk in resp.content.iter_chunked(_CHUNK):
            received += len(chunk)
            if received > cap:
                raise BadResponse(f"Prometheus answer is over the {cap}-byte limit")
            before = inflate.size
            inflate.feed(chunk)
            await held.take(inflate.size - before)
        before = inflate.size
        body = inflate.finish()
        await held.take(inflate.size - before)
        return body


def connection_reason(error: aiohttp.ClientError) -> str:
    """Why a request failed, in a few words and without aiohttp's internals (no ``ssl:default``,
    no ``Connect call failed (...)``): the OS reason (``Connection refused``), the TLS verdict, or
    the kind of failure.
    """
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        why = getattr(error.certificate_error, "verify_message", None) or "verify failed"
        return f"TLS certificate not accepted: {why}"
    if isinstance(error, aiohttp.ClientSSLError):
        return "TLS handshake failed"
    if isinstance(error, aiohttp.ClientConnectorError):
        os_error = error.os_error
        if isinstance(os_error, socket.gaierror):
            return f"cannot resolve host {error.host}: {os_error.strerror or os_error}"
        # asyncio words it "Connect call failed (address)", or "Multiple exceptions: [Errno 111] ..."
        # for a name with several addresses: the errno says it plainly.
        errno = os_error.errno
        if errno is None and (m := re.search(r"\[Errno (\d+)\]", str(os_error))):
            errno = int(m.group(1))
        return os.strerror(errno) if errno else type(os_error).__name__
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "the server closed the connection"
    if isinstance(error, aiohttp.TooManyRedirects):
        return "too many redirects"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status} {error.message}".strip()
    return type(error).__name__


def _no_userinfo(text: str, url: str, shown: str) -> str:
    return text.replace(url, shown) if url != shown else text


class _Inflater:
    """Inflates gzip/deflate incrementally, never holding more than ``cap`` inflated bytes.

    aiohttp's own decompression has no output limit, so a small gzip bomb would be inflated whole;
    zlib's ``max_length`` lets us stop at the cap.
    """

    def __init__(self, encoding: str, cap: int) -> None:
        self.cap = cap
        self.parts: list[bytes] = []
        self.size = 0
        self.wbits = {"gzip": 31, "x-gzip": 31, "deflate": 47}.get(encoding, 0)  # 47: zlib or gzip header
        if encoding in ("", "identity"):
            self.z = None
        elif self.wbits:
            self.z = zlib.decompressobj(wbits=self.wbits)
        else:
            raise BadResponse(f"Prometheus answer has unsupported Content-Encoding {encoding[:40]!r}")

    def _add(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.cap:
            raise BadResponse(f"Prometheus answer inflates to more than the {self.cap}-byte limit")
        self.parts.append(data)

    def feed(self, chunk: bytes) -> None:
        if self.z is None:
            self._add(chunk)
            return
        data = chunk
        try:
            while data:
                self._add(self.z.decompress(data, self.cap - self.size + 1))
                data = self.z.unconsumed_tail
                if self.z.eof and self.z.unused_data:  # a gzip body may hold several members
                    data = self.z.unused_data
                    self.z = zlib.decompressobj(wbits=self.wbits)
        except zlib.error as e:
            raise BadResponse(f"Prometheus answer is not valid compressed data: {e}") from None

    def finish(self) -> bytes:
        if self.z is not None:
            try:
                self._add(self.z.flush(self.cap - self.size + 1))
            except zlib.error as e:
                raise BadResponse(f"Prometheus answer is truncated compressed data: {e}") from None
        return b"".join(self.parts)


def _decode(status: int, body: bytes, base_url: str, query: str) -> tuple[dict[str, Any], Meta]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        doc = None
    if not isinstance(doc, dict):
        if status in _TRANSIENT_STATUS or status >= 500:
            raise PrometheusUnavailable(f"Prometheus at {base_url} answered HTTP {status}")
        start = " ".join(body[:400].decode("utf-8", "replace").split())[:120]  # whitespace collapsed
        raise BadResponse(
            f"Prometheus at {base_url} answered HTTP {status} with a body that is not a JSON object (is that URL "
            f"the Prometheus API's base?)" + (f"; it starts: {_short(start)}" if start else "; it is empty")
        )
    if doc.get("status") != "success":
        etype, msg = _short(doc.get("errorType")), _short(doc.get("error") or "unknown error")
        # Prometheus answers 503 for a query timeout or an overloaded engine.
        if etype == "timeout":
            raise PrometheusTimeout(f"Prometheus at {base_url}: {etype}: {msg}")
        if status in _TRANSIENT_STATUS or etype == "unavailable":
            raise PrometheusUnavailable(f"Prometheus at {base_url}: {etype}: {msg}")
        raise QueryError(f"query rejected ({etype}): {msg}", etype, query)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise BadResponse("response has no 'data' object")
    try:
        notes = _NOTES.validate_python([doc.get("warnings") or [], doc.get("infos") or []])
    except ValidationError:
        raise BadResponse("response warnings/infos are not lists of strings") from None
    shown = [_short(n) for n in (notes[0] + notes[1])[:MAX_NOTES]]
    return data, Meta(warnings=shown, partial=doc.get("isPartial") is True)


def _short(value: Any) -> str:
    """Upstream text made safe to show: cut to 500 characters, control characters escaped.

    It reaches terminals (the CLI), logs and JSON, so an ESC or CR/LF from a hostile engine
    must not rewrite a screen or forge a log line.
    """
    text = value[:500] if isinstance(value, str) else repr(value)[:100]
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)[:500]


# Upstream shapes, checked by pydantic: a label value that is not a string, a timestamp that is not a
# finite number, or nesting where a pair belongs is a BadResponse, never an exception further on.
_Timestamp = Annotated[float, Field(allow_inf_nan=False)]
_Labels = dict[str, str]


class _Upstream(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _VectorSample(_Upstream):
    metric: _Labels = Field(default_factory=dict)
    value: tuple[_Timestamp, str | float]


class _MatrixSeries(_Upstream):
    metric: _Labels = Field(default_factory=dict)
    values: list[tuple[_Timestamp, str | float]]


_VECTOR = TypeAdapter(list[_VectorSample])
_MATRIX = TypeAdapter(list[_MatrixSeries])
_SCALAR = TypeAdapter(tuple[_Timestamp, str | float])
_STRING = TypeAdapter(tuple[_Timestamp, str])
_NOTES = TypeAdapter(tuple[list[str], list[str]])


class UpstreamAlert(_Upstream):
    """One alert of Prometheus' ``/api/v1/alerts``: labels, annotations, state, activeAt (RFC 3339), value."""

    labels: _Labels = Field(default_factory=dict)
    annotations: _Labels = Field(default_factory=dict)
    state: str
    active_at: str | None = Field(default=None, alias="activeAt")
    value: str | None = None


_ALERTS = TypeAdapter(list[UpstreamAlert])


@dataclass
class AlertsResult(Meta):
    """The alerts of one ``/api/v1/alerts`` answer, as the engine sent them (checked, not yet sorted)."""

    alerts: list[UpstreamAlert] = field(default_factory=list)


def _result_list(data: dict[str, Any]) -> list[Any]:
    result = data.get("result")
    if not isinstance(result, list):
        raise BadResponse("response data has no 'result' list")
    return result


def _checked(adapter: TypeAdapter[Any], raw: Any, what: str, offset: int = 0) -> Any:
    try:
        return adapter.validate_python(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = list(err["loc"])
        if loc and isinstance(loc[0], int):
            loc[0] += offset
        where = ".".join(str(p) for p in loc)
        raise BadResponse(f"malformed {what} result at {where or 'top'}: {err['msg']}") from None
    except RecursionError:
        raise BadResponse(f"malformed {what} result: nested too deeply") from None


_SLICE = 1024  # elements of a result list checked at once


def _checked_items(adapter: TypeAdapter[Any], raw: list[Any], what: str) -> Iterator[Any]:
    """The checked elements of ``raw``, a slice at a time; each raw slice is dropped once checked.

    An answer is held three times over while it is checked whole (the raw objects, the checked ones,
    and what is built from them): slice by slice, the raw objects give way as the results grow, which
    roughly halves the peak memory of a large answer.
    """
    for start in range(0, len(raw), _SLICE):
        checked = _checked(adapter, raw[start:start + _SLICE], what, start)
        raw[start:start + _SLICE] = [None] * len(checked)
        yield from checked


def _matrix(raw: list[Any]) -> list[Series]:
    return [Series(s.metric, [(t, parse_value(v)) for t, v in s.values])
            for s in _checked_items(_MATRIX, raw, "matrix")]


def _instant(data: dict[str, Any], meta: Meta, expr: str) -> InstantResult:
    rtype = data.get("resultType")
    out = InstantResult(warnings=meta.warnings, partial=meta.partial, result_type=_short(rtype))
    if rtype == "vector":
        out.samples = [
            Sample(s.metric, s.value[0], parse_value(s.value[1]))
            for s in _checked_items(_VECTOR, _result_list(data), "vector")
        ]
    elif rtype == "matrix":
        out.series = _matrix(_result_list(data))
    elif rtype == "scalar":
        out.scalar = parse_value(_checked(_SCALAR, data.get("result"), "scalar")[1])
    elif rtype == "string":
        out.string = _checked(_STRING, data.get("result"), "string")[1]
    else:
        raise BadResponse(f"unknown resultType {_short(rtype)} for {expr[:200]!r}")
    return out
