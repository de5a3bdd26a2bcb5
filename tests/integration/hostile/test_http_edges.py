"""HTTP edges against the real exporter and API: versions other than 1.0/1.1, an oversized
``Expect: 100-continue``, CONNECT and ``OPTIONS *``."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from helpers.procs import exporter, tempdir
from helpers.rawhttp import api, exchange

CASES = [
    (b"GET /-/healthy\r\n\r\n", 400, "bad_request"),
    (b"GET /-/healthy HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http"),
    (b"GET /-/healthy HTTP/3.0\r\nHost: x\r\n\r\n", 505, "http"),
    (b"POST /-/healthy HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 104857600\r\n\r\n", 413, "http"),
    # Spellings aiohttp's parser takes as well: runs of spaces, RTSP/ versions, header fields without a space.
    (b"GET  /-/healthy HTTP/2.0\r\nHost: x\r\n\r\n", 505, "http"),
    (b"GET /-/healthy RTSP/2.0\r\nHost: x\r\n\r\n", 400, "bad_request"),
    (b"POST /-/healthy HTTP/1.1\r\nHost: x\r\nexpect:100-Continue\r\nContent-Length:104857600\r\n\r\n", 413, "http"),
    (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n", 405, "http"),
    (b"FOO /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n", 405, "http"),
    (b"PROPFIND /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "http"),
    (b"OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", 405, "http"),
]


@pytest.fixture(params=["exporter", "api"])
def server(request: pytest.FixtureRequest) -> Iterator[int]:
    """The exporter or the API, with a web config that adds X-Frame-Options; its port."""
    with tempdir("edges") as d:
        wc = Path(d) / "web.yml"
        wc.write_text("http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
        if request.param == "exporter":
            with exporter("--collect.min-age=1s", f"--web.config.file={wc}") as p:
                yield p.port
        else:
            with api(f"--web.config.file={wc}", "--api.rate-limit=0") as p:
                yield p.port


@pytest.mark.parametrize(("raw", "status", "kind"), CASES, ids=["no-version", "http2", "http3", "expect-100mb",
                                                                "double-space-http2", "rtsp2", "expect-unspaced",
                                                                "connect", "unknown-method", "webdav-method",
                                                                "options-asterisk"])
def test_edge_requests_get_a_json_refusal(server: int, raw: bytes, status: int, kind: str) -> None:
    """Each edge request is refused with the JSON error shape, in HTTP/1.1, with the configured headers,
    and an oversized Expect: 100-continue never sees 100 Continue."""
    data = b""
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(raw)
        while chunk := s.recv(65536):  # the server closes after the refusal (or Connection: close)
            data += chunk
    assert data.startswith(f"HTTP/1.1 {status} ".encode()), data[:200]
    assert b"100 Continue" not in data
    head, _, body = data.partition(b"\r\n\r\n")
    fields = head.split(b"\r\n")[1:]
    assert b"X-Frame-Options: deny" in fields and b"Server: spark-exporter" in fields
    doc = json.loads(body)
    assert doc["status"] == "error" and doc["errorType"] == kind and doc["error"]
    if status == 405:
        assert b"Allow: GET, HEAD" in fields


def test_http_10_and_a_small_expect_are_served(server: int) -> None:
    """HTTP/1.0 is answered in HTTP/1.0; an Expect: 100-continue within the body limit gets 100 Continue."""
    answer = exchange(server, b"GET /-/healthy HTTP/1.0\r\n\r\n")
    assert answer.status == 200
    with socket.create_connection(("127.0.0.1", server), timeout=10) as s:
        s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n"
                  b"Connection: close\r\n\r\n")
        data = s.recv(65536)
        assert data.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(b"abcd")
        while chunk := s.recv(65536):
            data += chunk
    assert b"HTTP/1.1 200 OK" in data
