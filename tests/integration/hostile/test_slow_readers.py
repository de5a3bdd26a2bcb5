"""Slow readers against the real exporter and API: hundreds of sockets with a 1 KiB receive buffer, each
pipelining requests and never reading, while a fresh scraper keeps asking."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator

import pytest

from helpers.procs import PYTHON, Proc, free_port, http_get, start_process, tempdir
from helpers.procstat import cpu_seconds, peak_rss_bytes
from helpers.rawhttp import api, wait_until, with_nofile

PIPELINED = 50  # requests each attacking socket sends at once
EXPORTER_PEAK = 150 << 20  # bytes
API_PEAK = 300 << 20  # bytes
WRITE_TIMEOUT = "2s"
SHUTDOWN_S = 5  # the documented grace for in-flight requests (docs/security.md)


@contextlib.contextmanager
def slow_readers(port: int, count: int, path: str) -> Iterator[list[socket.socket]]:
    """``count`` sockets (1 KiB receive buffer) each sending PIPELINED GETs of ``path`` and reading nothing."""
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * PIPELINED
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            s.settimeout(2)
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(request)
            except OSError:
                s.close()
                continue
            socks.append(s)
        yield socks
    finally:
        for s in socks:
            s.close()


def server_connections(port: int) -> int:
    """Established TCP connections whose local port is ``port`` (the server's side), from /proc/net/tcp.

    Read on the server's side because the attacker must not read: reading would drain its answers.
    """
    with open("/proc/net/tcp", encoding="ascii") as fh:
        rows = [line.split() for line in fh.readlines()[1:]]
    return sum(1 for r in rows if int(r[1].rsplit(":", 1)[1], 16) == port and r[3] == "01")


def scrapes_answered(url: str, seconds: float) -> list[int]:
    """GET ``url`` on fresh connections for ``seconds``; the statuses (0: no answer within 5 s)."""
    statuses = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        try:
            statuses.append(http_get(url, timeout=5)[0])
        except OSError:
            statuses.append(0)
        time.sleep(0.2)
    return statuses


def attack(proc: Proc, count: int, path: str, peak_limit: int) -> None:
    """The attack on ``proc``; scrapes answered throughout, attackers cut off, memory bounded, and a
    SIGTERM during the attack ends the process within the documented time."""
    with slow_readers(proc.port, count, path) as socks:
        assert len(socks) >= count // 2
        statuses = scrapes_answered(proc.url + path, 6)
        assert statuses and all(s == 200 for s in statuses), statuses
        # Past the write deadline every attacking socket has been cut off by the server.
        assert wait_until(lambda: server_connections(proc.port) == 0, 20)
        assert peak_rss_bytes(proc.popen.pid) < peak_limit
        # Back to baseline: the held sockets cost no CPU once cut off (at most a tenth of a core).
        before = cpu_seconds(proc.popen.pid)
        time.sleep(3)
        assert cpu_seconds(proc.popen.pid) - before < 0.3
    with slow_readers(proc.port, count, path):
        time.sleep(1)
        os.killpg(proc.popen.pid, signal.SIGTERM)
        proc.popen.wait(SHUTDOWN_S + 2)  # raises TimeoutExpired past the documented time
    log = proc.log()
    assert "Traceback" not in log and "write_deadline_passed" in log


@pytest.mark.parametrize("nofile", [
    pytest.param(512, id="small-limit-cap-256"),  # RLIMIT_NOFILE 512: the connection cap is 256
    pytest.param(8192, id="units-limit-cap-6144"),  # the units' LimitNOFILE=8192: cap 6,144
])
def test_exporter(nofile: int) -> None:
    """300 slow readers against an exporter at a small descriptor limit and at the units' own: scrapes go on."""
    port = free_port()
    with tempdir("slow") as d:
        argv = with_nofile(nofile, [PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{port}",
                                    f"--web.write-timeout={WRITE_TIMEOUT}", "--collect.min-age=1s"])
        p = start_process("spark-exporter", argv, port, d, f"http://127.0.0.1:{port}/-/ready")
        try:
            attack(p, 300, "/metrics", EXPORTER_PEAK)
        finally:
            p.stop()


def test_api_openapi_document() -> None:
    """100 slow readers of /api/v1/openapi.json against the API: other requests are still answered."""
    with api(f"--web.write-timeout={WRITE_TIMEOUT}", "--api.rate-limit=0") as p:
        attack(p, 100, "/api/v1/openapi.json", API_PEAK)
