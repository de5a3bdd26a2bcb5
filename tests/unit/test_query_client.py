"""The async Prometheus HTTP API client: results, typed errors, retries, warnings."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
from collections.abc import AsyncIterator, Callable

import pytest
from aiohttp import web

from helpers.procs import free_port
from helpers.prometheus_answers import gzip_bomb
from spark_exporter.query.client import (
    MAX_NOTES,
    BadResponse,
    InvalidParameter,
    PrometheusClient,
    PrometheusUnavailable,
    QueryError,
)
from spark_exporter.query.rollups import Rollups


class TestUnavailable:
    async def test_closed_port_is_unavailable_after_bounded_retries(self) -> None:
        """Connection refused raises PrometheusUnavailable after exactly 1 + retries attempts."""
        async with PrometheusClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01) as c:
            with pytest.raises(PrometheusUnavailable, match="cannot reach"):
                await c.query("up")
            assert c.queries_issued == 3

    def test_url_must_be_http(self) -> None:
        """A URL without http:// or https:// is rejected up front."""
        with pytest.raises(InvalidParameter):
            PrometheusClient("localhost:9090")

    @pytest.mark.parametrize(("url", "why"), [
        ("http://[::1", "Invalid IPv6 URL"), ("http://h:99999", "Port out of range"), ("http://", "no host"),
        ("https://u:secret@[::1", "Invalid IPv6 URL"),
    ])
    def test_malformed_url_is_refused_up_front_without_credentials(self, url: str, why: str) -> None:
        """A URL aiohttp could not request is refused when the client is made, saying why in words (not as
        aiohttp's InvalidUrlClientError at the first query), and a password in it is not repeated."""
        with pytest.raises(InvalidParameter, match="is not a valid URL") as e:
            PrometheusClient(url)
        assert why in str(e.value) and "secret" not in str(e.value)


# Failure modes a real Prometheus cannot be made to produce on demand (5xx bursts, malformed JSON,
# Thanos warnings, VictoriaMetrics isPartial, a hung server) are served by this small fake.
Responder = Callable[[web.Request], web.StreamResponse]


@pytest.fixture
async def fake() -> AsyncIterator[tuple[str, list[Responder]]]:
    script: list[Responder] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        responder = script.pop(0) if len(script) > 1 else script[0]
        out = responder(request)
        if asyncio.iscoroutine(out):
            return await out  # type: ignore[no-any-return]
        return out

    app = web.Application()
    app.router.add_get("/api/v1/query", handler)
    # Some responders hang on purpose (seconds longer than the client waits). aiohttp's graceful shutdown
    # would wait for them (60 s by default); they have served their purpose once the client gave up.
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield f"http://127.0.0.1:{port}", script
    await runner.cleanup()


def ok_vector(extra: dict[str, object] | None = None) -> Responder:
    body = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [time.time(), "1"]}]},
        **(extra or {}),
    }
    return lambda _: web.json_response(body)


class TestFailureModes:
    async def test_transient_503_is_retried(self, fake: tuple[str, list[Responder]]) -> None:
        """A 503 followed by success returns the result after one retry."""
        url, script = fake
        script += [lambda _: web.Response(status=503, text="overloaded"), ok_vector()]
        async with PrometheusClient(url, retries=2, backoff=0.01) as c:
            res = await c.query("up")
            assert [s.value for s in res.samples] == [1.0]
            assert c.queries_issued == 2

    async def test_persistent_502_is_unavailable(self, fake: tuple[str, list[Responder]]) -> None:
        """A proxy answering 502 every time gives PrometheusUnavailable after the retries."""
        url, script = fake
        script.append(lambda _: web.Response(status=502, text="<html>bad gateway</html>"))
        async with PrometheusClient(url, retries=1, backoff=0.01) as c:
            with pytest.raises(PrometheusUnavailable, match="502"):
                await c.query("up")
            assert c.queries_issued == 2

    async def test_malformed_json_is_bad_response(self, fake: tuple[str, list[Responder]]) -> None:
        """A 200 whose body is not JSON is a BadResponse, not retried."""
        url, script = fake
        script.append(lambda _: web.Response(status=200, text="{not json"))
        async with PrometheusClient(url, retries=2) as c:
            with pytest.raises(BadResponse):
                await c.query("up")
            assert c.queries_issued == 1

    async def test_html_page_is_named_as_text_not_bytes(self, fake: tuple[str, list[Responder]]) -> None:
        """A 404 HTML page (a URL that is not Prometheus' API) is one line: the start of the page as text
        (no b'...' repr, no line breaks) and a hint to check the URL."""
        url, script = fake
        script.append(lambda _: web.Response(status=404, text="<html>\n  <title>Not Found</title>\n</html>\n",
                                             content_type="text/html"))
        async with PrometheusClient(url) as c:
            with pytest.raises(BadResponse) as e:
                await c.query("up")
        message = str(e.value)
        assert message.endswith("; it starts: <html> <title>Not Found</title> </html>"), message
        assert "b'" not in message and "\n" not in message and "base?" in message

    async def test_wrong_shape_is_bad_response(self, fake: tuple[str, list[Responder]]) -> None:
        """A success without a result list is a BadResponse."""
        url, script = fake
        script.append(lambda _: web.json_response({"status": "success", "data": {"resultType": "vector"}}))
        async with PrometheusClient(url) as c:
            with pytest.raises(BadResponse):
                await c.query("up")

    async def test_warnings_and_partial_are_surfaced(self, fake: tuple[str, list[Responder]]) -> None:
        """Thanos-style warnings and a VictoriaMetrics isPartial flag reach the result."""
        url, script = fake
        script.append(ok_vector({"warnings": ["store 10.0.0.3 unreachable"], "isPartial": True}))
        async with PrometheusClient(url) as c:
            res = await c.query("up")
        assert res.warnings == ["store 10.0.0.3 unreachable"]
        assert res.partial is True

    async def test_execution_error_is_query_error(self, fake: tuple[str, list[Responder]]) -> None:
        """An errorType execution answer (HTTP 422) is a QueryError carrying the message."""
        url, script = fake
        script.append(
            lambda _: web.json_response(
                {"status": "error", "errorType": "execution", "error": "many-to-many matching not allowed"},
                status=422,
            )
        )
        async with PrometheusClient(url) as c:
            with pytest.raises(QueryError, match="many-to-many") as exc:
                await c.query("a * b")
        assert exc.value.error_type == "execution"

    async def test_upstream_text_has_control_characters_escaped(self, fake: tuple[str, list[Responder]]) -> None:
        """An engine's error text with ESC and CR/LF reaches the caller as one printable line."""
        url, script = fake
        evil = "oops \x1b]0;pwned\x07\x1b[31mred\r\nFORGED LINE"
        script.append(lambda _: web.json_response({"status": "error", "errorType": "bad_data", "error": evil},
                                                  status=400))
        async with PrometheusClient(url) as c:
            with pytest.raises(QueryError) as exc:
                await c.query("up")
        assert str(exc.value).isprintable()
        assert str(exc.value).endswith("oops \\x1b]0;pwned\\x07\\x1b[31mred\\r\\nFORGED LINE")

    async def test_warnings_are_bounded_in_number_and_length(self, fake: tuple[str, list[Responder]]) -> None:
        """A flood of long warnings is cut to MAX_NOTES warnings of at most 500 printable characters."""
        url, script = fake
        script.append(ok_vector({"warnings": ["w\x1b" * 1000] * 100}))
        async with PrometheusClient(url) as c:
            res = await c.query("up")
        assert len(res.warnings) == MAX_NOTES
        assert all(len(w) <= 500 and w.isprintable() for w in res.warnings)

    async def test_hung_server_times_out(self, fake: tuple[str, list[Responder]]) -> None:
        """A server that does not answer within the timeout gives PrometheusUnavailable."""
        url, script = fake

        async def hang(_: web.Request) -> web.StreamResponse:
            await asyncio.sleep(5)
            return web.json_response({})

        script.append(hang)  # type: ignore[arg-type]
        async with PrometheusClient(url, timeout=0.3, retries=0) as c:
            with pytest.raises(PrometheusUnavailable, match="did not answer"):
                await c.query("up")


def json_body(result: str) -> bytes:
    """A success envelope around a raw ``result`` JSON text, so malformed elements can be written as-is."""
    return b'{"status":"success","data":{"resultType":"vector","result":' + result.encode() + b"}}"


class TestAnswerSizeCap:
    async def test_gzip_bomb_stops_at_the_cap_with_bounded_memory(self, fake: tuple[str, list[Responder]]) -> None:
        """A 64 MiB gzip bomb against a 1 MiB cap is a BadResponse, and at most a few MiB are ever held."""
        url, script = fake
        bomb = gzip_bomb(64 << 20)
        assert len(bomb) < 1 << 20  # it is the inflation, not the transfer, that is over the cap
        script.append(lambda _: web.Response(body=bomb, headers={"Content-Encoding": "gzip"}))
        async with PrometheusClient(url, max_response_bytes=1 << 20) as c:
            tracemalloc.start()
            try:
                with pytest.raises(BadResponse, match="inflates to more than"):
                    await c.query("up")
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert peak < 8 << 20

    async def test_multi_member_gzip_answer_is_inflated_whole(self, fake: tuple[str, list[Responder]]) -> None:
        """A gzip body of several members under the cap is inflated member after member."""
        url, script = fake
        bomb = gzip_bomb(2 << 20)
        script.append(lambda _: web.Response(body=bomb, headers={"Content-Encoding": "gzip"}))
        async with PrometheusClient(url, max_response_bytes=4 << 20) as c:
            res = await c.query("up")
        assert len(res.samples[0].labels["a"]) == 2 << 20

    async def test_small_gzip_answer_is_inflated(self, fake: tuple[str, list[Responder]]) -> None:
        """A gzip answer under the cap is inflated and decoded like a plain one."""
        url, script = fake
        body = gzip.compress(json_body('[{"metric":{"a":"b"},"value":[1700000000,"2"]}]'))
        script.append(lambda _: web.Response(body=body, headers={"Content-Encoding": "gzip"}))
        async with PrometheusClient(url) as c:
            res = await c.query("up")
        assert [(s.labels, s.value) for s in res.samples] == [({"a": "b"}, 2.0)]

    async def test_oversized_plain_answer_is_refused(self, fake: tuple[str, list[Responder]]) -> None:
        """An uncompressed answer streamed without Content-Length past the cap is a BadResponse."""
        url, script = fake

        async def stream(request: web.Request) -> web.StreamResponse:
            resp = web.StreamResponse()
            resp.enable_chunked_encoding()
            await resp.prepare(request)
            for _ in range(64):
                await resp.write(b"[" * 65536)
            return resp

        script.append(stream)  # type: ignore[arg-type]
        async with PrometheusClient(url, max_response_bytes=1 << 20) as c:
            with pytest.raises(BadResponse, match="over the"):
                await c.query("up")

    async def test_declared_length_over_the_cap_is_refused(self, fake: tuple[str, list[Responder]]) -> None:
        """An answer whose Content-Length is over the cap is refused before its body is read."""
        url, script = fake
        script.append(lambda _: web.Response(body=b" " * (2 << 20)))
        async with PrometheusClient(url, max_response_bytes=1 << 20) as c:
            with pytest.raises(BadResponse, match="bytes is over"):
                await c.query("up")

    async def test_unsupported_encoding_is_refused(self, fake: tuple[str, list[Responder]]) -> None:
        """A Content-Encoding this client did not ask for (br) is a BadResponse, not undecoded bytes."""
        url, script = fake
        script.append(lambda _: web.Response(body=b"xx", headers={"Content-Encoding": "br"}))
        async with PrometheusClient(url) as c:
            with pytest.raises(BadResponse, match="Content-Encoding"):
                await c.query("up")


class TestWronglyTypedAnswers:
    @pytest.mark.parametrize(
        "result",
        [
            '[{"metric":{"node":["spark-01"]},"value":[1700000000,"1"]}]',  # a label value that is a list
            '[{"metric":{"node":7},"value":[1700000000,"1"]}]',  # a label value that is a number
            '[{"metric":{},"value":["soon","1"]}]',  # a non-numeric timestamp
            '[{"metric":{},"value":[1e999,"1"]}]',  # an infinite timestamp
            '[{"metric":{},"value":[[[[[[1]]]]],"1"]}]',  # nested arrays where a pair belongs
            '[{"metric":{},"value":[1700000000,[[["1"]]]]}]',  # nested arrays as the value
            '[{"metric":{},"value":[1700000000,"one"]}]',  # a value that is not a number
            '[{"metric":"up","value":[1700000000,"1"]}]',  # labels that are not an object
            '[{"metric":{},"value":[1700000000]}]',  # a pair with one element
            "[" * 100000 + "]" * 100000,  # nesting deeper than any parser's recursion limit
        ],
    )
    async def test_is_bad_response(self, fake: tuple[str, list[Responder]], result: str) -> None:
        """A vector whose elements have the wrong types is a BadResponse, never another exception."""
        url, script = fake
        script.append(lambda _: web.Response(body=json_body(result), content_type="application/json"))
        async with PrometheusClient(url) as c:
            with pytest.raises(BadResponse):
                await c.query("up")

    async def test_wrongly_typed_warnings_are_bad_response(self, fake: tuple[str, list[Responder]]) -> None:
        """Warnings that are not a list of strings are a BadResponse."""
        url, script = fake
        script.append(ok_vector({"warnings": [{"nested": ["x"]}]}))
        async with PrometheusClient(url) as c:
            with pytest.raises(BadResponse):
                await c.query("up")


class TestDeadlines:
    async def test_timeout_is_not_retried(self, fake: tuple[str, list[Responder]]) -> None:
        """A timed-out attempt is not repeated, whatever the retry budget."""
        url, script = fake

        async def hang(_: web.Request) -> web.StreamResponse:
            await asyncio.sleep(5)
            return web.json_response({})

        script.append(hang)  # type: ignore[arg-type]
        async with PrometheusClient(url, timeout=0.3, retries=3) as c:
            with pytest.raises(PrometheusUnavailable, match="did not answer"):
                await c.query("up")
            assert c.queries_issued == 1

    async def test_engine_timeout_error_is_not_retried(self, fake: tuple[str, list[Responder]]) -> None:
        """Prometheus' own 503 errorType timeout is unavailable and sent once."""
        url, script = fake
        script.append(
            lambda _: web.json_response(
                {"status": "error", "errorType": "timeout", "error": "query timed out"}, status=503
            )
        )
        async with PrometheusClient(url, retries=3, backoff=0.01) as c:
            with pytest.raises(PrometheusUnavailable, match="timed out"):
                await c.query("up")
            assert c.queries_issued == 1

    async def test_rollup_has_one_overall_deadline(self, fake: tuple[str, list[Responder]]) -> None:
        """A rollup against a hung Prometheus fails at its own deadline, having sent one request."""
        url, script = fake

        async def hang(_: web.Request) -> web.StreamResponse:
            await asyncio.sleep(3)
            return web.json_response({})

        script.append(hang)  # type: ignore[arg-type]
        async with PrometheusClient(url, timeout=2.5, retries=3) as c:
            with pytest.raises(PrometheusUnavailable, match="deadline"):
                await Rollups(c, deadline=0.5).cluster_overview()
            assert c.queries_issued == 1  # the overview's one query, sent once


class TestSecretsInMessages:
    async def test_url_credentials_stay_out_of_errors(self) -> None:
        """A password in the Prometheus URL never appears in the error raised when it cannot be reached."""
        async with PrometheusClient(f"http://scraper:hunter2-secret@127.0.0.1:{free_port()}", retries=0) as c:
            with pytest.raises(PrometheusUnavailable) as exc:
                await c.query("up")
        assert "hunter2-secret" not in str(exc.value) and "127.0.0.1" in str(exc.value)
