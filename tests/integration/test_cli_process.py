"""The installed command's first contact: one-line errors from the real process, nothing of aiohttp's."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration  # runs the real spark-exporter process


def spark_exporter(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spark_exporter", *args], capture_output=True, text=True,
                          timeout=60)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TestFirstContact:
    def test_mistyped_flag(self) -> None:
        """`spark-exporter --web.listen-adress :19400`: one line suggesting --web.listen-address, exit 2."""
        r = spark_exporter("--web.listen-adress", ":19400")
        assert r.returncode == 2 and r.stdout == ""
        assert r.stderr.splitlines() == ["spark-exporter: error: unknown flag --web.listen-adress; "
                                         "did you mean --web.listen-address?"]

    def test_dead_prometheus(self) -> None:
        """`query` against a closed port: exit 1, one line with the URL and the reason, no aiohttp internals."""
        url = f"http://127.0.0.1:{closed_port()}"
        r = spark_exporter("query", f"--prometheus.url={url}", "--prometheus.timeout=5s", "overview")
        assert r.returncode == 1 and r.stdout == ""
        assert r.stderr.splitlines() == [f"spark-exporter query: error: cannot reach Prometheus at {url}: "
                                         "Connection refused"]
