"""An async client for the Prometheus HTTP query API (``/api/v1/query`` and ``/api/v1/query_range``).

Only those two endpoints are used, so it works unchanged against Prometheus, VictoriaMetrics and the
Thanos and Mimir query front ends. Transient failures (connection refused, timeouts, 502/503/504)
are retried a bounded number of times; a rejected query is not. Warnings and partial responses
(Thanos ``warnings``, VictoriaMetrics ``isPartial``) are carried on every result.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import structlog

log = structlog.get_logger(component="query.client")

_TRANSIENT_STATUS = {502, 503, 504}


class PrometheusError(Exception):
    """Base class of every error the query module raises."""


class PrometheusUnavailable(PrometheusError):
    """Prometheus could not be reached or answered with a server-side failure, after retries."""


class QueryError(PrometheusError):
    """Prometheus rejected or failed to execute a query (``bad_data``, ``execution``, ...)."""

    def __init__(self, message: str, error_type: str | None = None, query: str | None = None) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.query = query


class BadResponse(PrometheusError):
    """The server's answer is not a Prometheus API response (not JSON, or the wrong shape)."""


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
    try:
        v = float(raw)
    except (TypeError, ValueError):
        raise BadResponse(f"sample value {raw!r} is not a number") from None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    timestamp: float  # s since epoch
    value: float | None


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    points: list[tuple[float, float | None]]  # (s since epoch, value)


@dataclass
class Meta:
    """What came with a result besides the data."""

    warnings: list[str] = field(default_factory=list)
    partial: bool = False


@dataclass
class InstantResult(Meta):
    result_type: str = "vector"
    samples: list[Sample] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)  # when the query was a range selector (matrix)
    scalar: float | None = None
    string: str | None = None


@dataclass
class RangeResult(Meta):
    series: list[Series] = field(default_factory=list)


class PrometheusClient:
    """One aiohttp session to one query endpoint. Use ``async with`` or call :meth:`close`."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 5.0,
        retries: int = 2,
        backoff: float = 0.1,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InvalidParameter(f"Prometheus URL must start with http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout  # s, per attempt
        self.retries = retries
        self.backoff = backoff  # s, doubled per retry
        self.headers = dict(headers or {})
        self.queries_issued = 0  # HTTP requests sent, for tests and benchmarks
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> PrometheusClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self.headers, timeout=aiohttp.ClientTimeout(total=self.timeout)
            )
        return self._session

    async def query(self, expr: str, time: float | None = None) -> InstantResult:
        params = {"query": expr}
        if time is not None:
            params["time"] = f"{time:.3f}"
        data, meta = await self._call("/api/v1/query", params)
        return _instant(data, meta, expr)

    async def query_range(self, expr: str, start: float, end: float, step: float) -> RangeResult:
        if step <= 0 or end < start:
            raise InvalidParameter(f"bad range: start={start} end={end} step={step}")
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        data, meta = await self._call("/api/v1/query_range", params)
        if data.get("resultType") != "matrix":
            raise BadResponse(f"range query returned {data.get('resultType')!r}, expected matrix")
        return RangeResult(
            warnings=meta.warnings, partial=meta.partial, series=[_series(s) for s in _result_list(data)]
        )

    async def _call(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], Meta]:
        attempt = 0
        while True:
            try:
                return await self._once(path, params)
            except PrometheusUnavailable as e:
                if attempt >= self.retries:
                    raise
                delay = self.backoff * (2**attempt)
                log.warning("prometheus_retry", path=path, attempt=attempt + 1, error=str(e), delay_s=delay)
                attempt += 1
                await asyncio.sleep(delay)

    async def _once(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], Meta]:
        url = self.base_url + path
        self.queries_issued += 1
        try:
            async with self._get_session().get(url, params=params) as resp:
                body = await resp.read()
                status = resp.status
        except TimeoutError:
            raise PrometheusUnavailable(
                f"Prometheus at {self.base_url} did not answer within {self.timeout:g}s"
            ) from None
        except aiohttp.ClientError as e:
            raise PrometheusUnavailable(f"cannot reach Prometheus at {self.base_url}: {e}") from None
        return _decode(status, body, self.base_url, params.get("query", ""))


def _decode(status: int, body: bytes, base_url: str, query: str) -> tuple[dict[str, Any], Meta]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        doc = None
    if not isinstance(doc, dict):
        if status in _TRANSIENT_STATUS or status >= 500:
            raise PrometheusUnavailable(f"Prometheus at {base_url} answered HTTP {status}")
        raise BadResponse(
            f"Prometheus at {base_url} answered HTTP {status} with a body that is not "
            f"a JSON object: {body[:200]!r}"
        )
    if doc.get("status") != "success":
        etype, msg = doc.get("errorType"), doc.get("error") or "unknown error"
        # Prometheus answers 503 for a query timeout or an overloaded engine: worth a retry.
        if status in _TRANSIENT_STATUS or etype in ("timeout", "unavailable"):
            raise PrometheusUnavailable(f"Prometheus at {base_url}: {etype}: {msg}")
        raise QueryError(f"query rejected ({etype}): {msg}", etype, query)
    data = doc.get("data")
    if not isinstance(data, dict):
        raise BadResponse("response has no 'data' object")
    warnings = [str(w) for w in (doc.get("warnings") or [])] + [str(i) for i in (doc.get("infos") or [])]
    return data, Meta(warnings=warnings, partial=bool(doc.get("isPartial")))


def _result_list(data: dict[str, Any]) -> list[Any]:
    result = data.get("result")
    if not isinstance(result, list):
        raise BadResponse("response data has no 'result' list")
    return result


def _series(raw: Any) -> Series:
    try:
        return Series(dict(raw["metric"]), [(float(t), parse_value(v)) for t, v in raw["values"]])
    except (KeyError, TypeError, ValueError) as e:
        raise BadResponse(f"malformed matrix entry: {e}") from None


def _instant(data: dict[str, Any], meta: Meta, expr: str) -> InstantResult:
    rtype = data.get("resultType")
    out = InstantResult(warnings=meta.warnings, partial=meta.partial, result_type=str(rtype))
    try:
        if rtype == "vector":
            out.samples = [
                Sample(dict(s["metric"]), float(s["value"][0]), parse_value(s["value"][1]))
                for s in _result_list(data)
            ]
        elif rtype == "matrix":
            out.series = [_series(s) for s in _result_list(data)]
        elif rtype == "scalar":
            out.scalar = parse_value(data["result"][1])
        elif rtype == "string":
            out.string = str(data["result"][1])
        else:
            raise BadResponse(f"unknown resultType {rtype!r} for {expr!r}")
    except (KeyError, TypeError, IndexError) as e:
        raise BadResponse(f"malformed {rtype} result: {e}") from None
    return out
