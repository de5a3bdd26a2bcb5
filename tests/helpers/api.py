"""The query API as a real process (`spark-exporter api`) on a free loopback port."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from helpers.procs import (
    PYTHON,
    Proc,
    free_port,
    start_process,
    tempdir,
)


@contextlib.contextmanager
def api(
    *args: str, prometheus_url: str, inventory: Path | None = None, scheme: str = "http"
) -> Iterator[Proc]:
    """Run ``spark-exporter api`` on a free loopback port; waits for /-/healthy."""
    port = free_port()
    with tempdir("api") as d:
        argv = [
            PYTHON,
            "-m",
            "spark_exporter",
            "api",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--prometheus.url={prometheus_url}",
            "--prometheus.scrape-interval=1s",
            *args,
        ]
        if inventory is not None:
            argv.append(f"--inventory={inventory}")
        ready = None if scheme == "https" else f"http://127.0.0.1:{port}/-/healthy"
        proc = start_process("api", argv, port, d, ready)
        try:
            yield proc
        finally:
            proc.stop()
