"""The shared JSON error middleware (spark_exporter/http/errors.py), driven in-process over real HTTP."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from structlog.testing import capture_logs

from spark_exporter.http import errors
from spark_exporter.http.errors import error_middleware


class Unreachable(Exception):
    pass


async def failing(request: web.Request) -> web.Response:
    raise Unreachable("connection refused")


async def broken(request: web.Request) -> web.Response:
    raise ValueError("a bug")


def app(interval: float) -> web.Application:
    a = web.Application(middlewares=[error_middleware([(Unreachable, 503, "prometheus_unavailable")], interval)])
    a.router.add_get("/down", failing)
    a.router.add_get("/bug", broken)
    return a


class TestErrorMiddleware:
    async def test_mapped_exception_is_json_with_its_status_and_kind(self) -> None:
        """A mapped exception leaves as the shared JSON body with its status and errorType."""
        async with TestClient(TestServer(app(60.0))) as client:
            resp = await client.get("/down")
            assert resp.status == 503
            assert await resp.json() == {"status": "error", "errorType": "prometheus_unavailable",
                                         "error": "connection refused"}

    async def test_unexpected_exception_is_a_500_without_a_trace(self) -> None:
        """Anything unmapped is a 500 `internal` whose body carries no stack trace."""
        async with TestClient(TestServer(app(60.0))) as client:
            resp = await client.get("/bug")
            body = await resp.json()
        assert resp.status == 500 and body == {"status": "error", "errorType": "internal", "error": "internal error"}

    async def test_upstream_errors_are_logged_once_per_interval(self) -> None:
        """Twenty failing requests during an outage write one upstream_error line, not twenty."""
        async with TestClient(TestServer(app(60.0))) as client:
            with capture_logs() as logs:
                for _ in range(20):
                    assert (await client.get("/down")).status == 503
        lines = [e for e in logs if e["event"] == "upstream_error"]
        assert len(lines) == 1 and lines[0]["kind"] == "prometheus_unavailable"

    async def test_the_next_line_counts_what_was_held_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """After the interval, the next upstream_error line says how many lines were held back."""
        now = [1000.0]
        monkeypatch.setattr(errors.time, "monotonic", lambda: now[0])
        async with TestClient(TestServer(app(60.0))) as client:
            with capture_logs() as logs:
                for _ in range(5):
                    await client.get("/down")
                now[0] += 61
                await client.get("/down")
        assert [e["suppressed"] for e in logs if e["event"] == "upstream_error"] == [0, 4]
