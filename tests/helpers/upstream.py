"""A Prometheus stand-in on loopback that answers what a real one cannot be made to: impossible values, huge answers."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

#: (path, query parameters) -> the JSON body to answer with.
Answer = Callable[[str, dict[str, list[str]]], bytes]


def vector(samples: list[tuple[dict[str, str], float | str, float | str]]) -> bytes:
    """A successful instant-vector answer of (labels, timestamp, value) samples."""
    result = [{"metric": labels, "value": [t, str(v)]} for labels, t, v in samples]
    return json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()


def matrix(series: list[tuple[dict[str, str], list[tuple[float, str]]]]) -> bytes:
    """A successful range answer of (labels, [(timestamp, value)]) series."""
    result = [{"metric": labels, "values": [[t, v] for t, v in points]} for labels, points in series]
    return json.dumps({"status": "success", "data": {"resultType": "matrix", "result": result}}).encode()


class StandIn:
    """Answers every GET with ``answer(path, params)``; runs in a thread until ``close()``."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                url = urlparse(self.path)
                body = stand_in.answer(url.path, parse_qs(url.query))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
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
        self.server.shutdown()
        self.server.server_close()
