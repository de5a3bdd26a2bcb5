"""The running API against a misbehaving Prometheus: a gzip bomb, wrongly typed answers, a hung server,
and an outage after good answers (served stale for at most 60 s).

The hostile upstream is a small HTTP server in this process (a real Prometheus cannot be made to send
these); the outage test stops a real Prometheus.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers.api import api
from helpers.openapi import validate
from helpers.procs import Proc, http_get, prometheus, tempdir
from helpers.prometheus_answers import gzip_bomb
from spark_exporter.query.openapi import openapi_document

OVERVIEW = "/api/v1/cluster/overview"
# (status, headers, body) for each request
Reply = Callable[[], tuple[int, dict[str, str], bytes]]


class FakePrometheus:
    """Answers every request with ``reply()``; counts requests; hung handlers are released at exit."""

    def __init__(self) -> None:
        self.reply: Reply = lambda: (200, {}, b"{}")
        self.requests = 0
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                fake.requests += 1
                status, headers, body = fake.reply()
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstream() -> Iterator[tuple[FakePrometheus, Path]]:
    """The fake and an inventory naming one node of cluster ``c`` (so the overview is one query)."""
    fake = FakePrometheus()
    with tempdir("hostile") as d:
        inv = d / "inventory.yml"
        inv.write_text(yaml.safe_dump({"cluster": "c", "nodes": [{"name": "n1", "exporter": "127.0.0.1:9"}]}))
        try:
            yield fake, inv
        finally:
            fake.close()


def get(proc: Proc, path: str) -> tuple[int, Any, dict[str, str]]:
    status, body, headers = http_get(proc.url + path, timeout=60)
    return status, json.loads(body), headers


def peak_rss_bytes(proc: Proc) -> int:
    """The process' peak resident set size (VmHWM), from /proc."""
    for line in Path(f"/proc/{proc.popen.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


class TestHostileUpstream:
    def test_gzip_bomb_is_502_with_memory_bounded(self, upstream: tuple[FakePrometheus, Path]) -> None:
        """A 1 GiB gzip bomb (about 1 MB sent) is a 502 bad_upstream_response; the API's peak RSS stays far below it."""
        fake, inv = upstream
        bomb = gzip_bomb(1 << 30)
        fake.reply = lambda: (200, {"Content-Encoding": "gzip"}, bomb)
        with api("--api.rate-limit=0", "--api.cache-ttl=0s", prometheus_url=fake.url, inventory=inv) as p:
            status, body, _ = get(p, OVERVIEW)
            peak = peak_rss_bytes(p)
        assert (status, body["errorType"]) == (502, "bad_upstream_response")
        assert "limit" in body["error"]
        assert peak < 256 << 20

    @pytest.mark.parametrize(
        "result",
        [
            '[{"metric":{"__name__":"up","node":["n1"]},"value":[1700000000,"1"]}]',
            '[{"metric":{"__name__":"up"},"value":["later","1"]}]',
            '[{"metric":{"__name__":"up"},"value":[[[[[[[[1]]]]]]]],"1"]}]',
            "[" * 50000 + "]" * 50000,
        ],
        ids=["label-list", "text-timestamp", "nested-arrays", "deep-nesting"],
    )
    def test_wrongly_typed_answer_is_502(self, upstream: tuple[FakePrometheus, Path], result: str) -> None:
        """A vector with wrongly typed elements is a 502 bad_upstream_response JSON, never a 500."""
        fake, inv = upstream
        body = b'{"status":"success","data":{"resultType":"vector","result":' + result.encode() + b"}}"
        fake.reply = lambda: (200, {}, body)
        with api("--api.rate-limit=0", "--api.cache-ttl=0s", prometheus_url=fake.url, inventory=inv) as p:
            status, doc, _ = get(p, OVERVIEW)
        assert (status, doc["errorType"]) == (502, "bad_upstream_response")
        validate(openapi_document("test"), OVERVIEW, 502, doc)

    def test_hung_prometheus_is_one_request_then_503(self, upstream: tuple[FakePrometheus, Path]) -> None:
        """A Prometheus that never answers costs one request (no retry after a timeout) and a 503."""
        fake, inv = upstream

        def hang() -> tuple[int, dict[str, str], bytes]:
            fake.release.wait(60)
            return 200, {}, b"{}"

        fake.reply = hang
        with api("--api.rate-limit=0", "--api.cache-ttl=0s", prometheus_url=fake.url, inventory=inv) as p:
            status, doc, _ = get(p, OVERVIEW)
            sent = fake.requests
        assert (status, doc["errorType"]) == (503, "prometheus_unavailable")
        assert "did not answer" in doc["error"]
        assert sent == 1


class TestStaleServing:
    def test_outage_after_a_good_answer_serves_it_marked_stale(self) -> None:
        """With Prometheus stopped the API serves its last good overview with X-Cache: stale and a stale field."""
        with prometheus({"global": {"scrape_interval": "15s"}, "scrape_configs": []}) as prom:
            with api("--api.rate-limit=0", "--api.cache-ttl=1s", prometheus_url=prom.url) as p:
                status, good, headers = get(p, OVERVIEW)
                assert (status, headers["X-Cache"]) == (200, "miss")
                prom.stop()
                # past the 1 s TTL, so the next request goes to the stopped Prometheus
                threading.Event().wait(1.2)
                status, body, headers = get(p, OVERVIEW)
        assert (status, headers["X-Cache"]) == (200, "stale")
        assert body["stale"]["since"] == good["timestamp"] and "cannot reach" in body["stale"]["reason"]
        assert {k: v for k, v in body.items() if k != "stale"} == good
        validate(openapi_document("test"), OVERVIEW, 200, body)

    def test_outage_without_an_earlier_answer_is_503(self, upstream: tuple[FakePrometheus, Path]) -> None:
        """With nothing good to serve, a failing Prometheus is a 503 at once."""
        fake, inv = upstream
        fake.reply = lambda: (503, {}, b"overloaded")
        with api("--api.rate-limit=0", "--api.cache-ttl=5s", prometheus_url=fake.url, inventory=inv) as p:
            status, doc, headers = get(p, OVERVIEW)
        assert (status, doc["errorType"]) == (503, "prometheus_unavailable")
