"""Connection-level attacks on the real exporter: dripped headers, idle sockets, descriptor exhaustion."""

from __future__ import annotations

import contextlib
import select
import socket
import time
from collections.abc import Iterator

from helpers.procs import PYTHON, exporter, free_port, http_get, start_process, tempdir
from helpers.rawhttp import closed_by_server, parse_answer, wait_until, with_nofile

SIM = ("--collect.min-age=1s",)


@contextlib.contextmanager
def sockets(port: int, count: int) -> Iterator[list[socket.socket]]:
    """Up to ``count`` connected sockets (connects the kernel refuses are skipped), all closed on exit."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            with contextlib.suppress(OSError):
                socks.append(socket.create_connection(("127.0.0.1", port), timeout=2))
        yield socks
    finally:
        for s in socks:
            s.close()


def server_closed(s: socket.socket) -> bool:
    """Non-blocking: has the server closed ``s``?"""
    readable, _, _ = select.select([s], [], [], 0)
    if not readable:
        return False
    try:
        return s.recv(4096, socket.MSG_PEEK) == b""
    except ConnectionError:
        return True


class TestHeaderDeadline:
    def test_a_header_dripped_byte_by_byte_is_cut_off(self) -> None:
        """Sockets dripping one header byte every 100 ms are closed by the server after the header deadline."""
        with exporter(*SIM, "--web.header-timeout=1s") as p, sockets(p.port, 10) as socks:
            open_ = list(socks)
            for s in open_:
                s.sendall(b"GET /metrics HTTP/1.1\r\nX-Drip: ")
            deadline = time.monotonic() + 20  # 20x the configured deadline
            while open_ and time.monotonic() < deadline:
                for s in list(open_):
                    if server_closed(s):
                        open_.remove(s)
                        continue
                    with contextlib.suppress(OSError):
                        s.send(b"a")
                time.sleep(0.1)
            assert open_ == []
            assert http_get(p.url + "/metrics")[0] == 200
            assert "Traceback" not in p.log()

    def test_idle_keep_alive_connections_are_closed(self) -> None:
        """After an answer, a kept-alive connection with no next request is closed after the idle timeout."""
        with exporter(*SIM, "--web.idle-timeout=1s") as p, \
                socket.create_connection(("127.0.0.1", p.port), timeout=5) as s:
            s.sendall(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.endswith(b"Healthy.\n"):
                data += s.recv(4096)
            assert parse_answer(data).status == 200
            assert closed_by_server(s, within=20)


class TestConnectionCap:
    def test_at_the_cap_idle_sockets_are_evicted_for_a_scraper(self) -> None:
        """With 30 silent sockets and a cap of 8, a scrape still succeeds and the oldest silent ones are closed."""
        with exporter(*SIM, "--web.max-connections=8", "--web.header-timeout=60s") as p, \
                sockets(p.port, 30) as socks:
            assert len(socks) == 30
            time.sleep(0.5)
            assert http_get(p.url + "/metrics", timeout=10)[0] == 200
            assert wait_until(lambda: sum(server_closed(s) for s in socks) >= 22, 10)
            log = p.log()
            assert log.count("connection_cap_reached") == 1 and "Traceback" not in log

    def test_default_cap_stays_below_the_descriptor_limit(self) -> None:
        """Under RLIMIT_NOFILE=512 and 300 silent sockets, the default cap keeps accept() from failing."""
        port = free_port()
        with tempdir("nofile") as d:
            argv = with_nofile(512, [PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{port}", *SIM])
            p = start_process("spark-exporter", argv, port, d, f"http://127.0.0.1:{port}/-/ready")
            try:
                with sockets(port, 300) as socks:
                    assert len(socks) >= 200
                    time.sleep(1)
                    assert http_get(p.url + "/-/healthy", timeout=10)[0] == 200
                log = p.log()
                assert "accept_failed" not in log and "Traceback" not in log
            finally:
                p.stop()


class TestDescriptorExhaustion:
    def test_failed_accepts_log_one_line_without_traceback(self) -> None:
        """When descriptors run out, failed accepts log at most one line per interval and no traceback."""
        port = free_port()
        with tempdir("emfile") as d:
            argv = with_nofile(96, [PYTHON, "-m", "spark_exporter", f"--web.listen-address=127.0.0.1:{port}",
                                    "--web.max-connections=10000", "--web.header-timeout=60s", *SIM])
            p = start_process("spark-exporter", argv, port, d, f"http://127.0.0.1:{port}/-/ready")
            try:
                with sockets(port, 200):
                    time.sleep(4)  # asyncio retries accept() every second: four chances to log
                    log = p.log()
                    assert 1 <= log.count("accept_failed") <= 1
                    assert "Traceback" not in log and len(log) < 20_000
                # Descriptors freed: the exporter serves again (asyncio resumes accepting within ~1 s).
                assert wait_until(lambda: http_get(p.url + "/-/healthy", timeout=2)[0] == 200, 20)
            finally:
                p.stop()
